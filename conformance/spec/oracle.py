"""The float64 semantics of torch.nn.BatchNorm1d, written once.

Every function here is plain NumPy on float64 copies of its inputs; nothing here
knows about torch, pytest or the candidate under test. The properties compare a
candidate with these functions, and ``impls/numpy_reference.py`` is a thin
stateful layer over them.

Shapes: ``x`` is (N, C) or (N, C, L). For channel c the reduction set is every
(n, l): m = N * L values pooled together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.1


def reduction_axes(x: np.ndarray) -> tuple[int, ...]:
    """Axes pooled for one channel's statistics: N, and L when present."""
    if x.ndim not in (2, 3):
        raise ValueError(f"expected 2D or 3D input (got {x.ndim}D input)")
    return (0,) if x.ndim == 2 else (0, 2)


def values_per_channel(x: np.ndarray) -> int:
    """m = N * L, the number of values pooled into one channel's statistics."""
    return math.prod(x.shape[a] for a in reduction_axes(x))


def per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """Shape a (C,) vector so it broadcasts against an (N, C) or (N, C, L) input."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_mean(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64).mean(axis=reduction_axes(x))


def batch_var(x: np.ndarray, *, unbiased: bool = False) -> np.ndarray:
    """Two-pass variance per channel; biased (divide by m) unless ``unbiased``."""
    x64 = np.asarray(x, np.float64)
    axes = reduction_axes(x64)
    d = x64 - per_channel(x64.mean(axis=axes), x64.ndim)
    m = values_per_channel(x64)
    return (d * d).sum(axis=axes) / (m - 1 if unbiased else m)


def normalize(x, mean, var, eps, weight=None, bias=None) -> np.ndarray:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, channel-wise, in float64."""
    x64 = np.asarray(x, np.float64)
    nd = x64.ndim
    y = (x64 - per_channel(np.asarray(mean, np.float64), nd)) / np.sqrt(
        per_channel(np.asarray(var, np.float64), nd) + eps
    )
    if weight is not None:
        y = y * per_channel(np.asarray(weight, np.float64), nd)
    if bias is not None:
        y = y + per_channel(np.asarray(bias, np.float64), nd)
    return y


def momentum_factor(momentum: float | None, num_batches_tracked: int) -> float:
    """The weight f of the new batch: momentum, or 1/num_batches_tracked when None.

    ``num_batches_tracked`` is the count *after* this call's increment.
    """
    return 1.0 / num_batches_tracked if momentum is None else float(momentum)


def running_update(running, batch_stat, f: float) -> np.ndarray:
    """(1 - f) * running + f * batch_stat."""
    return (1.0 - f) * np.asarray(running, np.float64) + f * np.asarray(batch_stat, np.float64)


@dataclass
class State:
    """Per-channel state of a BatchNorm1d module (None where it does not exist)."""

    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None
    num_batches_tracked: int | None = None

    @classmethod
    def fresh(cls, num_features: int, *, affine: bool = True, track_running_stats: bool = True) -> "State":
        ones, zeros = np.ones(num_features), np.zeros(num_features)
        return cls(
            weight=ones.copy() if affine else None,
            bias=zeros.copy() if affine else None,
            running_mean=zeros.copy() if track_running_stats else None,
            running_var=ones.copy() if track_running_stats else None,
            num_batches_tracked=0 if track_running_stats else None,
        )

    def copy(self) -> "State":
        def c(a):
            return None if a is None else np.array(a, np.float64)

        return State(c(self.weight), c(self.bias), c(self.running_mean), c(self.running_var), self.num_batches_tracked)


@dataclass
class Forward:
    """What one forward call computes: the output and the statistics it normalised with."""

    y: np.ndarray
    mean: np.ndarray
    var: np.ndarray  # the variance inside the square root
    used_batch_stats: bool
    m: int
    f: float | None = None  # momentum factor applied to the running stats, if updated
    batch_mean: np.ndarray | None = None
    batch_var_unbiased: np.ndarray | None = None


def forward(state: State, x, *, training: bool, eps: float, momentum: float | None) -> Forward:
    """One call of the module; updates ``state`` in place exactly as torch does.

    Batch statistics are used in training, and in eval when there are no running stats.
    Only a training call with running stats changes the state.
    """
    x64 = np.asarray(x, np.float64)
    m = values_per_channel(x64)
    tracking = state.running_mean is not None
    use_batch = training or not tracking
    if use_batch:
        if m <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x64.shape}")
        mean, var = batch_mean(x64), batch_var(x64)
    else:
        mean, var = _present(state.running_mean), _present(state.running_var)
    y = normalize(x64, mean, var, eps, state.weight, state.bias)
    out = Forward(y, np.asarray(mean), np.asarray(var), use_batch, m)
    if training and tracking:
        state.num_batches_tracked = _present(state.num_batches_tracked) + 1
        f = momentum_factor(momentum, state.num_batches_tracked)
        unbiased = var * m / (m - 1)
        state.running_mean = running_update(state.running_mean, mean, f)
        state.running_var = running_update(state.running_var, unbiased, f)
        out.f, out.batch_mean, out.batch_var_unbiased = f, mean, unbiased
    return out


@dataclass
class Gradients:
    """d loss / d input, d weight, d bias for loss = sum(grad_output * y)."""

    input: np.ndarray
    weight: np.ndarray
    bias: np.ndarray


def backward(x, grad_output, mean, var, eps, weight=None, *, batch_stats: bool) -> Gradients:
    """Closed-form gradients of y = (x - mean) / sqrt(var + eps) * weight + bias.

    With batch statistics mean and var depend on x (m = N * L values per channel):
        dx = s / m * (m * gh - sum(gh) - xh * sum(gh * xh)),  gh = g * weight, s = 1/sqrt(var + eps)
    With running statistics they are constants: dx = g * weight * s.
    Always: d weight = sum(g * xh), d bias = sum(g).
    """
    x64, g = np.asarray(x, np.float64), np.asarray(grad_output, np.float64)
    axes, nd = reduction_axes(x64), x64.ndim
    w = np.ones(x64.shape[1]) if weight is None else np.asarray(weight, np.float64)
    s = per_channel(1.0 / np.sqrt(np.asarray(var, np.float64) + eps), nd)
    xh = (x64 - per_channel(np.asarray(mean, np.float64), nd)) * s
    gh = g * per_channel(w, nd)
    if batch_stats:
        m = values_per_channel(x64)
        sum_gh = per_channel(gh.sum(axis=axes), nd)
        sum_ghxh = per_channel((gh * xh).sum(axis=axes), nd)
        dx = s / m * (m * gh - sum_gh - xh * sum_ghxh)
    else:
        dx = gh * s
    return Gradients(dx, (g * xh).sum(axis=axes), g.sum(axis=axes))


T = TypeVar("T")


def _present(value: T | None) -> T:
    """A field that tracking running statistics guarantees."""
    if value is None:
        raise ValueError("the state tracks running statistics but lacks one of them")
    return value
