"""The search, aspect by aspect: for each aspect of the semantics, whether the candidate does what
torch does on that aspect's probes, which catalog entries of the aspect reproduce what it does, or
that it deviates in a way the catalog does not describe; then which failing properties the named
aspects explain.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from conformance.candidates.errors import CandidateDied
from conformance.candidates.forms import HAS, REASONS
from conformance.diagnosis import gradients
from conformance.diagnosis.aspects import ASPECTS, BY_ASPECT, PROPERTY_ASPECTS, Aspect
from conformance.diagnosis.catalog import CATALOG, Entry, Semantics
from conformance.diagnosis.checks import COMPUTE_CHECKS, PRECISION_CHECKS, SIDE_CHECKS
from conformance.diagnosis.compare import ProbeRun, bounds, compared
from conformance.diagnosis.probes import PROBES, ProbeCrashed, observe
from conformance.diagnosis.variants import predict, variant
from conformance.report.model import AspectStatus, DiagnosisStatus

Status = DiagnosisStatus  # what the diagnosis came to: the results model's values
NAMED = (AspectStatus.MATCHED, AspectStatus.AMBIGUOUS, AspectStatus.DEVIATES)
EXPLAINS = NAMED + (AspectStatus.UNSUPPORTED,)  # a refused configuration fails the properties that use it


@dataclass
class AspectVerdict:
    aspect: Aspect
    status: AspectStatus
    entries: list[Entry] = field(default_factory=list)  # matched; for AMBIGUOUS, every candidate
    evidence: list[str] = field(default_factory=list)
    note: str = ""  # why it was not probed or not judged
    crashed: list[str] = field(default_factory=list)  # "probe: exception" for each of its probes that raised

    def as_dict(self) -> dict:
        return {"aspect": self.aspect.name, "title": self.aspect.title, "status": self.status.value,
                "entries": [e.name for e in self.entries], "verdict": self.words(), "evidence": self.evidence}

    def words(self) -> str:
        words = {AspectStatus.MATCHES_TORCH: "matches torch",
                 AspectStatus.MATCHED: " ".join(e.verdict for e in self.entries),
                 AspectStatus.AMBIGUOUS: f"the probes fit {self.alternatives()} equally well",
                 AspectStatus.DEVIATES: f"deviates from torch, not in the catalog: {(self.evidence or [''])[0]}",
                 AspectStatus.UNSUPPORTED: "unsupported",
                 AspectStatus.NOT_PROBED: f"not probed: {self.note}",
                 AspectStatus.NOT_JUDGED: f"not judged: {self.note}"}[self.status]
        return words + (f" (could not run: {'; '.join(self.crashed)})" if self.crashed else "")

    def alternatives(self) -> str:
        return " or ".join(e.title for e in self.entries)


@dataclass
class Result:
    status: Status
    verdict: str
    deviations: list[dict] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    aspects: list[dict] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)


def diagnose(impl, dtype: str, failing: list[str] | None = None) -> Result:
    """Name, aspect by aspect, the known deviations of ``impl`` (a ``registry.Implementation``) in ``dtype``.

    ``failing``: the ids of the properties it failed; those that no named aspect can produce are
    listed as unexplained. Never raises.
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _diagnose(impl, np.dtype(dtype).name, failing or [])
    except (Exception, CandidateDied) as e:  # noqa: BLE001 - the diagnosis must never break a run
        return Result(Status.PROBE_CRASHED, f"probe crashed: the diagnosis itself failed ({type(e).__name__}: {e})")


@dataclass
class _Seen:
    """What the candidate showed: each probe's observations or its crash, the side checks that fired."""

    has: set
    dtype: str  # the input's
    judge: str = ""  # the precision its values are judged at: the input's, or float32 for a float64 module in it
    runs: dict = field(default_factory=dict)  # probe name -> ProbeRun
    crashed: dict = field(default_factory=dict)  # probe name -> first line of the exception
    checks: set = field(default_factory=set)
    gradients: list = field(default_factory=list)  # gradients.Played
    no_backward: str = ""

    def __post_init__(self) -> None:
        self.judge = self.judge or self.dtype

    @property
    def counter(self) -> bool:
        return "counter" in self.has


