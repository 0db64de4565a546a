"""Run the conformance suite in a subprocess and read back one outcome per test.

Shared by the mutant tests and the seed sweep. The subprocess runs from ``cwd`` with
the repository root on PYTHONPATH (so ``tests.mutants...`` specs import), the
installed suite selected with ``--pyargs conformance``, no cache, and a JUnit XML
file as the only thing read back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_NODE = re.compile(r"::test_(?P<prop>\w+)\[(?P<subject>.+)\]$")


@dataclass(frozen=True)
class Outcome:
    property_id: str
    subject: str  # "<impl name>-<dtype>"
    status: str  # passed, failed, error, skipped
    message: str = ""

    @property
    def dtype(self) -> str:
        return self.subject.rsplit("-", 1)[1]


def run_suite(args: list[str], *, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)  # the inner run's options are exactly the ones given here
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def outcomes(junit_xml: Path) -> list[Outcome]:
    """One Outcome per property test case in a JUnit XML report."""
    out = []
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        m = _NODE.search(f"::{case.get('name', '')}")
        if not m:
            continue
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            child = case.find(tag)
            if child is not None:
                status = {"failure": "failed"}.get(tag, tag)
                message = child.get("message", "")
                break
        out.append(Outcome(m["prop"], m["subject"], status, message))
    return out


def assert_correct(args: list[str], *, subjects: set[str], cwd: Path, label: str) -> None:
    """Run the suite on correct implementations: nothing fails, every subject passes something, exit 0."""
    report = cwd / "correct.xml"
    proc = run_suite([*args, f"--junitxml={report}", "-q"], cwd=cwd)
    assert report.exists(), f"{label}: the suite did not run (exit code {proc.returncode}):\n{describe(proc)}"
    results = outcomes(report)
    bad = sorted(f"{o.property_id}[{o.subject}]: {o.status} {o.message[:300]}" for o in results
                 if o.status in ("failed", "error"))
    assert not bad, f"{label}: a correct implementation failed:\n" + "\n".join(bad)
    passed = Counter(o.subject for o in results if o.status == "passed")
    idle = sorted(s for s in subjects if not passed[s])
    assert not idle, f"{label}: nothing passed for {idle}:\n{describe(proc)}"
    assert proc.returncode == 0, f"{label}: exit code {proc.returncode}:\n{describe(proc)}"


def collected_property_ids(tmp_path: Path) -> set[str]:
    """Every property id the suite collects (for one implementation; ids do not depend on it)."""
    proc = run_suite(["--impl=numpy", "--collect-only", "-q"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, f"collecting the suite failed:\n{proc.stdout}\n{proc.stderr}"
    ids = {m["prop"] for line in proc.stdout.splitlines() if (m := _NODE.search(line.strip()))}
    assert ids, f"the suite collected no properties:\n{proc.stdout}"
    return ids


def describe(proc: subprocess.CompletedProcess, limit: int = 3000) -> str:
    """The tail of a run's output, for an assertion message."""
    text = (proc.stdout + proc.stderr).strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]
