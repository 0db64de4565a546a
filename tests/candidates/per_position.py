"""A buggy BatchNorm1d, the tutorial's reading: for (N, C, L) input each (channel, position)
is normalised over N alone. The running stats average the per-position statistics.

The report's diagnosis should name ``per_position_pooling``.
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
        x64 = x.astype(np.float64)
        per = (1, -1) + (1,) * (x.ndim - 2)
        if self.training or self.running_mean is None:
            n = x.shape[0]
            if n < 2:
                raise ValueError("expected more than 1 value per channel when training")
            mean = x64.mean(axis=0, keepdims=True)  # BUG: over N only, one statistic per (c, l)
            var = x64.var(axis=0, keepdims=True)
            if self.training and self.running_mean is not None:
                self.num_batches_tracked += 1
                f = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
                C = x.shape[1]
                m, v = mean.reshape(C, -1).mean(axis=1), (var * n / (n - 1)).reshape(C, -1).mean(axis=1)
                self.running_mean[:] = (1 - f) * self.running_mean + f * m
                self.running_var[:] = (1 - f) * self.running_var + f * v
        else:
            mean = self.running_mean.astype(np.float64).reshape(per)
            var = self.running_var.astype(np.float64).reshape(per)
        out = (x64 - mean) / np.sqrt(var + self.eps)
        if self.weight is not None:
            out = out * self.weight.reshape(per) + self.bias.reshape(per)
        return out.astype(x.dtype)


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
    return BatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)
