"""The results model: what one run (or several, merged) found, as plain data.

The JSON file, the JUnit XML and the HTML report are views of it. Everything here is
JSON-able; nothing here knows pytest, torch or the candidate. ``conformance.report.hooks``
fills a ``Run`` from the plain property data that ``conformance.session.property_data``
attaches to pytest's reports, ``conformance.report.html`` renders one, ``merge`` combines
the result files of several runs into one matrix. Shared values are str enums, so the
JSON holds their plain values.

Outcomes of one property for one implementation and dtype (a *subject*, e.g.
``torch-float32``):

    passed            every example agreed with torch's semantics
    failed            a counterexample was found (``failure.kind``: mismatch, crash, assertion)
    error             the test could not run (setup or teardown failed)
    known_deviation   failed, and listed in the known-deviations file
    fixed             listed in the known-deviations file, but passed
    not_applicable    the candidate's form cannot express what the property needs
    skipped           skipped for another reason (e.g. no GPU)
"""

from __future__ import annotations

import enum
import json
import math
import numbers
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

SCHEMA = "batchnorm-conformance/results/1"
REPORT_ATTRIBUTE = "batchnorm_conformance"  # the pytest report attribute that carries a property's plain data


class Word(str, enum.Enum):
    """A shared value: compares, prints and serialises as its plain string."""

    def __str__(self) -> str:
        return self.value



class Outcome(Word):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    KNOWN_DEVIATION = "known_deviation"
    FIXED = "fixed"
    NOT_APPLICABLE = "not_applicable"
    SKIPPED = "skipped"


    @property
    def words(self) -> str:
        """How the terminal summary counts it ("3 not applicable")."""
        return self.value.replace("_", " ")


OUTCOMES = tuple(Outcome)
FAILING = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.FIXED})


class FailureKind(Word):
    MISMATCH = "mismatch"  # a comparison with data went past its bound
    ASSERTION = "assertion"  # another check of the property
    CRASH = "crash"  # the candidate raised, died or returned the wrong kind of thing
    ERROR = "error"  # the test could not run (setup or teardown)



class Verdict(Word):
    CONFORMS = "CONFORMS"
    CONFORMS_WITH_KNOWN_DEVIATIONS = "CONFORMS WITH KNOWN DEVIATIONS"  # never plain CONFORMS when one is excused
    DOES_NOT_CONFORM = "DOES NOT CONFORM"
    NOT_CHECKED = "NOT CHECKED"


    def counted(self, known: int) -> str:
        """The verdict line's words: "CONFORMS WITH 2 KNOWN DEVIATIONS" names how many."""
        if self is Verdict.CONFORMS_WITH_KNOWN_DEVIATIONS:
            return f"CONFORMS WITH {known} KNOWN DEVIATION{'S' * (known != 1)}"
        return self.value


class RunStatus(Word):
    RUNNING = "running"  # partial: the run goes on
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"



class DiagnosisStatus(Word):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    PARTIALLY_EXPLAINED = "partially_explained"
    NOT_IN_CATALOG = "not_in_catalog"
    PROBE_CRASHED = "probe_crashed"
    NOT_RUN = "not_run"



class AspectStatus(Word):
    """What the diagnosis found for one aspect of the semantics."""

    MATCHES_TORCH = "matches_torch"
    MATCHED = "matched"  # catalog entries reproduce it
    AMBIGUOUS = "ambiguous"
    DEVIATES = "deviates"  # not in the catalog
    UNSUPPORTED = "unsupported"  # its probes raised
    NOT_PROBED = "not_probed"  # the form cannot show it
    NOT_JUDGED = "not_judged"  # its probes also show an aspect that could not be pinned down


def verdict(outcomes: Iterable[str]) -> Verdict:
    """The one verdict rule: any failing outcome fails; else it conforms if anything passed."""
    seen = {Outcome(o) for o in outcomes}
    if seen & FAILING:
        return Verdict.DOES_NOT_CONFORM
    if Outcome.KNOWN_DEVIATION in seen:
        return Verdict.CONFORMS_WITH_KNOWN_DEVIATIONS
    return Verdict.CONFORMS if Outcome.PASSED in seen else Verdict.NOT_CHECKED


def split_nodeid(nodeid: str) -> tuple[str, str, str | None]:
    """(module, property id, subject id) of a property's pytest node id
    (``conformance/test_forward.py::test_x[torch-float32]``); the subject is None without brackets."""
    path, _, name = nodeid.rpartition("::")
    function, bracket, param = name.partition("[")
    module = path.replace("\\", "/").rpartition("/")[2].removesuffix(".py")
    return module, function.removeprefix("test_"), param[:-1] if bracket and param.endswith("]") else None


@dataclass
class Failure:
    """Why a property failed: the exception, the shrunk counterexample, expected versus got."""

    kind: FailureKind
    exception_type: str
    message: str
    counterexample: str | None = None  # Hypothesis' notes: the falsifying example and its draws
    mismatch: dict | None = None  # conformance.assertions.Mismatch.to_dict(): what, index, shape, expected, got, bound


