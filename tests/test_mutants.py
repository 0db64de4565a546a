"""The suite catches every mutant, and every property catches at least one.

Each mutant (``tests/mutants/__init__.py``) runs in its own subprocess on exactly the
properties it must fail (``-k``), in its catalogued dtype, under the suite's ``ci``
profile (derandomized, 100 examples) with shrinking switched off
(``tests/mutants/ci_without_shrinking.py``: same examples, same verdicts, a fraction
of the time). Every one of those properties must fail. A mutant that is not
caught is a gap in the suite (or a mutant that lost its bug): either way, look.
"""

from __future__ import annotations

import pytest

from conformance.registry import resolve
from tests.mutants import CATALOG
from tests.suite_runs import collected_property_ids, describe, outcomes, run_suite

pytestmark = pytest.mark.slow

PROFILE = ["-p", "tests.mutants.ci_without_shrinking", "--hypothesis-profile=ci-without-shrinking"]


def selection(mutant) -> str:
    """The -k expression for the mutant's properties in its dtype (``float64]`` ends the test id)."""
    return "(" + " or ".join(f"test_{p}" for p in sorted(mutant.fails)) + f") and {mutant.dtype}]"


@pytest.mark.parametrize("mutant", CATALOG, ids=lambda m: m.name)
def test_the_mutant_fails_every_property_it_must(mutant, tmp_path, plugin_env):
    report = tmp_path / "report.xml"
    proc = run_suite([f"--impl={mutant.spec}", f"--dtype={mutant.dtype}", *PROFILE, "-k", selection(mutant),
                      f"--junitxml={report}", "-q"],
                     cwd=tmp_path)
    assert report.exists(), f"{mutant.name}: the suite did not run (exit code {proc.returncode}):\n{describe(proc)}"
    seen = {o.property_id: o.status for o in outcomes(report) if o.dtype == mutant.dtype}
    missed = {p: seen.get(p, "not run") for p in sorted(mutant.fails) if seen.get(p) != "failed"}
    assert not missed, (
        f"mutant {mutant.name} ({mutant.bug}) was not caught in {mutant.dtype} by "
        + ", ".join(f"{p} ({status})" for p, status in missed.items()) + f"\n{describe(proc)}")


def test_every_property_fails_for_some_mutant(tmp_path, plugin_env):
    """A property that no mutant fails has not shown that it can fail: dead weight until one does."""
    collected = collected_property_ids(tmp_path)
    expected = set().union(*(m.fails for m in CATALOG))
    stale = {m.name: sorted(m.fails - collected) for m in CATALOG if m.fails - collected}
    assert not stale, f"the catalog names properties the suite does not collect: {stale}"
    dead = sorted(collected - expected)
    assert not dead, "no mutant in tests/mutants fails these properties: " + ", ".join(dead)


def test_the_catalog_is_well_formed():
    names = [m.name for m in CATALOG]
    assert len(names) == len(set(names)), f"duplicate mutant names: {sorted({n for n in names if names.count(n) > 1})}"
    for m in CATALOG:
        assert m.fails, f"{m.name}: no property to fail"
        impl = resolve(m.spec)
        assert m.dtype in impl.dtypes, f"{m.name}: catalogued dtype {m.dtype}, the factory offers {impl.dtypes}"
        assert m.form == impl.form, f"{m.name}: catalogued as the {m.form} form, resolves to {impl.form}"
