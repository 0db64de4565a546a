"""A correct BatchNorm1d in the NumPy form, for the plugin's own tests (the mutant set's correct base)."""

from tests.mutants.base import Reference as make  # noqa: F401
