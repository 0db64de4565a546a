"""The side checks: deviations that are not a change to the semantics, each detected by a
check of its own (the input modified in place, a missing ValueError, the result depending on
memory layout, float64 computed in float32, ...) or by a fact ``probes.observe`` noted.
"""

from __future__ import annotations

import numpy as np

from conformance.candidates import replay
from conformance.diagnosis.compare import close
from conformance.diagnosis.probes import PROBES, build, grid
from conformance.spec import dtypes, oracle
from conformance.spec.assertions import assert_state_equal
from conformance.spec.cases import Call, Case, Config


def _raises(impl, dtype, config: Config, x: np.ndarray, training: bool = True) -> bool:
    inst = build(impl, config, dtype)
    inst.train(training)
    try:
        inst.forward_raw(x.astype(dtype))
    except Exception:  # noqa: BLE001 - any exception is a refusal here
        return True
    return False


def _layout_differs(impl, dtype, facts) -> bool:
    probe = PROBES[0]
    x = probe.calls[0][1].astype(dtype)
    outs = []
    for layout in ("contiguous", "transposed", "strided"):
        inst = build(impl, probe.config, dtype)
        inst.set_state(probe.state)
        inst.train(True)
        outs.append(inst.forward(x, layout))
    judge = facts.get("judge", dtype)  # float32 for a float64 module that works in it
    bound = replay.run_oracle(probe.case(judge)).output_bounds[0].reshape(1, -1, 1)
    return any(not (np.abs(o - outs[0]) <= 2 * bound).all() for o in outs[1:])


# The offset of the cancellation check: where a one-pass variance loses every digit of a 1e-2 spread and
# the bounds still hold sound algorithms to some (at 1e4 a float32 spread of 1e-2 is below resolution).
CANCELLATION_OFFSET = {"float64": 1e4, "float32": 1e2}


def _cancels(impl, dtype, judge) -> bool:
    """Agrees with torch on centred data, not on the same data shifted by an offset (spread 1e-2); judged
    with the bounds of ``judge`` (float32 for a float64 candidate that works in float32)."""
    if judge not in CANCELLATION_OFFSET:
        return False  # half precision cannot resolve the spread at any telling offset
    centred = grid((8, 2), 14, [0.0, 0.0]) / 100  # spread about 1e-2
    results = []
    for offset in (0.0, CANCELLATION_OFFSET[judge]):
        case = Case(Config(2), dtype, (Call(True, (centred + offset).astype(dtype)),))
        inst = build(impl, case.config, dtype)
        inst.train(True)
        exp = replay.run_oracle(Case(case.config, judge, (Call(True, (centred + offset).astype(judge)),)))
        results.append(close(inst.forward(case.x), exp.outputs[0], exp.output_bounds[0], judge)[0])
    return results == [True, False]


def _float64_fits(impl, dtype, x, eps) -> list[bool] | None:
    """In float64, a train call with batch statistics: whether the output is within the float64
    bounds, and within the float32 bounds, of the oracle's; None in another dtype."""
    if np.dtype(dtype) != np.float64:
        return None  # in float32 the two cannot be told apart
    config = Config(x.shape[1], eps=eps, affine=False, track_running_stats=False)
    inst = build(impl, config, dtype)
    inst.train(True)
    y = inst.forward(x.astype(dtype))
    fits = []
    for judge in ("float64", "float32"):
        exp = replay.run_oracle(Case(config, judge, (Call(True, x.astype(judge)),)))
        fits.append(close(y, exp.outputs[0], exp.output_bounds[0], judge)[0])
    return fits


def _computes_in_float32(impl, dtype) -> bool:
    """In float64: the output has float32's error, not float64's (inputs and eps exact in float32)."""
    return _float64_fits(impl, dtype, grid((8, 2), 16, [0.5, -1.0]), 0.0625) == [False, True]


