"""From pytest's items and reports to plain property data: the one place that reads a subject for the report.

On the process that runs a property (a pytest-xdist worker, or the only process), the
``PropertyData`` plugin object attaches to each test report, as the attribute ``REPORT_ATTRIBUTE``, a
JSON-able dict: the property, the subject, its outcome as a ``report.model.Outcome``, the
failure with its counterexample, the reproduction command, the examples Hypothesis tried, and
the bound usage of the call (``conformance.spec.assertions``' recorder, reset before each
call). The attribute travels with the report to pytest-xdist's controller, where the report
hooks build the run from it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from conformance.candidates.errors import CandidateDied, CandidateError
from conformance.candidates.registry import Subject
from conformance.diagnosis import PROPERTY_ASPECTS, Entry, diagnose
from conformance.report.model import REPORT_ATTRIBUTE, FailureKind, Outcome, encode_ratio, json_safe
from conformance.session.deviations import Deviation
from conformance.spec import assertions, dtypes
from conformance.spec.assertions import Mismatch
from conformance.strategies import profiles
from conformance.suite import NotApplicable

MAX_ARRAY = 20_000  # mismatch arrays larger than this keep their message, not their values
NOT_APPLICABLE = pytest.StashKey[str]()  # set at collection: why the property does not apply to the subject
KNOWN_DEVIATION = pytest.StashKey[Deviation]()  # set at collection: the known-deviations entry that lists it
_STATS = pytest.StashKey[dict]()
_USAGE = pytest.StashKey["assertions.BoundUsage | None"]()


def subject_of(item: pytest.Item) -> Subject | None:
    """The subject a conformance property runs on; None for any other test."""
    subject = getattr(getattr(item, "callspec", None), "params", {}).get("subject")
    return subject if isinstance(subject, Subject) else None


def property_id(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_")


def module_name(item: pytest.Item) -> str:
    """The dotted name of the module that holds the property."""
    return item.module.__name__ if isinstance(item, pytest.Function) else item.nodeid.partition("::")[0]


def reproduction(item: pytest.Item, subject: Subject) -> str:
    """One command line that runs this property on this subject again, under the same profile and seed."""
    args = ["pytest", "--pyargs", module_name(item), "-k", item.name, f"--impl={subject.impl.spec}",
            f"--hypothesis-profile={profiles.active_base_name()}"]
    if subject.dtype not in dtypes.CORE:  # half precision runs only when asked for
        args.append(f"--dtype={subject.dtype}")
    if item.config.getoption("conformance_shapes", "auto") != "auto":
        args.append(f"--shapes={item.config.getoption('conformance_shapes')}")
    seed = item.config.getoption("hypothesis_seed", default=None)
    if seed is not None:
        args.append(f"--hypothesis-seed={seed}")
    return " ".join(shlex.quote(a) for a in args)


class PropertyData:
    """Registered by the plugin on every process that runs tests."""

    def __init__(self) -> None:
        self.order: dict[str, int] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.order = {it.nodeid: i for i, it in enumerate(items)}

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """Keep the call's bound usage and Hypothesis' statistics (examples tried, shrinks)."""
        if subject_of(item) is None:
            return (yield)
        assertions.reset_bound_usage()
        try:
            return (yield from _with_statistics(item))
        finally:
            item.stash[_USAGE] = assertions.bound_usage()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, Any]:
        report = yield
        subject = subject_of(item)
        if subject is None:
            return report
        listed = item.stash.get(KNOWN_DEVIATION, None)
        if listed is not None and report.when == "call":
            judge_known_deviation(listed, call, report, lambda: named_by_diagnosis(subject))
        try:
            data = self.describe(item, call, report, subject)
        except (Exception, CandidateDied) as e:  # noqa: BLE001 - kept, with the property, as a note
            data = {"property_id": property_id(item), "module": module_name(item).rpartition(".")[2],
                    "subject": subject.id, "implementation": subject.impl.name, "dtype": subject.dtype,
                    "outcome": outcome_of(item, call, report),
                    "reason": f"report data unavailable: {type(e).__name__}: {e}"}
        setattr(report, REPORT_ATTRIBUTE, json_safe(data))
        if data.get("reproduce"):
            report.sections.append(("reproduce", data["reproduce"]))
        return report

    def describe(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport,
                 subject: Subject) -> dict:
        impl = subject.impl
        d: dict[str, Any] = {
            "property_id": property_id(item),
            "module": module_name(item).rpartition(".")[2],
            "subject": subject.id,
            "implementation": impl.name,
            "dtype": subject.dtype,
            "order": self.order.get(item.nodeid, 0),
            "impl": {"name": impl.name, "spec": impl.spec, "target": impl.target, "form": impl.form,
                     "dtypes": list(impl.dtypes), "unavailable": impl.unavailable, "device": impl.device,
                     "framework": impl.framework, "lacks": list(impl.lacks),
                     "notes": impl.notes()},
            "outcome": outcome_of(item, call, report),
        }
        if d["outcome"] in (Outcome.KNOWN_DEVIATION, Outcome.FIXED):
            d["reason"] = f"known deviation: {item.stash[KNOWN_DEVIATION].describe()}"
        elif report.skipped:
            d["reason"] = skip_reason(report)
        if report.when == "call":
            stats = item.stash.get(_STATS, None)
            if stats:
                d["examples"] = examples_tried(stats)
            usage = item.stash.get(_USAGE, None)
            if usage is not None:
                d["bound_used"], d["bound_used_by"] = encode_ratio(usage.ratio), usage.what
        if report.failed and call.excinfo is not None:
            if report.when == "call":
                d["failure"] = failure_of(call.excinfo.value)
                d["reproduce"] = reproduction(item, subject)
            else:
                d["failure"] = failure_of(call.excinfo.value, kind=FailureKind.ERROR)
        return d


def outcome_of(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> Outcome | None:
    """The property's outcome as this phase shows it; None for a phase that says nothing new."""
    known = KNOWN_DEVIATION in item.stash
    if report.when == "setup":
        if report.skipped:
            return Outcome.NOT_APPLICABLE if NOT_APPLICABLE in item.stash else Outcome.SKIPPED
        return Outcome.ERROR if report.failed else None
    if report.when == "teardown":
        return Outcome.ERROR if report.failed else None
    if known and hasattr(report, "wasxfail"):
        return Outcome.KNOWN_DEVIATION
    if known and report.failed and call.excinfo is None:  # listed, and it passed
        return Outcome.FIXED
    if report.failed:
        return Outcome.FAILED
    if report.skipped:
        applies = call.excinfo is None or not call.excinfo.errisinstance(NotApplicable)
        return Outcome.SKIPPED if applies else Outcome.NOT_APPLICABLE
    return Outcome.PASSED


