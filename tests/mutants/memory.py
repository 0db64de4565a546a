"""Bugs in memory layout, copying and dtypes."""

from __future__ import annotations

import numpy as np

from .base import Reference


class WorksInPlaceOnTheInput(Reference):
    """np.asarray instead of a copy: a float64 input is normalised in place."""

    def working_copy(self, x):
        return np.asarray(x, dtype=np.float64)


class ReadsMemoryOrder(Reference):
    """x.ravel(order="K").reshape(x.shape) to avoid a copy: scrambles a Fortran-ordered input."""

    def working_copy(self, x):
        return x.ravel(order="K").reshape(x.shape).astype(np.float64)


class OutputInFloat64(Reference):
    """The float64 working result is returned without casting back to the input's dtype."""

    def to_output(self, y, x):
        return y.reshape(x.shape)


class RunningStatsRebound(Reference):
    """self.running_mean = ... rebinds the buffers to float64 arrays instead of updating in place."""

    def store(self, name, value):
        setattr(self, name, value)