def _diagnose(impl, dtype: str, failing: list[str]) -> Result:
    if getattr(impl, "unavailable", None):
        return Result(Status.NOT_RUN, f"not probed: {impl.unavailable}")
    has = set(impl.capabilities if hasattr(impl, "capabilities") else HAS.get(impl.form, set()))
    seen = _play(impl, dtype, has)
    if not seen.runs and not seen.gradients:
        return Result(Status.PROBE_CRASHED, "probe crashed: every probe crashed: "
                      + "; ".join(f"{k} ({v})" for k, v in seen.crashed.items()))
    verdicts: dict[str, AspectVerdict] = {}
    for aspect in ASPECTS:
        verdicts[aspect.name] = _judge(aspect, seen, verdicts)
    return _summary(impl, verdicts, failing)


# After this many probes that killed or hung the candidate's process, the rest are not played: each
# would cost a restart and a call timeout, and a candidate that dies on every call shows nothing more.
MAX_DEATHS = 2


def _play(impl, dtype: str, has: set) -> _Seen:
    facts: dict = {}
    seen = _Seen(has, dtype)
    observed = []
    deaths = 0

    def crashed(name: str, e: ProbeCrashed) -> None:
        nonlocal deaths
        seen.crashed[name] = str(e).splitlines()[0][:200] if str(e) else "crashed"
        deaths += isinstance(e.__cause__, CandidateDied)

    for p in PROBES:
        if deaths >= MAX_DEATHS:
            seen.crashed[p.name] = f"not played: the candidate's process died in {deaths} probes"
        elif set(p.needs) <= has:
            try:
                observed.append((p, observe(impl, dtype, p, facts)))
            except ProbeCrashed as e:
                crashed(p.name, e)
    if "backward" in has:
        for gp in gradients.GRADIENT_PROBES:
            if deaths >= MAX_DEATHS:
                seen.crashed[gp.name] = f"not played: the candidate's process died in {deaths} probes"
                continue
            try:
                played = gradients.play(impl, dtype, gp)
            except ProbeCrashed as e:
                crashed(gp.name, e)
                continue
            if isinstance(played, str):
                seen.no_backward = played
            else:
                seen.gradients.append(played)
    # The precision checks first: a float64 candidate that works in float32 (or rounds eps to float32) is
    # then judged at float32's precision, so that what else it does can still be named.
    for entry in sorted((e for e in CATALOG if e.check), key=lambda e: e.check not in PRECISION_CHECKS):
        need, check = SIDE_CHECKS[cast(str, entry.check)]
        if deaths >= MAX_DEATHS:
            break
        try:
            if (need is None or need in has) and check(impl, dtype, facts):
                seen.checks.add(entry.name)
                if entry.check in COMPUTE_CHECKS:
                    facts["judge"] = "float32"  # for the side checks that compare outputs
        except Exception:  # noqa: BLE001 - a check the candidate cannot run names nothing
            continue
        except CandidateDied:
            deaths += 1
    if dtype == "float64" and any(e.check in PRECISION_CHECKS for e in CATALOG if e.name in seen.checks):
        seen.judge = "float32"
    seen.runs = {p.name: ProbeRun(p, obs, bounds(p, seen.judge)) for p, obs in observed}
    return seen


def _entries(aspect: Aspect) -> list[Entry]:
    return [e for e in CATALOG if e.aspect == aspect.name]


