"""Correct NumPy BatchNorm1d kernels that compute the batch statistics in other legitimate ways.

Each class is its own factory (the NumPy-object form) and builds on the mutant set's correct
``Reference``, overriding the steps that decide *how* the mean and the biased variance are
computed, and in which precision, never *what* is computed. ``Native`` works in the input's
precision (float32 for float32 and half input, float64 for float64) instead of the reference's
float64 copy, as a real float32 kernel does; each subclass supplies ``moments(rows)`` on a
(C, m) array of one row per channel in that precision.
"""

from __future__ import annotations

import math

import numpy as np

from tests.mutants.base import Reference

ALL_DTYPES = ("float32", "float64", "float16", "bfloat16")


class Native(Reference):
    """Statistics, normalisation and affine in the compute precision; state and contract as the reference."""

    conformance_dtypes = ("float32", "float64")
    _compute = np.dtype(np.float64)

    def working_copy(self, x):
        # Half input into a float32 module accumulates in float32, as mixed-precision training does.
        self._compute = np.dtype(np.float64 if x.dtype == np.float64 else np.float32)
        return np.array(x, dtype=self._compute, order="C")

    def batch_moments(self, work, axes):
        rows = np.moveaxis(work, 1, 0).reshape(work.shape[1], -1)
        with np.errstate(all="ignore"):  # a NaN or inf stays in its channel, as in torch
            mean, var = self.moments(rows)
        shape = (1, work.shape[1]) + (1,) * (work.ndim - 2)
        return mean.astype(work.dtype).reshape(shape), var.astype(work.dtype).reshape(shape)

    def moments(self, rows):
        """(mean, biased variance) per row, each (C,), in ``rows.dtype``."""
        raise NotImplementedError

    def as_channels(self, v, ndim):
        return np.array(v, self._compute).reshape((1, self.num_features) + (1,) * (ndim - 2))

    def to_output(self, y, x):
        with np.errstate(over="ignore"):  # beyond a half dtype's range the output is inf, as it should be
            return y.reshape(x.shape).astype(x.dtype)


class Welford(Native):
    """Welford's updating algorithm, one value at a time in input order, vectorised across channels."""

    def moments(self, rows):
        mean = np.zeros(rows.shape[0], rows.dtype)
        m2 = np.zeros(rows.shape[0], rows.dtype)
        for k in range(rows.shape[1]):
            v = rows[:, k]
            delta = v - mean
            mean += delta / rows.dtype.type(k + 1)
            m2 += delta * (v - mean)
        return mean, m2 / rows.dtype.type(rows.shape[1])


def _chan_merge(a, b):
    """Chan, Golub & LeVeque: combine (n, mean, M2) of two disjoint parts, with the between-part term."""
    na, mean_a, m2_a = a
    nb, mean_b, m2_b = b
    n = na + nb
    dt = mean_a.dtype.type
    delta = mean_b - mean_a
    return n, mean_a + delta * dt(nb / n), m2_a + m2_b + delta * delta * dt(na * nb / n)


def _part(values):
    """(n, mean, M2) of one part, two-pass in its own precision."""
    n = values.shape[1]
    mean = values.sum(axis=1) / values.dtype.type(n)
    d = values - mean[:, None]
    return n, mean, (d * d).sum(axis=1)


class BlockMerge(Native):
    """GPU block-reduction style: contiguous blocks of 256 values, per-block mean and M2, merged as a pairwise tree."""

    conformance_dtypes = ALL_DTYPES
    block = 256

    def moments(self, rows):
        parts = [_part(rows[:, i:i + self.block]) for i in range(0, rows.shape[1], self.block)]
        while len(parts) > 1:
            pairs = [_chan_merge(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
            parts = pairs + parts[len(pairs) * 2:]
        n, mean, m2 = parts[0]
        return mean, m2 / rows.dtype.type(n)


class ShiftedOnePass(Native):
    """Shift by each channel's first value, then one sequential pass, last value first, summing d and d*d
    in the working dtype."""

    def moments(self, rows):
        shift = rows[:, :1]
        d = (rows - shift)[:, ::-1]
        m = rows.dtype.type(rows.shape[1])
        # accumulate fixes the order; a plain sum's order depends on the array's layout
        s1, s2 = np.add.accumulate(d, axis=1)[:, -1], np.add.accumulate(d * d, axis=1)[:, -1]
        mean_d = s1 / m
        return shift[:, 0] + mean_d, np.maximum((s2 - s1 * mean_d) / m, rows.dtype.type(0))


def _kahan_reversed(rows):
    """Compensated sum of each row, last value first."""
    total = np.zeros(rows.shape[0], rows.dtype)
    carry = np.zeros(rows.shape[0], rows.dtype)
    for k in range(rows.shape[1] - 1, -1, -1):
        y = rows[:, k] - carry
        t = total + y
        carry = (t - total) - y
        total = t
    return total


class Kahan(Native):
    """Two-pass, both sums compensated (Kahan) and taken last value first, in the working dtype."""

    def moments(self, rows):
        m = rows.dtype.type(rows.shape[1])
        mean = _kahan_reversed(rows) / m
        d = rows - mean[:, None]
        return mean, _kahan_reversed(d * d) / m


class LeftToRight(Native):
    """Two-pass with strictly sequential sums (np.add.accumulate, no pairwise summation) in the working dtype."""

    def moments(self, rows):
        m = rows.dtype.type(rows.shape[1])
        mean = np.add.accumulate(rows, axis=1)[:, -1] / m
        d = rows - mean[:, None]
        return mean, np.add.accumulate(d * d, axis=1)[:, -1] / m


class Fsum64(Reference):
    """Float64 statistics summed exactly (math.fsum) per channel; output computed in float64, rounded to the input's."""

    conformance_dtypes = ("float32", "float64")

    def batch_moments(self, work, axes):
        rows = np.moveaxis(work, 1, 0).reshape(work.shape[1], -1)
        m = rows.shape[1]
        mean = np.array([math.fsum(r) for r in rows]) / m
        d = rows - mean[:, None]
        var = np.array([math.fsum(r) for r in d * d]) / m
        shape = (1, work.shape[1]) + (1,) * (work.ndim - 2)
        return mean.reshape(shape), var.reshape(shape)


class StridedLanesFused(Native):
    """float32 only: 32 strided lanes (value i in lane i % 32), per-lane mean and M2 folded left with Chan's merge;
    the output fused as x * a + b with a = weight / sqrt(var + eps), b = bias - mean * a."""

    conformance_dtypes = ("float32",)
    lanes = 32

    def moments(self, rows):
        parts = [_part(rows[:, j::self.lanes]) for j in range(min(self.lanes, rows.shape[1]))]
        acc = parts[0]
        for p in parts[1:]:
            acc = _chan_merge(acc, p)
        n, mean, m2 = acc
        return mean, m2 / rows.dtype.type(n)

    def normalise(self, work, mean, var):
        inv_std = np.float32(1) / np.sqrt(var + self.eps)
        scale = inv_std if self.weight is None else self.as_channels(self.weight, work.ndim) * inv_std
        shift = -mean * scale if self.bias is None else self.as_channels(self.bias, work.ndim) - mean * scale
        self._xhat = (work - mean) * inv_std  # the fused form never forms x-hat; backward needs it
        return work * scale + shift

    def apply_affine(self, y):
        return y  # already inside the fused form

    def save_for_backward(self, xhat, y, var, axes, count, used_batch_statistics):
        super().save_for_backward(self._xhat, y, var, axes, count, used_batch_statistics)
