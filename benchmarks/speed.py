"""How fast the conformance suite is: measured side by side in one run. The one entry point.

    python benchmarks/speed.py                                  # everything: about 6 minutes on 2 cores
    python benchmarks/speed.py --impl numpy --mutants 9 --skip-speedup
    python benchmarks/speed.py --skip-wall --skip-ttff --dist load --dist worksteal
    python benchmarks/speed.py --skip-wall --skip-speedup --compare-order   # ttff with and without ordering.py
    python benchmarks/speed.py --env OMP_NUM_THREADS=1 --wait-quiet 120     # an env var; a shared machine
    python benchmarks/speed.py --json /tmp/speed.json -- --isolation=none   # after --: to every pytest run

Every number comes from a fresh ``python -m pytest --pyargs conformance --hypothesis-profile=ci
-p no:cacheprovider`` subprocess with CI=true, run one at a time from a scratch directory, the
repository root on PYTHONPATH (so this working tree is what runs, and ``tests.mutants`` specs
import), reports written to the scratch directory, and the plugin ``benchmarks/_speed_timing.py``
noting when properties start and fail. Interpreter start, imports and collection are included:
it is what a user waits for. PYTHONDONTWRITEBYTECODE is removed from the runs' environment: a CI
job and a user's second run start with bytecode caches, pytest's rewritten modules included
(without them every process, each pytest-xdist worker too, spends about 0.5 s more starting).

  wall      per implementation (--impl; numpy, torch, mine): wall seconds of a serial run, the CPU
            seconds it used (user + sys, the candidate's isolation process included), the start-up
            (process start to the first property) and the properties' time, and examples per second:
            the Hypothesis examples tried (the results model, results.json) over the wall time.
  ttff      per bundled mutant (tests/mutants CATALOG, --mutants N of them, spread over the catalog):
            the whole suite on the mutant with -x, in the default dtypes plus the mutant's own.
            found: first property start -> the first failing example found (Hypothesis starts
            shrinking); reported: first property start -> the first failing property reported (its
            shrinking done: what -x stops on and the terminal shows). From process start: add start-up.
            The suite's own order (conformance/ordering.py); --compare-order adds pytest's alphabetical one.
  speedup   the same implementation serial and with -n 2 (pytest-xdist), back to back, per --dist mode.

Targets (PASS/MISS): every implementation under 30 s serial; median time to first failure
(reported) under 3 s; -n 2 speedup at least 1.7x. The machine's load average (and, with
--wait-quiet, the CPU share others used just before) is recorded with every run: on a shared
machine compare the CPU seconds too, and only numbers measured in the same run with each other.

The numbers go to benchmarks/results/latest.json (--json PATH). ``benchmarks/ci_wall_time.py``
is the wall section alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH / "results" / "latest.json"
TARGETS = {"wall_s": 30.0, "ttff_median_s": 3.0, "speedup": 1.7}


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def busy_fraction(interval: float = 1.0) -> float | None:
    """The fraction of all CPUs in use over ``interval`` seconds (Linux /proc/stat), or None."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total

    try:
        i0, t0 = read()
        time.sleep(interval)
        i1, t1 = read()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


QUIET = {"wait_s": 0.0, "threshold": 0.15}
ENV: dict[str, str] = {}  # --env NAME=VALUE, for every run


def wait_until_quiet() -> float | None:
    """With --wait-quiet: wait (at most that long) until other processes use under 15% of the CPUs."""
    deadline = time.time() + QUIET["wait_s"]
    busy = busy_fraction(0.5) if QUIET["wait_s"] else None
    while busy is not None and busy > QUIET["threshold"] and time.time() < deadline:
        busy = busy_fraction(2.0)
    return busy


