"""A second, independent correct BatchNorm1d: a torch.nn.Module built from tensor primitives.

It never calls batch_norm, and it computes differently from the other correct
implementations: the statistics are a *shifted* one-pass sum in float64 (shift by the
channel's first value, then sum d and d * d, so a large offset does not cancel), and
the output is the fused x * a + b with a = weight / sqrt(var + eps), b = bias - mean * a,
in float64. The module's shell (constructor, checks, running update) is the sound set's
``Kernel``. ``tests/test_seed_sweep.py`` checks that the suite passes it; the module-form
mutants (``tests/mutants/torch_modules.py``) override one of its steps.
"""

from __future__ import annotations

import torch

from tests.sound.torch_kernels import Kernel, _rows


class ShiftedSumsBatchNorm1d(Kernel):
    """The class is the factory (the module form of the candidate contract)."""

    def moments(self, work):
        return self._shifted_moments(_rows(work).double())

    @staticmethod
    def _shifted_moments(rows):
        shift = rows[:, :1]
        d = rows - shift
        m = rows.shape[1]
        s1, s2 = d.sum(dim=1), (d * d).sum(dim=1)
        mean_d = s1 / m
        var = ((s2 - s1 * mean_d) / m).clamp_min(0.0)
        return shift[:, 0] + mean_d, var

    def output(self, work, mean, var):
        a = torch.rsqrt(var.double() + self.eps)
        if self.affine:
            a = a * self.weight.double()
        b = -mean.double() * a if not self.affine else self.bias.double() - mean.double() * a
        shape = (1, -1) + (1,) * (work.dim() - 2)
        return work.double() * a.view(shape) + b.view(shape)
