"""The error model (``conformance.spec.tolerances``) keeps the promises of its docstring.

A bound that is zero, NaN or infinite, or that stops growing where the arithmetic gets harder,
fails correct code or passes anything. So, on fixed inputs and on a few derandomized draws:
the bounds are positive and finite; they grow with m and with the condition number; on benign
data the float32 bound stays far below the output (it can see a bug); exact arithmetic and sound
float32 computations land inside the bounds; a deliberately wrong formula lands outside.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec import dtypes, oracle, tolerances

DRAWS = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
EPS = oracle.DEFAULT_EPS


def benign(m: int, C: int = 3, *, seed: int = 0, offset: float = 0.0, spread: float = 1.0,
           dtype="float32") -> np.ndarray:
    """m values per channel, offset + spread * uniform noise in [-1, 1] centred on its mean, rounded to ``dtype``.

    Centred so that even m = 2 is well conditioned (max|x - mean| is about max|x| when offset = 0)."""
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, (m, C))
    return (offset + spread * (noise - noise.mean(axis=0))).astype(dtype)


def stats(x) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's batch mean and biased variance."""
    x64 = np.asarray(x, np.float64)
    return oracle.batch_mean(x64), oracle.batch_var(x64)


def train_bound(x, dtype, *, eps=EPS, weight=None, bias=None) -> np.ndarray:
    mean, var = stats(x)
    return tolerances.output_bound(x, mean, var, eps, weight, bias, dtype, batch_stats=True)


def usage(got, expected, bound, ndim: int | None = None) -> float:
    """The largest |got - expected| / bound; ``bound`` per channel when ``ndim`` is given."""
    b = np.asarray(bound, np.float64)
    if ndim is not None:
        b = oracle.per_channel(b, ndim)
    return float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64)) / b))


