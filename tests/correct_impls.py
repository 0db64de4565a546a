"""A second, independent correct BatchNorm1d: a torch.nn.Module built from tensor primitives.

It never calls batch_norm, and it computes differently from the other correct
implementations: the statistics are a *shifted* one-pass sum in float64 (shift by the
channel's first value, then sum d and d * d, so a large offset does not cancel), and
the output is the fused x * a + b with a = weight / sqrt(var + eps), b = bias - mean * a.
``tests/test_seed_sweep.py`` checks that the suite passes it.
"""

from __future__ import annotations

import torch


class ShiftedSumsBatchNorm1d(torch.nn.Module):
    """The class is the factory (the module form of the candidate contract)."""

    conformance_form = "module"

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
        per_channel = x.transpose(0, 1).reshape(C, -1).double()  # one row of m values per channel
        m = per_channel.shape[1]
        if self.training or not self.track_running_stats:
            if m <= 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
            mean, var = self._shifted_moments(per_channel)
            if self.training and self.track_running_stats:
                self._update(mean, var * m / (m - 1))
        else:
            mean, var = self.running_mean.double(), self.running_var.double()
        a = torch.rsqrt(var + self.eps)
        if self.affine:
            a = a * self.weight.double()
        b = -mean * a if not self.affine else self.bias.double() - mean * a
        shape = (1, C) + (1,) * (x.dim() - 2)
        return (x.double() * a.view(shape) + b.view(shape)).to(x.dtype)

    @staticmethod
    def _shifted_moments(rows):
        shift = rows[:, :1]
        d = rows - shift
        m = rows.shape[1]
        s1, s2 = d.sum(dim=1), (d * d).sum(dim=1)
        mean_d = s1 / m
        var = ((s2 - s1 * mean_d) / m).clamp_min(0.0)
        return shift[:, 0] + mean_d, var

    @torch.no_grad()
    def _update(self, mean, unbiased_var):
        """In place, outside autograd: the buffers never take part in the gradient."""
        self.num_batches_tracked.add_(1)
        f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        for buf, stat in ((self.running_mean, mean), (self.running_var, unbiased_var)):
            buf.copy_((1.0 - f) * buf.double() + f * stat)

