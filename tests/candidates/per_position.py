"""A buggy BatchNorm1d: each (channel, position) normalised separately across N (the tutorial's reading)."""

from tests.mutants.statistics import PerPositionStatistics as make  # noqa: F401
