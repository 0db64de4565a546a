"""Running statistics: updated on train calls with tracking, with the unbiased variance."""

import numpy as np
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec.assertions import assert_absent, assert_close, assert_equal, assert_running_stats_close
from conformance.suite import NotApplicable, conformance_property, needs


def tracked(momentum=cst.momenta):
    return cst.any_config(momentum=momentum, track_running_stats=st.just(True))


def check_states(subject, case):
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    for i, (got, want, bound) in enumerate(zip(seen.states, exp.states, exp.state_bounds), 1):
        assert_running_stats_close(f"after call {i}", got, want, bound, dtype=subject.dtype)
    return seen, exp


@conformance_property
def test_running_stats_after_one_train_step_match_the_closed_form(subject, data):
    """(1 - f) * running + f * batch stat, with the unbiased variance m / (m - 1) * var stored."""
    check_states(subject, data.draw(cst.cases(subject.dtype, config=tracked(), large=True), label="case"))


@conformance_property
def test_running_stats_after_k_train_steps_match_the_closed_form(subject, data):
    case = data.draw(cst.sequences(subject.dtype, config=tracked(), min_calls=2, modes=st.just(True)), label="case")
    check_states(subject, case)


@needs("counter")
@conformance_property
def test_momentum_none_is_the_cumulative_average(subject, data):
    """From a fresh counter, momentum=None weighs every batch equally, whatever its size."""
    case = data.draw(cst.sequences(subject.dtype, config=tracked(momentum=st.none()), modes=st.just(True),
                                   min_calls=2, set_state=False), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    means = [f.batch_mean for f in exp.forwards]
    variances = [f.batch_var_unbiased for f in exp.forwards]
    bound = exp.state_bounds[-1]
    got = seen.states[-1]
    k = len(case.calls)
    assert_close(f"running_mean after {k} calls vs the mean of the {k} batch means", got.running_mean,
                 np.mean(means, axis=0), bound.running_mean, dtype=subject.dtype)
    assert_close(f"running_var after {k} calls vs the mean of the {k} unbiased batch variances", got.running_var,
                 np.mean(variances, axis=0), bound.running_var, dtype=subject.dtype)


@conformance_property
def test_momentum_zero_freezes_the_running_stats(subject, data):
    """momentum=0 keeps the running stats as they were (and is not momentum=None)."""
    case = data.draw(cst.sequences(subject.dtype, config=tracked(momentum=st.just(0.0)), modes=st.just(True)),
                     label="case")
    seen = replay.run_candidate(subject, case)
    assert_running_stats_close("after train calls with momentum=0 vs before them", seen.states[-1],
                               case.initial_state(), replay.Bounds(0.0, 0.0), dtype=subject.dtype)


@conformance_property
def test_momentum_one_stores_the_last_batch_statistics(subject, data):
    """momentum=1: running_mean is the last batch mean, running_var its unbiased variance."""
    case = data.draw(cst.sequences(subject.dtype, config=tracked(momentum=st.just(1.0)), modes=st.just(True)),
                     label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    last = exp.forwards[-1]
    assert_close("running_mean vs the last batch mean", seen.states[-1].running_mean, last.batch_mean,
                 exp.state_bounds[-1].running_mean, dtype=subject.dtype)
    assert_close("running_var vs the last batch's unbiased variance", seen.states[-1].running_var,
                 last.batch_var_unbiased, exp.state_bounds[-1].running_var, dtype=subject.dtype)


@needs("counter")
@conformance_property
def test_num_batches_tracked_counts_train_calls_only(subject, data):
    case = data.draw(cst.sequences(subject.dtype, config=tracked()), label="case")
    seen = replay.run_candidate(subject, case)
    count = case.initial_state().num_batches_tracked
    for i, (call, state) in enumerate(zip(case.calls, seen.states), 1):
        count += call.training
        assert_equal(f"num_batches_tracked after call {i} ({'train' if call.training else 'eval'})",
                     state.num_batches_tracked, count)


@conformance_property
def test_a_candidate_that_declares_no_batch_counter_keeps_none(subject, data):
    """``conformance_lacks = ("counter",)`` exempts a candidate from the counter's properties: it must then
    keep no num_batches_tracked that train calls change."""
    if "counter" not in subject.impl.lacks:
        raise NotApplicable("it does not declare conformance_lacks = ('counter',)")
    case = data.draw(cst.sequences(subject.dtype, config=tracked(momentum=st.just(0.1)), modes=st.just(True),
                                   set_state=False), label="case")
    fresh = subject.make(case.config).get_state().num_batches_tracked
    counts = [fresh] + [s.num_batches_tracked for s in replay.run_candidate(subject, case).states]
    assert len(set(counts)) == 1, (
        f"num_batches_tracked: it declares conformance_lacks = ('counter',), yet its counter went {counts} "
        f"over {len(case.calls)} train calls: drop 'counter' from conformance_lacks")


@needs("own_state")
@conformance_property
def test_without_tracking_there_are_no_running_stats(subject, data):
    untracked = cst.any_config(track_running_stats=st.just(False))
    case = data.draw(cst.sequences(subject.dtype, config=untracked), label="case")
    inst = subject.make(case.config)
    for i, state in enumerate([inst.get_state()] + replay.run_candidate(subject, case).states):
        for k in ("running_mean", "running_var", "num_batches_tracked"):
            assert_absent(f"{k} after {i} calls with track_running_stats=False", getattr(state, k))
