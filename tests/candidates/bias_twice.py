"""A buggy BatchNorm1d with a bug the diagnosis catalog does not know: the bias is added twice.

The report's diagnosis should say "not in the catalog", not force it into an entry.
"""

import numpy as np


class BatchNorm1d:
    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        self.eps, self.momentum, self.training = eps, momentum, True
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
        if x.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input, got {x.ndim}D")
        for p in (self.weight, self.running_mean):
            if p is not None and p.shape[0] != x.shape[1]:
                raise ValueError(f"expected {p.shape[0]} channels, got {x.shape[1]}")
        rows = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]).astype(np.float64)
        if self.training or self.running_mean is None:
            n = rows.shape[0]
            if n < 2:
                raise ValueError("expected more than 1 value per channel when training")
            mean, var = rows.mean(axis=0), rows.var(axis=0)
            if self.training and self.running_mean is not None:
                self.num_batches_tracked += 1
                f = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
                self.running_mean[:] = (1 - f) * self.running_mean + f * mean
                self.running_var[:] = (1 - f) * self.running_var + f * var * n / (n - 1)
        else:
            mean, var = self.running_mean.astype(np.float64), self.running_var.astype(np.float64)
        out = (rows - mean) / np.sqrt(var + self.eps)
        if self.weight is not None:
            out = out * self.weight + 2 * self.bias  # BUG: the bias counted twice
        return np.moveaxis(out.reshape(np.moveaxis(x, 1, -1).shape), -1, 1).astype(x.dtype)


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
    return BatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)
