"""Bugs in memory layout, copying and dtypes."""

from __future__ import annotations

import numpy as np

from tests.mutants.base import Reference


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


class HalfAccumulation(Reference):
    """A float16 input is worked on in float16: sums and squares in half (x**2 overflows past 256)."""

    conformance_dtypes = ("float32", "float64", "float16")

    def working_copy(self, x):
        return np.array(x, dtype=np.float16 if x.dtype == np.float16 else np.float64, order="C")


class RunningStatsStoredInHalf(Reference):
    """The running stats are rounded to float16 before they are stored (in their float32 arrays)."""

    conformance_dtypes = ("float32", "float64", "float16")

    def store(self, name, value):
        getattr(self, name)[...] = np.asarray(value).astype(np.float16)
