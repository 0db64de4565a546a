"""A panel of sound algorithms, run in the candidate's precision on the example at hand.

The error model (``tolerances``) calibrates every bound fed by batch statistics on the input
itself: how far from the float64 oracle do algorithms that a correct kernel may use actually
land, on these values, in this precision? The members span the realistic error behaviours:

    left-to-right   two passes with sequential sums (the least accurate standard order)
    right-to-left   the same in reverse order: rounding errors that do not cancel the same way
    pairwise        two passes with NumPy's pairwise sums (tree reductions)
    welford         Welford's update, value by value in order (a CPU kernel's streaming statistics)
    welford-merged  Welford's update over a strided share of at most 16 values per thread,
                    then the threads merged pairwise with Chan, Golub and LeVeque's formula
                    (a GPU kernel's block reduction; for m <= 16 it is Welford's update itself)
    shifted         one pass of sum(d) and sum(d * d) with d = x - shift, shifted by the value
                    farthest from the mean (the cancellation a shift inside the data can cause)
    shifted-first   the same shifted by the first value, the textbook choice (on repeated values
                    its rounding errors correlate differently from the farthest shift's)

Each member's output is formed both ways a kernel writes it: (x - mean) * rsqrt(var + eps) * w + b
in the working precision, and the fused x * a + b with a = w * rsqrt(var + eps), b = bias - mean * a,
evaluated in the output's precision. Everything is computed in ``dtypes.compute_dtype`` (float32 for
float32 and half input, float64 for float64), without a wider copy, and returned as float64.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from conformance.spec import dtypes

THREAD_SHARE = 16  # values per thread before the merge: small enough that every merge level is exercised


@dataclass(frozen=True)
class Moments:
    """One member's per-channel mean and biased variance, in its working precision."""

    mean: np.ndarray
    var: np.ndarray


def channel_rows(x: np.ndarray, dtype) -> np.ndarray:
    """(N, C) or (N, C, L) as C contiguous rows of m = N * L values, converted exactly to ``dtype``."""
    C = x.shape[1]
    return np.ascontiguousarray(np.moveaxis(np.asarray(x), 1, 0).reshape(C, -1), dtype=dtype)


def _sequential(rows: np.ndarray) -> np.ndarray:
    return np.cumsum(rows, axis=1, dtype=rows.dtype)[:, -1]  # cumsum adds strictly left to right


def _pairwise(rows: np.ndarray) -> np.ndarray:
    return np.add.reduce(rows, axis=1, dtype=rows.dtype)  # contiguous rows: NumPy's pairwise summation


def _two_pass(rows: np.ndarray, total) -> Moments:
    m = rows.dtype.type(rows.shape[1])
    mean = total(rows) / m
    d = rows - mean[:, None]
    return Moments(mean, total(d * d) / m)


def _welford(rows: np.ndarray) -> Moments:
    """Welford's update over each channel's values in order: in float32 its mean stops moving once
    |x - mean| / k is under half an ulp of the mean, a correlated error no two-pass sum shows."""
    C, m = rows.shape
    mean, m2, delta, step = (np.zeros(C, rows.dtype) for _ in range(4))
    for k in range(m):  # in-place ufuncs: this loop is the panel's cost on a large batch
        v = rows[:, k]
        np.subtract(v, mean, out=delta)
        np.divide(delta, k + 1, out=step)
        np.add(mean, step, out=mean)
        np.subtract(v, mean, out=step)
        np.multiply(delta, step, out=step)
        np.add(m2, step, out=m2)
    return Moments(mean, m2 / rows.dtype.type(m))


def _shifted_one_pass(rows: np.ndarray) -> Moments:
    """Shifted by the value farthest from the mean: the most cancellation a shift by one of the data's
    own values can cause."""
    m = rows.dtype.type(rows.shape[1])
    far = np.argmax(np.abs(rows - (_pairwise(rows) / m)[:, None]), axis=1)
    return _shifted(rows, rows[np.arange(rows.shape[0]), far])


def _shifted(rows: np.ndarray, shift: np.ndarray) -> Moments:
    """One sequential pass over d = x - shift of sum(d) and sum(d * d)."""
    m = rows.dtype.type(rows.shape[1])
    d = rows - shift[:, None]
    s1, s2 = _sequential(d), _sequential(d * d)
    return Moments(shift + s1 / m, np.maximum((s2 - s1 * (s1 / m)) / m, rows.dtype.type(0)))