def exact_output_error(y, x, eps, weight=None, bias=None) -> np.ndarray:
    """|y - BN(x)| per element, BN(x) with batch statistics in exact rationals, its square root in 60 digits."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    C = x.shape[1]
    rows, yrows = (np.moveaxis(a, 1, 0).reshape(C, -1) for a in (x, y))
    err = np.empty_like(yrows)

    def dec(q: Fraction) -> Decimal:
        return Decimal(q.numerator) / Decimal(q.denominator)

    with localcontext() as ctx:
        ctx.prec = 60
        for c in range(C):
            values = [Fraction(float(v)) for v in rows[c]]
            mean = sum(values, Fraction(0)) / len(values)
            var = sum(((v - mean) ** 2 for v in values), Fraction(0)) / len(values)
            root = dec(var + Fraction(eps)).sqrt()
            w = Decimal(1) if weight is None else Decimal(float(weight[c]))
            b = Decimal(0) if bias is None else Decimal(float(bias[c]))
            for i, v in enumerate(values):
                exact = dec(v - mean) / root * w + b
                err[c, i] = float(abs(Decimal(float(yrows[c, i])) - exact))
    return np.moveaxis(err.reshape((C,) + x.shape[:1] + x.shape[2:]), 0, 1)


# --- the precisions ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, u, smallest_normal", [
    ("float64", 2.0**-53, 2.0**-1022), ("float32", 2.0**-24, 2.0**-126),
    ("float16", 2.0**-11, 2.0**-14), ("bfloat16", 2.0**-8, 2.0**-126),
])
def test_unit_roundoff_and_underflow_are_those_of_each_dtype(dtype, u, smallest_normal):
    assert tolerances.unit_roundoff(dtype) == u
    assert tolerances.underflow(dtype) == smallest_normal


def test_the_random_walk_grows_like_sqrt_m_and_the_worst_case_like_m():
    ms = [1, 2, 16, 256, 4096]
    walk = [tolerances.random_walk_growth(m) for m in ms]
    worst = [tolerances.summation_growth(m) for m in ms]
    assert walk == sorted(walk) and worst == sorted(worst)
    assert all(w <= v for w, v in zip(walk, worst))
    assert walk[-1] < 2 * math.sqrt(4096) and worst[-1] >= 4096


# --- positive and finite -----------------------------------------------------------------------


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.ALL))
def test_every_bound_of_a_case_is_positive_and_finite(data, dtype):
    case = data.draw(cst.sequences(dtype, max_calls=3))
    exp = replay.run_oracle(case)
    for bound in exp.output_bounds:
        assert np.all(np.isfinite(bound)) and np.all(bound > 0)
    tracking = case.config.track_running_stats
    trained = False
    for call, b in zip(case.calls, exp.state_bounds):
        trained = trained or (call.training and tracking)
        for name in ("running_mean", "running_var"):
            v = np.asarray(getattr(b, name))
            assert np.all(np.isfinite(v)) and np.all(v >= 0), name
            if trained:
                assert np.all(v > 0), f"{name}: a running statistic updated in {dtype} has no room for rounding"


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.ALL))
def test_batch_stat_and_gradient_bounds_are_positive_and_finite(data, dtype):
    case = data.draw(cst.cases(dtype, large=True))
    x = case.x
    dmean, dvar = tolerances.batch_stat_bounds(x, dtype)
    mean, var = stats(x)
    g = np.ones_like(x, np.float64)
    for batch_stats in (True, False):
        for b in tolerances.gradient_bounds(x, g, mean, var, case.config.eps, None, dtype, batch_stats=batch_stats):
            assert np.all(np.isfinite(b)) and np.all(b > 0)
    for b in (dmean, dvar):
        assert np.all(np.isfinite(b)) and np.all(b > 0)


# --- not vacuous -------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [2, 16, 256, 4096])
@pytest.mark.parametrize("dtype, fraction", [("float64", 1e-12), ("float32", 1e-4), ("float16", 2e-2),
                                             ("bfloat16", 1e-1)])
def test_the_bound_on_benign_data_is_a_small_fraction_of_the_output(dtype, fraction, m):
    x = benign(m, seed=m, dtype=dtype)
    for affine in (None, (np.array([2.0, -0.5, 1.0]), np.array([0.5, -3.0, 0.0]))):
        weight, bias = affine if affine else (None, None)
        mean, var = stats(x)
        y = oracle.normalize(x, mean, var, EPS, weight, bias)
        bound = train_bound(x, dtype, weight=weight, bias=bias)
        assert np.all(bound < fraction * np.abs(y).max(axis=0)), (bound, np.abs(y).max(axis=0))


def test_the_float32_batch_stat_bounds_on_benign_data_are_small_against_the_stats():
    for m in (2, 256, 4096):
        x = benign(m, seed=m, offset=3.0)
        dmean, dvar = tolerances.batch_stat_bounds(x, "float32")
        mean, var_u = oracle.batch_mean(x), oracle.batch_var(x, unbiased=True)
        assert np.all(dmean < 1e-4 * np.abs(mean)) and np.all(dvar < 1e-3 * var_u)


# --- growth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bounds_grow_with_m_on_the_same_values_but_slower_than_m(dtype):
    head = benign(16, seed=1, dtype="float64")
    ms, outs, means, vars_ = [], [], [], []
    for k in (1, 16, 256):  # the same 16 values repeated: mean, variance and magnitudes stay the same
        x = np.tile(head, (k, 1)).astype(dtype)
        ms.append(x.shape[0])
        outs.append(train_bound(x, dtype))
        dmean, dvar = tolerances.batch_stat_bounds(x, dtype)
        means.append(dmean)
        vars_.append(dvar)
    for series in (outs, means, vars_):
        assert np.all(series[0] < series[1]) and np.all(series[1] < series[2])
        assert np.all(series[2] / series[0] < ms[2] / ms[0])
    mean, var = stats(head)
    eval_bound = tolerances.output_bound(head, mean, var, EPS, None, None, dtype, batch_stats=False)
    assert np.all(eval_bound < outs[0])  # given statistics: no sums to round


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bounds_grow_with_the_offset_against_the_spread(dtype):
    base = benign(64, 1, seed=2, dtype="float64")
    outs, means, vars_ = [], [], []
    for offset in (0.0, 10.0, 1e2, 1e3, 1e4):
        x = (offset + 1e-2 * base).astype(dtype)
        outs.append(train_bound(x, dtype, eps=1e-8)[0])
        dmean, dvar = tolerances.batch_stat_bounds(x, dtype)
        means.append(dmean[0])
        vars_.append(dvar[0])
    for series in (outs, means, vars_):
        assert series == sorted(series) and len(set(series)) == len(series), series


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bounds_grow_as_the_spread_shrinks_under_a_fixed_offset(dtype):
    base = benign(64, 1, seed=3, dtype="float64")
    spreads = (1.0, 1e-1, 1e-2, 1e-3)
    outs = [train_bound((100.0 + spread * base).astype(dtype), dtype, eps=1e-8)[0] for spread in spreads]
    assert outs == sorted(outs) and len(set(outs)) == len(outs), outs


# --- sound computations land inside ------------------------------------------------------------


@DRAWS
@given(data=st.data())
def test_the_float64_oracle_is_within_its_bound_of_exact_arithmetic(data):
    case = data.draw(cst.cases("float64"))
    exp = replay.run_oracle(case)
    state = case.initial_state()
    err = exact_output_error(exp.outputs[0], case.x, case.config.eps, state.weight, state.bias)
    assert usage(err, 0.0, exp.output_bounds[0], case.x.ndim) <= 1


@pytest.mark.parametrize("offset, spread", [(0.0, 1.0), (1e4, 1e-2), (300.0, 1.0), (0.5, 1e-6)])
def test_the_float64_oracle_is_within_its_bound_of_exact_arithmetic_on_hard_inputs(offset, spread):
    x = benign(300, 2, seed=4, offset=offset, spread=spread, dtype="float64")
    mean, var = stats(x)
    y = oracle.normalize(x, mean, var, EPS)
    assert usage(exact_output_error(y, x, EPS), 0.0, train_bound(x, "float64"), 2) <= 1


def float32_two_pass(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output, mean and unbiased variance of (N, C) float32 input, all in float32: the textbook kernel."""
    f = np.float32
    m = f(x.shape[0])
    mean = x.sum(axis=0, dtype=f) / m
    d = x - mean
    ss = (d * d).sum(axis=0, dtype=f)
    y = d / np.sqrt(ss / m + f(eps))
    return y, mean, ss / (m - f(1))


