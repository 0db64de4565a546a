"""Flax's BatchNorm as candidates: ``flax.linen.BatchNorm`` (registered name ``flax``) and
``flax.nnx.BatchNorm`` (``flax-nnx``).

Install with ``pip install 'batchnorm-conformance[flax]'`` (flax and jax, CPU; about 600 MB).
JAX computes in float32 unless 64-bit mode is on: the adapter sets ``JAX_ENABLE_X64=1``
(``os.environ.setdefault``) before it first imports jax, and turns 64-bit mode on where jax
was imported before (keras imports it), so that float64 is checked in float64. With
``JAX_ENABLE_X64=0`` set by the user, a float64 instance raises, saying so. Run op by op,
JAX compiles each operation for each new input shape and keeps it: the adapters declare
``conformance_compiles_per_shape``, so the suite draws shapes from a fixed pool and each compiles
once; the adapter clears JAX's caches only when its process has grown by ``CLEAR_CACHES_ABOVE``
bytes since the first instance (results are unchanged; without it a run with drawn shapes outgrows
the suite's memory limit).

Mapped (conventions): ``axis=1`` (torch's channel axis; Flax reduces over every other axis);
``momentum = 1 - torch momentum``; ``epsilon=eps``; ``use_scale`` and ``use_bias`` = affine;
``param_dtype`` = the module's dtype. linen: the variables ``params`` {scale, bias} and
``batch_stats`` {mean, var} are held as arrays and passed to ``apply``, with
``use_running_average`` False for batch statistics and ``mutable=["batch_stats"]``. nnx: the
module's ``scale``, ``bias``, ``mean`` and ``var`` are set before each call and read after it.
``track_running_stats=False``: batch statistics on every call, the update dropped (see
impls/framework_shell.py).

``flax`` (linen) declares no constructor defaults: linen's BatchNorm has no default mode
(``use_running_average`` must be given), so ``factory(C)`` is not a candidate. ``flax-nnx``
has them: ``BatchNorm(C, axis=1)`` with nnx's defaults (momentum 0.99, i.e. 0.01 in torch's
convention; epsilon 1e-5; training, as ``use_running_average=False``).

Declared: no batch counter; no 1D-specific rank check; no backward. Not corrected, so the
suite reports them: the running variance Flax stores is the biased one; its default
``use_fast_variance=True`` computes E[x^2] - E[x]^2; ``batch_stats`` start in float32
whatever ``param_dtype`` (flax/linen/normalization.py).
"""

from __future__ import annotations

import os

import numpy as np

from conformance.impls.framework_shell import DEFAULT, FrameworkBatchNorm, decay, require

CLEAR_CACHES_ABOVE = 1 << 30  # bytes of growth, under the suite's default memory limit of 2 GiB
_first_size: list[int] = []


def _jax():
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    jax = require("jax", "flax")
    require("flax", "flax")
    if os.environ["JAX_ENABLE_X64"].lower() in ("1", "true", "yes", "on") and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)  # jax was imported before (e.g. by keras), without it
    size = _resident_bytes()
    if not _first_size:
        _first_size.append(size)
    elif size - _first_size[0] > CLEAR_CACHES_ABOVE:
        jax.clear_caches()  # every new input shape compiles each operation: bound what that keeps
        _first_size[0] = _resident_bytes()
    return jax


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: never cleared
        return 0


def _check_dtype(jax, dtype) -> None:
    if np.dtype(dtype) == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError("float64 needs JAX's 64-bit mode: set JAX_ENABLE_X64=1 before jax is first imported "
                         "(without it JAX computes in float32)")


def _options(eps, momentum, affine, dtype) -> dict:
    kw = dict(axis=1, use_scale=affine, use_bias=affine, param_dtype=np.dtype(dtype))
    if eps is not DEFAULT:
        kw["epsilon"] = float(eps)
    if momentum is not DEFAULT:
        kw["momentum"] = decay(momentum)
    return kw