def _welford_merged(rows: np.ndarray) -> Moments:
    C, m = rows.shape
    threads = -(-m // THREAD_SHARE)
    n, mean, m2 = (np.zeros((C, threads), rows.dtype) for _ in range(3))
    for start in range(0, m, threads):  # step k: thread t takes value k * threads + t
        v = rows[:, start:start + threads]
        k = v.shape[1]
        n[:, :k] += 1
        delta = v - mean[:, :k]
        mean[:, :k] += delta / n[:, :k]
        m2[:, :k] += delta * (v - mean[:, :k])
    while n.shape[1] > 1:
        pairs = n.shape[1] // 2 * 2
        na, nb = n[:, 0:pairs:2], n[:, 1:pairs:2]
        ma, mb = mean[:, 0:pairs:2], mean[:, 1:pairs:2]
        total = na + nb
        delta = mb - ma
        m2_ab = m2[:, 0:pairs:2] + m2[:, 1:pairs:2] + delta * delta * (na * nb / total)
        merged = (total, ma + delta * (nb / total), m2_ab)
        n, mean, m2 = (np.concatenate([new, old[:, pairs:]], axis=1) for new, old in zip(merged, (n, mean, m2)))
    return Moments(mean[:, 0], m2[:, 0] / n[:, 0])


MEMBERS = {
    "left-to-right": lambda rows: _two_pass(rows, _sequential),
    "right-to-left": lambda rows: _two_pass(rows[:, ::-1], _sequential),
    "pairwise": lambda rows: _two_pass(rows, _pairwise),
    "welford": _welford,
    "welford-merged": _welford_merged,
    "shifted one-pass": _shifted_one_pass,
    "shifted by the first value": lambda rows: _shifted(rows, rows[:, 0]),
}


def moments(x: np.ndarray, dtype) -> tuple[Moments, ...]:
    """Every member's statistics of ``x`` (a ``dtype`` input) in the precision a kernel accumulates in."""
    x = np.asarray(x)
    return _moments(x.tobytes(), x.shape, dtypes.name(x.dtype), dtypes.compute_dtype(dtype))


@functools.lru_cache(maxsize=64)  # the same input is checked by several properties and both sides of a relation
def _moments(data: bytes, shape: tuple, stored: str, compute: str) -> tuple[Moments, ...]:
    rows = channel_rows(np.frombuffer(data, np.dtype(stored)).reshape(shape), compute)
    with np.errstate(all="ignore"):
        return tuple(member(rows) for member in MEMBERS.values())


def stat_deviation(x: np.ndarray, dtype, mean: np.ndarray, var_unbiased: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the largest |member - oracle| of the batch mean and of the unbiased batch variance."""
    x = np.asarray(x)
    m = x.size // x.shape[1]
    members = moments(x, dtype)
    with np.errstate(all="ignore"):
        dmean = np.max([np.abs(mo.mean.astype(np.float64) - mean) for mo in members], axis=0)
        unbiased = [(mo.var * mo.var.dtype.type(m / (m - 1))).astype(np.float64) for mo in members]
        dvar = np.max([np.abs(v - var_unbiased) for v in unbiased], axis=0)
    return dmean, dvar


def output_deviation(x: np.ndarray, dtype, eps: float, weight, bias, expected: np.ndarray) -> np.ndarray:
    """Per channel, the largest |member output - ``expected``| over the members and both output forms."""
    x = np.asarray(x)
    compute, out = np.dtype(dtypes.compute_dtype(dtype)), np.dtype(dtype)
    rows = channel_rows(x, compute)
    want = channel_rows(expected, np.float64)
    C = rows.shape[0]
    w = np.ones(C, compute) if weight is None else np.asarray(weight).astype(compute)
    b = np.zeros(C, compute) if bias is None else np.asarray(bias).astype(compute)
    worst = np.zeros(C)
    with np.errstate(all="ignore"):
        for mo in moments(x, dtype):
            inv = compute.type(1) / np.sqrt(mo.var + compute.type(eps))
            plain = ((rows - mo.mean[:, None]) * inv[:, None] * w[:, None] + b[:, None]).astype(out)
            a = w * inv
            shift = b - mo.mean * a
            fused = rows.astype(out) * a.astype(out)[:, None] + shift.astype(out)[:, None]
            for y in (plain, fused):
                worst = np.fmax(worst, np.max(np.abs(y.astype(np.float64) - want), axis=1))
    return worst
