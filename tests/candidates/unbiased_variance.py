"""A buggy BatchNorm1d: it normalises with the unbiased (m - 1) variance instead of the biased one.

The running statistics are right, so only the properties about the normalised output fail.
"""

from tests.mutants.statistics import UnbiasedNormalisation as make  # noqa: F401
