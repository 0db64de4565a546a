"""A mutant-like candidate whose one overridden step raises: every train call crashes with a RuntimeError.

tests/test_mutants.py lists train_output_matches_the_oracle as a property it must fail and checks that
the failure (kind ``crash``) is not counted as a catch: a crash shows nothing about a numerical bug.
"""

from tests.mutants.base import Reference


class make(Reference):
    def batch_moments(self, work, axes):
        raise RuntimeError("batch statistics are not implemented")