def _eps_in_float32(impl, dtype) -> bool:
    """In float64: the output matches eps = float32(0.1), not eps = 0.1 (tiny spread: eps dominates)."""
    if np.dtype(dtype) != np.float64:
        return False  # in float32 the two cannot be told apart
    eps = 0.1
    x = grid((8, 2), 15, [0.0, 0.0]) / 4096
    inst = build(impl, Config(2, eps=eps, affine=False, track_running_stats=False), dtype)
    inst.train(True)
    y = inst.forward(x.astype(dtype))
    fits = []
    for e in (eps, float(np.float32(eps))):
        exp = replay.run_oracle(Case(Config(2, eps=e, affine=False, track_running_stats=False), dtype,
                                     (Call(True, x.astype(dtype)),)))
        fits.append(close(y, exp.outputs[0], exp.output_bounds[0], dtype)[0])
    return fits == [False, True]


def _keeps_a_declared_missing_counter(impl, dtype) -> bool:
    """It declares ``conformance_lacks = ("counter",)``, yet train calls change its num_batches_tracked."""
    if "counter" not in getattr(impl, "lacks", ()):
        return False
    inst = build(impl, Config(2, momentum=0.1), dtype)
    inst.train(True)
    counts = [inst.get_state().num_batches_tracked]
    for seed in (38, 39):
        inst.forward(grid((4, 2), seed, [0.0, 0.0]).astype(dtype))
        counts.append(inst.get_state().num_batches_tracked)
    return len(set(counts)) > 1


def _apply_modifies_its_state(impl, dtype) -> bool:
    """The pure form's apply changes the state passed in (it must return a new one)."""
    inst = build(impl, Config(2, momentum=0.25), dtype)
    inst.train(True)
    inst.forward(grid((4, 2), 44, [0.0, 1.0]).astype(dtype))
    return bool(getattr(inst, "state_modified", False))


def _init_is_not_fresh(impl, dtype) -> bool:
    """The pure form's init gives another state than a fresh module's."""
    try:
        assert_state_equal("from init vs a fresh module's", build(impl, Config(2), dtype).get_state(),
                           oracle.State.fresh(2))
    except AssertionError:
        return True
    return False


def _train_once(impl, dtype, config: Config, state: oracle.State, x: np.ndarray, input_dtype):
    """One train call from ``state``: the candidate module, its output and the oracle's expectation."""
    case = Case(config, input_dtype, (Call(True, x.astype(input_dtype)),), state)
    inst = build(impl, config, dtype)
    inst.set_state(case.initial_state())
    inst.train(True)
    return inst, inst.forward(case.x), replay.run_oracle(case)


def _running_stat_pairs(got: oracle.State, exp):
    """(got, expected, bound) for running_mean and running_var after the first call."""
    return ((got.running_mean, exp.states[0].running_mean, exp.state_bounds[0].running_mean),
            (got.running_var, exp.states[0].running_var, exp.state_bounds[0].running_var))


def _half_input_mishandled(impl, dtype) -> bool:
    """The functional form, given float16 input with float32 running stats, does not give a float16 output,
    keep the stats in float32 and update them as torch does."""
    if np.dtype(dtype) != np.float32:
        return False  # torch pairs half input with float32 state only
    state = oracle.State(None, None, np.array([0.5, -0.25]), np.array([2.0, 0.5]), 3)
    inst, y, exp = _train_once(impl, dtype, Config(2, eps=0.0625, momentum=0.25), state,
                               grid((4, 2), 45, [0.0, 1.0]), "float16")
    if y.dtype != np.float16 or any(dt != "float32" for dt in inst.state_dtypes().values()):
        return True
    pairs = ((y, exp.outputs[0], exp.output_bounds[0]),) + _running_stat_pairs(inst.get_state(), exp)
    return not all(close(g, w, b, "float16")[0] for g, w, b in pairs)


