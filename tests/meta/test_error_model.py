"""The error model on fixed inputs: the false alarms that issue 14 reported stay fixed, and the
float32 bounds keep the power to see a float32 kernel's bug at large batches.

Each check calls a kernel in-process and compares it with ``replay.run_oracle``'s bounds, as the
properties do; the seeded inputs are drawn here, not by Hypothesis, so the checks are exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from conformance.candidates import replay
from conformance.spec import oracle, panel, tolerances
from conformance.spec.cases import Call, Case, Config
from tests.mutants import float32 as f32
from tests.sound import numpy_kernels as sound


def one_call(kernel, x: np.ndarray, config: Config, dtype: str):
    """The kernel's output and state after one train call from a fresh module, and the oracle's bounds."""
    inst = kernel(config.num_features, dtype=np.dtype(dtype), **config.kwargs())
    y = inst(x)
    exp = replay.run_oracle(Case(config, dtype, (Call(True, x),)))
    return y, inst, exp


def usage(got, expected, bound) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - expected) / bound))


@pytest.mark.parametrize("x, dtype, momentum", [
    (np.array([[1e4, 1.0], [1e4 + 0.01, 1.0]]), "float64", None),  # the running_var reported 9.09e-15 > 1.78e-15
    (np.array([[300.0], [301.0], [301.0]], np.float32), "float32", 1.0),
], ids=["offset-float64", "hundreds-float32"])
def test_welford_running_stats_reported_as_false_alarms_are_within_the_bound(x, dtype, momentum):
    config = Config(x.shape[1], momentum=momentum)
    _, inst, exp = one_call(sound.Welford, x.astype(dtype), config, dtype)
    bound = exp.state_bounds[0]
    assert usage(inst.running_var, exp.states[0].running_var, bound.running_var) <= 1
    assert usage(inst.running_mean, exp.states[0].running_mean, bound.running_mean) <= 1


def _ordinary(m: int, C: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (m, C)) + rng.choice([0.0, 1.0, 3.0], C)).astype(np.float32)


@pytest.mark.parametrize("m", [2, 64, 2048, 4096])
@pytest.mark.parametrize("kernel", [sound.Welford, sound.LeftToRight, sound.BlockMerge, sound.Kahan,
                                    sound.ShiftedOnePass, sound.StridedLanesFused, f32.Float32Native])
def test_float32_kernels_use_a_fraction_of_the_output_bound(kernel, m):
    x = _ordinary(m, 4, seed=m)
    y, _, exp = one_call(kernel, x, Config(4), "float32")
    assert usage(y, exp.outputs[0], oracle.per_channel(exp.output_bounds[0], 2)) < 0.5


@pytest.mark.parametrize("m", [1025, 2048, 4096])
@pytest.mark.parametrize("mutant", [f32.LargeBatchUnbiasedVariance, f32.ApproximateRsqrt])
def test_a_relative_error_of_1e_4_is_past_the_float32_bound_at_large_m(mutant, m):
    x = _ordinary(m, 4, seed=m)
    y, _, exp = one_call(mutant, x, Config(4, affine=False), "float32")
    assert usage(y, exp.outputs[0], oracle.per_channel(exp.output_bounds[0], 2)) > 1


def test_the_panel_agrees_with_the_oracle_to_its_precision_on_benign_data():
    x = _ordinary(257, 3, seed=1).astype(np.float64)
    mean, var = oracle.batch_mean(x), oracle.batch_var(x)
    for dtype, u in (("float32", 2.0**-24), ("float64", 2.0**-53)):
        for member in panel.moments(x.astype(dtype), dtype):
            assert np.all(np.abs(member.mean - mean) <= 64 * u * np.abs(x).max(axis=0))
            assert np.all(np.abs(member.var - var) <= 64 * u * var)


def test_the_floor_grows_like_sqrt_m_and_the_panel_adds_what_it_measures():
    x = _ordinary(4096, 2, seed=2)
    x64 = x.astype(np.float64)
    mean, var = oracle.batch_mean(x64), oracle.batch_var(x64)
    floor = tolerances._output_floor(x64, mean, var, 1e-5, None, None, "float32", batch_stats=True)
    bound = tolerances.output_bound(x, mean, var, 1e-5, None, None, "float32", batch_stats=True)
    assert np.all(bound >= floor) and np.all(bound - floor <= floor)  # benign data: the measured part is small
    small = tolerances._output_floor(x64[:16], oracle.batch_mean(x64[:16]), oracle.batch_var(x64[:16]), 1e-5,
                                     None, None, "float32", batch_stats=True)
    assert np.all(floor < 20 * small)  # sqrt(4096) / sqrt(16) = 16, not 4096 / 16
