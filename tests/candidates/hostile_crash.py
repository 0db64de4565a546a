"""A candidate that crashes on every call, with an exception message full of markup.

The report must show the message as text: nothing in it may become an element of the page.
"""

import numpy as np

HOSTILE = "<script>alert('pwned')</script><img src=x onerror=\"alert(1)\"> & </pre></details>"


class BatchNorm1d:
    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        self.training = True
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
        raise RuntimeError(HOSTILE)

    def __repr__(self):
        return HOSTILE


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
    return BatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)
