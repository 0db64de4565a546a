"""A buggy BatchNorm1d: eps outside the square root, (x - mean) / (sqrt(var) + eps)."""

from tests.mutants.normalisation import EpsOutsideSqrt as make  # noqa: F401
