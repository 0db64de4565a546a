"""Diagnose the run's failing subjects: load each implementation again, probe it, and note the findings."""

from __future__ import annotations

from collections.abc import Callable

from conformance import diagnosis
from conformance.candidates.errors import CandidateDied
from conformance.candidates.registry import Implementation
from conformance.report.model import FAILING, Diagnosis, DiagnosisStatus, Run


def diagnose_run(run: Run, load: Callable[[str], Implementation]) -> None:
    """A diagnosis for each failing subject of ``run`` that has none yet; ``load`` builds the
    implementation in a child process of its own (a crash there must not lose the report)."""
    loaded: dict[str, Implementation] = {}
    for sid in run.failing_subjects():
        if sid in run.diagnoses:
            continue
        first = next(r for r in run.results if r.subject == sid)
        failing = sorted({r.property_id for r in run.results if r.subject == sid and r.outcome in FAILING})
        info = run.implementations.get(first.implementation)
        spec = info.spec if info else first.implementation
        try:
            if spec not in loaded:
                loaded[spec] = load(spec)
            d = diagnosis.diagnose(loaded[spec], first.dtype, failing)
            run.diagnoses[sid] = Diagnosis(sid, DiagnosisStatus(d.status), d.verdict, d.deviations, d.details,
                                           d.aspects, d.unexplained)
        except (Exception, CandidateDied) as e:  # noqa: BLE001 - never break the run
            run.diagnoses[sid] = Diagnosis(sid, DiagnosisStatus.PROBE_CRASHED,
                                           f"probe crashed: {type(e).__name__}: {e}")
