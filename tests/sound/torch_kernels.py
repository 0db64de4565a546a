"""Correct BatchNorm1d torch modules built from tensor primitives, in the input's precision.

``Kernel`` holds what every one shares (constructor, checks, the running-stats update, the
eval path); a subclass chooses how the batch statistics are computed (``moments``) and how the
output is formed (``output``). Everything is computed in float32 for float32 and half input and
in float64 for float64 input, never in a wider copy, and stays differentiable so that autograd
gives the gradients. Each class is its own factory (the module form).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ALL_DTYPES = ("float32", "float64", "float16", "bfloat16")


class Kernel(torch.nn.Module):
    conformance_form = "module"
    conformance_dtypes = ("float32", "float64")

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = torch.nn.Parameter(torch.ones(num_features))
            self.bias = torch.nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x):
        if x.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.dim()}D input)")
        C = x.shape[1]
        for name in ("running_mean", "running_var", "weight", "bias"):
            t = getattr(self, name)
            if t is not None and t.shape[0] != C:
                raise RuntimeError(f"{name} should contain {C} elements not {t.shape[0]}")
        # Half input into a float32 module accumulates in float32, as mixed-precision training does.
        work = x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
        m = x.numel() // C
        if self.training or not self.track_running_stats:
            if m <= 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
            mean, var = self.moments(work)
            if self.training and self.track_running_stats:
                self._update(mean, var * m / (m - 1))
        else:
            mean, var = self.running_mean.to(work.dtype), self.running_var.to(work.dtype)
        return self.output(work, mean, var).to(x.dtype)

    def moments(self, work):
        """(mean, biased variance) per channel, each (C,), in ``work.dtype``."""
        raise NotImplementedError

    def channels(self, v, work):
        return v.to(work.dtype).view((1, -1) + (1,) * (work.dim() - 2))

    def output(self, work, mean, var):
        """The direct form (x - mean) / sqrt(var + eps) * weight + bias."""
        y = (work - self.channels(mean, work)) / torch.sqrt(self.channels(var, work) + self.eps)
        if self.affine:
            y = y * self.channels(self.weight, work) + self.channels(self.bias, work)
        return y

    @torch.no_grad()
    def _update(self, mean, unbiased_var):
        """In place, outside autograd, in the buffers' own dtype: the buffers never take part in the gradient."""
        self.num_batches_tracked.add_(1)
        f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        for buf, stat in ((self.running_mean, mean), (self.running_var, unbiased_var)):
            buf.copy_((1.0 - f) * buf + f * stat.to(buf.dtype))


def _rows(work):
    """One row of m values per channel: (C, m)."""
    return work.transpose(0, 1).reshape(work.shape[1], -1)


class TorchVar(Kernel):
    """torch's own x.var(dims, unbiased=False) and x.mean(dims) in the working dtype; the direct output form."""

    conformance_dtypes = ALL_DTYPES

    def moments(self, work):
        dims = (0,) if work.dim() == 2 else (0, 2)
        return work.mean(dims), work.var(dims, unbiased=False)


class StridedFused(Kernel):
    """Two-pass sums over 8 strided lanes (value i in lane i % 8, then the lanes added) in the working dtype;
    the output fused as x * a + b with a = weight / sqrt(var + eps), b = bias - mean * a."""

    conformance_dtypes = ALL_DTYPES
    lanes = 8

    def lane_sum(self, rows):
        pad = -rows.shape[1] % self.lanes  # zeros add nothing to either sum
        lanes = F.pad(rows, (0, pad)).view(rows.shape[0], -1, self.lanes)
        return lanes.sum(dim=1).sum(dim=1)

    def moments(self, work):
        rows = _rows(work)
        m = rows.shape[1]
        mean = self.lane_sum(rows) / m
        d = rows - mean[:, None]
        return mean, self.lane_sum(d * d) / m

    def output(self, work, mean, var):
        a = torch.rsqrt(var + self.eps)
        if self.affine:
            a = a * self.weight.to(work.dtype)
        b = -mean * a if not self.affine else self.bias.to(work.dtype) - mean * a
        return work * self.channels(a, work) + self.channels(b, work)