def _judge(aspect: Aspect, seen: _Seen, verdicts: dict[str, AspectVerdict]) -> AspectVerdict:
    if aspect.name == "gradients":
        return _judge_gradients(aspect, seen, verdicts)
    entries = _entries(aspect)
    fired = [e for e in entries if e.name in seen.checks]  # its side checks
    probes = [p for p in PROBES if p.aspect == aspect.name]
    runs = [seen.runs[p.name] for p in probes if p.name in seen.runs]
    crashed = [f"{p.name}: {seen.crashed[p.name]}" for p in probes if p.name in seen.crashed]
    if not runs:
        if fired or not probes:  # judged by side checks alone
            return AspectVerdict(aspect, AspectStatus.MATCHED if fired else AspectStatus.MATCHES_TORCH, fired,
                                 crashed=crashed)
        if crashed:
            return AspectVerdict(aspect, AspectStatus.UNSUPPORTED, crashed=crashed)
        lacking = sorted({n for p in probes for n in p.needs if n not in seen.has})
        return AspectVerdict(aspect, AspectStatus.NOT_PROBED, note="; ".join(REASONS.get(n, n) for n in lacking))
    base = [e for e in _named(aspect, verdicts) if not set(e.changes) & set(aspect.resets)]
    # judged afresh: a convention named earlier is one of the candidates here
    variants = [e for e in entries if not e.check] + [e for e in _named(aspect, verdicts)
                                                      if set(e.changes) & set(aspect.resets)]
    verdict = _fit(aspect, base, variants, runs, seen, verdicts)
    if fired and verdict.status in (AspectStatus.MATCHES_TORCH, AspectStatus.MATCHED):
        verdict.status, verdict.entries = AspectStatus.MATCHED, verdict.entries + fired
    verdict.crashed = crashed
    return verdict


def _named(aspect: Aspect, verdicts: dict[str, AspectVerdict]) -> list[Entry]:
    """The entries matched in the aspects ``aspect`` comes after."""
    return [e for a in aspect.after if verdicts[a].status is AspectStatus.MATCHED for e in verdicts[a].entries]


def _fit(aspect: Aspect, base: list[Entry], entries: list[Entry], runs: list[ProbeRun], seen: _Seen,
         verdicts: dict[str, AspectVerdict]) -> AspectVerdict:
    differs = _differences(tuple(base), runs, seen)
    if not differs:
        return AspectVerdict(aspect, AspectStatus.MATCHES_TORCH)
    sizes = range(1, len(entries) + 1) if aspect.name == "defaults" else range(1, min(3, len(entries)) + 1)
    for size in sizes:
        fits = [c for c in itertools.combinations(entries, size) if not _differences(tuple(base) + c, runs, seen)]
        if len(fits) == 1:
            return AspectVerdict(aspect, AspectStatus.MATCHED, list(fits[0]))
        if fits:
            return AspectVerdict(aspect, AspectStatus.AMBIGUOUS, _unique(e for c in fits for e in c),
                                 differs[:4])
    return _unexplained(aspect, differs, verdicts)


def _unexplained(aspect: Aspect, differs: list[str], verdicts: dict[str, AspectVerdict]) -> AspectVerdict:
    """No entry fits: a deviation outside the catalog, or not judged where an earlier aspect is unknown."""
    blocked = [BY_ASPECT[a].title for a in aspect.after
               if verdicts[a].status in (AspectStatus.DEVIATES, AspectStatus.AMBIGUOUS, AspectStatus.NOT_JUDGED)]
    if blocked:
        return AspectVerdict(aspect, AspectStatus.NOT_JUDGED, evidence=differs[:4],
                             note=f"its probes also show {' and '.join(blocked)}, which the diagnosis could not "
                                  "pin down")
    rounded = [e.title for e in _named(aspect, verdicts) if e.unpredicted]
    if rounded:
        return AspectVerdict(aspect, AspectStatus.NOT_JUDGED, evidence=differs[:4],
                             note=f"its probes carry the rounding of {' and '.join(rounded)}, which the "
                                  "predictions do not model")
    return AspectVerdict(aspect, AspectStatus.DEVIATES, evidence=differs[:4])


def _differences(entries: tuple[Entry, ...], runs: list[ProbeRun], seen: _Seen) -> list[str]:
    sem = variant(*entries)
    if sem is None:
        return ["entries that contradict each other"]
    against = "torch" if not entries else "the prediction"
    return [f"{r.probe.name}, {ob.label} differs from {against} {why}" for r in runs
            for ob, ok, why in compared(r, predict(sem, r.probe, seen.dtype), seen.judge, seen.counter) if not ok]


