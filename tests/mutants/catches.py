"""What counts as catching a mutant, one run of the suite on a mutant, and the committed catch rates.

A property *catches* a mutant when it failed with a failure whose kind (``Failure.kind``,
conformance/results.py) shows the bug: ``mismatch``, a comparison with data that went past its
bound, or ``assertion``, a check of the semantics (a state, a dtype, the ValueError a candidate
must raise: the check mutants of ``checks.py`` fail so). A ``crash`` (the candidate raised, or
broke the calling contract) or an ``error`` (the test could not run, or ended in something that is
not an assertion: a health check, a timeout) fails the property without showing the bug, so it is
no catch: a mutant that crashes on some input would otherwise be "caught" by every property that
draws that input.

``catch_rates.json``, next to this module, is written by ``benchmarks/catch_rate.py`` (see
``REGENERATE``): for each mutant and each property it lists (``fails`` and ``weak``), what the
property saw under each random seed of the ci profile without shrinking::

    {"schema": "batchnorm-conformance/catch-rates/1",
     "profile": "ci-without-shrinking", "max_examples": 100, "seeds": [1, ..., 10],
     "catch_kinds": ["assertion", "mismatch"], "updated": "<UTC time>",
     "mutants": {"<mutant>": {"dtype": "float64", "measured": "<UTC time>",
                              "commit": "<git HEAD>", "dirty": <uncommitted changes to the suite>,
                              "properties": {"<property>": {"listed": "fails" | "weak",
                                                            "caught": [seeds], "missed": [seeds],
                                                            "by_seed": {"<seed>": "<what it saw>"}}}}}}

What a property saw is one word (``seen``): the failure's kind when it failed, else its outcome
(``passed``, ``skipped``, ...), or ``not run``. A pair is *weak* when some seed missed it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.report import model as results
from tests.mutants import Mutant
from tests.suite_runs import describe, run_suite

CATCH_KINDS = frozenset({"mismatch", "assertion"})
RATES = Path(__file__).with_name("catch_rates.json")
SCHEMA = "batchnorm-conformance/catch-rates/1"
PROFILE = "ci-without-shrinking"
PROFILE_ARGS = ["-p", "tests.mutants.ci_without_shrinking", f"--hypothesis-profile={PROFILE}"]
SEEDS = 10  # a pair caught under fewer than all of them is weak
CI_EXAMPLES = 100  # the ci profile's max_examples (conformance/profiles.py): what tests/test_mutants.py runs
REGENERATE = f"python benchmarks/catch_rate.py --seeds {SEEDS} --max-examples {CI_EXAMPLES} -n 2"
NOT_RUN = "not run"


def selection(properties: Iterable[str], dtype: str) -> str:
    """The -k expression for ``properties`` in ``dtype`` (``float64]`` ends the test id)."""
    return "(" + " or ".join(f"test_{p}" for p in sorted(properties)) + f") and {dtype}]"


def seen(result: results.PropertyResult | None) -> str:
    """One word for what a property did: its failure's kind when it failed, else its outcome."""
    if result is None:
        return NOT_RUN
    if result.outcome == "failed":
        return result.failure.kind if result.failure is not None else "failed"
    return result.outcome


def is_catch(word: str) -> bool:
    """Whether what a property saw (``seen``) catches a mutant: a failure that shows the bug."""
    return word in CATCH_KINDS


