"""The conformance matrix: the suite run over every installed implementation, one table.

    python -m conformance.report matrix [--impl NAME]... [--profile ci] [--out reports] [--jobs N]
                                        [--max-examples N] [--no-run] [--update-readme [README.md]]

Each implementation (every name registered under the entry-point group
``batchnorm_conformance.impls``, or the ``--impl`` names) runs in a subprocess of its own:

    python -m pytest --pyargs conformance --impl=NAME --hypothesis-profile=PROFILE
                     -p no:cacheprovider --conformance-report-dir=OUT/matrix-runs/NAME -q

(its log beside its results, in ``pytest.log``). An implementation that cannot run here (a
framework not installed, no GPU) is skipped by the suite with its reason, which the table
shows. The runs' results.json files merge (``conformance.report.model.merge``) into
``OUT/matrix.html`` and ``OUT/matrix.json``, and into ``OUT/matrix.md``: a row per
implementation with the version of what it runs, per dtype CONFORMS, N deviations (N
properties failed) or n/a, and the deviations named by the diagnosis catalog.
``--update-readme`` puts that table in README.md between ``<!-- matrix:start -->`` and
``<!-- matrix:end -->``; ``--no-run`` rebuilds all of it from the results an earlier run
left in OUT.

The version column is what each run recorded of its implementation (the factory's
``conformance_framework``, else the distribution that holds the factory's module).

Exit status 0 when the matrix was written (a deviation is a finding, not an error); 2 on a
usage error (an unknown name, a README without the markers) or when no run produced results.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path

from conformance.report import html as report_html
from conformance.report import model as results
from conformance.report.model import DiagnosisStatus, Outcome, Verdict
from conformance.spec.dtypes import CORE
from conformance.strategies.profiles import PROFILES

GROUP = "batchnorm_conformance.impls"  # the entry-point group implementations register under (pyproject.toml)

START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"
RUNS = "matrix-runs"


class UsageError(Exception):
    pass


# --- running ------------------------------------------------------------------------------


def command(name: str, profile: str, report_dir: Path, max_examples: int | None = None) -> list[str]:
    """The pytest command line that checks one implementation."""
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", f"--impl={name}",
           f"--hypothesis-profile={profile}", "-p", "no:cacheprovider", f"--conformance-report-dir={report_dir}", "-q"]
    if max_examples is not None:
        cmd += ["--max-examples", str(max_examples)]
    return cmd


def run_one(name: str, profile: str, out: Path, max_examples: int | None = None) -> dict:
    """Run the suite on ``name``; what came of it: exit code, seconds, results (or None)."""
    where = out / RUNS / _dirname(name)
    for stale in ("results.json", "report.html", "junit.xml", "pytest.log"):
        (where / stale).unlink(missing_ok=True)
    where.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(where / "pytest.log", "w", encoding="utf-8") as log:
        code = subprocess.call(command(name, profile, where.resolve(), max_examples), stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    run, error = None, None
    try:
        run = results.load(where / "results.json")
    except ValueError:
        tail = [line for line in (where / "pytest.log").read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip()][-1:] or ["no output"]
        error = f"the run produced no results (exit {code}): {tail[0]}"
    return {"name": name, "exit": code, "seconds": seconds, "run": run, "error": error,
            "file": str(where / "results.json")}


def reuse_one(name: str, out: Path) -> dict:
    """What an earlier run of ``name`` left under ``out`` (``--no-run``)."""
    where = out / RUNS / _dirname(name)
    run, error = None, None
    try:
        run = results.load(where / "results.json")
    except ValueError as e:
        error = f"no earlier results: {e}"
    return {"name": name, "exit": run.exit_status if run else None, "seconds": 0.0, "run": run, "error": error,
            "file": str(where / "results.json")}


def _dirname(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# --- the table -----------------------------------------------------------------------------------


def cell(run: results.Run, subject: str) -> str:
    """CONFORMS, "N deviations" (N properties failed), n/a, or skipped."""
    mine = [r for r in run.results if r.subject == subject]
    if not mine:
        return "—"
    failing = sum(r.outcome in results.FAILING for r in mine)
    if failing:
        return f"{failing} deviation{'s' if failing > 1 else ''}"
    if run.verdict(subject) is Verdict.CONFORMS:
        return str(Verdict.CONFORMS)
    known = sum(r.outcome == Outcome.KNOWN_DEVIATION for r in mine)
    if known:
        return Verdict.CONFORMS_WITH_KNOWN_DEVIATIONS.counted(known)
    return "n/a" if all(r.outcome == Outcome.NOT_APPLICABLE for r in mine) else "skipped"


def named(run: results.Run, subjects: list[str]) -> str:
    """The deviations the diagnosis named, each with the dtypes where it was seen if not all."""
    failing = [s for s in subjects if s in run.diagnoses]
    seen: dict[str, list[str]] = {}
    others = []
    for s in failing:
        d, dtype = run.diagnoses[s], s.rsplit("-", 1)[1]
        for label in _by_aspect(d):
            seen.setdefault(label, []).append(dtype)
        if d.status != DiagnosisStatus.MATCHED:
            others.append(f"{dtype}: {d.status.value.replace('_', ' ')}" + (f" ({d.verdict})" if d.status in (
                DiagnosisStatus.PROBE_CRASHED, DiagnosisStatus.NOT_RUN) else ""))
    parts = [n + ("" if len(dtypes) == len(failing) else f" ({', '.join(dtypes)})")
             for n, dtypes in seen.items()]
    return ", ".join(parts + others)


def _by_aspect(d: results.Diagnosis) -> list[str]:
    """``aspect: `entry` `` for each named aspect (``aspect: deviates`` outside the catalog); the entries alone
    for a diagnosis written before aspects."""
    if not d.aspects:
        return [f"`{x['name']}`" for x in d.deviations]
    out = []
    for a in d.aspects:
        if a.get("status") in ("matched", "ambiguous"):  # matched: all of them; ambiguous: one of them
            joint = " or " if a["status"] == "ambiguous" else " + "
            out.append(f"{a['aspect']}: " + joint.join(f"`{n}`" for n in a.get("entries", [])))
        elif a.get("status") in ("deviates", "unsupported"):
            out.append(f"{a['aspect']}: {a['status']}")
    return out


def markdown(outcomes: list[dict], versions: dict[str, str], profile: str) -> str:
    env: dict = next((o["run"].environment for o in outcomes if o["run"] is not None), {})
    packages = env.get("packages", {})
    stack = ", ".join(f"{k} {packages[k]}" for k in ("torch", "numpy", "hypothesis") if k in packages)
    examples = env.get("max_examples")
    how = f"{examples} examples per property" + (", derandomized" if env.get("derandomize") else "")
    lines = [
        f"Produced by `python -m conformance.report matrix` on {datetime.now(timezone.utc).date().isoformat()}, "
        f"profile `{env.get('profile', profile)}` ({how}); Python {env.get('python', '?')}, {stack}.",
        "",
        "| implementation | runs | " + " | ".join(CORE) + " | deviations named by the diagnosis |",
        "|---|---|" + "---|" * len(CORE) + "---|",
    ]
    for o in outcomes:
        name, run = o["name"], o["run"]
        subjects = [f"{name}-{d}" for d in CORE]
        if run is None:
            cells, note = ["error"] * len(CORE), o["error"]
        else:
            impl = run.implementations.get(name)
            if impl is not None and impl.unavailable:
                cells, note = ["skipped"] * len(CORE), f"not run: {impl.unavailable}"
            else:
                cells, note = [cell(run, s) for s in subjects], named(run, subjects)
        lines.append(f"| `{name}` | {versions.get(name, '')} | " + " | ".join(cells) + f" | {_escape(note)} |")
    lines += ["", "N deviations: N properties failed; n/a: not declared by the implementation "
              "(`conformance_dtypes`). Deviations are listed by aspect of the semantics, each with the entries of "
              "the diagnosis catalog that reproduce it (`conformance/diagnosis/catalog.py`), or `deviates` where "
              "none does."]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def update_readme(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    results.write_text_atomic(path, f"{head}{START}\n{table}{END}{tail}")


def _check_markers(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--update-readme: cannot read {path}: {e}") from None
    start = text.find(START)
    if start < 0 or text.find(END, start) < 0:
        raise UsageError(f"--update-readme: {path} has no {START} ... {END} markers")


# --- the command ------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", action="append", metavar="NAME",
                        help="only these implementations (repeatable; default: every registered name)")
    parser.add_argument("--profile", default="ci", help="Hypothesis profile: " + ", ".join(PROFILES)
                        + " (default: %(default)s, derandomized)")
    parser.add_argument("--max-examples", type=int, metavar="N", help="examples per property (overrides the profile)")
    parser.add_argument("--out", default="reports", type=Path, help="where the matrix goes (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="implementations run at once (default: 1)")
    parser.add_argument("--no-run", action="store_true",
                        help="run nothing: rebuild the matrix from the results an earlier run left in OUT")
    parser.add_argument("--update-readme", nargs="?", const=Path("README.md"), type=Path, metavar="README",
                        help="put the table in README (default README.md) between the matrix markers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.report matrix", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    try:
        names = _names(args.impl)
        if args.profile not in PROFILES:
            raise UsageError(f"--profile={args.profile}: not one of {', '.join(PROFILES)}")
        if args.jobs < 1 or (args.max_examples is not None and args.max_examples < 1):
            raise UsageError("--jobs and --max-examples must be at least 1")
        if args.update_readme is not None:
            _check_markers(args.update_readme)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    started = time.monotonic()
    if args.no_run:
        outcomes = [reuse_one(n, args.out) for n in names]
    else:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(pool.map(lambda n: run_one(n, args.profile, args.out, args.max_examples), names))
    for o in outcomes:
        state = "no results" if o["run"] is None else f"exit {o['exit']}"
        print(f"{o['name']}: {state}, {o['seconds']:.0f} s")
    done = [o for o in outcomes if o["run"] is not None]
    if not done:
        print("error: no run produced results; see the pytest.log files under "
              f"{args.out / RUNS}", file=sys.stderr)
        return 2
    merged = results.merge([o["run"] for o in done], [o["file"] for o in done])
    report_html.write(merged, args.out / "matrix.html", title="BatchNorm1d conformance matrix")
    merged.write(args.out / "matrix.json")
    table = markdown(outcomes, {n: _framework(o["run"], n) for n, o in zip(names, outcomes)}, args.profile)
    results.write_text_atomic(args.out / "matrix.md", table)
    if args.update_readme is not None:
        update_readme(args.update_readme, table)
    print(f"{args.out / 'matrix.md'}, {args.out / 'matrix.html'}: {len(names)} implementations in "
          f"{time.monotonic() - started:.0f} s" + (f"; {args.update_readme} updated" if args.update_readme else ""))
    return 0


def _framework(run: results.Run | None, name: str) -> str:
    """The version of what the implementation runs, as its run recorded it."""
    info = run.implementations.get(name) if run is not None else None
    return (info.framework or "") if info is not None else ""


def registered() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def _names(given: list[str] | None) -> list[str]:
    known = registered()
    if not given:
        return sorted(known)
    unknown = [n for n in given if n not in known and ":" not in n]
    if unknown:
        raise UsageError(f"--impl: unknown implementation {', '.join(unknown)}; registered: {', '.join(known)}")
    return list(dict.fromkeys(given))