_NAMED: dict[str, tuple[set[str], str]] = {}  # subject id -> (entries the diagnosis names, its verdict)


def named_by_diagnosis(subject: Subject) -> tuple[set[str], str]:
    """The catalog entries the diagnosis names for ``subject`` (probed once per process), and its verdict."""
    if subject.id not in _NAMED:  # diagnose never raises: a candidate that dies while probed is named nothing
        d = diagnose(subject.impl, subject.dtype)
        _NAMED[subject.id] = ({x["name"] for x in d.deviations}, d.verdict)
    return _NAMED[subject.id]


def judge_known_deviation(listed: Deviation, call: pytest.CallInfo, report: pytest.TestReport,
                          named: Callable[[], tuple[set[str], str]]) -> None:
    """A listed property's report: excused (shown as pytest's xfail) only when every failure compares the
    listed quantity (or, for a catalog entry id, is a comparison of a subject the diagnosis finds that entry
    in); failed as FIXED when it passed; else failed, saying why the entry does not excuse it."""
    if report.passed:
        report.outcome = "failed"
        report.longrepr = (f"FIXED: listed as a known deviation ({listed.describe()}) but it passes: "
                           "remove its entry from the known-deviations file")
        return
    if not report.failed or call.excinfo is None:
        return
    compared = [comparison_name(e) for e in _leaves(call.excinfo.value)]
    if listed.entry is not None:
        _judge_by_entry(listed, listed.entry, compared, report, named)
        return
    if all(listed.excuses(c) for c in compared):
        report.outcome = "skipped"
        report.wasxfail = f"known deviation: {listed.describe()}"
        return
    shown = ", ".join(c or "a crash or an error, not a comparison" for c in compared if not listed.excuses(c))
    report.sections.append(("known deviation", f"listed: {listed.quantity} differs ({listed.reason}); this "
                                               f"failure is {shown}, which the entry does not excuse"))


