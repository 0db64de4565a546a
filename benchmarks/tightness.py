"""How tight the suite's bounds are: how much of each bound correct code uses, and how far past it mutants land.

    python benchmarks/tightness.py [--profile ci] [--seed S ...] [--max-examples N] [-n JOBS]
                                   [--sound NAME ...] [--mutant NAME ...] [-k EXPR] [--json PATH]

Every comparison of the suite records |candidate - oracle| / bound, and each property's results.json
entry keeps the largest (``bound_used``). This runs the suite on the sound set (correct
implementations, ``tests/sound``; the correct implementations of ``tests/test_seed_sweep.py`` where
that set does not exist) and on the mutant set (``tests/mutants``: each mutant in its catalogued dtype,
on the properties it must fail), then prints one row per property:

    worst sound usage    the largest bound used by correct code: how close it comes to the bound
    weakest catch ratio  the smallest bound used by a failing mutant (the largest ratio of its run, which
                         includes the failing comparison): how far past the bound the mildest mutant lands
    margin               weakest catch / worst sound: the bound could be loosened by the weakest catch
                         ratio before that mutant passes, or tightened by 1 / worst sound usage before
                         correct code fails (on these examples); the margin is the room between the two

A mutant caught by a crash or a structural assertion (not by a comparison) has no ratio and is counted
apart. Under the ``ci`` profile the mutants run without shrinking (tests/mutants/ci_without_shrinking.py,
as tests/test_mutants.py does): the same examples and verdicts, and the ratio is the first failing
example's. Each run is a subprocess writing results.json through ``--conformance-report-dir``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.report import model as results  # noqa: E402
from tests.mutants import CATALOG  # noqa: E402

DEFAULT_JSON = ROOT / "benchmarks" / "results" / "tightness.json"
NO_SHRINK = ["-p", "tests.mutants.ci_without_shrinking", "--hypothesis-profile=ci-without-shrinking"]


@dataclass(frozen=True)
class Job:
    """One subprocess run of the suite: one implementation in some dtypes, maybe restricted with -k."""

    kind: str  # "sound" or "mutant"
    name: str
    spec: str
    dtypes: tuple[str, ...]
    seed: int | None
    select: str | None = None


@dataclass
class Row:
    """One property's line of the table."""

    property_id: str
    sound: float | None = None  # the largest bound_used of a passing correct implementation
    sound_at: str = ""  # "subject: what"
    sound_failed: list[str] = field(default_factory=list)  # correct subjects that failed it (a suite bug)
    catch: float | None = None  # the smallest bound_used of a mutant failing it by a comparison
    catch_by: str = ""
    catches: dict[str, float] = field(default_factory=dict)  # mutant: its smallest ratio over seeds
    other_catches: list[str] = field(default_factory=list)  # mutants caught by a crash or an assertion
    missed: list[str] = field(default_factory=list)  # mutants that should fail it and did not

    @property
    def margin(self) -> float | None:
        if self.catch is None or self.sound is None:
            return None
        return math.inf if self.sound == 0 else self.catch / self.sound


def sound_set() -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, spec, dtypes) of the correct implementations: tests/sound, else the seed sweep's."""
    try:
        from tests.sound import SOUND
    except ImportError:
        from tests.test_seed_sweep import IMPLS

        return [(spec, spec, ("float32", "float64")) for spec in IMPLS]
    return [(s.name, s.spec, tuple(s.dtypes)) for s in SOUND]


def mutant_selection(fails, dtype: str) -> str:
    """The -k expression of tests/test_mutants.py: the mutant's properties in its dtype."""
    return "(" + " or ".join(f"test_{p}" for p in sorted(fails)) + f") and {dtype}]"


def command(job: Job, args, report_dir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider", "-q",
           f"--impl={job.spec}", *(f"--dtype={d}" for d in job.dtypes), f"--conformance-report-dir={report_dir}"]
    if job.kind == "mutant" and args.profile == "ci":
        cmd += NO_SHRINK
    else:
        cmd.append(f"--hypothesis-profile={args.profile}")
    if job.seed is not None:
        cmd.append(f"--hypothesis-seed={job.seed}")
    if args.max_examples is not None:
        cmd.append(f"--max-examples={args.max_examples}")
    select = " and ".join(f"({k})" for k in (job.select, args.k) if k)
    return cmd + (["-k", select] if select else [])