def _half_step(impl, dtype, x: np.ndarray):
    """One train call on half input (momentum 0.1, a state no half value equals): the candidate's output
    and state, and the oracle's expectation."""
    state = oracle.State(None, None, np.array([0.3, -0.7]), np.array([1.3, 0.7]), 2)
    inst, y, exp = _train_once(impl, dtype, Config(x.shape[1], eps=0.0625, momentum=0.1, affine=False),
                               state, x, dtype)
    return y, inst.get_state(), exp


def _state_rounded_to_half(impl, dtype) -> bool:
    """Half input: the running stats are off by more than float32's bounds and every one is a value of the
    input's half dtype (torch's, kept in float32, are not)."""
    if dtype not in dtypes.HALF:
        return False
    _, got, exp = _half_step(impl, dtype, grid((4, 2), 46, [1000.0, -600.0]))
    pairs = [(np.asarray(g, np.float64), w, b) for g, w, b in _running_stat_pairs(got, exp)]
    in_half = all(np.array_equal(g, g.astype(dtype).astype(np.float64)) for g, _, _ in pairs)
    return in_half and not all(close(g, w, b, "float32")[0] for g, w, b in pairs)


def _statistics_in_half(impl, dtype) -> bool:
    """float16 input whose deviations from the mean pass 256: their squares overflow float16 (past 65504), so
    statistics computed in float16 turn running_var or the output inf or nan; torch's, in float32, are finite."""
    if dtype != "float16":
        return False  # bfloat16 has float32's range: nothing overflows
    y, got, _ = _half_step(impl, dtype, np.array([[-300.0, 280.0], [300.0, -280.0], [-300.0, 280.0], [300.0, -280.0]]))
    return not (np.isfinite(np.asarray(y, np.float64)).all() and np.isfinite(got.running_var).all())


COMPUTE_CHECKS = ("float32_compute", "eps_float32")  # the outputs carry float32 rounding
PRECISION_CHECKS = COMPUTE_CHECKS + ("narrow_state", "half_state", "half_statistics")  # the outputs or the state do
SIDE_CHECKS = {
    # name: (capability needed, fn(impl, dtype, facts) -> deviation present)
    "input_modified": (None, lambda impl, dt, facts: facts.get("input_modified", False)),
    "output_dtype": (None, lambda impl, dt, facts: facts.get("output_dtype", False)),
    "state_dtype": (None, lambda impl, dt, facts: facts.get("state_dtype", False)),
    "narrow_state": (None, lambda impl, dt, facts: facts.get("narrow_state", False)),
    "layout": (None, lambda impl, dt, facts: _layout_differs(impl, dt, facts)),
    "one_value": (None, lambda impl, dt, facts: not _raises(impl, dt, Config(1), np.ones((1, 1)))),
    "rank": ("rank_check", lambda impl, dt, facts: not _raises(impl, dt, Config(2),
                                                                np.arange(16.0).reshape(2, 2, 2, 2))),
    "channels": (None, lambda impl, dt, facts: not _raises(impl, dt, Config(3, affine=False),
                                                           grid((4, 1), 13, [0.0]))),
    "cancellation": (None, lambda impl, dt, facts: _cancels(impl, dt, facts.get("judge", dt))),
    "float32_compute": (None, lambda impl, dt, facts: _computes_in_float32(impl, dt)),
    "eps_float32": (None, lambda impl, dt, facts: _eps_in_float32(impl, dt)),
    "declared_counter": (None, lambda impl, dt, facts: _keeps_a_declared_missing_counter(impl, dt)),
    "pure_state": ("state_argument", lambda impl, dt, facts: _apply_modifies_its_state(impl, dt)),
    "pure_init": ("state_argument", lambda impl, dt, facts: _init_is_not_fresh(impl, dt)),
    "half_input": ("stats_arguments", lambda impl, dt, facts: _half_input_mishandled(impl, dt)),
    "half_state": (None, lambda impl, dt, facts: _state_rounded_to_half(impl, dt)),
    "half_statistics": (None, lambda impl, dt, facts: _statistics_in_half(impl, dt)),
}
