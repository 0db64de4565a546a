"""The error model: every comparison in the suite asks this module for its bound.

A bound must hold for every numerically sound way of computing BatchNorm1d (two passes in any
summation order, Welford's and other updating algorithms, block merges with float32 partials,
shifted or compensated sums, accumulation in the input's precision or wider, the fused
y = x * a + b form) and be no looser than such algorithms need. No closed form is both: the
worst case of a sum grows like m, while real errors grow like sqrt(m) unless they are correlated,
and updating algorithms keep a first-order error in the mean that two passes cancel (the
variance's condition number, Chan, Golub and LeVeque 1983). So each bound fed by batch
statistics has two parts, per channel:

    bound = floor + CALIBRATION * deviation

    deviation   what a panel of sound algorithms (``panel``: left-to-right, right-to-left and
                pairwise two-pass, Welford's update in order and merged across threads, one-pass
                sums shifted by the farthest and by the first value), run in the candidate's
                precision on this very input, deviates
                from the float64 oracle, the largest over the panel and both output forms. It is small where the data
                is benign and large where the input is ill-conditioned, and it shows the
                correlated errors (repeated values, constant channels) that a random walk misses.
    floor       an analytic part, for the candidate's dtype plus the float64 oracle:

    u      unit roundoff of the precision statistics are accumulated in (2**-24 for float32,
           2**-53 for float64; float32 for float16/bfloat16 input)
    u_out  unit roundoff of the input/output dtype (= u except for half input, which a correct
           implementation accumulates in float32 but may normalise in half)
    g      3 + sqrt(m) for batch statistics: a random walk over m roundings (Higham and Mary
           2019), the mean's division and one product; 3 for given statistics (eval)
    A      max(max|x_c|, |mean_c|): the magnitude the centring cancels
    s      1 / sqrt(var_c + eps): the amplification of normalisation
    rho    (g * u + 2 * u_out) * A * s: the centred value's error from the mean's rounding and
           that of x - mean (or x * a + b)
    xh     max|x_c - mean_c| * s: the largest normalised magnitude
    kappa  u * A * s with batch statistics, else 0: an updating or merging algorithm's variance
           keeps the mean's rounding to first order, 2 u A sqrt(var), which moves s by this much
    nu     g * u * max(1, (1 + xh**2) / 2) with batch statistics, else g * u: the variance's
           relative error; a one-pass sum shifted by one of the data's values errs by up to
           g u (var + D**2) / (var + eps) <= g u (1 + xh**2), which moves s by half as much
    err(xhat) = rho + xh * (nu + rho**2 + kappa)
    eta    the smallest normal number of the dtype: an implementation may flush subnormal inputs
           and results to zero (torch's float32 CPU kernel turns [1e-45, 0] into [0, 0])
    floor  = SAFETY * (|w_c| * (err(xhat) + eta * s) + u_out * (|w_c| * xh + |b_c|) + eta)

The batch statistics (for the running stats) have the same two parts: a floor of g u A for the
mean and g u (var + D**2) + 2 u A sqrt(var) + (g u A)**2 for the variance (D = max|x_c - mean_c|:
a one-pass sum shifted by one of the data's values cancels by up to (var + D**2) / var), plus
CALIBRATION times the panel's deviation. Running statistics propagate their error through each update
r <- (1 - f) r + f * stat: |1 - f| * err(r) + |f| * err(stat) + rounding. Gradients keep an
analytic bound with the worst-case growth g = 3 + m (their inputs are of ordinary magnitude).

SAFETY covers the second-order terms of the floor; CALIBRATION covers the spread between sound
algorithms of one family (a different order, a different update formula) on the same input.
``benchmarks/tightness.py`` reports how much of each bound correct code uses, and how far past
it each mutant lands. An implementation that computes the variance as E[x^2] - E[x]^2 in the
working precision is not numerically sound and fails on large-offset data: a finding, not a
tolerance problem.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from conformance.spec import dtypes, oracle, panel

# The suite's own process names bfloat16 anywhere (np.dtype("bfloat16")), and every path of it computes bounds.
dtypes.register_bfloat16()

SAFETY = 4.0
CALIBRATION = 4.0


def unit_roundoff(dtype) -> float:
    return float(dtypes.finfo(dtype).eps) / 2.0


def underflow(dtype) -> float:
    return float(dtypes.finfo(dtype).smallest_normal)


@functools.lru_cache(maxsize=None)  # a few dtypes; asked for several times in every example
def _precisions(dtype):
    """(u of the accumulation, u of the stored result, eta) for the candidate's dtype and for
    the float64 oracle: half input is accumulated in float32 and its output rounded to half."""
    return tuple((unit_roundoff(dtypes.compute_dtype(dt)), unit_roundoff(dt), underflow(dt))
                 for dt in (dtype, np.dtype(np.float64)))


def summation_growth(m: int) -> float:
    """The worst-case growth of a sum of m terms in any order: (m - 1) additions, plus the mean's
    division and one product; used where the bound is analytic (the gradients)."""
    return 3.0 + float(m)


def _channel_max(a: np.ndarray, axes) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(a).max(axis=axes) if a.size else np.zeros(a.shape[1])


def _abs_or_one(v, C):
    return np.ones(C) if v is None else np.abs(np.asarray(v, np.float64))


def _abs_or_zero(v, C):
    return np.zeros(C) if v is None else np.abs(np.asarray(v, np.float64))


def _normalised(x, mean, var, eps):
    """Per channel: s = 1/sqrt(var + eps), A = max(max|x|, |mean|), xh = max|x - mean| * s."""
    axes = oracle.reduction_axes(x)
    s = 1.0 / np.sqrt(np.asarray(var, np.float64) + eps)
    A = np.maximum(_channel_max(x, axes), np.abs(mean))
    centred = x - oracle.per_channel(np.asarray(mean, np.float64), x.ndim)
    return s, A, _channel_max(centred, axes) * s


def _xhat_error(A, s, xh, u, u_out, g, eta, *, updating: bool):
    """err(xhat): the normalised value's error, input flushing included.

    rho is the centring's error (the mean's g roundings and those of x - mean or x * a + b); the
    variance errs by g roundings relative (up to g (1 + xh**2) / 2 for a one-pass sum shifted by one
    of the data's values), by rho**2 (two passes: the mean's error enters squared), and, for an
    updating or merging algorithm, by its first-order term u * A * s relative to var + eps."""
    rho = (g * u + 2 * u_out) * A * s
    kappa = u * A * s if updating else 0.0
    nu = g * u * (np.maximum(1.0, (1.0 + xh**2) / 2) if updating else 1.0)
    return rho + xh * (nu + rho**2 + kappa) + eta * s


def random_walk_growth(m: int) -> float:
    """The growth of a sum of m terms whose rounding errors behave like a random walk (Higham and
    Mary 2019): sqrt(m) roundings, plus the mean's division and one product. The worst case, m,
    needs correlated errors, and then the panel shows them on the input itself."""
    return 3.0 + math.sqrt(m)


def _output_floor(x, mean, var, eps, weight, bias, dtype, *, batch_stats: bool) -> np.ndarray:
    """The analytic part of the output bound: the roundings of a forward call given its statistics
    (g = 3), or with batch statistics a random walk over their sums and, for an updating or merging
    algorithm, one rounding of the mean to first order."""
    C = x.shape[1]
    s, A, xh = _normalised(x, mean, var, eps)
    w, b = _abs_or_one(weight, C), _abs_or_zero(bias, C)
    g = random_walk_growth(oracle.values_per_channel(x)) if batch_stats else 3.0
    return sum(SAFETY * (w * _xhat_error(A, s, xh, u, u_out, g, eta, updating=batch_stats)
                         + u_out * (w * xh + b) + eta)
               for u, u_out, eta in _precisions(dtype))


def output_bound(x, mean, var, eps, weight, bias, dtype, *, batch_stats: bool, expected=None) -> np.ndarray:
    """Per-channel bound on |candidate output - oracle output| for one forward call.

    ``mean`` and ``var`` are the statistics the oracle normalised with (batch or running), and
    ``expected`` its output where the caller has it (``oracle.Forward.y``). With batch statistics the
    bound adds CALIBRATION times what the panel of sound algorithms deviates from the oracle on this
    very input, in the candidate's precision.
    """
    x_in = np.asarray(x)
    x = np.asarray(x_in, np.float64)
    floor = _output_floor(x, mean, var, eps, weight, bias, dtype, batch_stats=batch_stats)
    if not batch_stats:
        return floor
    if expected is None:
        expected = oracle.normalize(x, mean, var, eps, weight, bias)
    return floor + CALIBRATION * panel.output_deviation(x_in, dtype, eps, weight, bias, expected)


def batch_stat_bounds(x, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel bounds on the batch mean and on the unbiased batch variance.

    Floor: a random walk over the sums of the mean (g u A) and of the variance (g u (var + D**2), with
    D = max|x - mean|: a one-pass sum shifted by any of the data's values cancels by up to
    (var + D**2) / var), the mean's error squared (two passes), and for updating and merging
    algorithms the mean's rounding to first order (2 u A sqrt(var)); plus CALIBRATION times the
    panel's deviation from the oracle on this input."""
    x_in = np.asarray(x)
    x = np.asarray(x_in, np.float64)
    axes = oracle.reduction_axes(x)
    m = oracle.values_per_channel(x)
    g = random_walk_growth(m)
    mean, var_u = oracle.batch_mean(x), oracle.batch_var(x, unbiased=True)
    A = np.maximum(_channel_max(x, axes), np.abs(mean))
    spread = _channel_max(x - oracle.per_channel(mean, x.ndim), axes) ** 2 + var_u
    dmean, dvar = panel.stat_deviation(x_in, dtype, mean, var_u)
    dmean, dvar = CALIBRATION * dmean, CALIBRATION * dvar
    for u, _, eta in _precisions(dtype):
        dmu = g * u * A
        dmean = dmean + SAFETY * (dmu + eta)
        dvar = dvar + SAFETY * (g * u * spread + 2 * u * A * np.sqrt(var_u) + dmu**2 * m / (m - 1) + eta)
    return dmean, dvar