def _judge_gradients(aspect: Aspect, seen: _Seen, verdicts: dict[str, AspectVerdict]) -> AspectVerdict:
    crashed = [f"{g.name}: {seen.crashed[g.name]}" for g in gradients.GRADIENT_PROBES if g.name in seen.crashed]
    if not seen.gradients:
        if crashed:
            return AspectVerdict(aspect, AspectStatus.UNSUPPORTED, crashed=crashed)
        return AspectVerdict(aspect, AspectStatus.NOT_PROBED, note=seen.no_backward or REASONS["backward"])

    def differs(*entries: Entry) -> list[str]:
        sem = cast(Semantics, variant(*entries))  # gradient entries change one field each: never in conflict
        return [d for p in seen.gradients for d in gradients.differences(p, sem, seen.judge)]

    found = differs()
    forward = [e for e in _named(aspect, verdicts) if e.aspect != "precision"]
    if not found:
        verdict = AspectVerdict(aspect, AspectStatus.MATCHES_TORCH)
    elif forward:  # the closed form of a variant's gradients is not in the catalog
        titles = " and ".join(e.title for e in forward)
        verdict = AspectVerdict(aspect, AspectStatus.NOT_JUDGED, evidence=found[:4],
                                note=f"the gradients of {titles} are not predicted")
    else:
        fits = [e for e in _entries(aspect) if not differs(e)]
        verdict = (AspectVerdict(aspect, AspectStatus.MATCHED, fits[:1]) if fits
                   else _unexplained(aspect, found, verdicts))
    verdict.crashed = crashed
    return verdict


def _summary(impl, verdicts: dict[str, AspectVerdict], failing: list[str]) -> Result:
    named = [v for v in verdicts.values() if v.status in NAMED]
    entries = _unique(e for v in named if v.status is AspectStatus.MATCHED for e in v.entries)
    ambiguous = [v for v in named if v.status is AspectStatus.AMBIGUOUS]
    deviating = [v for v in named if v.status is AspectStatus.DEVIATES]
    crashed = [v for v in verdicts.values() if v.crashed]
    unjudged = [v for v in verdicts.values() if v.status is AspectStatus.NOT_JUDGED]
    unexplained = [p for p in failing
                   if not any(verdicts[a].status in EXPLAINS for a in PROPERTY_ASPECTS.get(p, ()) if a in verdicts)]
    details = [d for v in named for d in v.evidence][:8]
    aspects = [v.as_dict() for v in verdicts.values()]
    deviations = [e.as_dict() for e in _unique(e for v in named for e in v.entries)]
    parts = [e.verdict for e in entries]
    parts += [f"The probes fit {v.alternatives()} equally well ({v.aspect.title})." for v in ambiguous]
    parts += [f"In {v.aspect.title}, it deviates from torch in a way the catalog does not describe "
              f"({v.evidence[0]})." for v in deviating]
    tail = ""
    if unjudged:
        tail += " Not judged: " + "; ".join(f"{v.aspect.title} ({v.note})" for v in unjudged) + "."
    if crashed:
        tail += " Not probed, the candidate could not run: " + "; ".join(
            f"{v.aspect.title} ({'; '.join(v.crashed)})" for v in crashed) + "."
    if not named:
        which = f" ({', '.join(failing)})" if failing else ""
        return Result(Status.NOT_IN_CATALOG,
                      "Not in the catalog: the diagnosis probes saw torch's behaviour in every aspect they could "
                      f"judge, so what the failing properties{which} show is a deviation the catalog does not "
                      f"describe.{tail}", [], details, aspects, unexplained)
    unexplained_words = (f" Not explained by any named aspect: {', '.join(unexplained)}." if unexplained else "")
    if unexplained or (deviating and (entries or ambiguous)):
        return Result(Status.PARTIALLY_EXPLAINED, "Partially explained: " + " ".join(parts) + unexplained_words + tail,
                      deviations, details, aspects, unexplained)
    if deviating:
        return Result(Status.NOT_IN_CATALOG, f"Not in the catalog: {impl.name} differs from torch. " + " ".join(parts)
                      + tail, deviations, details, aspects, unexplained)
    if ambiguous:
        return Result(Status.AMBIGUOUS, " ".join(parts) + tail, deviations, details, aspects, unexplained)
    return Result(Status.MATCHED, " ".join(parts) + tail, deviations, details, aspects, unexplained)


def _unique(entries) -> list[Entry]:
    return list({e.name: e for e in entries}.values())

