"""pytest hooks that fill the results model and write the run's reports.

Every run that collects conformance properties (tests with the ``subject`` parameter)
writes, to ``reports/`` under the invocation directory (``--conformance-report-dir``):

    results.json   the results model (conformance/results.py)
    report.html    its HTML view (conformance/report_html.py)
    junit.xml      pytest's own JUnit XML, unless --junitxml names another file

The files are written at the end of the session (which pytest also reaches on Ctrl-C),
refreshed every few seconds while the run goes on, and once more at unconfigure if the
session never finished: a crashed or interrupted run leaves its partial results.

Under pytest-xdist each worker attaches a property's data (JSON-able) to its test
report as the attribute ``batchnorm_conformance``, which travels with the report like
the report's other attributes; the controller assembles the run and writes the files,
workers write nothing. Diagnosis runs on the controller (or the single process), once
per failing implementation and dtype. The data includes the call's bound usage (the
largest |candidate - oracle| / bound, from ``conformance.assertions``' recorder, which is
reset before each call on the process that runs it).

Loaded through the ``pytest11`` entry point ``conformance.report_plugin`` (which adds the
options) and imported by ``conformance.plugin`` (a no-op when already loaded).
``--no-conformance-report`` or ``-p no:conformance.report_plugin`` turns it off.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conformance.report import html as report_html, model as results  # stdlib only: importing this module changes nothing for other suites

KEY = "batchnorm_conformance"  # the report attribute that carries a property's data
NAME = "conformance-report"
FLUSH_EVERY_S = 3.0
MAX_ARRAY = 20_000  # mismatch arrays larger than this keep their message, not their values
_STATS = pytest.StashKey[dict]()
_USAGE = pytest.StashKey[object]()  # conformance.assertions.BoundUsage of the call, or None


def _subject(item):
    return getattr(getattr(item, "callspec", None), "params", {}).get("subject")


class ReportPlugin:
    def __init__(self, config):
        self.config = config
        self.worker = hasattr(config, "workerinput")
        self.dir = Path(config.invocation_params.dir, config.getoption("conformance_report_dir", "reports"))
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.run = results.Run()
        self.devices: dict[str, str | None] = {}
        self.order: dict[str, int] = {}
        self.last_flush = 0.0
        self.finished = False
        self.interrupted = False
        self.junit = self._junit_path()

    # --- where the JUnit XML goes ------------------------------------------------------
    def _junit_path(self) -> Path | None:
        """pytest's junitxml plugin writes it: point it at reports/junit.xml when the user named no file.

        Only for a run aimed at the conformance suite (explicit --impl, or an argument naming
        it), so that a run of unrelated tests does not leave a junit.xml behind.
        """
        opt = self.config.option
        if not hasattr(opt, "xmlpath") or self.worker:
            return None
        if opt.xmlpath:
            return Path(opt.xmlpath)
        aimed = self.config.getoption("conformance_impls", None) or any(
            "conformance" in str(a) for a in self.config.args)
        if not aimed:
            return None
        opt.xmlpath = str(self.dir / "junit.xml")
        return Path(opt.xmlpath)

    def _environment(self) -> dict:
        from importlib.metadata import PackageNotFoundError, version

        from conformance.strategies import profiles

        packages = {}
        for pkg in ("batchnorm-conformance", "numpy", "torch", "hypothesis", "pytest", "pytest-xdist"):
            try:
                packages[pkg] = version(pkg)
            except PackageNotFoundError:
                pass
        s = profiles.active()
        seed = self.config.getoption("hypothesis_seed", None)
        return {
            "started": self.started,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": packages,
            "profile": profiles.active_name(),
            "max_examples": s.max_examples,
            "derandomize": s.derandomize,
            "seed": seed,
            "workers": getattr(self.config.option, "numprocesses", None),
            "args": list(self.config.invocation_params.args),
            "invocation_dir": str(self.config.invocation_params.dir),
        }

    def pytest_sessionstart(self, session):
        if not self.worker:  # after every plugin's configure: the profile is chosen
            self.run.environment = self._environment()

    # --- on the process that runs the test (a worker under xdist) --------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        self.order = {it.nodeid: i for i, it in enumerate(items)}

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_call(self, item):
        """Keep the call's bound usage and Hypothesis' statistics (examples tried, shrinks), passing them on."""
        if _subject(item) is None:
            yield
            return
        from conformance.spec import assertions  # the properties run in this process: its recorder sees every comparison

        assertions.reset_bound_usage()
        try:
            yield from self._collect_statistics(item)
        finally:
            item.stash[_USAGE] = assertions.bound_usage()

    def _collect_statistics(self, item):
        try:
            from hypothesis.statistics import collector
        except ImportError:  # pragma: no cover - hypothesis is a dependency
            yield
            return
        outer = collector.value

        def note(stats):
            item.stash[_STATS] = stats
            if outer is not None:
                outer(stats)

        with collector.with_value(note):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        subject = _subject(item)
        if subject is None:
            return
        report = outcome.get_result()
        from conformance.isolation.proxy import CandidateDied

        try:
            data = self._data(item, call, report, subject)
        except (Exception, CandidateDied) as e:  # noqa: BLE001 - a report problem must not become a test failure
            data = {"note": f"report data unavailable: {type(e).__name__}: {e}"}
        setattr(report, KEY, results.json_safe(data))

    def _data(self, item, call, report, subject) -> dict:
        from conformance import plugin

        impl = subject.impl
        d = {
            "property_id": plugin.property_id(item),
            "module": item.module.__name__.rpartition(".")[2],
            "subject": subject.id,
            "implementation": impl.name,
            "dtype": subject.dtype,
            "order": self.order.get(item.nodeid, 0),
            "impl": {"name": impl.name, "spec": impl.spec, "target": impl.target, "form": impl.form,
                     "dtypes": list(impl.dtypes), "unavailable": impl.unavailable, "device": self._device(subject)},
        }
        if report.when == "call":
            stats = item.stash.get(_STATS, None)
            if stats:
                d["examples"] = examples_tried(stats)
            usage = item.stash.get(_USAGE, None)
            if usage is not None:
                d["bound_used"], d["bound_used_by"] = results.encode_ratio(usage.ratio), usage.what
        if report.failed and call.excinfo is not None and report.when == "call":
            d["failure"] = failure_of(call.excinfo.value)
            d["reproduce"] = plugin.reproduction(item, item.config)
        elif report.failed and call.excinfo is not None:
            d["failure"] = failure_of(call.excinfo.value, kind="error")
        return d

    def _device(self, subject) -> str | None:
        """Where the candidate's arrays live: built once per implementation and process."""
        from conformance.isolation.proxy import CandidateDied

        key = subject.impl.name
        if key not in self.devices:
            self.devices[key] = None
            if not subject.impl.unavailable:
                try:
                    from conformance.spec.cases import Config

                    inst = subject.impl.make(Config(2), subject.dtype)
                    self.devices[key] = str(getattr(inst.arrays, "device", None) or "cpu")
                except (Exception, CandidateDied):  # noqa: BLE001 - the device is a nicety
                    pass
        return self.devices[key]

    # --- on the controller (or the single process) -------------------------------------------
    def pytest_runtest_logreport(self, report):
        if self.worker:
            return
        data = getattr(report, KEY, None)
        if data is None:
            data = self._orphan(report)
            if data is None:
                return
        self._record(report, data)
        now = time.monotonic()
        if now - self.last_flush > FLUSH_EVERY_S:
            self.last_flush = now
            self._write(final=False)

    def _orphan(self, report) -> dict | None:
        """A report made without our data (xdist's report for a crashed worker) for a subject we know."""
        nodeid = getattr(report, "nodeid", "") or ""
        if not nodeid.endswith("]") or not report.failed:
            return None
        sid = nodeid.rsplit("[", 1)[1][:-1]
        known = next((r for r in self.run.results if r.subject == sid), None)
        if known is None:
            return None
        name = nodeid.split("::")[-1].split("[")[0]
        message = str(report.longrepr)[-2000:]
        return {"property_id": name.removeprefix("test_"), "module": nodeid.split("::")[0].rpartition("/")[2][:-3],
                "subject": sid, "implementation": known.implementation, "dtype": known.dtype,
                "failure": {"kind": "crash", "exception_type": "crash", "message": message}}

    def _record(self, report, data: dict) -> None:
        from conformance import plugin

        if "property_id" not in data:
            return
        impl = data.get("impl")
        if impl and impl["name"] not in self.run.implementations:
            self.run.implementations[impl["name"]] = results.Implementation(**impl)
        prev = next((r for r in self.run.results if r.key == (data["subject"], data["property_id"])), None)
        r = prev or results.PropertyResult(
            property_id=data["property_id"], module=data["module"], subject=data["subject"],
            implementation=data["implementation"], dtype=data["dtype"], outcome="passed", nodeid=report.nodeid,
            order=data.get("order", len(self.run.results)))
        r.duration += float(getattr(report, "duration", 0.0) or 0.0)
        if data.get("examples"):
            r.examples = data["examples"]
        if data.get("bound_used") is not None:
            r.bound_used, r.bound_used_by = results.decode_ratio(data["bound_used"]), data.get("bound_used_by")
        failure = results.Failure(**data["failure"]) if data.get("failure") else None
        # xdist's report for a crashed worker says when="???": the crash happened in the call.
        when = report.when if report.when in ("setup", "teardown") else "call"
        if when == "setup":
            if report.skipped:
                reason = _skip_reason(report)
                r.outcome = "not_applicable" if "not applicable" in reason else "skipped"
                r.reason = reason
            elif report.failed:
                r.outcome, r.failure = "error", failure
        elif when == "call":
            if plugin._is_fixed(report):
                r.outcome, r.reason = "fixed", str(report.longrepr).removeprefix("[XPASS(strict)]").strip()
            elif hasattr(report, "wasxfail"):
                r.outcome, r.reason = ("known_deviation", report.wasxfail) if report.skipped else ("passed", None)
            elif report.failed:
                r.outcome, r.failure, r.reproduce = "failed", failure, data.get("reproduce")
            elif report.skipped:
                r.outcome, r.reason = "skipped", _skip_reason(report)
            else:
                r.outcome = "passed"
        elif report.failed and r.outcome == "passed":  # teardown
            r.outcome, r.failure = "error", failure
        self.run.record(r)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.worker:
            return
        self.interrupted = self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED
        self.run.exit_status = int(exitstatus)
        if self.run.results:
            self._diagnose()
        self._write(final=True)
        self.finished = True

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted = True

    def pytest_unconfigure(self, config):
        if not self.worker and not self.finished:
            self.interrupted = True  # the session never finished (e.g. an internal error): partial results
            self._write(final=True)

    def _diagnose(self) -> None:
        from conformance import diagnosis
        from conformance.isolation.proxy import CandidateDied
        from conformance.plugin import load

        loaded = {}
        for sid in self.run.failing_subjects():
            if sid in self.run.diagnoses:
                continue
            first = next(r for r in self.run.results if r.subject == sid)
            failing = sorted({r.property_id for r in self.run.results
                              if r.subject == sid and r.outcome in results.FAILING})
            impl_info = self.run.implementations.get(first.implementation)
            try:
                spec = impl_info.spec if impl_info else first.implementation
                if spec not in loaded:
                    # In a child process even with --isolation=none: a crash here would lose the report.
                    loaded[spec] = load(spec, self.config, isolate=True)
                d = diagnosis.diagnose(loaded[spec], first.dtype, failing)
                self.run.diagnoses[sid] = results.Diagnosis(sid, d.status, d.verdict, d.deviations, d.details)
            except (Exception, CandidateDied) as e:  # noqa: BLE001 - never break the run
                self.run.diagnoses[sid] = results.Diagnosis(sid, "probe_crashed",
                                                            f"probe crashed: {type(e).__name__}: {e}")

    def _write(self, final: bool) -> None:
        if not self.run.results:
            return  # no conformance property ran: leave reports/ alone
        run = self.run
        run.sort()
        if not run.environment:
            run.environment = self._environment()
        run.status = ("interrupted" if self.interrupted else "complete") if final else "running"
        run.environment["finished" if final else "updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if self.junit is not None:
            run.environment["junit"] = str(self.junit)
        try:
            run.write(self.dir / "results.json")
            report_html.write(run, self.dir / "report.html")
        except Exception as e:  # noqa: BLE001 - a full disk must not hide the test results
            sys.stderr.write(f"batchnorm-conformance: could not write reports to {self.dir}: {e}\n")
            return

    @pytest.hookimpl(wrapper=True)
    def pytest_terminal_summary(self, terminalreporter):
        yield  # after the conformance summary
        if self.worker or not self.run.results:
            return
        tr = terminalreporter
        for sid, d in self.run.diagnoses.items():
            tr.write_line(f"{sid}: diagnosis: {d.verdict}")
        files = ["results.json", "report.html"] + (["junit.xml"] if self.junit == self.dir / "junit.xml" else [])
        where = self.dir.relative_to(Path.cwd()) if self.dir.is_relative_to(Path.cwd()) else self.dir
        tr.write_line(f"conformance reports: {where}{os.sep} ({', '.join(files)})")


def _skip_reason(report) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr or "")