def variance_ratio_bound(output_bound, target, x, var, eps, dtype) -> np.ndarray:
    """Per-channel bound on |biased variance of the train output - var / (var + eps)| (identity affine).

    Each output value is within ``output_bound`` of the oracle's, which moves their variance by
    at most 2 * output_bound * sqrt(target) + output_bound**2. And var itself is known only to
    within the batch statistics' bound (``batch_stat_bounds``, eta included), which moves the
    target by up to that bound times d(target)/d(var) <= 1 / (var + eps). That term matters where
    var underflows: a channel [2.8e-162, 0] has var 2e-324, which float64 rounds to 0, while the
    output's variance is var / eps = 2e-319.
    """
    _, dvar = batch_stat_bounds(x, dtype)
    B = output_bound
    return 2 * B * np.sqrt(target) + B * B + dvar / (np.asarray(var, np.float64) + eps)


def running_bound(prev_err, prev, stat, stat_err, f: float, dtype) -> np.ndarray:
    """Bound on the error of (1 - f) * prev + f * stat, given bounds on its inputs."""
    prev, stat = np.asarray(prev, np.float64), np.asarray(stat, np.float64)
    # each product and the sum are rounded, and so is f itself: its error u*|f| multiplies
    # |stat - prev|, which is not small against (1 - f) * |prev| when f is close to 1
    size = abs(1 - f) * np.abs(prev) + abs(f) * np.abs(stat) + abs(f) * (np.abs(prev) + np.abs(stat))
    rounding = sum(SAFETY * (u * size + eta) for u, _, eta in _precisions(dtype))
    return abs(1 - f) * prev_err + abs(f) * stat_err + 2 * rounding


