"""Relations between calls of the candidate itself (no oracle): shift, scale, sign,
permutation and channel independence, in training mode."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec import oracle
from conformance.spec.assertions import assert_close, assert_running_stats_close
from conformance.spec.cases import Call
from conformance.suite import conformance_property

train_grid_cases = lambda dtype, **kw: cst.cases(dtype, values=cst.grid_inputs, **kw)  # noqa: E731


def with_input(case, x):
    return case.replace(calls=[Call(True, x, case.call.layout)])


def output_and_bound(subject, case):
    return replay.run_candidate(subject, case).outputs[0], replay.run_oracle(case).output_bounds[0]


def sum_bounds(a: replay.Bounds, b: replay.Bounds) -> replay.Bounds:
    return replay.Bounds(a.running_mean + b.running_mean, a.running_var + b.running_var)


@conformance_property
def test_train_output_is_invariant_to_a_per_channel_shift(subject, data):
    case = data.draw(train_grid_cases(subject.dtype), label="case")
    C = case.config.num_features
    shifts = st.integers(-4096, 4096).map(lambda k: k / 256)
    shift = data.draw(hnp.arrays(np.float64, C, elements=shifts), label="shift")
    shifted = (case.x.astype(np.float64) + oracle.per_channel(shift, case.x.ndim)).astype(case.dtype)  # exact
    y, by = output_and_bound(subject, case)
    y2, by2 = output_and_bound(subject, with_input(case, shifted))
    assert_close("train output of x + shift vs of x", y2, y, by + by2, dtype=subject.dtype)


@conformance_property
def test_scaling_the_input_by_s_equals_scaling_eps_by_one_over_s_squared(subject, data):
    """BN(s * x; eps) == BN(x; eps / s**2) for s > 0: positive-scale invariance with eps accounted for."""
    case = data.draw(train_grid_cases(subject.dtype), label="case")
    s = 2.0 ** data.draw(st.integers(-3, 3), label="log2(scale)")
    scaled = case.replace(calls=[Call(True, (case.x * s).astype(case.dtype), case.call.layout)])
    unscaled = case.replace(eps=case.config.eps / s**2)
    y, by = output_and_bound(subject, scaled)
    y2, by2 = output_and_bound(subject, unscaled)
    assert_close(f"train output of {s} * x vs of x with eps / {s**2}", y, y2, by + by2, dtype=subject.dtype)


@conformance_property
def test_negating_the_input_reflects_the_output_about_the_bias(subject, data):
    """BN(-x) == 2 * bias - BN(x): the normalised value changes sign."""
    case = data.draw(cst.cases(subject.dtype), label="case")
    y, by = output_and_bound(subject, case)
    y2, by2 = output_and_bound(subject, with_input(case, -case.x))
    bias = case.initial_state().bias
    twice_bias = np.zeros(case.config.num_features) if bias is None else 2.0 * bias.astype(np.float64)
    expected = oracle.per_channel(twice_bias, y.ndim) - y.astype(np.float64)
    assert_close("train output of -x vs 2 * bias - output of x", y2, expected, by + by2, dtype=subject.dtype)


@conformance_property
def test_permuting_samples_permutes_the_output_and_keeps_the_running_stats(subject, data):
    case = data.draw(cst.cases(subject.dtype).filter(lambda c: c.x.shape[0] >= 2), label="case")
    perm = np.array(data.draw(st.permutations(range(case.x.shape[0])), label="permutation"))
    seen, seen_p = replay.run_candidate(subject, case), replay.run_candidate(subject, with_input(case, case.x[perm]))
    exp, exp_p = replay.run_oracle(case), replay.run_oracle(with_input(case, case.x[perm]))
    assert_close("train output of x[perm] vs output of x, permuted", seen_p.outputs[0], seen.outputs[0][perm],
                 exp.output_bounds[0] + exp_p.output_bounds[0], dtype=subject.dtype)
    assert_running_stats_close("after x[perm] vs after x", seen_p.states[0], seen.states[0],
                               sum_bounds(exp.state_bounds[0], exp_p.state_bounds[0]), dtype=subject.dtype)


@conformance_property
def test_permuting_positions_permutes_the_output_and_keeps_the_running_stats(subject, data):
    case = data.draw(cst.cases(subject.dtype, ndims=(3,)).filter(lambda c: c.x.shape[2] >= 2), label="case")
    perm = np.array(data.draw(st.permutations(range(case.x.shape[2])), label="permutation"))
    moved = with_input(case, case.x[:, :, perm])
    seen, seen_p = replay.run_candidate(subject, case), replay.run_candidate(subject, moved)
    exp, exp_p = replay.run_oracle(case), replay.run_oracle(moved)
    assert_close("train output of x[:, :, perm] vs output of x, permuted", seen_p.outputs[0],
                 seen.outputs[0][:, :, perm], exp.output_bounds[0] + exp_p.output_bounds[0], dtype=subject.dtype)
    assert_running_stats_close("after x[:, :, perm] vs after x", seen_p.states[0], seen.states[0],
                               sum_bounds(exp.state_bounds[0], exp_p.state_bounds[0]), dtype=subject.dtype)


@conformance_property
def test_channels_are_independent(subject, data):
    """Changing one channel, even to NaN, leaves every other channel's output and running stats as they were."""
    case = data.draw(cst.cases(subject.dtype).filter(lambda c: c.config.num_features >= 2), label="case")
    C = case.config.num_features
    c = data.draw(st.integers(0, C - 1), label="changed channel")
    other = data.draw(cst.inputs(case.dtype, case.x.shape), label="new values")
    x2 = case.x.copy()
    x2[:, c] = np.nan if data.draw(st.booleans(), label="NaN") else other[:, c]
    changed = with_input(case, x2)
    seen, seen2 = replay.run_candidate(subject, case), replay.run_candidate(subject, changed)
    exp = replay.run_oracle(case)
    keep = [k for k in range(C) if k != c]
    bound = 2 * exp.output_bounds[0][keep]
    assert_close(f"train output of the other channels {keep} after changing channel {c}",
                 seen2.outputs[0][:, keep], seen.outputs[0][:, keep], bound, dtype=subject.dtype)
    for k in ("running_mean", "running_var"):
        got, before = getattr(seen2.states[0], k), getattr(seen.states[0], k)
        if before is not None:
            assert got is not None, f"{k} disappeared"
            assert_close(f"{k} of the other channels {keep} after changing channel {c}", got[keep], before[keep],
                         2 * np.asarray(getattr(exp.state_bounds[0], k) + 0.0 * before)[keep], dtype=subject.dtype)
