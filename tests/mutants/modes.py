"""Bugs in train versus eval mode and in the defaults of a fresh module."""

from __future__ import annotations

import numpy as np

from .base import Reference, factory


class EvalUsesBatchStatistics(Reference):
    """Eval mode normalises with the batch statistics; the running stats are never read."""

    def uses_batch_statistics(self):
        return True


class UntrackedEvalUsesInitialStats(Reference):
    """Without tracking, eval normalises with the initial (0, 1) instead of the batch statistics."""

    def uses_batch_statistics(self):
        return self.training

    def running_moments(self, ndim):
        if self.track_running_stats:
            return super().running_moments(ndim)
        shape = self.channel_shape(ndim)
        return np.zeros(shape), np.ones(shape)


class StartsInEvalMode(Reference):
    """A fresh module has training=False."""

    initially_training = False


class RunningVarStartsAtZero(Reference):
    """running_var initialised to zeros instead of ones."""

    initial_running_var = 0.0


make_eval_uses_batch_statistics = factory(EvalUsesBatchStatistics)
make_untracked_eval_uses_initial_stats = factory(UntrackedEvalUsesInitialStats)
make_starts_in_eval_mode = factory(StartsInEvalMode)
make_running_var_starts_at_zero = factory(RunningVarStartsAtZero)
make_default_eps_1e_3 = factory(Reference, eps=1e-3)  # Keras' default
make_default_momentum_0_9 = factory(Reference, momentum=0.9)  # ONNX's 0.9, not converted to torch's convention