@dataclass
class PropertyResult:
    """One property on one subject."""

    property_id: str
    module: str
    subject: str  # "<implementation>-<dtype>"
    implementation: str
    dtype: str
    outcome: Outcome
    nodeid: str = ""
    order: int = 0  # position in the collected session (the same with and without xdist)
    duration: float = 0.0
    examples: dict | None = None  # {"tried", "passing", "failing", "invalid", "shrinks", "stopped_because"}
    reason: str | None = None  # why skipped, or the known deviation's reason
    reproduce: str | None = None
    failure: Failure | None = None
    # The largest |candidate - oracle| / bound over every comparison of every example (a failing one
    # included: then over 1); None where nothing was compared. Infinite (a zero bound exceeded, a NaN
    # where a number was due) is written "inf" in JSON.
    bound_used: float | None = None
    bound_used_by: str | None = None  # the ``what`` of the comparison that used the most, e.g. "train output"

    @property
    def key(self) -> tuple[str, str]:
        return self.subject, self.property_id


@dataclass
class ImplementationInfo:
    """An implementation as the run saw it."""

    name: str
    spec: str = ""
    target: str = ""
    form: str = ""
    dtypes: list[str] = field(default_factory=list)
    unavailable: str | None = None
    device: str | None = None
    framework: str | None = None  # the version of what it runs, in words
    lacks: list[str] = field(default_factory=list)  # capabilities of its form it declares it does not have
    notes: list[str] = field(default_factory=list)  # what the run changed for it, e.g. a tightened call timeout


@dataclass
class Diagnosis:
    """What the diagnosis probes say about one failing subject (see conformance/diagnosis)."""

    subject: str
    status: DiagnosisStatus
    verdict: str  # in words
    deviations: list[dict] = field(default_factory=list)  # [{"name", "title", "verdict", "aspect"}]
    details: list[str] = field(default_factory=list)  # observations that differ from torch
    aspects: list[dict] = field(default_factory=list)  # per aspect: {"aspect", "title", "status", "verdict", ...}
    unexplained: list[str] = field(default_factory=list)  # failing properties no named aspect can produce