def run_pytest(args: list[str], extra: list[str], *, timeout: float) -> dict:
    """One fresh pytest run of the suite; its wall and CPU seconds, timing marks, examples and exit code."""
    with tempfile.TemporaryDirectory(prefix="bn-speed-") as tmp:
        timing = Path(tmp, "timing.json")
        env = dict(os.environ)
        for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
            env.pop(name, None)
        env["CI"] = "true"
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # CI and a user's second run have bytecode caches (see the docstring)
        env.update(ENV)
        env["BN_SPEED_TIMING"] = str(timing)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(BENCH)]
                                            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "--hypothesis-profile=ci", "-q",
               "-p", "no:cacheprovider", "-p", "_speed_timing", f"--conformance-report-dir={tmp}", *args, *extra]
        busy = wait_until_quiet()
        load = os.getloadavg()[0]
        cpu0, t0 = _cpu_children(), time.time()
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
            code = proc.returncode
            tail = "" if code == 0 else (proc.stdout + proc.stderr)[-20000:]  # a failure's report in full
        except subprocess.TimeoutExpired:
            code, tail = "timeout", ""
        t1, cpu1 = time.time(), _cpu_children()
        marks = json.loads(timing.read_text()) if timing.exists() else {}
        workers = {w.suffix[1:]: json.loads(w.read_text()) for w in sorted(Path(tmp).glob("timing.json.gw*"))}
        examples, properties = 0, 0
        results = Path(tmp, "results.json")
        if results.exists():
            data = json.loads(results.read_text())
            examples = sum((r.get("examples") or {}).get("tried", 0) for r in data.get("results", []))
            properties = len(data.get("results", []))
    first = marks.get("first_start")

    def since_first(key):
        return marks[key] - first if first and marks.get(key) else None

    return {
        "args": args + extra, "exit": code, "wall_s": t1 - t0, "cpu_s": cpu1 - cpu0, "load_1min": load,
        "busy_before": busy,
        "startup_s": first - t0 if first else None, "properties_s": since_first("session_finish"),
        "first_failure_found_s": since_first("first_failure_found"), "first_failure_s": since_first("first_failure"),
        "first_failure_nodeid": marks.get("first_failure_nodeid"),
        "tests": properties, "examples": examples, "output_tail": tail,
        "failed": [t["nodeid"] for m in [marks, *workers.values()] for t in m.get("tests", [])
                   if t["outcome"] == "failed"],
        "workers": {w: {"startup_s": m["first_start"] - t0 if m.get("first_start") else None,
                        "busy_s": sum(t["duration"] for t in m["tests"]),
                        "finished_s": m["session_finish"] - t0 if m.get("session_finish") else None}
                    for w, m in workers.items()},
    }


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def fmt(v, spec=".1f", none="-") -> str:
    return none if v is None else format(v, spec)


def section_wall(impls, repeat, extra, timeout) -> list[dict]:
    print("\n== wall time per implementation: serial, ci profile, CI=true ==")
    print(f"{'implementation':<16}{'wall s':>8}{'cpu s':>8}{'start s':>9}{'props s':>9}{'tests':>7}"
          f"{'examples':>10}{'ex/s':>7}{'load':>6}  verdict")
    rows = []
    for impl in impls:
        runs = [run_pytest([f"--impl={impl}"], extra, timeout=timeout) for _ in range(repeat)]
        r = dict(median_run(runs), impl=impl, runs=[x["wall_s"] for x in runs])
        r["examples_per_s"] = r["examples"] / r["wall_s"] if r["wall_s"] else 0.0
        r["not_passed"] = [x for x in runs if x["exit"] != 0]  # kept whole in the JSON, output included
        verdicts = sorted({{0: "conforms", 1: "does not conform"}.get(x["exit"], f"exit {x['exit']}") for x in runs})
        print(f"{impl:<16}{r['wall_s']:>8.1f}{r['cpu_s']:>8.1f}{fmt(r['startup_s']):>9}{fmt(r['properties_s']):>9}"
              f"{r['tests']:>7}{r['examples']:>10}{r['examples_per_s']:>7.0f}{r['load_1min']:>6.1f}  "
              f"{' / '.join(verdicts)}")
        for i, x in enumerate(runs, 1):  # every run that did not pass, the median or not: what it said
            if x["exit"] != 0:
                print(f"    run {i} of {repeat}: exit {x['exit']}")
                for nodeid in x["failed"]:
                    print(f"    failed: {nodeid}")
                print("    " + x["output_tail"].strip().replace("\n", "\n    ")[-1500:])
        rows.append(r)
    return rows


def pick_mutants(n: int | None, names: list[str] | None):
    sys.path.insert(0, str(ROOT))
    from tests.mutants import CATALOG

    if names:
        unknown = set(names) - {m.name for m in CATALOG}
        if unknown:
            raise SystemExit(f"unknown mutants: {', '.join(sorted(unknown))}")
        return [m for m in CATALOG if m.name in names]
    if n is None or n >= len(CATALOG):
        return list(CATALOG)
    step = len(CATALOG) / n  # spread over the catalog, which is grouped by area
    return [CATALOG[int(i * step)] for i in range(n)]


UNORDERED = ["-p", "_speed_unordered"]


