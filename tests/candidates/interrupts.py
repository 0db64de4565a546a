"""A correct-looking candidate whose third call raises KeyboardInterrupt, as Ctrl-C would.
Run with --isolation=none, the run stops; the report files must still be written, marked interrupted.
"""

import numpy as np

from tests.mutants.base import Reference

_calls = [0]


class make(Reference):
    def __call__(self, x):
        _calls[0] += 1
        if _calls[0] >= 3:
            raise KeyboardInterrupt
        return np.zeros_like(x)