class LinenBatchNorm1d(FrameworkBatchNorm):
    framework = "flax.linen"

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        jax = self.jax = _jax()
        _check_dtype(jax, dtype)
        from flax import linen

        super().__init__(num_features, affine=affine, track_running_stats=track_running_stats, dtype=dtype,
                         training=True)
        self.module = linen.BatchNorm(**_options(eps, momentum, affine, dtype))
        fresh = self.module.init(jax.random.PRNGKey(0), np.zeros((2, num_features), self.dtype),
                                 use_running_average=True)
        self._fresh = tuple(np.array(fresh["batch_stats"][k]) for k in ("mean", "var"))
        if affine:
            self.weight, self.bias = (np.array(fresh["params"][k]) for k in ("scale", "bias"))
        if track_running_stats:
            self.running_mean, self.running_var = self._fresh

    def _fresh_stats(self):
        return self._fresh

    def _run(self, x, *, batch_stats):
        mean, var = self._stats_in()
        params = {"scale": self.weight, "bias": self.bias} if self.affine else {}
        variables = {"params": params, "batch_stats": {"mean": mean, "var": var}}
        y, updated = self.module.apply(variables, x, use_running_average=not batch_stats, mutable=["batch_stats"])
        stats = updated["batch_stats"]
        return y, ((stats["mean"], stats["var"]) if batch_stats else None)


class NnxBatchNorm1d(FrameworkBatchNorm):
    framework = "flax.nnx"

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        jax = _jax()
        _check_dtype(jax, dtype)
        from flax import nnx

        self.module = nnx.BatchNorm(num_features, rngs=nnx.Rngs(0), **_options(eps, momentum, affine, dtype))
        super().__init__(num_features, affine=affine, track_running_stats=track_running_stats, dtype=dtype,
                         training=not self.module.use_running_average)
        self._fresh = tuple(np.array(_get(getattr(self.module, k))) for k in ("mean", "var"))
        if affine:
            self.weight, self.bias = (np.array(_get(getattr(self.module, k))) for k in ("scale", "bias"))
        if track_running_stats:
            self.running_mean, self.running_var = self._fresh

    def _fresh_stats(self):
        return self._fresh

    def _run(self, x, *, batch_stats):
        m = self.module
        values = dict(zip(("mean", "var"), self._stats_in()))
        if self.affine:
            values.update(scale=self.weight, bias=self.bias)
        for k, v in values.items():
            _set(getattr(m, k), v)
        y = m(x, use_running_average=not batch_stats)
        return y, ((_get(m.mean), _get(m.var)) if batch_stats else None)


def _get(variable):
    return variable.get_value() if hasattr(variable, "get_value") else variable.value  # .value: flax < 0.12


def _set(variable, value) -> None:
    if hasattr(variable, "set_value"):
        variable.set_value(value)
    else:
        variable.value = value


def make(num_features, eps=DEFAULT, momentum=DEFAULT, affine=True, track_running_stats=True, *, dtype):
    """flax.linen.BatchNorm."""
    return LinenBatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)


def make_nnx(num_features, eps=DEFAULT, momentum=DEFAULT, affine=True, track_running_stats=True, *, dtype):
    """flax.nnx.BatchNorm."""
    return NnxBatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)


def framework() -> str:
    """What the adapters run (the matrix's version column)."""
    jax = _jax()
    import flax

    return f"flax {flax.__version__}, jax {jax.__version__} (CPU, x64 {'on' if jax.config.jax_enable_x64 else 'off'})"


make.conformance_form = make_nnx.conformance_form = "numpy"
make.conformance_dtypes = make_nnx.conformance_dtypes = ("float32", "float64")
make.conformance_lacks = ("counter", "rank_check", "backward", "constructor")
make_nnx.conformance_lacks = ("counter", "rank_check", "backward")
make.conformance_framework = make_nnx.conformance_framework = framework
make.conformance_compiles_per_shape = make_nnx.conformance_compiles_per_shape = True