@dataclass
class Run:
    """One run's results, or several runs merged (``sources`` then lists each)."""

    status: RunStatus = RunStatus.RUNNING
    exit_status: int | None = None
    environment: dict = field(default_factory=dict)
    implementations: dict[str, ImplementationInfo] = field(default_factory=dict)
    results: list[PropertyResult] = field(default_factory=list)
    diagnoses: dict[str, Diagnosis] = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)  # for a merged run: {"file", "status", "environment"}
    schema: str = SCHEMA

    # --- questions the views ask -----------------------------------------------------
    def subjects(self) -> list[str]:
        """Subject ids in a stable order: by implementation as first seen, then dtype."""
        order = {name: i for i, name in enumerate(self.implementations)}
        seen = {(r.implementation, r.dtype, r.subject) for r in self.results}
        return [s for _, _, s in sorted(seen, key=lambda t: (order.get(t[0], len(order)), t[0], t[1]))]

    def properties(self) -> list[tuple[str, str]]:
        """(module, property_id) pairs, by module then in the order first seen."""
        seen: dict[tuple[str, str], int] = {}
        for r in self.results:
            seen.setdefault((r.module, r.property_id), len(seen))
        modules: dict[str, int] = {}
        for m, _ in seen:
            modules.setdefault(m, len(modules))
        return sorted(seen, key=lambda k: (modules[k[0]], seen[k]))

    def cell(self, subject: str, property_id: str) -> PropertyResult | None:
        for r in self.results:
            if r.subject == subject and r.property_id == property_id:
                return r
        return None

    def verdict(self, subject: str) -> Verdict:
        return verdict(r.outcome for r in self.results if r.subject == subject)

    def known_deviations(self, subject: str) -> int:
        return sum(r.outcome == Outcome.KNOWN_DEVIATION for r in self.results if r.subject == subject)

    def declared_lacks(self, subject: str) -> list[str]:
        """The capabilities the subject's implementation declares it lacks: each exempts it from some properties."""
        info = self.implementations.get(next((r.implementation for r in self.results if r.subject == subject), ""))
        return list(info.lacks) if info is not None else []

    def implementation_notes(self, subject: str) -> list[str]:
        """What the run changed for the subject's implementation (a tightened call timeout, say)."""
        info = self.implementations.get(next((r.implementation for r in self.results if r.subject == subject), ""))
        return list(info.notes) if info is not None else []

    def verdict_line(self, subject: str) -> str:
        """The verdict in words, with the count of known deviations and every declared exemption."""
        words = self.verdict(subject).counted(self.known_deviations(subject))
        lacks = self.declared_lacks(subject)
        return words + (f" (declares it lacks: {', '.join(lacks)})" if lacks else "")

    def failing_subjects(self) -> list[str]:
        return [s for s in self.subjects() if self.verdict(s) is Verdict.DOES_NOT_CONFORM]

    def worst_bound_used(self, subject: str) -> PropertyResult | None:
        """The subject's property that used the most of a bound (None where no property recorded usage)."""
        used = [r for r in self.results if r.subject == subject and r.bound_used is not None]
        return max(used, key=lambda r: r.bound_used or 0.0, default=None)

    def counts(self, subject: str | None = None) -> dict[str, int]:
        out = {k.value: 0 for k in OUTCOMES}
        for r in self.results:
            if subject is None or r.subject == subject:
                out[Outcome(r.outcome).value] += 1
        return {k: v for k, v in out.items() if v}

    def sort(self) -> None:
        """Results in collection order (under xdist they arrive in any order)."""
        self.results.sort(key=lambda r: r.order)

    def record(self, result: PropertyResult) -> None:
        """Add or replace the result for its (subject, property)."""
        for i, r in enumerate(self.results):
            if r.key == result.key:
                self.results[i] = result
                return
        self.results.append(result)

    # --- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "schema": self.schema,
            "status": self.status,
            "exit_status": self.exit_status,
            "environment": self.environment,
            "implementations": {k: asdict(v) for k, v in self.implementations.items()},
            "results": [_result_dict(r) for r in self.results],
            "diagnoses": {k: asdict(v) for k, v in self.diagnoses.items()},
            "sources": self.sources,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Run":
        schema = d.get("schema", "")
        if not str(schema).startswith("batchnorm-conformance/results/"):
            raise ValueError(f"not a batchnorm-conformance results file (schema {schema!r})")
        return cls(
            status=RunStatus(d.get("status", "complete")),
            exit_status=d.get("exit_status"),
            environment=dict(d.get("environment") or {}),
            implementations={k: _build(ImplementationInfo, v) for k, v in (d.get("implementations") or {}).items()},
            results=[_result(r) for r in d.get("results") or []],
            diagnoses={k: _diagnosis(v) for k, v in (d.get("diagnoses") or {}).items()},
            sources=list(d.get("sources") or []),
            schema=schema,
        )

    def dumps(self) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=1, allow_nan=False)

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically (a reader never sees half a file, even if the run is killed)."""
        return write_text_atomic(path, self.dumps())


def json_safe(v):
    """Plain JSON values: tuples as lists, non-finite floats as None, anything else as its str."""
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, enum.Enum):  # a str enum as its plain value: execnet and JSON readers see a str
        return json_safe(v.value)
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    try:
        f = float(v)  # NumPy scalars
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else None


def _build(cls, d: dict):
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in known})


INFINITE = "inf"  # how JSON (no Infinity under allow_nan=False) spells an infinite bound_used


def encode_ratio(v: float | None) -> float | str | None:
    """A bound_used for JSON: json_safe would turn inf into None, which says "nothing compared"."""
    return INFINITE if v is not None and math.isinf(v) else v


def decode_ratio(v) -> float | None:
    """A bound_used read back from JSON (a number, "inf" or None)."""
    return None if v is None else math.inf if v == INFINITE else float(v)


def _result_dict(r: PropertyResult) -> dict:
    d = asdict(r)
    d["bound_used"] = encode_ratio(d["bound_used"])
    return d


def _result(d: dict) -> PropertyResult:
    r = _build(PropertyResult, d)
    r.outcome = Outcome(r.outcome)
    if isinstance(r.failure, dict):
        r.failure = _build(Failure, r.failure)
        r.failure.kind = FailureKind(r.failure.kind)
    r.bound_used = decode_ratio(r.bound_used)
    return r


def _diagnosis(d: dict) -> Diagnosis:
    diagnosis = _build(Diagnosis, d)
    diagnosis.status = DiagnosisStatus(diagnosis.status)
    return diagnosis


def load(path: str | os.PathLike) -> Run:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{p}: cannot read results: {e}") from e
    try:
        return Run.from_dict(data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{p}: {e}") from e


def merge(runs: list[Run], names: list[str] | None = None) -> Run:
    """One run holding every subject of ``runs``.

    A subject that appears in several runs keeps the result of the last run that has it
    (a later file is a re-run); each input run is listed in ``sources``.
    """
    names = names or [f"run {i + 1}" for i in range(len(runs))]
    out = Run(status=RunStatus.COMPLETE)
    statuses = set()
    for name, run in zip(names, runs):
        statuses.add(run.status)
        out.sources.append({"file": name, "status": run.status, "exit_status": run.exit_status,
                            "environment": run.environment, "subjects": run.subjects()})
        for k, impl in run.implementations.items():
            out.implementations[k] = impl
        replaced = set(run.subjects())
        out.results = [r for r in out.results if r.subject not in replaced]
        out.results.extend(run.results)
        for k in replaced:
            out.diagnoses.pop(k, None)
        out.diagnoses.update(run.diagnoses)
    if len(runs) == 1:
        out.environment = runs[0].environment
    else:
        out.environment = {"merged": len(runs)}
    if statuses - {RunStatus.COMPLETE}:
        out.status = RunStatus.INTERRUPTED if RunStatus.INTERRUPTED in statuses else RunStatus.RUNNING
    codes = [r.exit_status for r in runs if r.exit_status is not None]
    out.exit_status = max(codes) if codes else None
    return out


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write through a temporary file in the same directory, then rename over ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
