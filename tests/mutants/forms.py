"""The functional and pure candidate forms, as thin wrappers over a module class of this package.

``functional(cls)`` has torch.nn.functional.batch_norm's signature on NumPy arrays and
updates the running stats it is given in place; ``pure(cls)`` is an init/apply pair that
copies the state it is given. Wrapping a mutant class gives that bug in the other form;
``Pure.taken`` is the one step the pure form adds, so it has its own mutant.
"""

from __future__ import annotations

import numpy as np

from .base import Reference
from .memory import OutputInFloat64
from .modes import RunningVarStartsAtZero

STATE = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def functional(cls):
    def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
        x = np.asarray(input)
        stats_dtype = next((v.dtype for v in (running_mean, weight) if v is not None), x.dtype)
        bn = cls(x.shape[1], eps, momentum, weight is not None, running_mean is not None, stats_dtype)
        bn.weight, bn.bias, bn.running_mean, bn.running_var = weight, bias, running_mean, running_var
        return bn.train(training)(x)

    batch_norm.conformance_form = "functional-numpy"
    return batch_norm


class Pure:
    """init(num_features, *, affine, track_running_stats, dtype) -> state; apply(state, x, ...) -> (y, new state)."""

    module = Reference

    def __init__(self, module=None):
        self.module = module or self.module

    def init(self, num_features, *, affine=True, track_running_stats=True, dtype=np.float32):
        bn = self.module(num_features, 1e-5, 0.1, affine, track_running_stats, dtype)
        return {k: getattr(bn, k) for k in STATE}

    def apply(self, state, x, *, training, momentum, eps):
        weight, mean = state["weight"], state["running_mean"]
        dtype = next((v.dtype for v in (mean, weight) if v is not None), np.asarray(x).dtype)
        bn = self.module(np.shape(x)[1], eps, momentum, weight is not None, mean is not None, dtype)
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
make_functional_output_in_float64 = functional(OutputInFloat64)
make_pure_init_running_var_zero = Pure(RunningVarStartsAtZero)
make_pure_apply_modifies_the_state = PureWithoutCopies()
