"""Failures grouped by what they share: one crash, or one quantity that differs.

A run on a candidate that rejects one configuration fails every property that draws it, each
with the same crash; one deviation fails every property that compares its quantity. Grouped,
the user reads a few causes instead of many failures. A group says only what its failures
share (the same exception and message, or the same compared quantity), never a cause the run
did not show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conformance.report.model import FailureKind, Outcome, PropertyResult, Run

_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")  # what differs between examples of one cause
_QUANTITY_END = re.compile(r" (?:after|vs|of|for|with|alone|within) | \(")


@dataclass
class FailureGroup:
    kind: str  # "crash": the same exception and message; "differs": the same quantity; "fixed"; "other": a check
    what: str  # the shared message or quantity, in words
    properties: list[str] = field(default_factory=list)

    def headline(self) -> str:
        n = len(self.properties)
        if self.kind == "crash":
            return f"{n} fail with the same crash: {self.what}"
        if self.kind == "differs":
            return f"{n} fail comparing {self.what}"
        if self.kind == "fixed":
            return f"{n} listed as known deviations now pass"
        return f"{n} fail the same check: {self.what}"


def compared_quantity(what: str) -> str:
    """The quantity a comparison names: "running_var after call 2" -> "running_var"."""
    return _QUANTITY_END.split(what, maxsplit=1)[0].strip() or what


def crash_message(message: str) -> str:
    """A crash's message without what differs between examples: the call, the shapes, the numbers."""
    first = message.splitlines()[0] if message else ""
    first = first.split(" raised ", 1)[-1]
    first = re.split(r" \(on a | \(input shape |, while ", first, maxsplit=1)[0]
    return _NUMBER.sub("#", first).strip()


def cause_of(r: PropertyResult) -> tuple[str, str]:
    if r.outcome == Outcome.FIXED:
        return "fixed", ""
    f = r.failure
    if f is None:
        return "other", str(r.outcome)
    if f.kind in (FailureKind.CRASH, FailureKind.ERROR):
        return "crash", f"{f.exception_type}: {crash_message(f.message)}"
    if f.kind == FailureKind.MISMATCH and f.mismatch and f.mismatch.get("what"):
        return "differs", compared_quantity(f.mismatch["what"])
    first = (f.message or "").splitlines()[0] if f.message else ""
    return "other", _NUMBER.sub("#", first)


def failure_groups(run: Run, subject: str) -> list[FailureGroup]:
    """The subject's failing properties in groups, the largest first (crashes before differences on a tie)."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    for r in run.results:
        if r.subject == subject and r.outcome in (Outcome.FAILED, Outcome.ERROR, Outcome.FIXED):
            kind, what = cause_of(r)
            groups.setdefault((kind, what), FailureGroup(kind, what)).properties.append(r.property_id)
    order = {"crash": 0, "differs": 1, "other": 2, "fixed": 3}
    return sorted(groups.values(), key=lambda g: (-len(g.properties), order[g.kind], g.what))
