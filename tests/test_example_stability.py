"""What a derandomized run's examples depend on: Hypothesis draws some numbers from the
constants of the local modules loaded when it draws (see docs/design.md, "What a
derandomized run depends on"). So the suite loads its own modules before the first property: one first
imported mid-run would change the examples of every later property, and under pytest-xdist
with the order in which a worker happened to run the properties.
"""

from __future__ import annotations

import json

import pytest

# Records, after each property, the conformance modules loaded in the test process.
RECORDER = '''
import json, sys
seen = []

def pytest_runtest_teardown(item):
    seen.append(sorted(m for m in sys.modules if m == "conformance" or m.startswith("conformance.")))

def pytest_sessionfinish(session):
    with open("modules.json", "w") as f:
        json.dump(seen, f)
'''


@pytest.mark.parametrize("isolation", ["process", "none"])
def test_no_module_of_the_suite_is_first_imported_while_the_properties_run(pytester, candidate, run_conformance,
                                                                            isolation):
    pytester.makepyfile(record_modules=RECORDER)
    spec = candidate("hostile.py") + ":unprintable_exception"  # raises in eval mode: the error paths run too
    candidate("fast_profile.py")
    result = run_conformance("conformance", f"--impl={spec}", f"--isolation={isolation}", "-p", "record_modules",
                             "-p", "fast_profile", "--hypothesis-profile=plugin_tests", "--max-examples=5",
                             "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.text  # the eval-mode properties fail
    seen = json.loads((pytester.path / "modules.json").read_text())
    assert len(seen) > 40, seen
    first, later = set(seen[0]), set().union(*map(set, seen[1:]))
    assert later <= first, f"imported after the first property: {sorted(later - first)}"
