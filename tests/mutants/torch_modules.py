"""Mutants in the torch.nn.Module form: torch.nn.BatchNorm1d, or the torch-primitives module of
``tests/correct_impls.py``, with one step overridden. Each class is its own factory."""

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


class RunningStatsAsParameters(ShiftedSumsBatchNorm1d):
    """running_mean and running_var registered as nn.Parameter: autograd (and optimizers) reach them."""

    def __init__(self, num_features, **kwargs):
        super().__init__(num_features, **kwargs)
        if self.track_running_stats:
            self.running_mean = torch.nn.Parameter(self.running_mean)
            self.running_var = torch.nn.Parameter(self.running_var)

