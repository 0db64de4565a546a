"""The functional and pure candidate forms, as thin wrappers over a module class of this package.

``functional(cls)`` has torch.nn.functional.batch_norm's signature on NumPy arrays and
updates the running stats it is given in place; ``Pure(cls)`` is an init/apply pair that
copies the state it is given. Wrapping a mutant class gives that bug in the other form;
``Pure.taken`` is the one step the pure form adds, so it has its own mutant.
"""

from __future__ import annotations

import numpy as np

from tests.mutants.base import Reference
from tests.mutants.memory import OutputInFloat64
from tests.mutants.modes import RunningVarStartsAtZero

STATE = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _module_for(cls, x, weight, running_mean, eps, momentum):
    """A ``cls`` for the state vectors given (their length and dtype), else for the input."""
    vectors = [v for v in (weight, running_mean) if v is not None]
    num_features = len(vectors[0]) if vectors else np.shape(x)[1] if np.ndim(x) > 1 else 0
    return cls(num_features, eps=eps, momentum=momentum, affine=weight is not None,
               track_running_stats=running_mean is not None, dtype=vectors[0].dtype if vectors else np.asarray(x).dtype)


def functional(cls):
    def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
        x = np.asarray(input)
        bn = _module_for(cls, x, weight, running_mean, eps, momentum)
        bn.weight, bn.bias, bn.running_mean, bn.running_var = weight, bias, running_mean, running_var
        return bn.train(training)(x)

    batch_norm.conformance_form = "functional-numpy"
    return batch_norm


class HalfInputSkipsTheUpdate(Reference):
    """A float16 input is normalised, but the running stats are not updated."""

    def working_copy(self, x):
        self.half_input = x.dtype == np.float16
        return super().working_copy(x)

    def updates_running_stats(self):
        return super().updates_running_stats() and not self.half_input


class Pure:
    """init(num_features, *, affine, track_running_stats, dtype) -> state; apply(state, x, ...) -> (y, new state)."""

    module = Reference

    def __init__(self, module=None):
        self.module = module or self.module

    def init(self, num_features, *, affine=True, track_running_stats=True, dtype=np.float32):
        bn = self.module(num_features, affine=affine, track_running_stats=track_running_stats, dtype=dtype)
        return {k: getattr(bn, k) for k in STATE}

    def apply(self, state, x, *, training, momentum, eps):
        bn = _module_for(self.module, x, state["weight"], state["running_mean"], eps, momentum)
        for k in STATE:
            setattr(bn, k, self.taken(state[k]))
        y = bn.train(training)(x)
        return y, {k: getattr(bn, k) for k in STATE}

    def taken(self, value):
        """What the module works on: a copy, so the state passed in stays as it was."""
        return value.copy() if isinstance(value, np.ndarray) else value


class PureWithoutCopies(Pure):
    """apply hands the caller's arrays to the module, which updates the running stats in them."""

    def taken(self, value):
        return value


functional_reference = functional(Reference)
pure_reference = Pure()
functional_output_in_float64 = functional(OutputInFloat64)
functional_half_input_skips_the_update = functional(HalfInputSkipsTheUpdate)
pure_init_running_var_zero = Pure(RunningVarStartsAtZero)
pure_apply_modifies_the_state = PureWithoutCopies()
