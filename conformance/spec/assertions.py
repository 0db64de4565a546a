"""Assertion helpers whose failure messages say what, where, expected and got.

Each helper takes ``what`` (e.g. "output", "running_var after call 2") and a
per-channel bound from ``tolerances``; on failure it names the worst element by
(n, c, l), the expected and actual values, the bound, and how many elements are off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conformance.spec import dtypes

# --- bound usage: how much of its bound each comparison used --------------------------------


@dataclass
class BoundUsage:
    """The largest |got - expected| / bound of the comparisons since ``reset_bound_usage``, and its ``what``."""

    ratio: float
    what: str


_usage: BoundUsage | None = None  # the process' recorder: a process runs one test at a time


def reset_bound_usage() -> None:
    """Forget what was recorded: called before each test so that its usage is its own."""
    global _usage
    _usage = None


def bound_usage() -> BoundUsage | None:
    """The largest usage recorded since the last reset; None when nothing was compared."""
    return _usage


def _record_usage(what: str, ratio: float) -> None:
    """Keep ``ratio`` if it is the largest so far."""
    global _usage
    if _usage is None or ratio > _usage.ratio:
        _usage = BoundUsage(ratio, what)


def max_usage(diff: np.ndarray, bound: np.ndarray, compared: np.ndarray) -> float:
    """The largest |diff| / bound where ``compared``: 0/0 is 0; x/0, NaN (a NaN got) and inf/inf are inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.divide(diff, bound, out=np.zeros(diff.shape), where=compared & (diff != 0))
    m = float(r.max()) if r.size else 0.0
    return math.inf if math.isnan(m) else m


class Mismatch(AssertionError):
    """A comparison that failed, with its data kept for reports (heatmaps, expected vs got)."""

    def __init__(self, message: str, *, what: str, index: tuple[int, ...], expected, got, bound, dtype=None):
        super().__init__(message)
        self.what, self.index, self.dtype = what, index, dtype
        self.expected, self.got, self.bound = expected, got, bound

    def to_dict(self) -> dict:
        """Plain, JSON-able data: the arrays flattened (C order, see "shape"), non-finite values as None."""

        def plain(a):
            return [float(v) if np.isfinite(v) else None for v in np.asarray(a, np.float64).ravel()]

        return {"what": self.what, "index": list(self.index), "dtype": None if self.dtype is None else str(self.dtype),
                "shape": list(np.shape(self.expected)), "expected": plain(self.expected), "got": plain(self.got),
                "bound": plain(self.bound), "message": str(self)}


def _where(idx: tuple[int, ...], ndim: int) -> str:
    names = {1: ("c",), 2: ("n", "c"), 3: ("n", "c", "l")}[ndim]
    return "[" + ", ".join(f"{k}={i}" for k, i in zip(names, idx)) + "]"


def _broadcast_bound(bound, shape) -> np.ndarray:
    b = np.asarray(bound, np.float64)
    if b.ndim == 1 and len(shape) > 1:
        b = b.reshape((1, -1) + (1,) * (len(shape) - 2))
    return np.broadcast_to(b, shape)


def assert_close(what: str, got, expected, bound, *, dtype=None) -> None:
    """|got - expected| <= bound elementwise; non-finite expected values must match exactly.

    Arrays are (C,), (N, C) or (N, C, L); ``bound`` is per channel (C,) or elementwise.
    """
    got = np.asarray(got, np.float64)
    expected = np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    b = _broadcast_bound(bound, expected.shape)
    finite = np.isfinite(expected)
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - expected)
        bad_finite = finite & ~(diff <= b)  # NaN in got counts as bad
        compared = finite
        if dtype is not None:  # beyond the dtype's range the correctly rounded result is inf
            overflowed = (np.isinf(got) & (np.sign(got) == np.sign(expected))
                          & (np.abs(expected) + b >= float(dtypes.finfo(dtype).max)))
            bad_finite &= ~overflowed
            compared = finite & ~overflowed  # an accepted overflow used none of the bound
    _record_usage(what, max_usage(diff, b, compared))  # before raising: a failure's usage is how far past it lands
    bad_nonfinite = ~finite & ~((np.isnan(expected) & np.isnan(got)) | (expected == got))
    bad = bad_finite | bad_nonfinite
    if not bad.any():
        return
    if bad_finite.any():
        excess = np.where(bad_finite, np.nan_to_num(diff / np.where(b > 0, b, np.finfo(float).tiny), nan=np.inf), -1)
        idx = np.unravel_index(int(np.argmax(excess)), expected.shape)
        detail = f"|diff| {diff[idx]:.3g} > bound {b[idx]:.3g}"
    else:
        idx = tuple(np.argwhere(bad_nonfinite)[0])
        detail = "non-finite value differs"
    channels = sorted({int(i[1] if expected.ndim > 1 else i[0]) for i in np.argwhere(bad)})
    dt = f" ({dtype})" if dtype is not None else ""
    index = tuple(int(i) for i in idx)
    raise Mismatch(
        f"{what}{dt} differs at {_where(index, expected.ndim)}: "
        f"expected {float(expected[idx])!r}, got {float(got[idx])!r}, {detail}; "
        f"{int(bad.sum())} of {bad.size} elements off, in channels {channels}",
        what=what, index=index, expected=expected, got=got, bound=b, dtype=dtype,
    )


def assert_equal(what: str, got, expected) -> None:
    if not got == expected:  # raised, not asserted: python -O must not switch a property off
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}")


def assert_absent(what: str, value) -> None:
    if value is not None:
        raise AssertionError(f"{what}: expected no such state (None), got {value!r}")


def assert_state_close(what: str, got, expected, bound, *, dtype=None) -> None:
    """A state vector that must exist and match (or be absent when ``expected`` is None)."""
    if expected is None:
        assert_absent(what, got)
        return
    if got is None:
        raise AssertionError(f"{what}: expected a value, the candidate has none (None)")
    assert_close(what, got, expected, bound, dtype=dtype)


def assert_running_stats_close(what: str, got, expected, bounds, *, dtype=None) -> None:
    """running_mean and running_var of two states (oracle.State-like) agree within ``bounds``."""
    assert_state_close(f"running_mean {what}", got.running_mean, expected.running_mean, bounds.running_mean,
                       dtype=dtype)
    assert_state_close(f"running_var {what}", got.running_var, expected.running_var, bounds.running_var, dtype=dtype)


def assert_state_equal(what: str, got, expected) -> None:
    """Two states (oracle.State-like) hold the same fields, each exactly equal (NaN equals NaN)."""
    for k in ("weight", "bias", "running_mean", "running_var"):
        assert_state_close(f"{k} {what}", getattr(got, k), getattr(expected, k), 0.0)
    assert_equal(f"num_batches_tracked {what}", got.num_batches_tracked, expected.num_batches_tracked)