# --- reading Hypothesis' results ----------------------------------------------------------------


def examples_tried(stats: dict) -> dict:
    """From Hypothesis' run statistics: test cases per status, over the phases that generate."""
    counts = {"passing": 0, "failing": 0, "invalid": 0}
    for phase in ("reuse", "generate", "target"):
        for case in (stats.get(f"{phase}-phase") or {}).get("test-cases", []):
            status = case.get("status")
            key = {"valid": "passing", "interesting": "failing"}.get(status, "invalid")
            counts[key] += 1
    shrinks = len((stats.get("shrink-phase") or {}).get("test-cases", []))
    return {"tried": counts["passing"] + counts["failing"], **counts, "shrinks": shrinks,
            "stopped_because": stats.get("stopped-because")}


def _leaves(exc: BaseException):
    inner = getattr(exc, "exceptions", None)  # an exception group (builtin from 3.11, else the backport)
    if isinstance(inner, (list, tuple)) and inner and all(isinstance(e, BaseException) for e in inner):
        for e in inner:
            yield from _leaves(e)
    else:
        yield exc


def failure_of(exc: BaseException, kind: str | None = None) -> dict:
    """What a failing property raised: the counterexample (Hypothesis' notes), expected vs got.

    Hypothesis raises an ExceptionGroup when it found several distinct failures: the first
    Mismatch (else the first crash, else the first exception) is the one shown.
    """
    from conformance.candidates.adapter import CandidateError
    from conformance.spec.assertions import Mismatch
    leaves = list(_leaves(exc)) or [exc]
    chosen = (next((e for e in leaves if isinstance(e, Mismatch)), None)
              or next((e for e in leaves if isinstance(e, CandidateError)), None) or leaves[0])
    if kind is None:
        kind = ("mismatch" if isinstance(chosen, Mismatch) else "crash" if isinstance(chosen, CandidateError)
                else "assertion" if isinstance(chosen, AssertionError) else "error")
    notes = list(getattr(exc, "__notes__", []) if exc is not chosen else []) + list(getattr(chosen, "__notes__", []))
    message = str(chosen)
    if len(leaves) > 1:
        others = "; ".join(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}" for e in leaves
                           if e is not chosen)
        message += f"\n(Hypothesis found {len(leaves)} distinct failures; also: {others})"
    d = {"kind": kind, "exception_type": type(chosen).__name__, "message": message,
         "counterexample": "\n".join(str(n) for n in notes) or None}
    if isinstance(chosen, Mismatch):
        m = chosen.to_dict()
        if len(m.get("expected", [])) > MAX_ARRAY:
            m = {k: v for k, v in m.items() if k not in ("expected", "got", "bound")}
        d["mismatch"] = m
    return d
