"""The NumPy reference: torch.nn.BatchNorm1d's semantics as an executable spec.

A thin stateful layer over ``conformance.oracle``: the arithmetic is done in float64
from the exact input values, and results and state are stored in the module's dtype.
"""

from __future__ import annotations

import numpy as np

from conformance.spec import oracle


class BatchNorm1d:
    def __init__(self, num_features, eps=oracle.DEFAULT_EPS, momentum=oracle.DEFAULT_MOMENTUM, affine=True,
                 track_running_stats=True, dtype=np.float32):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.dtype = np.dtype(dtype)
        fresh = oracle.State.fresh(num_features, affine=affine, track_running_stats=track_running_stats)
        cast = lambda v: None if v is None else v.astype(self.dtype)  # noqa: E731
        self.weight, self.bias = cast(fresh.weight), cast(fresh.bias)
        self.running_mean, self.running_var = cast(fresh.running_mean), cast(fresh.running_var)
        self.num_batches_tracked = fresh.num_batches_tracked
        self.training = True

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.ndim}D input)")
        for name in ("running_mean", "running_var", "weight", "bias"):
            v = getattr(self, name)
            if v is not None and v.shape[0] != x.shape[1]:
                raise ValueError(f"{name} should contain {x.shape[1]} elements not {v.shape[0]}")
        state = oracle.State(self.weight, self.bias, self.running_mean, self.running_var, self.num_batches_tracked)
        out = oracle.forward(state, x, training=self.training, eps=self.eps, momentum=self.momentum)
        self._saved = (x, out)  # for backward
        if out.f is not None:  # running stats were updated: store in place, in the module's dtype
            self.running_mean[...] = state.running_mean
            self.running_var[...] = state.running_var
            self.num_batches_tracked = state.num_batches_tracked
        with np.errstate(over="ignore"):  # beyond the dtype's range the result is inf, as it should be
            return out.y.astype(x.dtype)

    def backward(self, grad_output: np.ndarray):
        """Gradients of sum(grad_output * y) for the last call: (grad_input, grad_weight, grad_bias)."""
        x, out = self._saved
        grads = oracle.backward(x, grad_output, out.mean, out.var, self.eps, self.weight,
                                batch_stats=out.used_batch_stats)
        cast = lambda g: g.astype(self.dtype)  # noqa: E731
        return cast(grads.input), *((cast(grads.weight), cast(grads.bias)) if self.affine else (None, None))


def make(num_features, eps=oracle.DEFAULT_EPS, momentum=oracle.DEFAULT_MOMENTUM, affine=True, track_running_stats=True,
         dtype=np.float32):
    return BatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)


make.conformance_dtypes = ("float32", "float64", "float16")  # half input into a float32 module
