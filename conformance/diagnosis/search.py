"""The search: which catalog entries, alone or paired (with any entries about defaults), reproduce
what the candidate shows on the probes, and the verdict that says so.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from conformance.candidates.forms import HAS
from conformance.diagnosis.catalog import CATALOG, Entry, Semantics
from conformance.diagnosis.checks import COMPUTE_CHECKS, PRECISION_CHECKS, SIDE_CHECKS
from conformance.diagnosis.compare import ProbeRun, bounds, compared
from conformance.diagnosis.probes import PROBES, ProbeCrashed, observe
from conformance.diagnosis.variants import predict, variant
from conformance.report.model import DiagnosisStatus

Status = DiagnosisStatus  # what the diagnosis came to: the results model's values


@dataclass
class Result:
    status: Status
    verdict: str
    deviations: list[dict] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def diagnose(impl, dtype: str, failing: list[str] | None = None) -> Result:
    """Name the known deviations of ``impl`` (a ``registry.Implementation``) in ``dtype``.

    ``failing``: the ids of the properties it failed, quoted when no probe shows a
    difference. Never raises.
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _diagnose(impl, np.dtype(dtype).name, failing or [])
    except ProbeCrashed as e:
        return Result(Status.PROBE_CRASHED, f"probe crashed: {e}")
    except Exception as e:  # noqa: BLE001 - the diagnosis must never break a run
        return Result(Status.PROBE_CRASHED, f"probe crashed: the diagnosis itself failed ({type(e).__name__}: {e})")


def _diagnose(impl, dtype: str, failing: list[str]) -> Result:
    if getattr(impl, "unavailable", None):
        return Result(Status.NOT_RUN, f"not probed: {impl.unavailable}")
    has = impl.capabilities if hasattr(impl, "capabilities") else HAS.get(impl.form, set())
    counter = "counter" in has
    facts: dict = {}
    seen, unprobed = [], []  # a probe the candidate cannot run costs its own observations only
    for p in PROBES:
        if set(p.needs) <= has:
            try:
                seen.append((p, observe(impl, dtype, p, facts)))
            except ProbeCrashed as e:
                unprobed.append(f"{p.name} ({str(e).splitlines()[0][:200]})")
    if not seen:
        raise ProbeCrashed("every probe crashed: " + "; ".join(unprobed))
    result = _explain(impl, dtype, failing, has, counter, facts, seen)
    if unprobed:
        result.verdict += f" Not probed, the candidate could not run: {'; '.join(unprobed)}."
        result.details.append("could not run: " + "; ".join(unprobed))
    return result


def _explain(impl, dtype: str, failing: list[str], has, counter: bool, facts: dict, seen: list) -> Result:
    # The precision checks first: a float64 candidate that works in float32 (or rounds eps to
    # float32) is compared with torch at float32's precision from then on, so that what else it
    # does can still be named.
    found = set()
    for e in sorted((e for e in CATALOG if e.check), key=lambda e: e.check not in PRECISION_CHECKS):
        need, check = SIDE_CHECKS[cast(str, e.check)]
        try:
            if (need is None or need in has) and check(impl, dtype, facts):
                found.add(e.name)
                if e.check in COMPUTE_CHECKS:
                    facts["judge"] = "float32"  # for the side checks that compare outputs
        except Exception:  # noqa: BLE001 - a check the candidate cannot run names nothing
            continue
    side = [e for e in CATALOG if e.name in found]
    if any(e.check in PRECISION_CHECKS for e in side):
        dtype = "float32"
    played = [ProbeRun(p, observations, bounds(p, dtype)) for p, observations in seen]
    reference = Semantics()
    differs = [f"{p.probe.name}, {ob.label} differs from torch {why}"
               for p in played for ob, ok, why in compared(p, predict(reference, p.probe), dtype, counter) if not ok]
    if not differs:
        if side:
            return _matched(side, [])
        which = f" ({', '.join(failing)})" if failing else ""
        return Result(Status.NOT_IN_CATALOG,
                      f"Not in the catalog: the diagnosis probes saw torch's behaviour, so what the failing "
                      f"properties{which} show is a deviation the catalog does not describe.")
    # Up to two entries that change behaviour, fitted on the probes with explicit arguments; then
    # the fewest entries about defaults (any number: a framework differs in several at once) that
    # also fit the probe of factory(C), which is the only probe they change.
    behaviour = [e for e in CATALOG if e.changes and not _about_defaults(e)]
    defaults = [e for e in CATALOG if e.changes and _about_defaults(e)]
    explicit = [p for p in played if not p.probe.defaults]
    fresh = [p for p in played if p.probe.defaults]
    for size in (0, 1, 2):
        fits: list[tuple[Entry, ...]] = []
        for combo in itertools.combinations(behaviour, size):
            if _fits(combo, explicit, dtype, counter):
                fits += [combo + extra for extra in _fewest_defaults(combo, defaults, fresh, dtype, counter)]
        if len(fits) == 1:
            return _matched(list(fits[0]) + side, differs[:8])
        if fits:  # the probes cannot tell these apart: say so rather than pick one
            names = " or ".join(" + ".join(e.title for e in c) for c in fits)
            return Result(Status.AMBIGUOUS, f"The probes fit {names} equally well.",
                          [e.as_dict() for c in fits for e in c] + [e.as_dict() for e in side], differs[:8])
    also = (" Also: " + " ".join(e.verdict for e in side)) if side else ""
    return Result(Status.NOT_IN_CATALOG,
                  f"Not in the catalog: {impl.name} differs from torch ({differs[0]}), and no catalogued deviation, "
                  f"alone or with one other (and any about defaults), reproduces what it does.{also}",
                  [e.as_dict() for e in side], differs[:8])


DEFAULT_FIELDS = {"default_eps", "default_momentum", "initial_running_var", "starts_training"}


def _about_defaults(e: Entry) -> bool:
    """An entry that changes only what factory(C) does: it shows on the defaults probe alone."""
    return set(e.changes) <= DEFAULT_FIELDS


def _fits(entries, played: list[ProbeRun], dtype, counter: bool) -> bool:
    sem = variant(*entries)
    return sem is not None and all(ok for p in played for _, ok, _ in
                                   compared(p, predict(sem, p.probe), dtype, counter))


def _fewest_defaults(combo, defaults, fresh, dtype, counter) -> list[tuple]:
    """The smallest sets of entries about defaults with which ``combo`` fits the defaults probe."""
    for size in range(len(defaults) + 1):
        fitting = [extra for extra in itertools.combinations(defaults, size)
                   if _fits(combo + extra, fresh, dtype, counter)]
        if fitting:
            return fitting
    return []


def _matched(entries: list[Entry], details: list[str]) -> Result:
    return Result(Status.MATCHED, " ".join(e.verdict for e in entries), [e.as_dict() for e in entries], details)
