"""The report's pytest hooks: assemble the run from plain property data, write the files, summarise.

Every run that collects conformance properties writes, to ``reports/`` under the invocation
directory (``--conformance-report-dir``; none with ``--no-conformance-report``):

    results.json   the results model (conformance/report/model.py)
    report.html    its HTML view (conformance/report/html.py)
    junit.xml      pytest's own JUnit XML, unless --junitxml names another file

The files are written at the end of the session (which pytest also reaches on Ctrl-C),
refreshed every few seconds while the run goes on, and once more at unconfigure if the
session never finished: a crashed or interrupted run leaves its partial results.

``ReportHooks`` runs on the controller (or the only process). It reads the plain data that
``conformance.session.property_data`` attached to each report and never touches a candidate:
the diagnosis of failing subjects comes through the ``diagnose`` callable it is given.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Generator
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from conformance.report import html as report_html
from conformance.report.groups import failure_groups
from conformance.report.model import (
    FAILING,
    REPORT_ATTRIBUTE,
    Failure,
    FailureKind,
    ImplementationInfo,
    Outcome,
    PropertyResult,
    Run,
    RunStatus,
    Verdict,
    decode_ratio,
    split_nodeid,
)

NAME = "conformance-report"
FLUSH_EVERY_S = 3.0
PACKAGES = ("batchnorm-conformance", "numpy", "torch", "hypothesis", "pytest", "pytest-xdist")


class ReportHooks:
    """Registered by the plugin on the controller or the only process."""

    def __init__(self, config: pytest.Config, *, write: bool, diagnose: Callable[[Run], None],
                 settings: Callable[[], dict]):
        self.config = config
        self.write_files = write
        self.diagnose = diagnose
        self.settings = settings  # the Hypothesis profile in use, for the environment
        self.dir = Path(config.invocation_params.dir, config.getoption("conformance_report_dir", "reports"))
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.run = Run()
        self.last_flush = 0.0
        self.finished = False
        self.interrupted = False
        self.junit = self._junit_path() if write else None

    def _junit_path(self) -> Path | None:
        """pytest's junitxml plugin writes it: point it at reports/junit.xml when the user named no file.

        Only for a run aimed at the conformance suite (explicit --impl, or an argument naming
        it), so that a run of unrelated tests does not leave a junit.xml behind.
        """
        opt = self.config.option
        if not hasattr(opt, "xmlpath"):
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
        packages = {}
        for pkg in PACKAGES:
            try:
                packages[pkg] = version(pkg)
            except PackageNotFoundError:
                pass
        return {
            "started": self.started,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": packages,
            **self.settings(),
            "workers": getattr(self.config.option, "numprocesses", None),
            "args": list(self.config.invocation_params.args),
            "invocation_dir": str(self.config.invocation_params.dir),
        }

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.run.environment = self._environment()  # after every plugin's configure: the profile is chosen

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTRIBUTE, None)
        if data is None:
            data = self._orphan(report)
            if data is None:
                return
        self._record(report, data)
        now = time.monotonic()
        if now - self.last_flush > FLUSH_EVERY_S:
            self.last_flush = now
            self._write(final=False)

    def _orphan(self, report: pytest.TestReport) -> dict | None:
        """A report made without our data (xdist's report for a crashed worker) for a subject we know."""
        module, prop, sid = split_nodeid(getattr(report, "nodeid", "") or "")
        known = next((r for r in self.run.results if r.subject == sid), None)
        if not report.failed or known is None:
            return None
        return {"property_id": prop, "module": module, "subject": sid, "implementation": known.implementation,
                "dtype": known.dtype, "outcome": Outcome.FAILED,
                "failure": {"kind": FailureKind.CRASH, "exception_type": "crash",
                            "message": str(report.longrepr)[-2000:]}}

    def _record(self, report: pytest.TestReport, data: dict) -> None:
        if "property_id" not in data:
            return
        impl = data.get("impl")
        if impl:
            known = self.run.implementations.get(impl["name"])
            if known is None:
                self.run.implementations[impl["name"]] = ImplementationInfo(**impl)
            else:
                if known.device is None:  # known once the candidate has been built, after the first setup
                    known.device = impl.get("device")
                known.notes += [n for n in impl.get("notes") or () if n not in known.notes]  # each worker's
        key = (data["subject"], data["property_id"])
        r = next((r for r in self.run.results if r.key == key), None) or PropertyResult(
            property_id=data["property_id"], module=data["module"], subject=data["subject"],
            implementation=data["implementation"], dtype=data["dtype"], outcome=Outcome.PASSED, nodeid=report.nodeid,
            order=data.get("order", len(self.run.results)))
        r.duration += float(getattr(report, "duration", 0.0) or 0.0)
        if data.get("examples"):
            r.examples = data["examples"]
        if data.get("bound_used") is not None:
            r.bound_used, r.bound_used_by = decode_ratio(data["bound_used"]), data.get("bound_used_by")
        outcome = data.get("outcome")
        # A teardown error does not hide the call's failure; any other phase's outcome is the property's.
        if outcome is not None and not (report.when == "teardown" and r.outcome != Outcome.PASSED):
            r.outcome = Outcome(outcome)
            r.reason = data.get("reason")
            if data.get("failure"):
                r.failure = Failure(**{**data["failure"], "kind": FailureKind(data["failure"]["kind"])})
            r.reproduce = data.get("reproduce") or r.reproduce
        self.run.record(r)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.interrupted = self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED
        self.run.exit_status = int(exitstatus)
        if self.run.results:
            self.diagnose(self.run)
        self._write(final=True)
        self.finished = True

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo) -> None:
        self.interrupted = True

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if not self.finished:
            self.interrupted = True  # the session never finished (e.g. an internal error): partial results
            self._write(final=True)

    def _write(self, final: bool) -> None:
        if not self.run.results or not self.write_files:
            return  # no conformance property ran: leave reports/ alone
        run = self.run
        run.sort()
        if not run.environment:
            run.environment = self._environment()
        run.status = (RunStatus.INTERRUPTED if self.interrupted else RunStatus.COMPLETE) if final else RunStatus.RUNNING
        run.environment["finished" if final else "updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if self.junit is not None:
            run.environment["junit"] = str(self.junit)
        try:
            run.write(self.dir / "results.json")
            report_html.write(run, self.dir / "report.html")
        except Exception as e:  # noqa: BLE001 - a full disk must not hide the test results
            sys.stderr.write(f"batchnorm-conformance: could not write reports to {self.dir}: {e}\n")

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, Any, Any]:
        result = yield
        if self.run.results:
            write_summary(terminalreporter, self.run)
            if self.write_files:
                files = ["results.json", "report.html"] + (["junit.xml"] if self.junit == self.dir / "junit.xml"
                                                             else [])
                where = self.dir.relative_to(Path.cwd()) if self.dir.is_relative_to(Path.cwd()) else self.dir
                terminalreporter.write_line(f"conformance reports: {where}{os.sep} ({', '.join(files)})")
        return result