def _ttff_summary(rows) -> dict:
    reported = [r["first_failure_s"] if r["caught"] else math.inf for r in rows]
    found = [r["first_failure_found_s"] if r["caught"] and r["first_failure_found_s"] is not None else math.inf
             for r in rows]
    from_start = [r["first_failure_s"] + r["startup_s"] if r["caught"] else math.inf for r in rows]
    return {"mutants": len(rows), "caught": sum(r["caught"] for r in rows),
            "reported_median_s": statistics.median(reported), "reported_max_s": max(reported),
            "found_median_s": statistics.median(found), "found_max_s": max(found),
            "from_process_start_median_s": statistics.median(from_start),
            "from_process_start_max_s": max(from_start)}


def section_ttff(mutants, extra, timeout, variants) -> dict:
    """Each mutant under each variant (name, extra pytest args), side by side."""
    print(f"\n== time to first failure: {len(mutants)} bundled mutants, whole suite, ci profile, -x ==")
    print("found: a failing example found; reported: the failing property reported (shrunk); from the first property")
    head = "".join(f"{f'found {v}':>{max(9, len(v) + 7)}}{f'reported {v}':>{max(12, len(v) + 10)}}"
                   for v, _ in variants)
    print(f"{'mutant':<40}{head}{'start s':>9}  first failing property ({variants[-1][0]})")
    runs = {v: [] for v, _ in variants}
    for m in mutants:
        dtypes = ["float32", "float64"] + ([m.dtype] if m.dtype not in ("float32", "float64") else [])
        line = f"{m.name:<40}"
        for v, args in variants:
            r = run_pytest([f"--impl={m.spec}", "-x", *(f"--dtype={d}" for d in dtypes), *args], extra, timeout=timeout)
            r.update(mutant=m.name, caught=r["exit"] == 1 and r["first_failure_s"] is not None)
            runs[v].append(r)
            line += (f"{fmt(r['first_failure_found_s'], '.2f'):>{max(9, len(v) + 7)}}"
                     f"{fmt(r['first_failure_s'], '.2f') if r['caught'] else 'MISSED':>{max(12, len(v) + 10)}}")
        prop = (r["first_failure_nodeid"] or "").split("::")[-1].split("[")[0] if r["caught"] else f"exit {r['exit']}"
        print(f"{line}{fmt(r['startup_s'], '.2f'):>9}  {prop}")
    out = {}
    for stat in ("median", "max"):
        line = f"{stat:<40}"
        for v, _ in variants:
            sm = out.setdefault(v, {"summary": _ttff_summary(runs[v]), "runs": runs[v]})["summary"]
            line += (f"{sm[f'found_{stat}_s']:>{max(9, len(v) + 7)}.2f}"
                     f"{sm[f'reported_{stat}_s']:>{max(12, len(v) + 10)}.2f}")
        print(line + "   from process start: " + ", ".join(
            f"{v} {out[v]['summary'][f'from_process_start_{stat}_s']:.2f}" for v, _ in variants))
    return out


