"""Mutants in the torch.nn.Module form: torch.nn.BatchNorm1d with one overridden step."""

from __future__ import annotations

import torch

from tests.correct_impls import ShiftedSumsBatchNorm1d


class PerPositionLoop(torch.nn.BatchNorm1d):
    """3D input normalised one position at a time: x[:, :, l] through the 2D module, L times."""

    def forward(self, x):
        if x.dim() != 3:
            return super().forward(x)
        return torch.stack([torch.nn.BatchNorm1d.forward(self, x[:, :, l]) for l in range(x.shape[2])], dim=2)


class AssumesContiguous(torch.nn.BatchNorm1d):
    """Reads the input's storage as if it were C-contiguous (as a raw-pointer kernel would)."""

    def forward(self, x):
        strides, step = [], 1
        for size in reversed(x.shape):
            strides.insert(0, step)
            step *= size
        return super().forward(x.as_strided(x.shape, strides, x.storage_offset()))


class DetachedStatistics(ShiftedSumsBatchNorm1d):
    """The batch mean and variance detached from autograd: backward treats them as constants."""

    @staticmethod
    def _shifted_moments(rows):
        mean, var = ShiftedSumsBatchNorm1d._shifted_moments(rows)
        return mean.detach(), var.detach()


def _module_factory(cls):
    def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        return cls(num_features, eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats)

    make.conformance_form = "module"
    return make


make_per_position_loop = _module_factory(PerPositionLoop)
make_assumes_contiguous = _module_factory(AssumesContiguous)
make_detached_statistics = _module_factory(DetachedStatistics)