def write_summary(tr: Any, run: Run) -> None:
    """Per subject: its verdict and counts, the failing, known and fixed properties, the diagnosis."""
    tr.section("batchnorm conformance")
    for sid in sorted(run.subjects()):
        mine = [r for r in run.results if r.subject == sid]
        verdict = run.verdict(sid)
        counts = ", ".join(f"{n} {Outcome(o).words}" for o, n in run.counts(sid).items())
        failed = [r for r in mine if r.outcome in FAILING and r.outcome != Outcome.FIXED]
        tr.write_line(f"{sid}: {run.verdict_line(sid)} ({counts})", red=bool(failed),
                      green=verdict is Verdict.CONFORMS, yellow=verdict is Verdict.CONFORMS_WITH_KNOWN_DEVIATIONS)
        for group in failure_groups(run, sid):
            if group.kind == "fixed":
                continue
            if len(group.properties) == 1:
                note = f"crash: {group.what}" if group.kind == "crash" else group.what[:160]
                tr.write_line(f"    fails: {group.properties[0]} ({note})")
                continue
            tr.write_line(f"    {group.headline()}")
            for prop in sorted(group.properties):
                tr.write_line(f"        fails: {prop}")
        for r in sorted(mine, key=lambda r: r.property_id):
            if r.outcome == Outcome.KNOWN_DEVIATION:
                tr.write_line(f"    known deviation: {r.property_id}")
        for r in sorted(mine, key=lambda r: r.property_id):
            if r.outcome == Outcome.FIXED:
                tr.write_line(f"    fixed, remove from the known-deviations file: {r.property_id}")
        for note in run.implementation_notes(sid):
            tr.write_line(f"    note: {note}")
    for sid, d in run.diagnoses.items():
        tr.write_line(f"{sid}: diagnosis: {d.verdict}")