@pytest.mark.parametrize("m", [2, 7, 256, 4096])
@pytest.mark.parametrize("offset, spread", [(0.0, 1.0), (3.0, 1.0), (1e4, 1e-2), (300.0, 30.0), (1.0, 1e-3)])
def test_a_float32_two_pass_kernel_is_within_the_float32_bounds(offset, spread, m):
    x = benign(m, 2, seed=m, offset=offset, spread=spread)
    y, mean32, var32 = float32_two_pass(x, EPS)
    mean, var = stats(x)
    assert usage(y, oracle.normalize(x, mean, var, EPS), train_bound(x, "float32"), 2) <= 1
    dmean, dvar = tolerances.batch_stat_bounds(x, "float32")
    assert usage(mean32, mean, dmean) <= 1
    assert usage(var32, oracle.batch_var(x, unbiased=True), dvar) <= 1


def test_a_float32_eval_kernel_is_within_the_bound_for_given_statistics():
    x = benign(64, 3, seed=5, offset=3.0)
    rm, rv = np.array([0.5, -1.0, 3.0], np.float32), np.array([0.25, 2.0, 1e-3], np.float32)
    w, b = np.array([1.5, -2.0, 0.0], np.float32), np.array([0.5, 0.0, -1.0], np.float32)
    y32 = (x - rm) / np.sqrt(rv + np.float32(EPS)) * w + b
    expected = oracle.normalize(x, rm, rv, EPS, w, b)
    bound = tolerances.output_bound(x, rm, rv, EPS, w, b, "float32", batch_stats=False)
    assert y32.dtype == np.float32 and usage(y32, expected, bound, 2) <= 1


