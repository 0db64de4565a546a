"""How surely each mutant is caught: under how many random seeds each property it lists catches it,
within the ci profile's examples, and the per-seed data written to tests/mutants/catch_rates.json.

    python benchmarks/catch_rate.py [--seeds 10] [--max-examples 100] [--mutant NAME ...] [-n JOBS] [--json PATH]
    python benchmarks/catch_rate.py --shapes pool     # every run with --shapes=pool: catch_rates_pool.json

tests/test_mutants.py checks one derandomized run: a mutant caught there by a property that catches
it under 1 seed in 20 is caught by luck, and a change to the strategies can lose it. This runs each
mutant's properties, ``fails`` and ``weak`` (its catalogued dtype, shrinking off, as
tests/test_mutants.py does) under --hypothesis-seed 1..N, and prints per mutant and property under
how many seeds it caught the mutant. A catch is a failure that shows the bug, a ``mismatch`` or an
``assertion``; a ``crash`` or an ``error`` is not one (tests/mutants/catches.py). A pair missed under
some seed is weak: the "weak pairs" section lists them, and the exit status is 1 when one of them is
listed in ``fails``.

The data goes to tests/mutants/catch_rates.json (format in tests/mutants/catches.py) unless --json
names another file. With --mutant, only those mutants' entries are replaced and the others kept,
which needs the file's seeds and max-examples; without, the file is written anew. Compare two
versions of the suite by running this in each: a speed change must not lower these rates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.report.model import write_text_atomic  # noqa: E402
from tests.mutants import CATALOG, Mutant  # noqa: E402
from tests.mutants.catches import (  # noqa: E402
    CATCH_KINDS,
    CI_EXAMPLES,
    NOT_RUN,
    PROFILE,
    RATES,
    SCHEMA,
    SEEDS,
    PairRate,
    is_catch,
    load_rates,
    run_mutant,
    weak_report,
)

POOL_RATES = RATES.with_name("catch_rates_pool.json")  # the same measured with --shapes=pool
SUITE_PATHS = ["conformance", "tests/mutants", f":(exclude){RATES.relative_to(ROOT)}",
               f":(exclude){POOL_RATES.relative_to(ROOT)}"]


def listed(mutant: Mutant) -> list[str]:
    """The properties measured for a mutant: those it must fail and its weak ones."""
    return sorted(mutant.fails | mutant.weak)


def measure(mutant: Mutant, seed: int, max_examples: int, timeout: float,
            extra: tuple[str, ...] = ()) -> dict[str, str]:
    """One run of the mutant's listed properties under ``seed``: what each saw."""
    with tempfile.TemporaryDirectory(prefix="bn-catch-") as tmp:
        saw, output = run_mutant(mutant, listed(mutant), cwd=Path(tmp), seed=seed, max_examples=max_examples,
                                 timeout=timeout, extra=extra)
    if all(w == NOT_RUN for w in saw.values()):
        print(f"{mutant.name} seed {seed}: {output}", file=sys.stderr)
    return saw


def git(*args: str) -> str | None:
    """A git command's output in the repository, or None where git cannot answer."""
    try:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def provenance() -> dict:
    """When, and on which suite: the commit checked out, and whether the suite's files differ from it."""
    status = git("status", "--porcelain", "--", *SUITE_PATHS)
    return {"measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": git("rev-parse", "HEAD"),
            "dirty": None if status is None else bool(status)}


def sweep(mutants: list[Mutant], seeds: list[int], max_examples: int, jobs: int, timeout: float,
          extra: tuple[str, ...] = ()) -> list[PairRate]:
    """Every mutant under every seed, ``jobs`` runs at a time; progress on stderr."""
    work = [(m, s) for m in mutants for s in seeds]
    saw: dict[tuple[str, int], dict[str, str]] = {}
    start = time.monotonic()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(measure, m, s, max_examples, timeout, extra): (m, s) for m, s in work}
        for done, future in enumerate(as_completed(futures), 1):
            m, s = futures[future]
            saw[m.name, s] = future.result()
            caught = sum(map(is_catch, saw[m.name, s].values()))
            print(f"[{done}/{len(work)} {time.monotonic() - start:.0f} s] {m.name} seed {s}: "
                  f"{caught}/{len(saw[m.name, s])} caught", file=sys.stderr)
    return [PairRate(m.name, p, "fails" if p in m.fails else "weak", {s: saw[m.name, s][p] for s in seeds})
            for m in mutants for p in listed(m)]


