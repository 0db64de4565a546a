"""A candidate module that segfaults as it is imported: a usage error, not a dead test run."""

import ctypes

ctypes.string_at(0)


def make(num_features, **kwargs):  # never reached
    raise AssertionError
