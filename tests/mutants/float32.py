"""Float32-native kernels: correct in float64 arithmetic, wrong only where float32 kernels go wrong.

Each computes in float32 for float32 input (no float64 copy) and declares float32 alone, as a
float32-only kernel does. Their bugs show only in float32 arithmetic, only above a reduction size,
only for a channel count past one tile, or as a precision loss in one step: the suite's float32
bounds must be tight enough, and its strategies wide enough, to see them.
"""

from __future__ import annotations

import numpy as np

from tests.mutants.base import Reference

TILE = 8  # channels per vectorised step
BLOCK = 1024  # values per block of a block reduction


class Float32Native(Reference):
    """Correct: two passes in float32 (NumPy's pairwise sums), the affine step in float64."""

    conformance_dtypes = ("float32",)

    def working_copy(self, x):
        return np.array(x, dtype=np.float32 if x.dtype == np.float32 else np.float64, order="C")


def _rows(work):
    """(N, C[, L]) as C rows of m values."""
    return np.moveaxis(work, 1, 0).reshape(work.shape[1], -1)


def _as_channels(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


class OnePassVarianceFloat32(Float32Native):
    """E[x^2] - E[x]^2 in float32: cancels catastrophically for a large offset."""

    def batch_moments(self, work, axes):
        mean = work.mean(axis=axes, keepdims=True)
        return mean, (work * work).mean(axis=axes, keepdims=True) - mean * mean


class BlockMergeWithoutBetweenTerm(Float32Native):
    """Above BLOCK values, per-block statistics merged by summing the blocks' M2 alone: the
    between-block term n_a n_b / n (mean_b - mean_a)**2 of Chan et al. is left out."""

    def batch_moments(self, work, axes):
        rows = _rows(work)
        m = rows.shape[1]
        if m <= BLOCK:
            return super().batch_moments(work, axes)
        blocks = [rows[:, i:i + BLOCK] for i in range(0, m, BLOCK)]
        means = [b.mean(axis=1) for b in blocks]
        mean = sum(np.float32(b.shape[1]) * mu for b, mu in zip(blocks, means)) / np.float32(m)
        m2 = sum(((b - mu[:, None]) ** 2).sum(axis=1) for b, mu in zip(blocks, means))
        return _as_channels(mean, work.ndim), _as_channels(m2 / np.float32(m), work.ndim)


class LargeBatchUnbiasedVariance(Float32Native):
    """A large-batch path (m > BLOCK) that computes the unbiased variance once and normalises with it."""

    def batch_moments(self, work, axes):
        mean, var = super().batch_moments(work, axes)
        m = _rows(work).shape[1]
        return (mean, var * np.float32(m / (m - 1))) if m > BLOCK else (mean, var)

    def stored_variance(self, var, count):
        return var if count > BLOCK else super().stored_variance(var, count)


class TailTileNotWritten(Float32Native):
    """Channels are processed TILE at a time and the remainder loop is missing: the ragged tail's
    outputs are never written and stay as the zeros the output buffer was allocated with."""

    def to_output(self, y, x):
        out = super().to_output(y, x)
        C = self.num_features
        if C > TILE and C % TILE:
            out[:, C - C % TILE:] = 0
        return out


def _rsqrt_12_bits(v):
    """1 / sqrt(v) to 12 significant bits, as an approximate reciprocal square-root instruction gives."""
    mantissa, exponent = np.frexp(1.0 / np.sqrt(v.astype(np.float64)))
    return np.ldexp(np.round(mantissa * 4096.0) / 4096.0, exponent).astype(v.dtype)


class ApproximateRsqrt(Float32Native):
    """The inverse standard deviation from a 12-bit approximate rsqrt, without a Newton step."""

    def normalise(self, work, mean, var):
        work -= mean
        work *= _rsqrt_12_bits(var + np.float32(self.eps) if work.dtype == np.float32 else var + self.eps)
        return work


class MeanSubtractedInHalf(Float32Native):
    """The mean is kept in float16 (a mixed-precision kernel's saved statistic) and subtracted as such."""

    def normalise(self, work, mean, var):
        work -= mean.astype(np.float16).astype(work.dtype)
        work /= np.sqrt(var + self.eps)
        return work
