"""The suite catches every mutant, and every property catches at least one.

Each mutant (``tests/mutants/__init__.py``) runs in its own subprocess on exactly the
properties it must fail (``-k``), in its catalogued dtype, under the suite's ``ci``
profile (derandomized, 100 examples) with shrinking switched off
(``tests/mutants/ci_without_shrinking.py``: same examples, same verdicts, a fraction
of the time). Every one of those properties must catch it: fail with a failure that
shows the bug, a ``mismatch`` or an ``assertion`` in results.json, not a ``crash`` or
an ``error`` (``tests/mutants/catches.py``). A mutant that is not caught is a gap in the
suite (or a mutant that lost its bug): either way, look.

The committed per-seed data (``tests/mutants/catch_rates.json``) says which pairs are
weak, caught under some random seeds only; they are listed here (``-rP`` shows them),
and a weak pair in a mutant's ``fails`` is an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.candidates.registry import resolve
from conformance.report.model import Failure, PropertyResult
from tests.mutants import CATALOG, Mutant
from tests.mutants.catches import (
    CI_EXAMPLES,
    RATES,
    REGENERATE,
    SEEDS,
    is_catch,
    load_rates,
    pair_rates,
    run_mutant,
    seen,
    weak_report,
)
from tests.suite_runs import collected_property_ids

pytestmark = pytest.mark.slow

CANDIDATES = Path(__file__).resolve().parent / "candidates"

# Mutant-like, not in the catalog: it crashes in the one property it lists.
CRASHING = Mutant("crashes_in_training", f"{CANDIDATES / 'crashes_in_training.py'}:make",
                  "every train call raises RuntimeError", frozenset({"train_output_matches_the_oracle"}))


def missed(mutant: Mutant, cwd: Path) -> tuple[dict[str, str], str]:
    """The properties of ``fails`` that did not catch the mutant in the ci run, with what each saw; the run's output."""
    saw, output = run_mutant(mutant, mutant.fails, cwd=cwd)
    return {p: w for p, w in saw.items() if not is_catch(w)}, output


@pytest.mark.parametrize("mutant", CATALOG, ids=lambda m: m.name)
def test_the_mutant_fails_every_property_it_must(mutant, tmp_path, plugin_env):
    gaps, output = missed(mutant, tmp_path)
    assert not gaps, (
        f"mutant {mutant.name} ({mutant.bug}) was not caught in {mutant.dtype} by "
        + ", ".join(f"{p} ({w})" for p, w in gaps.items()) + f"\n{output}")


def test_a_crash_in_a_listed_property_is_not_a_catch(tmp_path, plugin_env):
    """The property fails, but with the candidate's crash: that shows nothing about a numerical bug."""
    gaps, output = missed(CRASHING, tmp_path)
    assert gaps == {"train_output_matches_the_oracle": "crash"}, output


@pytest.mark.parametrize("outcome, kind, catch", [
    ("failed", "mismatch", True), ("failed", "assertion", True), ("failed", "crash", False),
    ("failed", "error", False), ("failed", None, False), ("error", "error", False), ("passed", None, False),
    ("known_deviation", None, False), ("skipped", None, False), (None, None, False)])
def test_only_a_failure_that_shows_the_bug_is_a_catch(outcome, kind, catch):
    """``outcome`` None: the property did not run."""
    failure = Failure(kind, "E", "message") if kind else None
    result = PropertyResult("p", "m", "impl-float64", "impl", "float64", outcome, failure=failure) if outcome else None
    assert is_catch(seen(result)) is catch


def test_no_property_a_mutant_must_fail_is_weak_in_the_committed_catch_rates():
    """Prints the weak pairs of tests/mutants/catch_rates.json; fails where one of them is listed in ``fails``.

    The data must come from the ci run's examples under enough seeds: fewer would call weak pairs sure.
    """
    data = load_rates()
    if data is None:
        pytest.skip(f"no {RATES.name} committed; write it with: {REGENERATE}")
    report = weak_report(pair_rates(data), CATALOG)
    print(f"{RATES.name}: profile {data['profile']}, max_examples {data['max_examples']}, "
          f"seeds {data['seeds']}, updated {data.get('updated')}")
    print("\n".join(report.lines()))
    assert data["max_examples"] == CI_EXAMPLES and len(data["seeds"]) >= SEEDS, (
        f"{RATES.name} was measured with max_examples {data['max_examples']} under {len(data['seeds'])} seeds, "
        f"not the ci run's {CI_EXAMPLES} under {SEEDS}: regenerate it with {REGENERATE}")
    assert not report.listed_in_fails, (
        "caught under some seeds only, yet listed in `fails` (move them to `weak`, or make the property sure):\n"
        + "\n".join(r.line() for r in report.listed_in_fails))


def test_every_property_fails_for_some_mutant(tmp_path, plugin_env):
    """A property that no mutant fails has not shown that it can fail: dead weight until one does."""
    collected = collected_property_ids(tmp_path)
    expected = set().union(*(m.fails for m in CATALOG))
    stale = {m.name: sorted((m.fails | m.weak) - collected) for m in CATALOG if (m.fails | m.weak) - collected}
    assert not stale, f"the catalog names properties the suite does not collect: {stale}"
    dead = sorted(collected - expected)
    assert not dead, "no mutant in tests/mutants fails these properties: " + ", ".join(dead)


def test_the_catalog_is_well_formed():
    names = [m.name for m in CATALOG]
    assert len(names) == len(set(names)), f"duplicate mutant names: {sorted({n for n in names if names.count(n) > 1})}"
    for m in CATALOG:
        assert m.fails, f"{m.name}: no property to fail"
        assert not m.fails & m.weak, f"{m.name}: listed both in fails and weak: {sorted(m.fails & m.weak)}"
        impl = resolve(m.spec)
        assert m.dtype in impl.dtypes, f"{m.name}: catalogued dtype {m.dtype}, the factory offers {impl.dtypes}"
        assert m.form == impl.form, f"{m.name}: catalogued as the {m.form} form, resolves to {impl.form}"
