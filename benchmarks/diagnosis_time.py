"""How long the diagnosis takes per implementation, as a run's report pays for it.

    python benchmarks/diagnosis_time.py                       # the registered implementations and the mutant set
    python benchmarks/diagnosis_time.py --impl keras --impl onnxruntime --repeat 3

Each implementation is loaded in a child process of its own (``isolation.proxy.resolve``, as the
report's diagnosis does), then diagnosed in each dtype it declares: the time of each ``diagnose``
call is printed beside the time to load the implementation (interpreter, imports), which the report
pays once per implementation. The target (issue 15) is under 10 s per implementation; the table says
PASS or MISS against it, counting the diagnoses of every declared dtype and not the loading.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance import diagnosis  # noqa: E402
from conformance.candidates import registry  # noqa: E402
from conformance.isolation import proxy  # noqa: E402
from tests.mutants import CATALOG  # noqa: E402

TARGET_S = 10.0


def measure(spec: str, dtypes: tuple[str, ...] | None, repeat: int) -> tuple[float, dict[str, float], str]:
    t0 = time.perf_counter()
    impl = proxy.resolve(spec, proxy.Limits())
    loaded = time.perf_counter() - t0
    if impl.unavailable:
        return loaded, {}, f"unavailable: {impl.unavailable}"
    times, status = {}, ""
    for dtype in dtypes or impl.dtypes:
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            d = diagnosis.diagnose(impl, dtype)
            runs.append(time.perf_counter() - t)
        times[dtype], status = statistics.median(runs), d.status
    return loaded, times, status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", action="append", metavar="SPEC", help="implementations (default: registered + mutants)")
    ap.add_argument("--repeat", type=int, default=1, help="diagnoses per dtype; the median is shown")
    args = ap.parse_args(argv)
    specs = [(s, None) for s in args.impl] if args.impl else (
        [(name, None) for name in registry.registered()] + [(m.spec, (m.dtype,)) for m in CATALOG])
    worst = 0.0
    print(f"{'implementation':58} {'load s':>7} {'diagnosis s per dtype':>30}  total  status")
    for spec, dtypes in specs:
        try:
            loaded, times, status = measure(spec, dtypes, args.repeat)
        except Exception as e:  # noqa: BLE001 - one broken implementation does not stop the table
            print(f"{spec:58} error: {type(e).__name__}: {str(e)[:80]}")
            continue
        total = sum(times.values())
        worst = max(worst, total)
        per = ", ".join(f"{k} {v:.2f}" for k, v in times.items())
        print(f"{spec[-58:]:58} {loaded:7.2f} {per:>30}  {total:5.2f}  {status}")
    print(f"\nslowest total: {worst:.2f} s per implementation; target under {TARGET_S:.0f} s: "
          f"{'PASS' if worst < TARGET_S else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