def run_mutant(mutant: Mutant, properties: Iterable[str], *, cwd: Path, seed: int | None = None,
               max_examples: int | None = None, timeout: float = 600,
               extra: tuple[str, ...] = ()) -> tuple[dict[str, str], str]:
    """Run the suite on ``mutant`` restricted to ``properties`` in its dtype, as tests/test_mutants.py does.

    Returns what each property saw (``seen``), and the run's output for a message.
    """
    properties = sorted(properties)
    report_dir = cwd / "reports"
    args = [f"--impl={mutant.spec}", f"--dtype={mutant.dtype}", *PROFILE_ARGS, "-q",
            f"--conformance-report-dir={report_dir}", "-k", selection(properties, mutant.dtype)]
    args += [f"--hypothesis-seed={seed}"] if seed is not None else []
    args += [f"--max-examples={max_examples}"] if max_examples is not None else []
    args += list(extra)
    try:
        proc = run_suite(args, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {p: NOT_RUN for p in properties}, f"the run took longer than {timeout:.0f} s"
    path = report_dir / "results.json"
    if not path.exists():
        return {p: NOT_RUN for p in properties}, f"no results (exit code {proc.returncode}):\n{describe(proc)}"
    found = {r.property_id: r for r in results.load(path).results if r.dtype == mutant.dtype}
    return {p: seen(found.get(p)) for p in properties}, describe(proc)


# --- the committed rates -----------------------------------------------------------------------


@dataclass(frozen=True)
class PairRate:
    """What one (mutant, property) pair saw under each seed."""

    mutant: str
    property_id: str
    listed: str  # "fails" or "weak": where the catalog listed the property when it was measured
    by_seed: dict[int, str]

    @property
    def caught(self) -> list[int]:
        return sorted(s for s, w in self.by_seed.items() if is_catch(w))

    @property
    def missed(self) -> list[int]:
        return sorted(s for s, w in self.by_seed.items() if not is_catch(w))

    @property
    def weak(self) -> bool:
        """Missed under some seed: a derandomized run may or may not catch the mutant with it."""
        return bool(self.missed)

    def to_dict(self) -> dict:
        return {"listed": self.listed, "caught": self.caught, "missed": self.missed,
                "by_seed": {str(s): self.by_seed[s] for s in sorted(self.by_seed)}}

    def line(self) -> str:
        """``  8/10  mutant: property  (missed: seed 3 passed, seed 7 crash)``."""
        misses = ", ".join(f"seed {s} {self.by_seed[s]}" for s in self.missed)
        rate = f"{len(self.caught)}/{len(self.by_seed)}"
        return f"{rate:>7}  {self.mutant}: {self.property_id}" + (f"  (missed: {misses})" if misses else "")


def load_rates(path: Path = RATES) -> dict | None:
    """The catch-rates file, or None where there is none."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a catch-rates file (schema {data.get('schema')!r})")
    return data


def pair_rates(data: dict) -> list[PairRate]:
    """Every pair of a catch-rates file, in its order."""
    return [PairRate(mutant, prop, entry.get("listed", ""), {int(s): w for s, w in entry["by_seed"].items()})
            for mutant, record in data.get("mutants", {}).items()
            for prop, entry in record.get("properties", {}).items()]


@dataclass
class WeakReport:
    """The weak pairs of a catch-rates file judged against the catalog as it is now."""

    weak: list[PairRate] = field(default_factory=list)  # missed under some seed, listed as weak (or not at all)
    listed_in_fails: list[PairRate] = field(default_factory=list)  # weak, yet in ``fails``: a catch left to luck
    sure_but_weak: list[PairRate] = field(default_factory=list)  # listed as weak, caught under every seed
    unmeasured: list[str] = field(default_factory=list)  # "mutant: property" of the catalog, not in the file
    stale: list[str] = field(default_factory=list)  # measured pairs the catalog no longer lists

    def lines(self) -> list[str]:
        """The report as text: one section per kind of finding that has any."""
        sections = [("weak pairs listed in `fails` (must move to `weak`)", [p.line() for p in self.listed_in_fails]),
                    ("weak pairs", [p.line() for p in self.weak]),
                    ("listed as weak, caught under every seed (may move to `fails`)",
                     [p.line() for p in self.sure_but_weak]),
                    ("not measured (python benchmarks/catch_rate.py --mutant NAME)",
                     [f"  {u}" for u in self.unmeasured]),
                    ("measured, no longer in the catalog", [f"  {s}" for s in self.stale])]
        out = []
        for title, body in sections:
            if body:
                out += [f"{title}:", *body]
        return out or ["no weak pairs"]


def weak_report(pairs: list[PairRate], catalog: Iterable[Mutant]) -> WeakReport:
    """Sort measured pairs against the catalog's ``fails`` and ``weak`` lists."""
    listed = {(m.name, p): kind for m in catalog for kind, props in (("fails", m.fails), ("weak", m.weak))
              for p in sorted(props)}
    measured = {(r.mutant, r.property_id): r for r in pairs}
    report = WeakReport()
    for key, r in measured.items():
        kind = listed.get(key)
        if kind is None:
            report.stale.append(f"{r.mutant}: {r.property_id}")
        if r.weak and kind == "fails":
            report.listed_in_fails.append(r)
        elif r.weak:
            report.weak.append(r)
        elif kind == "weak":
            report.sure_but_weak.append(r)
    report.unmeasured = [f"{m}: {p}" for (m, p) in listed if (m, p) not in measured]
    return report
