"""Bugs in which values are pooled, and how the batch statistics are computed."""

from __future__ import annotations

import numpy as np

from tests.mutants.base import Reference


class PerPositionStatistics(Reference):
    """The tutorial misreading: each (channel, position) normalised separately across N."""

    def reduction_axes(self, work):
        return (0,)


class GlobalStatistics(Reference):
    """One mean and variance over every channel, as if the whole batch were one feature."""

    def reduction_axes(self, work):
        return tuple(range(work.ndim))


class ReshapeWithoutTranspose(Reference):
    """(N, C, L) flattened with x.reshape(-1, C): positions and channels get mixed."""

    def working_copy(self, x):
        return super().working_copy(x).reshape(-1, x.shape[1])


class UnbiasedNormalisation(Reference):
    """np.var(ddof=1) for the batch variance: the normalisation divides by m - 1."""

    def batch_moments(self, work, axes):
        return work.mean(axis=axes, keepdims=True), work.var(axis=axes, ddof=1, keepdims=True)

    def stored_variance(self, var, count):
        return var  # already unbiased


class VarianceAboutZero(Reference):
    """The variance taken about zero, E[x^2], instead of about the mean."""

    def batch_moments(self, work, axes):
        return work.mean(axis=axes, keepdims=True), (work * work).mean(axis=axes, keepdims=True)


class OnePassVarianceInModuleDtype(Reference):
    """E[x^2] - E[x]^2 in the module's dtype: cancels catastrophically for a large offset."""

    def batch_moments(self, work, axes):
        xs = work.astype(self.dtype)
        mean = xs.mean(axis=axes, keepdims=True)
        var = (xs * xs).mean(axis=axes, keepdims=True) - mean * mean
        return mean.astype(np.float64), var.astype(np.float64)


class WelfordWrongUpdate(Reference):
    """Welford's streaming variance with M2 += delta * delta (the old mean used twice)."""

    def batch_moments(self, work, axes):
        rows = np.moveaxis(work, 1, -1).reshape(-1, work.shape[1])
        mean, m2 = np.zeros(work.shape[1]), np.zeros(work.shape[1])
        for n, row in enumerate(rows, 1):
            delta = row - mean
            mean = mean + delta / n
            m2 = m2 + delta * delta  # should be delta * (row - mean)
        return self.as_channels(mean, work.ndim), self.as_channels(m2 / len(rows), work.ndim)