def document(pairs: list[PairRate], mutants: list[Mutant], seeds: list[int], max_examples: int,
             previous: dict | None) -> dict:
    """The catch-rates file: ``previous``'s entries for mutants not measured now, these for the others."""
    made = provenance()
    entries = dict(previous["mutants"]) if previous else {}
    for m in mutants:
        entries[m.name] = {"dtype": m.dtype, **made,
                           "properties": {r.property_id: r.to_dict() for r in pairs if r.mutant == m.name}}
    order = {m.name: i for i, m in enumerate(CATALOG)}
    return {"schema": SCHEMA, "profile": PROFILE, "max_examples": max_examples, "seeds": seeds,
            "catch_kinds": sorted(CATCH_KINDS), "updated": made["measured"],
            "mutants": dict(sorted(entries.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))}


def previous_entries(path: Path, subset: bool, seeds: list[int], max_examples: int) -> dict | None:
    """The file's data to keep for a run of some mutants; SystemExit where it was measured otherwise."""
    data = load_rates(path) if subset else None
    if data and (data["seeds"], data["max_examples"], data["profile"]) != (seeds, max_examples, PROFILE):
        print(f"{path} holds seeds {data['seeds']}, max_examples {data['max_examples']}, profile {data['profile']}: "
              "measure every mutant, or give the same settings, or write elsewhere with --json", file=sys.stderr)
        raise SystemExit(2)
    return data


def dumps(doc: dict) -> str:
    """The file's text: indented, each (mutant, property) record and each list of settings on one line."""
    records = {}
    for key in ("seeds", "catch_kinds"):
        token = f"@record{len(records)}@"
        records[f'"{token}"'] = json.dumps(doc[key])
        doc[key] = token
    for entry in doc["mutants"].values():
        for prop, record in entry["properties"].items():
            token = f"@record{len(records)}@"
            records[f'"{token}"'] = json.dumps(record)
            entry["properties"][prop] = token
    text = json.dumps(doc, indent=1)
    for token, record in records.items():
        text = text.replace(token, record, 1)
    return text + "\n"


def print_rates(pairs: list[PairRate], mutants: list[Mutant]) -> None:
    """Per mutant, each property's rate; then the weak pairs judged against the catalog."""
    for m in mutants:
        print(f"{m.name} ({m.dtype})")
        for r in (r for r in pairs if r.mutant == m.name):
            print(r.line().replace(f"{m.name}: ", "", 1) + ("  [weak]" if r.listed == "weak" else ""))
    report = weak_report(pairs, mutants)
    print("\n" + "\n".join(report.lines()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds 1..N (default {SEEDS})")
    ap.add_argument("--max-examples", type=int, default=CI_EXAMPLES,
                    help=f"examples per property (default {CI_EXAMPLES}, the ci profile's)")
    ap.add_argument("--mutant", action="append", metavar="NAME", help="catalog names, repeatable (default: all)")
    ap.add_argument("-n", "--jobs", type=int, default=2, help="suite runs at a time (default 2)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one run may take (default 600)")
    ap.add_argument("--json", type=Path, default=None, help=f"the data file (default {RATES.relative_to(ROOT)}; "
                                                             f"with --shapes pool, {POOL_RATES.relative_to(ROOT)})")
    ap.add_argument("--shapes", choices=("drawn", "pool"), default="drawn",
                    help="pool: every run draws its shapes from the fixed pool (--shapes=pool)")
    args = ap.parse_args(argv)
    args.json = args.json or (POOL_RATES if args.shapes == "pool" else RATES)
    extra = ("--shapes=pool",) if args.shapes == "pool" else ()
    unknown = sorted(set(args.mutant or ()) - {m.name for m in CATALOG})
    if unknown:
        ap.error(f"not in the catalog: {', '.join(unknown)}")
    os.environ.pop("CI", None)  # the runs name their profile; nothing else may choose one
    mutants = [m for m in CATALOG if not args.mutant or m.name in args.mutant]
    seeds = list(range(1, args.seeds + 1))
    previous = previous_entries(args.json, bool(args.mutant), seeds, args.max_examples)
    pairs = sweep(mutants, seeds, args.max_examples, args.jobs, args.timeout, extra)
    print_rates(pairs, mutants)
    write_text_atomic(args.json, dumps(document(pairs, mutants, seeds, args.max_examples, previous)))
    print(f"\nper-seed data: {args.json}")
    return 1 if weak_report(pairs, mutants).listed_in_fails else 0


if __name__ == "__main__":
    sys.exit(main())
