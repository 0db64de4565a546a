"""How surely each mutant is caught: the fraction of random seeds under which each property it must
fail does fail, within the ci profile's 100 examples.

    python benchmarks/catch_rate.py [--seeds 10] [--mutant NAME ...] [--jobs 2] [--json PATH]

tests/test_mutants.py checks one derandomized run: a mutant caught there by a property that fails
for 1 seed in 20 is caught by luck, and a change to the strategies can lose it. This runs each
mutant's properties (its catalogued dtype, shrinking off, as tests/test_mutants.py does) under
--hypothesis-seed 1..N and prints, per mutant and property, in how many seeds it failed. Compare
two versions of the suite by running this in each: a speed change must not lower these rates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mutants import CATALOG  # noqa: E402
from tests.suite_runs import outcomes  # noqa: E402


def run(mutant, seed: int, max_examples: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="bn-catch-") as tmp:
        xml = Path(tmp, "r.xml")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        sel = "(" + " or ".join(f"test_{p}" for p in sorted(mutant.fails)) + f") and {mutant.dtype}]"
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider", "-q",
               f"--impl={mutant.spec}", f"--dtype={mutant.dtype}", "-p", "tests.mutants.ci_without_shrinking",
               "--hypothesis-profile=ci-without-shrinking", f"--hypothesis-seed={seed}", f"--max-examples={max_examples}",
               "-k", sel, f"--junitxml={xml}", "--no-conformance-report"]
        subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        return {o.property_id: o.status for o in outcomes(xml)} if xml.exists() else {}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--max-examples", type=int, default=100)
    ap.add_argument("--mutant", action="append", help="catalog names (default: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    mutants = [m for m in CATALOG if not args.mutant or m.name in args.mutant]
    jobs = [(m, s) for m in mutants for s in range(1, args.seeds + 1)]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: run(job[0], job[1], args.max_examples), jobs))
    rates = {}
    for (m, _), res in zip(jobs, results):
        for p in sorted(m.fails):
            rates.setdefault(m.name, {}).setdefault(p, 0)
            rates[m.name][p] += res.get(p) == "failed"
    weakest = []
    for m in mutants:
        print(m.name)
        for p, n in rates[m.name].items():
            print(f"  {n:>3}/{args.seeds}  {p}")
            weakest.append((n, m.name, p))
    print("\nweakest (mutant, property) pairs:")
    for n, m, p in sorted(weakest)[:10]:
        print(f"  {n:>3}/{args.seeds}  {m}: {p}")
    if args.json:
        args.json.write_text(json.dumps({"seeds": args.seeds, "max_examples": args.max_examples, "rates": rates}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
