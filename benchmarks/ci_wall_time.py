"""Wall time of the `ci` profile per implementation, measured side by side in one run.

    python benchmarks/ci_wall_time.py [--impl numpy --impl torch ...] [--repeat 1]

Each run is a fresh `pytest --pyargs conformance --impl=NAME --hypothesis-profile=ci`
subprocess (interpreter start and collection included: what a user waits for).
Prints wall seconds, properties run, Hypothesis examples per second, and the verdict.
"""

from __future__ import annotations

import argparse
import os
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET


def run_once(impl: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "results.xml")
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", f"--impl={impl}", "--hypothesis-profile=ci",
               "-q", "-p", "no:cacheprovider", f"--conformance-report-dir={tmp}", f"--junitxml={xml}", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        tests = 0
        if os.path.exists(xml):
            suite = ET.parse(xml).getroot().find("testsuite")
            tests = int(suite.get("tests", 0)) if suite is not None else 0
        examples = 0
        results = os.path.join(tmp, "results.json")
        if os.path.exists(results):  # examples tried per property, from the suite's own results model
            with open(results) as f:
                examples = sum((r.get("examples") or {}).get("tried", 0) for r in json.load(f)["results"])
    return {"impl": impl, "wall_s": wall, "properties": tests, "examples": examples, "exit": proc.returncode}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", action="append", help="implementations (default: numpy, torch, mine)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per implementation; the median is reported")
    ap.add_argument("--limit", type=float, default=60.0, help="target wall seconds per implementation")
    args, extra = ap.parse_known_args(argv)
    impls = args.impl or ["numpy", "torch", "mine"]
    print(f"{'implementation':<16}{'wall s':>9}{'tests':>7}{'examples':>10}{'ex/s':>8}  verdict")
    worst = 0.0
    for impl in impls:
        runs = sorted((run_once(impl, extra) for _ in range(args.repeat)), key=lambda r: r["wall_s"])
        r = runs[len(runs) // 2]
        worst = max(worst, r["wall_s"])
        rate = r["examples"] / r["wall_s"] if r["wall_s"] else 0.0
        verdict = {0: "conforms", 1: "does not conform"}.get(r["exit"], f"exit {r['exit']}")
        print(f"{impl:<16}{r['wall_s']:>9.1f}{r['properties']:>7}{r['examples']:>10}{rate:>8.0f}  {verdict}")
    print(f"target: under {args.limit:.0f} s per implementation on this machine: {'met' if worst < args.limit else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
