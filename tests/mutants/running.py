"""Bugs in the running statistics and the batch counter."""

from __future__ import annotations

from tests.mutants.base import Reference


class BiasedRunningVar(Reference):
    """running_var accumulates the biased batch variance (Flax, Keras and ONNX do)."""

    def stored_variance(self, var, count):
        return var


class MomentumReversed(Reference):
    """The Keras/Flax convention with torch's momentum: r = m * r + (1 - m) * batch."""

    def blend(self, running, batch, f):
        return f * running + (1.0 - f) * batch


class MomentumNoneAsDefault(Reference):
    """momentum=None falls back to 0.1 instead of the cumulative average."""

    def momentum_factor(self):
        return 0.1 if self.momentum is None else self.momentum


class CumulativeAverageOffByOne(Reference):
    """momentum=None weighs the new batch by 1 / (t + 1), t counted after the increment."""

    def momentum_factor(self):
        return 1.0 / (self.num_batches_tracked + 1) if self.momentum is None else self.momentum


class MomentumZeroAsNone(Reference):
    """`if not self.momentum`: momentum=0 takes the cumulative-average branch."""

    def momentum_factor(self):
        return self.momentum if self.momentum else 1.0 / self.num_batches_tracked


class EvalUpdatesRunningStats(Reference):
    """The running stats are updated whenever they exist, in eval mode too."""

    def updates_running_stats(self):
        return self.track_running_stats


class CounterCountsEvalCalls(Reference):
    """num_batches_tracked is incremented at the top of every call, eval included."""

    def __call__(self, x):
        if not self.training and self.track_running_stats:
            self.count_batch()
        return super().__call__(x)


class UntrackedHasBuffers(Reference):
    """running_mean, running_var and num_batches_tracked created even with track_running_stats=False."""

    def has_buffers(self):
        return True
