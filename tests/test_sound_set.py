"""The false-alarm guard: correct implementations that compute differently from the oracle pass every property.

Each implementation of the sound set (``tests/sound``) runs the whole suite in a subprocess, in
every dtype it declares, under the ``ci`` profile cut to a few examples per property and a fixed
seed: a fast slice of ``benchmarks/sound_sweep.py``. A failure here is a false alarm of the suite
(a tolerance too tight for a legitimate algorithm, a property that assumes the oracle's summation
order), never a bug to fix in the implementation.
"""

from __future__ import annotations

import pytest

from conformance.candidates.registry import resolve
from tests.sound import SOUND
from tests.suite_runs import assert_correct

SEED = 1  # the first implementation's; each takes the next, so that one run covers more draws
MAX_EXAMPLES = 15

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed, sound", list(enumerate(SOUND, SEED)), ids=[s.name for s in SOUND])
def test_a_correct_implementation_passes_every_property(seed, sound, tmp_path, plugin_env):
    assert_correct([f"--impl={sound.spec}", *(f"--dtype={d}" for d in sound.dtypes), "--hypothesis-profile=ci",
                    f"--hypothesis-seed={seed}", f"--max-examples={MAX_EXAMPLES}", "--no-conformance-report"],
                   subjects={f"{sound.spec}-{d}" for d in sound.dtypes}, cwd=tmp_path,
                   label=f"{sound.name} ({sound.algorithm})")


def test_the_catalog_is_well_formed():
    names = [s.name for s in SOUND]
    assert len(names) == len(set(names)), f"duplicate names: {sorted({n for n in names if names.count(n) > 1})}"
    assert len(SOUND) >= 9
    for s in SOUND:
        assert s.name.isidentifier() and s.name == s.name.lower(), f"{s.name}: not snake_case"
        assert s.dtypes == resolve(s.spec).dtypes, f"{s.name}: catalogued {s.dtypes}, the factory declares " \
                                                   f"{resolve(s.spec).dtypes}"
    assert any("float16" in s.dtypes and "bfloat16" in s.dtypes for s in SOUND), "no implementation checks half input"
    assert any(s.dtypes == ("float32",) for s in SOUND), "no float32-only implementation"
