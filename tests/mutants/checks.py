"""Bugs in refusing bad input: checks that are missing."""

from __future__ import annotations

from tests.mutants.base import Reference


class AnyRankAccepted(Reference):
    """No rank check: 4D input is normalised like F.batch_norm does, 1D input hits an IndexError."""

    def check_rank(self, x):
        pass


class NoChannelCheck(Reference):
    """No channel-count check: a mismatch is left to NumPy broadcasting (which accepts size 1)."""

    def check_channels(self, x):
        pass


class NoSingleValueCheck(Reference):
    """No check for one value per channel: the output is just the bias (Keras and Flax behave so)."""

    def check_count(self, count, shape):
        pass


class DeclaresNoCounterButKeepsOne(Reference):
    """Declares conformance_lacks = ("counter",), exempting itself from the counter's properties, yet counts."""

    conformance_lacks = ("counter",)