def value_bound(values, dtype) -> np.ndarray:
    """Bound for values stored in ``dtype`` that should equal ``values`` (one rounding each)."""
    v = np.abs(np.asarray(values, np.float64))
    return SAFETY * sum(u_out * v + eta for _, u_out, eta in _precisions(dtype))


def stat_error_effect(x, mean, var, eps, weight, mean_err, var_err) -> np.ndarray:
    """Extra output error when normalising with statistics known only to within
    ``mean_err`` and ``var_err`` (running stats that carry earlier rounding)."""
    s, _, xh = _normalised(np.asarray(x, np.float64), mean, var, eps)
    w = _abs_or_one(weight, np.shape(x)[1])
    return w * (mean_err * s + xh * var_err * s * s)


def gradient_bounds(x, grad_output, mean, var, eps, weight, dtype, *, batch_stats: bool):
    """Per-channel bounds on (d input, d weight, d bias) against the float64 oracle.

    With G = max|g_c|, and xh, err(xhat) as for the output (without the weight):
        d input  <= SAFETY * s|w|G * (g*u*(2 + xh**2) + err(xhat)*(1 + 2*xh))   with batch statistics:
                    each of the three terms of d input, its sum and the xhat it uses
                    SAFETY * s|w|G * g*u                                        with running statistics:
                    one product g * weight * s
        d weight <= SAFETY * m*G * (g*u*xh + err(xhat))
        d bias   <= SAFETY * m*G * g*u
    """
    x = np.asarray(x, np.float64)
    gout = np.asarray(grad_output, np.float64)
    axes = oracle.reduction_axes(x)
    m = oracle.values_per_channel(x)
    G = _channel_max(gout, axes)
    w = _abs_or_one(weight, x.shape[1])
    s, A, xh = _normalised(x, mean, var, eps)
    gx = gw = gb = 0.0
    for u, u_out, eta in _precisions(dtype):
        g = summation_growth(m) if batch_stats else 3.0
        stored = u_out * s * w * G * (2 + xh**2)  # d input is rounded to the input's dtype
        err = _xhat_error(A, s, xh, u, u_out, g, eta, updating=batch_stats)
        if batch_stats:
            gx = gx + SAFETY * (s * w * G * (g * u * (2 + xh**2) + err * (1 + 2 * xh)) + stored + eta)
        else:
            gx = gx + SAFETY * (s * w * G * g * u + stored + eta)
        # d weight and d bias may be rounded to the input's dtype before they are stored
        gw = gw + SAFETY * (m * G * (g * u * xh + err + u_out * xh) + eta)
        gb = gb + SAFETY * (m * G * (g * u + u_out) + eta)
    return gx, gw, gb