def run(job: Job, args) -> results.Run | None:
    """Run the suite for ``job`` in a scratch directory; its results, or None when it wrote none."""
    with tempfile.TemporaryDirectory(prefix="bn-tightness-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        proc = subprocess.run(command(job, args, Path(tmp, "reports")), cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=args.timeout, check=False)
        path = Path(tmp, "reports", "results.json")
        if not path.exists():
            tail = (proc.stdout + proc.stderr).strip()[-1500:]
            print(f"{job.kind} {job.name} (seed {job.seed}): no results (exit {proc.returncode}):\n{tail}",
                  file=sys.stderr)
            return None
        return results.load(path)


def jobs(args) -> list[Job]:
    seeds = args.seed or [None]
    sound = [(n, s, tuple(d for d in ds if not args.dtype or d in args.dtype)) for n, s, ds in sound_set()
             if not args.sound or n in args.sound]
    mutants = [m for m in CATALOG
               if (not args.mutant or m.name in args.mutant) and (not args.dtype or m.dtype in args.dtype)]
    out = [Job("sound", n, spec, ds, seed) for n, spec, ds in sound if ds and not args.no_sound for seed in seeds]
    out += [Job("mutant", m.name, m.spec, (m.dtype,), seed, mutant_selection(m.fails, m.dtype))
            for m in mutants if not args.no_mutants for seed in seeds]
    return out


def add_sound(rows: dict[str, Row], job: Job, run: results.Run) -> None:
    for r in run.results:
        if r.dtype not in job.dtypes:
            continue
        row = rows.setdefault(r.property_id, Row(r.property_id))
        if r.outcome in results.FAILING:
            row.sound_failed.append(f"{job.name}-{r.dtype}")
        elif r.outcome == "passed" and r.bound_used is not None and (row.sound is None or r.bound_used > row.sound):
            row.sound, row.sound_at = r.bound_used, f"{job.name}-{r.dtype}: {r.bound_used_by}"


def add_mutant(rows: dict[str, Row], job: Job, run: results.Run) -> None:
    fails = next(m.fails for m in CATALOG if m.name == job.name)
    seen = {r.property_id: r for r in run.results if r.dtype in job.dtypes}
    for p in fails:
        r = seen.get(p)
        if r is None:  # not selected (-k)
            continue
        row = rows.setdefault(p, Row(p))
        if r.outcome != "failed":
            row.missed.append(job.name)
        elif r.failure is not None and r.failure.kind == "mismatch" and r.bound_used is not None:
            ratio = min(r.bound_used, row.catches.get(job.name, math.inf))
            row.catches[job.name] = ratio
            if row.catch is None or ratio < row.catch:
                row.catch, row.catch_by = ratio, f"{job.name}: {r.bound_used_by}"
        else:
            row.other_catches.append(job.name)


def ratio_text(v: float | None) -> str:
    if v is None:
        return "-"
    return "inf" if math.isinf(v) else "0" if v == 0 else f"{v:.3g}"


def table(rows: dict[str, Row]) -> str:
    head = ("property", "worst sound usage", "weakest catch ratio", "margin", "weakest mutant", "notes")
    lines = [head]
    for p in sorted(rows):
        row = rows[p]
        sound = ratio_text(row.sound) + (f" ({len(row.sound_failed)} FAILED)" if row.sound_failed else "")
        notes = ", ".join(filter(None, [f"{len(row.other_catches)} by crash/assertion" if row.other_catches else "",
                                        f"MISSED by {', '.join(sorted(set(row.missed)))}" if row.missed else ""]))
        lines.append((p, sound, ratio_text(row.catch), ratio_text(row.margin), row.catch_by.split(":")[0], notes))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def to_json(args, rows: dict[str, Row]) -> dict:
    def plain(row: Row) -> dict:
        d = asdict(row)
        d["margin"] = row.margin
        for k in ("sound", "catch", "margin"):
            d[k] = results.encode_ratio(d[k])
        d["catches"] = {m: results.encode_ratio(v) for m, v in row.catches.items()}
        return d

    return {"profile": args.profile, "seeds": args.seed, "max_examples": args.max_examples, "k": args.k,
            "properties": [plain(rows[p]) for p in sorted(rows)]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="ci", help="Hypothesis profile of the suite (default: ci)")
    ap.add_argument("--seed", type=int, action="append", help="--hypothesis-seed; repeatable (default: derandomized)")
    ap.add_argument("--max-examples", type=int, default=None, help="examples per property (default: the profile's)")
    ap.add_argument("-n", "--jobs", type=int, default=2, help="runs at a time (default: 2)")
    ap.add_argument("--sound", action="append", help="sound implementations by name (default: all)")
    ap.add_argument("--mutant", action="append", help="mutants by catalog name (default: all)")
    ap.add_argument("--dtype", action="append", help="only these dtypes (default: each implementation's)")
    ap.add_argument("-k", default=None, help="a pytest -k expression restricting the properties")
    ap.add_argument("--no-sound", action="store_true", help="run the mutants only")
    ap.add_argument("--no-mutants", action="store_true", help="run the sound set only")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run (default: 3600)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where the data go (default: {DEFAULT_JSON})")
    args = ap.parse_args(argv)
    todo = jobs(args)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        done = list(pool.map(lambda job: run(job, args), todo))
    rows: dict[str, Row] = {}
    for job, r in zip(todo, done):
        if r is not None:
            (add_sound if job.kind == "sound" else add_mutant)(rows, job, r)
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results.json_safe(to_json(args, rows)), indent=1))
    print(f"\n{len(todo)} runs; data in {args.json}")
    return 1 if any(None is r for r in done) else 0


if __name__ == "__main__":
    sys.exit(main())