def section_speedup(impls, modes, workers, extra, timeout) -> list[dict]:
    rows = []
    for impl, mode in ((i, m) for i in impls for m in modes):
        if not rows or rows[-1]["impl"] != impl:
            print(f"\n== -n {workers} (pytest-xdist) vs serial: --impl={impl}, back to back ==")
            print(f"{'dist':<12}{'serial s':>10}{f'-n {workers} s':>10}{'speedup':>9}{'cpu serial':>12}"
                  f"{f'cpu -n {workers}':>10}{'load':>6}")
        serial = run_pytest([f"--impl={impl}"], extra, timeout=timeout)
        par = run_pytest([f"--impl={impl}", "-n", str(workers), f"--dist={mode}"], extra, timeout=timeout)
        speedup = serial["wall_s"] / par["wall_s"] if par["wall_s"] and par["exit"] in (0, 1) else 0.0
        print(f"{mode:<12}{serial['wall_s']:>10.1f}{par['wall_s']:>10.1f}{speedup:>8.2f}x{serial['cpu_s']:>12.1f}"
              f"{par['cpu_s']:>10.1f}{par['load_1min']:>6.1f}")
        for w, m in sorted(par["workers"].items()):
            print(f"    {w}: first property at {fmt(m['startup_s'])} s, properties {m['busy_s']:.1f} s, "
                  f"done at {fmt(m['finished_s'])} s")
        if par["output_tail"] and par["exit"] not in (0, 1):
            print("    " + par["output_tail"].strip().replace("\n", "\n    ")[-800:])
        rows.append({"impl": impl, "dist": mode, "workers": workers, "serial": serial, "parallel": par,
                     "speedup": speedup})
    return rows


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("hypothesis", "numpy", "pytest", "pytest-xdist", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def git_state() -> dict:
    def git(*a):
        p = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else None

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", action="append",
                    help="implementations for the wall section (default: numpy, torch, mine)")
    ap.add_argument("--repeat", type=int, default=1, help="serial runs per implementation; the median is reported")
    ap.add_argument("--mutants", type=int, default=None, metavar="N", help="time N mutants, spread over the catalog "
                    "(default: all 45; 0 skips the section)")
    ap.add_argument("--mutant", action="append", metavar="NAME", help="time these mutants (catalog names)")
    ap.add_argument("--speedup-impl", action="append", help="implementations for the -n 2 comparison (default: numpy)")
    ap.add_argument("--dist", action="append", help="pytest-xdist --dist modes to compare (default: load)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--compare-order", action="store_true", help="time to first failure also in pytest's own order "
                    "(conformance/ordering.py undone by benchmarks/_speed_unordered.py), side by side")
    ap.add_argument("--skip-wall", action="store_true")
    ap.add_argument("--skip-ttff", action="store_true")
    ap.add_argument("--skip-speedup", action="store_true")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="set in every run's environment, e.g. OMP_NUM_THREADS=1 (repeatable)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S", help="on a shared machine: before each run, "
                    "wait up to S seconds for other processes to use under 15%% of the CPUs (default: do not wait)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where the numbers go (default: {DEFAULT_JSON})")
    args = ap.parse_args(argv)
    QUIET["wait_s"] = args.wait_quiet
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            ap.error(f"--env {item}: expected NAME=VALUE")
        ENV[name] = value

    out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "load_1min_at_start": os.getloadavg()[0]}, "versions": versions(), "git": git_state(),
        "pytest_extra_args": extra, "env": ENV, "targets": TARGETS}
    print(f"batchnorm-conformance speed, {out['date']}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
          + (f", extra pytest args: {' '.join(extra)}" if extra else "")
          + (f", env: {' '.join(f'{k}={v}' for k, v in ENV.items())}" if ENV else ""))
    verdicts = []
    if not args.skip_wall:
        out["wall"] = section_wall(args.impl or ["numpy", "torch", "mine"], args.repeat, extra, args.timeout)
        worst = max(r["wall_s"] for r in out["wall"])
        verdicts.append((f"serial ci wall under {TARGETS['wall_s']:.0f} s per implementation", f"worst {worst:.1f} s",
                         worst < TARGETS["wall_s"]))
    mutants = [] if args.skip_ttff or args.mutants == 0 else pick_mutants(args.mutants, args.mutant)
    if mutants:
        variants = [("as-is", [])] + ([("pytest-order", UNORDERED)] if args.compare_order else [])
        out["ttff"] = section_ttff(mutants, extra, args.timeout, variants)
        for v, _ in variants:
            s = out["ttff"][v]["summary"]
            verdicts.append((f"median time to first failure under {TARGETS['ttff_median_s']:.0f} s ({v})",
                             f"median {s['reported_median_s']:.2f} s, max {s['reported_max_s']:.2f} s; "
                             f"{s['caught']}/{s['mutants']} caught", s["reported_median_s"] < TARGETS["ttff_median_s"]))
    if not args.skip_speedup:
        out["speedup"] = section_speedup(args.speedup_impl or ["numpy"], args.dist or ["load"], args.workers, extra,
                                         args.timeout)
        impls = {r["impl"] for r in out["speedup"]}
        worst = min(max(r["speedup"] for r in out["speedup"] if r["impl"] == i) for i in impls)
        verdicts.append((f"-n {args.workers} speedup at least {TARGETS['speedup']}x "
                         "(the best --dist per implementation)",
                         ", ".join(f"{r['impl']} {r['dist']} {r['speedup']:.2f}x" for r in out["speedup"]),
                         worst >= TARGETS["speedup"]))
    out["machine"]["load_1min_at_end"] = os.getloadavg()[0]
    out["verdicts"] = [{"target": t, "measured": m, "pass": ok} for t, m, ok in verdicts]
    if verdicts:
        print("\n== targets ==")
        for t, m, ok in verdicts:
            print(f"{'PASS' if ok else 'MISS'}  {t}: {m}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"\nnumbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
