"""Bugs in the normalisation formula and the affine transform."""

from __future__ import annotations

import numpy as np

from tests.mutants.base import Reference


class EpsOutsideSqrt(Reference):
    """(x - mean) / (sqrt(var) + eps)."""

    def normalise(self, work, mean, var):
        return (work - mean) / (np.sqrt(var) + self.eps)


class EpsIgnored(Reference):
    """(x - mean) / sqrt(var): eps never used (NaN for a constant channel)."""

    def normalise(self, work, mean, var):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (work - mean) / np.sqrt(var)


class BiasBeforeWeight(Reference):
    """y = weight * (xhat + bias) instead of weight * xhat + bias."""

    def apply_affine(self, y):
        if self.weight is None:
            return y
        return (y + self.as_channels(self.bias, y.ndim)) * self.as_channels(self.weight, y.ndim)


class WeightIgnored(Reference):
    """y = xhat + bias: the weight is created but never applied."""

    def apply_affine(self, y):
        if self.bias is None:
            return y
        return y + self.as_channels(self.bias, y.ndim)
