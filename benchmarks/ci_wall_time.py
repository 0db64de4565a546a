"""Wall time of the `ci` profile per implementation: the wall section of benchmarks/speed.py alone.

    python benchmarks/ci_wall_time.py [--impl numpy --impl torch ...] [--repeat 1]

benchmarks/speed.py is the entry point for every speed number (wall time and examples per second
per implementation, time to first failure on the mutant set, the -n 2 speedup); this runs only
its first section and writes benchmarks/results/ci_wall_time.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed

if __name__ == "__main__":
    args = sys.argv[1:]
    json_args = [] if any(a == "--json" or a.startswith("--json=") for a in args) else [
        "--json", str(speed.BENCH / "results" / "ci_wall_time.json")]
    sys.exit(speed.main(["--skip-ttff", "--skip-speedup", *json_args, *args]))