@pytest.mark.parametrize("f", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_a_float32_running_update_is_within_the_running_bound(f):
    rng = np.random.default_rng(6)
    prev, stat = rng.uniform(-5, 5, 64).astype(np.float32), rng.uniform(-5, 5, 64).astype(np.float32)
    got = (np.float32(1 - f) * prev + np.float32(f) * stat).astype(np.float32)
    bound = tolerances.running_bound(0.0, prev, stat, 0.0, f, "float32")
    assert np.all(bound > 0) and usage(got, oracle.running_update(prev, stat, f), bound) <= 1


def test_the_running_bound_carries_earlier_errors_weighted_by_the_momentum():
    prev, stat, f = np.array([1.0, -2.0]), np.array([0.5, 4.0]), 0.25
    base = tolerances.running_bound(0.0, prev, stat, 0.0, f, "float32")
    carried = tolerances.running_bound(np.array([1e-3, 2e-3]), prev, stat, np.array([4e-3, 0.0]), f, "float32")
    np.testing.assert_allclose(carried - base, [0.75 * 1e-3 + 0.25 * 4e-3, 0.75 * 2e-3], rtol=1e-12)


@pytest.mark.parametrize("dtype", dtypes.ALL)
def test_a_value_rounded_to_the_dtype_is_within_the_value_bound(dtype):
    v = np.concatenate([np.random.default_rng(7).uniform(-100, 100, 256), [0.0, 1e-30, 3e-8]])
    rounded = v.astype(dtype).astype(np.float64)
    assert usage(rounded, v, tolerances.value_bound(v, dtype)) <= 1


def test_a_statistic_known_to_within_its_error_moves_the_output_by_at_most_the_effect_bound():
    x = benign(32, 3, seed=8, offset=1.0)
    mean, var = stats(x)
    w = np.array([2.0, -1.0, 0.5])
    assert np.all(tolerances.stat_error_effect(x, mean, var, EPS, w, 0.0, 0.0) == 0)
    dmean, dvar = np.array([1e-6, -1e-6, 0.0]), np.array([1e-6, 0.0, -2e-6])
    effect = tolerances.stat_error_effect(x, mean, var, EPS, w, np.abs(dmean), np.abs(dvar))
    moved = oracle.normalize(x, mean + dmean, var + dvar, EPS, w) - oracle.normalize(x, mean, var, EPS, w)
    assert usage(moved, 0.0, effect, 2) <= 1 + 1e-6  # equality where only the mean errs; moved has float64 rounding


def test_the_variance_of_a_float32_output_is_within_the_variance_ratio_bound():
    x = benign(512, 3, seed=9, offset=3.0)
    y, _, _ = float32_two_pass(x, EPS)
    _, var = stats(x)
    target = var / (var + EPS)
    bound = tolerances.variance_ratio_bound(train_bound(x, "float32"), target, x, var, EPS, "float32")
    assert np.all(bound < 1e-3) and usage(oracle.batch_var(y), target, bound) <= 1


def test_float32_gradients_are_within_the_gradient_bounds():
    x = benign(128, 3, seed=10, offset=1.0)
    g = benign(128, 3, seed=11)
    w = np.array([1.5, -0.5, 1.0], np.float32)
    mean, var = stats(x)
    want = oracle.backward(x, g, mean, var, EPS, w, batch_stats=True)
    f = np.float32
    s = f(1) / np.sqrt(var.astype(f) + f(EPS))
    xh = (x - mean.astype(f)) * s
    gh = g * w
    dx = s / f(128) * (f(128) * gh - gh.sum(axis=0, dtype=f) - xh * (gh * xh).sum(axis=0, dtype=f))
    bx, bw, bb = tolerances.gradient_bounds(x, g, mean, var, EPS, w, "float32", batch_stats=True)
    assert usage(dx, want.input, bx, 2) <= 1
    assert usage((g * xh).sum(axis=0, dtype=f), want.weight, bw) <= 1
    assert usage(g.sum(axis=0, dtype=f), want.bias, bb) <= 1
    # the eval-mode formula in training mode (batch statistics taken as constants) is a bug the bound sees
    assert usage(gh * s, want.input, bx, 2) > 1


# --- wrong results land outside ----------------------------------------------------------------


@pytest.mark.parametrize("m", [2, 3, 8, 64, 512])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalising_with_the_unbiased_variance_is_outside_the_output_bound(dtype, m):
    x = benign(m, seed=m, offset=1.0, dtype=dtype)
    mean, var = stats(x)
    wrong = oracle.normalize(x, mean, var * m / (m - 1), EPS)
    assert usage(wrong, oracle.normalize(x, mean, var, EPS), train_bound(x, dtype), 2) > 1


@pytest.mark.parametrize("m", [2, 3, 8, 64, 512])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_biased_variance_for_the_running_var_is_outside_the_batch_stat_bound(dtype, m):
    x = benign(m, seed=m, offset=1.0, dtype=dtype)
    _, dvar = tolerances.batch_stat_bounds(x, dtype)
    assert usage(oracle.batch_var(x), oracle.batch_var(x, unbiased=True), dvar) > 1


@pytest.mark.parametrize("dtype, m", [("float16", 2), ("float16", 16), ("bfloat16", 2), ("bfloat16", 4)])
def test_half_bounds_still_see_the_unbiased_variance_at_small_m(dtype, m):
    """Half output rounds by 2**-11 or 2**-8 relative: the factor m / (m - 1) is visible at small m only."""
    x = benign(m, seed=12, dtype=dtype)
    mean, var = stats(x)
    wrong = oracle.normalize(x, mean, var * m / (m - 1), EPS)
    assert usage(wrong, oracle.normalize(x, mean, var, EPS), train_bound(x, dtype), 2) > 1


def test_dropping_eps_is_outside_the_float64_bound():
    x = benign(64, seed=13, dtype="float64")
    mean, var = stats(x)
    without_eps = oracle.normalize(x, mean, var, 0.0)
    assert usage(without_eps, oracle.normalize(x, mean, var, EPS), train_bound(x, "float64"), 2) > 1


@pytest.mark.parametrize("f", [0.1, 0.3])
def test_a_running_update_with_the_momentum_swapped_is_outside_the_running_bound(f):
    rng = np.random.default_rng(14)
    prev, stat = rng.uniform(-5, 5, 16), rng.uniform(-5, 5, 16)
    swapped = oracle.running_update(prev, stat, 1 - f)
    assert usage(swapped, oracle.running_update(prev, stat, f), tolerances.running_bound(0.0, prev, stat, 0.0, f,
                                                                                         "float32")) > 1


def test_a_relative_error_of_1e_5_is_outside_the_float32_value_bound():
    v = np.random.default_rng(15).uniform(1, 100, 64)
    assert usage(v * (1 + 1e-5), v, tolerances.value_bound(v, "float32")) > 1
