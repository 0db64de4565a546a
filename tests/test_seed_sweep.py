"""Correct implementations never fail: the whole suite, several random seeds.

The implementations: the NumPy reference, torch.nn.BatchNorm1d, the candidate slot
``mine``, the functional forms (torch's and NumPy's) and the pure NumPy form, an independent
torch-primitives module (``tests/correct_impls.py``), and the
correct bases the mutants are built on (``tests/mutants/base.py`` and its functional and
pure wrappers in ``tests/mutants/forms.py``; torch.nn.BatchNorm1d and
``tests/correct_impls.py`` are the others; ``tests/mutants/float32.py:Float32Native`` for the
float32-native mutants): a mutant only shows that a property can fail
if the implementation it was made from passes it.

Each seed is one run of the suite on all of them, both dtypes, under the ``dev``
profile with a fixed ``--hypothesis-seed``, from a scratch directory so that no example
database carries over between seeds or runs.
"""

from __future__ import annotations

import importlib.util

import pytest

from conformance.candidates.registry import resolve
from tests.suite_runs import assert_correct

IMPLS = ("numpy", "torch", "mine", "torch-functional", "numpy-functional", "numpy-pure",
         "tests.correct_impls:ShiftedSumsBatchNorm1d", "tests.mutants.base:Reference",
         "tests.mutants.forms:functional_reference", "tests.mutants.forms:pure_reference",
         "tests.mutants.float32:Float32Native")
SEEDS = (1, 2, 3)
MAX_EXAMPLES = 10
# The runs are long enough for two workers to pay off (pytest-xdist is in the dev extra).
PARALLEL = ["-p", "xdist", "-n", "2"] if importlib.util.find_spec("xdist") else []

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed-{s}")
def test_correct_implementations_pass_every_property(seed, tmp_path, plugin_env):
    subjects = {f"{impl}-{dtype}" for impl in IMPLS for dtype in resolve(impl).dtypes
                if dtype in ("float32", "float64")}
    assert_correct([*(f"--impl={i}" for i in IMPLS), "--hypothesis-profile=dev", f"--hypothesis-seed={seed}",
                    f"--max-examples={MAX_EXAMPLES}", *PARALLEL], subjects=subjects, cwd=tmp_path, label=f"seed {seed}")
