"""Wall time of one `ci` run per compiling framework, next to its time before issue 17.

    python benchmarks/frameworks_speed.py [--impl flax --impl keras ...] [--shapes auto|pool|drawn]

Each run is ``CI=true pytest --pyargs conformance --impl=NAME -p no:cacheprovider`` in a temporary
directory (serial, as the published matrix runs each implementation). The before times are the
issue's (flax and flax-nnx 53 min, keras 12 min on this project's 2-core machine), not re-measured.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

BEFORE_MIN = {"flax": 53.0, "flax-nnx": 53.0, "keras": 12.0, "torch-compile": None}
TARGET_MIN = {"flax": 5.0, "flax-nnx": 5.0, "keras": 3.0, "torch-compile": None}


def ci_run(impl: str, shapes: str) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory(prefix="frameworks-speed-") as where:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "conformance", f"--impl={impl}",
                              f"--shapes={shapes}", "-p", "no:cacheprovider", "-q"], cwd=where,
                             env={**os.environ, "CI": "true"}, capture_output=True, text=True)
        wall = time.perf_counter() - started
    last = (out.stdout.strip().splitlines() or [""])[-1]
    return wall, out.returncode, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", action="append", default=None, help="repeatable (default: all four)")
    parser.add_argument("--shapes", default="auto", choices=("auto", "pool", "drawn"))
    args = parser.parse_args(argv)
    print(f"{'implementation':<16}{'before':>10}{'now':>10}{'target':>10}  result")
    for impl in args.impl or list(BEFORE_MIN):
        wall, rc, last = ci_run(impl, args.shapes)
        before, target = BEFORE_MIN.get(impl), TARGET_MIN.get(impl)
        verdict = "" if target is None else ("PASS" if wall / 60 <= target else "MISS")
        print(f"{impl:<16}{f'{before:g} min' if before else '-':>10}{wall / 60:>8.1f} m"
              f"{f'{target:g} min' if target else 'stated':>10}  {verdict} (exit {rc}: {last})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
