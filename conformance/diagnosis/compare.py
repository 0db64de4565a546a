"""Comparing what a candidate shows with a prediction, observation by observation, within the
bounds of the tolerances module (through ``replay.run_oracle``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.candidates import replay
from conformance.diagnosis.probes import FRESH_KINDS, Observation, Probe
from conformance.spec import dtypes, tolerances


def bounds(probe: Probe, dtype: str) -> list:
    """Per observation, the bound on |candidate - prediction| (tolerances, through replay.run_oracle)."""
    exp = replay.run_oracle(probe.case(dtype))
    out: list = [0] * (1 + len(FRESH_KINDS)) if probe.defaults else []
    for ob, sb in zip(exp.output_bounds, exp.state_bounds):
        out += [ob, sb.running_mean, sb.running_var, 0]
    return out


def close(got, want, bound, dtype) -> tuple[bool, str]:
    """Whether ``got`` is within ``bound`` (widened by two roundings in ``dtype``) of ``want``, and if not, where."""
    # Not built on assertions.assert_close: that accepts equal non-finite values, records bound usage for the running
    # test and reports the element of largest |diff|/bound rather than of largest |diff|, so verdicts would change.
    if want is None or got is None:
        return (want is None) == (got is None), f"expected {want!r}, got {got!r}"
    if isinstance(want, (bool, int, np.integer)):
        return got == want, f"expected {want!r}, got {got!r}"
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if g.shape != w.shape:
        return False, f"shape {g.shape}, expected {w.shape}"
    b = np.asarray(bound, np.float64)
    if b.ndim == 1 and w.ndim > 1:
        b = b.reshape((1, -1) + (1,) * (w.ndim - 2))
    # The bound is for torch's values; a variant's values may need one more rounding each.
    b = np.broadcast_to(b, w.shape) + 2 * tolerances.value_bound(w, dtype)
    with np.errstate(invalid="ignore"):
        diff = np.abs(g - w)
        bad = ~(diff <= b)
    if not bad.any():
        return True, ""
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(bad, np.nan_to_num(diff, nan=np.inf), -1))),
                                                 w.shape))
    names = {1: "c", 2: "nc", 3: "ncl"}[w.ndim]
    where = "[" + ", ".join(f"{k}={i}" for k, i in zip(names, idx)) + "]"
    return False, f"at {where}: expected {float(w[idx]):.6g}, got {float(g[idx]):.6g}"


@dataclass
class ProbeRun:
    probe: Probe
    seen: list[Observation]
    bounds: list


def compared(played: ProbeRun, predicted: list[Observation], dtype, counter: bool):
    """(observation, ok, why) for each observation the probe judges and the form can show."""
    for got, want, bound in zip(played.seen, predicted, played.bounds):
        if got.kind not in played.probe.judged:
            continue  # another aspect's probe judges it
        if got.kind == "num_batches_tracked" and not counter:
            continue  # the suite holds the counter of a form that has none
        # a state array is rounded in the dtype it is kept in (the module's: float32 or the half dtype itself)
        judged_in = dtype if got.kind == "output" else (got.dtype or dtypes.state_dtype(dtype))
        yield (got, *close(got.value, want.value, bound, judged_in))
