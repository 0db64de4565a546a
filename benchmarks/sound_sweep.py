"""The full false-alarm sweep: every implementation of the sound set through the whole suite, many seeds.

    python benchmarks/sound_sweep.py                                    # ci under seeds 1..10, thorough under 1..2
    python benchmarks/sound_sweep.py --impl welford --impl torch_var --thorough-seeds 0
    python benchmarks/sound_sweep.py --ci-seeds 3 --thorough-seeds 0 --jobs 1 --workers 2

The sound set (``tests/sound``) holds correct BatchNorm1d implementations that compute differently
from the oracle (Welford, torch's var, block merges, compensated and sequential sums, the fused
output, float32 arithmetic). Each one runs the suite in every dtype it declares, once per profile
and seed (``--hypothesis-profile=P --hypothesis-seed=S``), in a fresh subprocess from a scratch
directory, with the repository root on PYTHONPATH so that this working tree is what runs.
``tests/test_sound_set.py`` is the fast slice of this that CI runs.

Zero failures are expected: a correct algorithm that fails a property is a false alarm of the
suite. The table lists, per implementation, property and dtype, in how many runs it failed and the
head of the first message. Exit status 1 when anything failed or a run did not report, else 0.
JSON goes to benchmarks/results/sound_sweep.json (``--json PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.sound import SOUND  # noqa: E402
from tests.suite_runs import outcomes  # noqa: E402

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "sound_sweep.json"


def run(sound, profile: str, seed: int, args) -> dict:
    """One suite run of one implementation in all its dtypes; its failures and counts."""
    with tempfile.TemporaryDirectory(prefix="bn-sound-") as tmp:
        xml = Path(tmp, "r.xml")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider", "-q",
               f"--impl={sound.spec}", *(f"--dtype={d}" for d in sound.dtypes), f"--hypothesis-profile={profile}",
               f"--hypothesis-seed={seed}", f"--junitxml={xml}", "--no-conformance-report"]
        if args.max_examples:
            cmd.append(f"--max-examples={args.max_examples}")
        if args.workers > 1:
            cmd += ["-p", "xdist", "-n", str(args.workers)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=args.timeout,
                                  check=False)
            tail, rc = (proc.stdout + proc.stderr)[-2000:], proc.returncode
        except subprocess.TimeoutExpired:
            tail, rc = f"timed out after {args.timeout} s", None
        results = outcomes(xml) if xml.exists() else []
    return {"impl": sound.name, "profile": profile, "seed": seed, "exit_code": rc,
            "wall_s": round(time.perf_counter() - t0, 1),
            "passed": sum(o.status == "passed" for o in results),
            "skipped": sum(o.status == "skipped" for o in results),
            "failures": [{"property": o.property_id, "dtype": o.dtype, "status": o.status, "message": o.message[:500]}
                         for o in results if o.status in ("failed", "error")],
            "reported": bool(results), "tail": "" if results and rc == 0 else tail}


def table(runs: list[dict]) -> list[str]:
    """Per implementation: runs and failures; per failing (property, dtype): in how many runs, first message."""
    lines = []
    for name in dict.fromkeys(r["impl"] for r in runs):
        mine = [r for r in runs if r["impl"] == name]
        failing: dict[tuple[str, str], list] = {}
        for r in mine:
            for f in r["failures"]:
                failing.setdefault((f["property"], f["dtype"]), []).append((r["profile"], r["seed"], f["message"]))
        silent = [f"{r['profile']}/{r['seed']}" for r in mine if not r["reported"]]
        verdict = "no false alarm" if not failing and not silent else f"{len(failing)} failing property/dtype pairs"
        lines.append(f"{name}: {len(mine)} runs, {sum(r['passed'] for r in mine)} passed, {verdict}")
        for (prop, dtype), hits in sorted(failing.items()):
            seeds = ", ".join(f"{p}/{s}" for p, s, _ in hits)
            head = hits[0][2].splitlines()[0][:240] if hits[0][2] else ""
            lines.append(f"    {len(hits):>3}/{len(mine)}  {prop} [{dtype}]  ({seeds})")
            lines.append(f"           {head}")
        if silent:
            lines.append(f"    did not report: {', '.join(silent)}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", action="append", metavar="NAME", help="sound-set names (default: all)")
    ap.add_argument("--ci-seeds", type=int, default=10, metavar="N",
                    help="ci profile under N seeds from --first-seed (0: skip)")
    ap.add_argument("--thorough-seeds", type=int, default=2, metavar="N",
                    help="thorough profile under N seeds from --first-seed (0: skip)")
    ap.add_argument("--first-seed", type=int, default=1, metavar="S", help="seeds run from S (default 1)")
    ap.add_argument("--max-examples", type=int, default=None, help="override the profiles' examples per property")
    ap.add_argument("--jobs", type=int, default=1, help="suite runs at a time")
    ap.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per run (-n); 1 for serial")
    ap.add_argument("--timeout", type=float, default=6 * 3600.0, help="seconds per suite run")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    known = {s.name: s for s in SOUND}
    unknown = sorted(set(args.impl or ()) - set(known))
    if unknown:
        ap.error(f"unknown sound-set names {unknown}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.impl] if args.impl else list(SOUND)
    jobs = [(s, p, seed) for p, n in (("ci", args.ci_seeds), ("thorough", args.thorough_seeds))
            for seed in range(args.first_seed, args.first_seed + n) for s in chosen]
    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        runs = []
        for r in pool.map(lambda job: run(*job, args), jobs):
            runs.append(r)
            print(f"  {r['impl']} {r['profile']} seed {r['seed']}: {r['passed']} passed, "
                  f"{len(r['failures'])} failed, exit {r['exit_code']}, {r['wall_s']} s", flush=True)
    print()
    print("\n".join(table(runs)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - started, 1), "max_examples": args.max_examples,
        "workers": args.workers, "sound": [s.__dict__ for s in chosen], "runs": runs}, indent=1, default=list))
    print(f"\nJSON: {args.json}")
    return 1 if any(r["failures"] or not r["reported"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
