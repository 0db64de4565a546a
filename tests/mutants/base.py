"""A correct NumPy BatchNorm1d built from small, overridable steps.

Every mutant in this package subclasses ``Reference`` and overrides one step to
plant one bug, so each mutant's code is the bug and nothing else; each class is its
own factory (the NumPy-object form of the candidate contract). The reference
itself must conform (``tests/test_seed_sweep.py`` checks it with the other correct
implementations), otherwise a mutant would be "caught" for the base's fault.

Arrays keep their (N, C) or (N, C, L) layout throughout; statistics are computed
in float64 with ``keepdims`` so that they broadcast against the input, and the
running stats are (C,) vectors in the module's dtype, updated in place.
"""

from __future__ import annotations

import numpy as np


class Reference:
    """The class is the factory: ``Reference(num_features, eps=1e-5, ..., dtype=np.float32)``."""

    conformance_form = "numpy"
    initial_running_var = 1.0
    initially_training = True

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.track_running_stats = track_running_stats
        self.dtype = np.dtype(dtype)
        self.training = self.initially_training
        self.weight = self._filled(1.0) if affine else None
        self.bias = self._filled(0.0) if affine else None
        self.running_mean = self.running_var = self.num_batches_tracked = None
        if self.has_buffers():
            self.running_mean = self._filled(0.0)
            self.running_var = self._filled(self.initial_running_var)
            self.num_batches_tracked = 0

    def has_buffers(self):
        return self.track_running_stats

    def _filled(self, value):
        return np.full(self.num_features, value, dtype=self.dtype)

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    # --- the call, step by step ------------------------------------------------
    def __call__(self, x):
        self.check_rank(x)
        self.check_channels(x)
        work = self.working_copy(x)
        axes = self.reduction_axes(work)
        count = int(np.prod([work.shape[a] for a in axes]))
        use_batch, update = self.uses_batch_statistics(), self.updates_running_stats()
        if use_batch:
            self.check_count(count, x.shape)
        batch = self.batch_moments(work, axes) if use_batch or update else None
        mean, var = batch if use_batch else self.running_moments(work.ndim)
        if update:
            self.count_batch()
            self.update_running_stats(*batch, count)
        xhat = self.normalise(work, mean, var)
        y = self.apply_affine(xhat)
        self.save_for_backward(xhat, y, var, axes, count, use_batch)
        return self.to_output(y, x)

    # --- checks ----------------------------------------------------------------
    def check_rank(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.ndim}D input)")

    def check_channels(self, x):
        for name in ("running_mean", "running_var", "weight", "bias"):
            v = getattr(self, name)
            if v is not None and v.shape[0] != x.shape[1]:
                raise RuntimeError(f"{name} should contain {x.shape[1]} elements not {v.shape[0]}")

    def check_count(self, count, shape):
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {shape}")

    # --- which statistics --------------------------------------------------------
    def working_copy(self, x):
        """A float64 copy in logical order; the later steps may work on it in place."""
        return np.array(x, dtype=np.float64, order="C")

    def reduction_axes(self, work):
        return tuple(a for a in range(work.ndim) if a != 1)

    def uses_batch_statistics(self):
        return self.training or not self.track_running_stats

    def updates_running_stats(self):
        return self.training and self.track_running_stats

    def batch_moments(self, work, axes):
        """Mean and biased variance, two passes, shaped to broadcast against ``work``."""
        mean = work.mean(axis=axes, keepdims=True)
        centred = work - mean
        return mean, (centred * centred).mean(axis=axes, keepdims=True)

    def as_channels(self, v, ndim):
        """A (C,) vector in float64, shaped to broadcast against an input of ``ndim`` dimensions."""
        return np.array(v, np.float64).reshape((1, self.num_features) + (1,) * (ndim - 2))  # a copy, never a view

    def running_moments(self, ndim):
        return self.as_channels(self.running_mean, ndim), self.as_channels(self.running_var, ndim)

    # --- running stats --------------------------------------------------------
    def count_batch(self):
        self.num_batches_tracked += 1

    def momentum_factor(self):
        return 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum

    def stored_variance(self, var, count):
        """The variance the running stats accumulate: unbiased."""
        return var * count / (count - 1)

    def update_running_stats(self, mean, var, count):
        f = self.momentum_factor()
        new_var = self.stored_variance(var, count)
        self.store("running_mean", self.blend(self.running_mean, self.per_channel(mean), f))
        self.store("running_var", self.blend(self.running_var, self.per_channel(new_var), f))

    def per_channel(self, stat):
        """A statistic shaped like the input's channels as a (C,) vector (averaged over positions
        where it has one value per position)."""
        C = self.num_features
        return np.broadcast_to(stat, (1, C) + stat.shape[2:]).reshape(C, -1).mean(axis=1)

    def blend(self, running, batch, f):
        return (1.0 - f) * running.astype(np.float64) + f * batch

    def store(self, name, value):
        getattr(self, name)[...] = value

    # --- the output ------------------------------------------------------------
    def normalise(self, work, mean, var):
        work -= mean
        work /= np.sqrt(var + self.eps)
        return work

    def apply_affine(self, y):
        if self.weight is None:
            return y
        return y * self.as_channels(self.weight, y.ndim) + self.as_channels(self.bias, y.ndim)

    def to_output(self, y, x):
        return y.reshape(x.shape).astype(x.dtype)

    # --- gradients (of the last call) ------------------------------------------------
    def save_for_backward(self, xhat, y, var, axes, count, used_batch_statistics):
        self._saved = (xhat, 1.0 / np.sqrt(var + self.eps), axes, count, used_batch_statistics)

    def backward(self, grad_output):
        """(d input, d weight, d bias) of the last call, for ``grad_output`` = dLoss/dy."""
        xhat, inv_std, axes, m, used_batch_statistics = self._saved
        g = np.asarray(grad_output, np.float64).reshape(xhat.shape)
        gh = g if self.weight is None else g * self.as_channels(self.weight, g.ndim)
        dx = self.input_gradient(gh, xhat, inv_std, axes, m) if used_batch_statistics else gh * inv_std
        dx = dx.reshape(np.shape(grad_output)).astype(np.asarray(grad_output).dtype)
        if self.weight is None:
            return dx, None, None
        return dx, (g * xhat).sum(axis=axes), self.bias_gradient(g, axes)

    def input_gradient(self, gh, xhat, inv_std, axes, m):
        """With batch statistics the mean and variance depend on the input too."""
        sum_gh = gh.sum(axis=axes, keepdims=True)
        sum_gh_xhat = (gh * xhat).sum(axis=axes, keepdims=True)
        return inv_std / m * (m * gh - sum_gh - xhat * sum_gh_xhat)

    def bias_gradient(self, g, axes):
        return g.sum(axis=axes)