def _judge_by_entry(listed: Deviation, entry: Entry, compared: list, report: pytest.TestReport,
                    named: Callable[[], tuple[set[str], str]]) -> None:
    if any(c is None for c in compared):
        why = "a crash or an error, not a comparison"
    elif entry.aspect not in PROPERTY_ASPECTS.get(listed.property_id, ()):
        why = f"a failure of {listed.property_id}, which {entry.title} cannot produce"
    else:
        names, verdict = named()
        if entry.name in names:
            report.outcome = "skipped"
            report.wasxfail = f"known deviation: {listed.describe()}"
            return
        why = f"not explained by {entry.name}: the diagnosis does not find it ({verdict})"
    report.sections.append(("known deviation", f"listed: {listed.describe()}; this failure is {why}: the entry "
                                               "does not excuse it"))


def comparison_name(e: BaseException) -> str | None:
    """The name of the comparison a failure reports (None for a crash, a death or an error)."""
    if isinstance(e, Mismatch):
        return e.what
    if isinstance(e, AssertionError) and not isinstance(e, CandidateError):
        return str(e).split("\n", 1)[0].split(": ", 1)[0]
    return None


def skip_reason(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr or "")


def _with_statistics(item: pytest.Item) -> Generator[None, Any, Any]:
    from hypothesis.statistics import collector

    outer: Any = collector.value

    def note(stats: dict) -> None:
        item.stash[_STATS] = stats
        if outer is not None:
            outer(stats)

    with collector.with_value(note):  # type: ignore[arg-type]  # Hypothesis types the slot as None
        return (yield)


def examples_tried(stats: dict) -> dict:
    """From Hypothesis' run statistics: test cases per status, over the phases that generate."""
    counts = {"passing": 0, "failing": 0, "invalid": 0}
    for phase in ("reuse", "generate", "target"):
        for case in (stats.get(f"{phase}-phase") or {}).get("test-cases", []):
            key = {"valid": "passing", "interesting": "failing"}.get(case.get("status"), "invalid")
            counts[key] += 1
    shrinks = len((stats.get("shrink-phase") or {}).get("test-cases", []))
    return {"tried": counts["passing"] + counts["failing"], **counts, "shrinks": shrinks,
            "stopped_because": stats.get("stopped-because")}


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    inner = getattr(exc, "exceptions", None)  # an exception group
    if isinstance(inner, (list, tuple)) and inner and all(isinstance(e, BaseException) for e in inner):
        for e in inner:
            yield from _leaves(e)
    else:
        yield exc


def failure_of(exc: BaseException, kind: FailureKind | None = None) -> dict:
    """What a failing property raised: the counterexample (Hypothesis' notes), expected vs got.

    Hypothesis raises an ExceptionGroup when it found several distinct failures: the first
    Mismatch (else the first crash, else the first exception) is the one shown.
    """
    leaves = list(_leaves(exc)) or [exc]
    chosen = (next((e for e in leaves if isinstance(e, Mismatch)), None)
              or next((e for e in leaves if isinstance(e, CandidateError)), None) or leaves[0])
    if kind is None:
        kind = (FailureKind.MISMATCH if isinstance(chosen, Mismatch) else FailureKind.CRASH
                if isinstance(chosen, CandidateError) else FailureKind.ASSERTION
                if isinstance(chosen, AssertionError) else FailureKind.ERROR)
    notes = list(getattr(exc, "__notes__", []) if exc is not chosen else []) + list(getattr(chosen, "__notes__", []))
    message = str(chosen)
    if len(leaves) > 1:
        others = "; ".join(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}" for e in leaves
                           if e is not chosen)
        message += f"\n(Hypothesis found {len(leaves)} distinct failures; also: {others})"
    d: dict[str, Any] = {"kind": kind, "exception_type": type(chosen).__name__, "message": message,
                         "counterexample": "\n".join(str(n) for n in notes) or None}
    if isinstance(chosen, Mismatch):
        m = chosen.to_dict()
        if len(m.get("expected", [])) > MAX_ARRAY:
            m = {k: v for k, v in m.items() if k not in ("expected", "got", "bound")}
        d["mismatch"] = m
    return d
