"""A correct-looking candidate whose third call raises KeyboardInterrupt, as Ctrl-C would.

The run stops; the report files must still be written, marked interrupted.
"""

import numpy as np

_calls = [0]


class BatchNorm1d:
    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        self.eps, self.training = eps, True
        self.weight = np.ones(num_features, dtype) if affine else None
        self.bias = np.zeros(num_features, dtype) if affine else None
        self.running_mean = np.zeros(num_features, dtype) if track_running_stats else None
        self.running_var = np.ones(num_features, dtype) if track_running_stats else None
        self.num_batches_tracked = 0 if track_running_stats else None

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, x):
        _calls[0] += 1
        if _calls[0] >= 3:
            raise KeyboardInterrupt
        return np.zeros_like(x)


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
    return BatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)
