"""Eval mode: normalise with the running stats, per sample, changing nothing."""

from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec.assertions import assert_close, assert_state_equal
from conformance.suite import conformance_property

tracked = cst.any_config(track_running_stats=st.just(True))
untracked = cst.any_config(track_running_stats=st.just(False))


@conformance_property
def test_eval_output_uses_the_running_stats(subject, data):
    case = data.draw(cst.cases(subject.dtype, config=tracked, training=False, min_m=1, large=True), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    assert_close("eval output", seen.outputs[0], exp.outputs[0], exp.output_bounds[0], dtype=subject.dtype)


@conformance_property
def test_eval_after_train_calls_uses_the_updated_running_stats(subject, data):
    case = data.draw(cst.sequences(subject.dtype, config=tracked, min_calls=2), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    for i, (call, got, want, bound) in enumerate(zip(case.calls, seen.outputs, exp.outputs, exp.output_bounds), 1):
        assert_close(f"output of call {i} ({'train' if call.training else 'eval'})", got, want, bound,
                     dtype=subject.dtype)


@conformance_property
def test_eval_output_does_not_depend_on_the_rest_of_the_batch(subject, data):
    """Each sample's eval output equals the output for that sample alone."""
    case = data.draw(cst.cases(subject.dtype, config=tracked, training=False).filter(lambda c: c.x.shape[0] >= 2),
                     label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    samples = [(False, case.x[n : n + 1], case.call.layout) for n in range(case.x.shape[0])]
    for n, (alone, _) in enumerate(seen.instance.play(samples)):
        assert_close(f"eval output of sample {n} alone vs within the batch", alone, seen.outputs[0][n : n + 1],
                     2 * exp.output_bounds[0], dtype=subject.dtype)


@conformance_property
def test_eval_changes_no_state(subject, data):
    case = data.draw(cst.sequences(subject.dtype, modes=st.just(False)), label="case")
    seen = replay.run_candidate(subject, case)
    before = case.initial_state()
    for i, after in enumerate(seen.states, 1):
        assert_state_equal(f"after eval call {i} vs before the calls", after, before)


@conformance_property
def test_eval_without_tracking_uses_batch_statistics(subject, data):
    case = data.draw(cst.cases(subject.dtype, config=untracked, training=False, large=True), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    assert_close("eval output with track_running_stats=False", seen.outputs[0], exp.outputs[0], exp.output_bounds[0],
                 dtype=subject.dtype)
