"""Keras 3 ``keras.layers.BatchNormalization`` as a candidate (registered name ``keras``).

Install with ``pip install 'batchnorm-conformance[keras]'``. Keras runs on the torch
backend: the adapter sets ``KERAS_BACKEND=torch`` (``os.environ.setdefault``, so a backend
chosen before, e.g. ``KERAS_BACKEND=jax``, is kept) before it first imports keras.

Mapped (conventions, not differences): ``axis=1`` (torch's channel axis, for (N, C) and
(N, C, L)); ``momentum = 1 - torch momentum`` (Keras weighs the old moving value by its
momentum); ``epsilon=eps``; ``center`` and ``scale`` = affine; the layer's dtype is the
module's. weight, bias, running_mean and running_var are the layer's ``gamma``, ``beta``,
``moving_mean`` and ``moving_variance``, assigned before each call and read back after it
(see impls/framework_shell.py). A Keras layer is built for one input rank; the adapter keeps
one layer per rank, all fed the same state. ``track_running_stats=False`` has no Keras
counterpart: the adapter calls the layer with ``training=True`` every time (batch
statistics) and holds no running statistics.

``factory(C)`` builds ``BatchNormalization(axis=1)`` with Keras' own defaults (momentum
0.99, i.e. 0.01 in torch's convention; epsilon 1e-3) and, like a direct call of a Keras
layer (``training=None`` outside ``fit``), a fresh instance runs inference.

Declared: no batch counter (``num_batches_tracked``, momentum=None); no 1D-specific rank
check (the layer is N-dimensional); no backward. Not corrected, so the suite reports them:
the moving variance Keras stores is the biased one, and its variance is E[x^2] - E[x]^2 in
the working precision (keras/src/backend/torch/nn.py, ``moments``).
"""

from __future__ import annotations

import os

import numpy as np

from conformance.impls.framework_shell import DEFAULT, FrameworkBatchNorm, decay, require


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return require("keras", "keras")


class KerasBatchNorm1d(FrameworkBatchNorm):
    framework = "keras"

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        self.keras = _keras()
        super().__init__(num_features, affine=affine, track_running_stats=track_running_stats, dtype=dtype,
                         training=False)
        self._kwargs = dict(axis=1, center=affine, scale=affine, dtype=self.dtype.name)
        if eps is not DEFAULT:
            self._kwargs["epsilon"] = float(eps)
        if momentum is not DEFAULT:
            self._kwargs["momentum"] = decay(momentum)
        self._layers = {}
        first = self._layer(2)  # the state a fresh layer has, from Keras' initializers
        if affine:
            self.weight, self.bias = self._numpy(first.gamma), self._numpy(first.beta)
        if track_running_stats:
            self.running_mean, self.running_var = self._numpy(first.moving_mean), self._numpy(first.moving_variance)

    def _numpy(self, v) -> np.ndarray:
        v = getattr(v, "value", v)  # a Variable's tensor
        if hasattr(v, "detach"):  # torch backend (keras' own conversion warns under NumPy 2)
            return v.detach().cpu().numpy().copy()
        return np.array(self.keras.ops.convert_to_numpy(v))

    def _layer(self, rank: int):
        if rank not in self._layers:
            layer = self.keras.layers.BatchNormalization(**self._kwargs)
            layer.build((None, self.num_features) + (None,) * (rank - 2))
            self._layers[rank] = layer
        return self._layers[rank]

    def _run(self, x, *, batch_stats):
        layer = self._layer(max(x.ndim, 2))  # a rank-1 input goes to a layer, which rejects it
        if self.affine:
            layer.gamma.assign(self.weight)
            layer.beta.assign(self.bias)
        mean, var = self._stats_in()
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(var)
        y = self._numpy(layer(x, training=batch_stats))
        return y, ((self._numpy(layer.moving_mean), self._numpy(layer.moving_variance)) if batch_stats else None)


def make(num_features, eps=DEFAULT, momentum=DEFAULT, affine=True, track_running_stats=True, *, dtype):
    return KerasBatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)


make.conformance_form = "numpy"
make.conformance_dtypes = ("float32", "float64")
make.conformance_lacks = ("counter", "rank_check", "backward")


def framework() -> str:
    """What the adapter runs (the matrix's version column): Keras' version and backend."""
    keras = _keras()
    return f"keras {keras.__version__} ({keras.backend.backend()} backend)"


make.conformance_framework = framework
make.conformance_compiles_per_shape = True  # each new input shape costs it time: the run draws from the pool