def finite_difference_step(var, eps) -> np.ndarray:
    """A central-difference step per channel: u**(1/3) times the channel's scale sqrt(var + eps)."""
    return unit_roundoff(np.float64) ** (1 / 3) * np.sqrt(np.asarray(var, np.float64) + eps)


def finite_difference_bound(x, grad_output, var, eps, weight, output_bound, h) -> float:
    """Bound on |(L(x + h v) - L(x - h v)) / 2 - <dL/dx, h v>| for L = sum(g * y), |v| <= 1.

    rounding:   the two losses each err by at most sum_c m * G_c * output_bound_c
    underflow:  each product g * y of the two losses and each of the two products in
                dx * h * v, and the halving, may underflow: eta each (float64's; a
                grad_output of 2e-309 makes every product subnormal)
    truncation: (h s)**3 / 6 times the third derivative of L along v, at most
                10 * m * G_c * |w_c| per channel (xhat and its first three derivatives
                along a bounded direction, in units of s = 1 / sqrt(var + eps))
    """
    x = np.asarray(x, np.float64)
    axes = oracle.reduction_axes(x)
    m = oracle.values_per_channel(x)
    G = _channel_max(np.asarray(grad_output, np.float64), axes)
    w = _abs_or_one(weight, x.shape[1])
    s = 1.0 / np.sqrt(np.asarray(var, np.float64) + eps)
    rounding = 2 * np.sum(m * G * output_bound)
    underflows = (4 * x.size + 1) * underflow(np.float64)
    truncation = np.sum((h * s) ** 3 / 6 * 10 * m * G * w)
    return SAFETY * float(rounding + underflows + truncation)
