"""A buggy BatchNorm1d: it normalises with the unbiased (N-1) variance instead of the biased one.

Otherwise the same as good_numpy.py, so only the normalisation properties fail.
"""

import numpy as np

from good_numpy import BatchNorm1d


class UnbiasedBatchNorm1d(BatchNorm1d):
    def __call__(self, x):
        eps = self.eps
        if not self.training and self.running_mean is not None:
            return super().__call__(x)
        rows = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]).astype(np.float64)
        n = rows.shape[0]
        # Rescale eps so that the parent's biased variance + eps equals unbiased variance + eps.
        var = rows.var(axis=0)
        y = super().__call__(x)  # updates the running statistics correctly
        y = y.astype(np.float64)
        scale = np.sqrt((var + eps) / (var * n / max(n - 1, 1) + eps))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        bias = self.bias.reshape(shape) if self.bias is not None else 0.0
        return ((y - bias) * scale.reshape(shape) + bias).astype(x.dtype)


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
    return UnbiasedBatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)
