"""Bugs in train versus eval mode and in the defaults of a fresh module."""

from __future__ import annotations

import numpy as np

from tests.mutants.base import Reference


class EvalUsesBatchStatistics(Reference):
    """Eval mode normalises with the batch statistics; the running stats are never read. Its
    one-value check guards training alone, so an eval call on one sample outputs the bias."""

    def uses_batch_statistics(self):
        return True

    def check_count(self, count, shape):
        if self.training or not self.track_running_stats:
            super().check_count(count, shape)


class UntrackedEvalUsesInitialStats(Reference):
    """Without tracking, eval normalises with the initial (0, 1) instead of the batch statistics."""

    def uses_batch_statistics(self):
        return self.training

    def running_moments(self, ndim):
        if self.track_running_stats:
            return super().running_moments(ndim)
        return self.as_channels(np.zeros(self.num_features), ndim), self.as_channels(np.ones(self.num_features), ndim)


class StartsInEvalMode(Reference):
    """A fresh module has training=False."""

    initially_training = False


class RunningVarStartsAtZero(Reference):
    """running_var initialised to zeros instead of ones."""

    initial_running_var = 0.0


class DefaultEps1e3(Reference):
    """The signature's default eps is 1e-3 (Keras') instead of 1e-5."""

    def __init__(self, num_features, eps=1e-3, **kwargs):
        super().__init__(num_features, eps, **kwargs)


class DefaultMomentum0_9(Reference):
    """The signature's default momentum is 0.9 (ONNX's, not converted to torch's convention)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.9, **kwargs):
        super().__init__(num_features, eps, momentum, **kwargs)


class DefaultNotAffine(Reference):
    """The signature's default is affine=False: factory(C) has no weight and bias (identity either way)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, **kwargs):
        super().__init__(num_features, eps, momentum, affine, **kwargs)
