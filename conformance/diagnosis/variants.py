"""What a catalog variant does: the forward semantics, computed a second time with each step a
catalog entry may change (``Semantics``), in float64.

``predict(Semantics(), probe)`` is torch's behaviour on the probe, and reproduces the oracle; with
an entry's changes (``variant``) it is the behaviour of an implementation with that deviation.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import numpy as np

from conformance.diagnosis.catalog import Entry, Semantics
from conformance.diagnosis.probes import Observation, Probe, call_observations, fresh_observations
from conformance.spec import oracle
from conformance.spec.cases import Config


def variant(*entries: Entry) -> Semantics | None:
    """The semantics with every entry's changes; None when two entries change one step differently."""
    changes: dict = {}
    for e in entries:
        for k, v in e.changes.items():
            if k in changes and changes[k] != v:
                return None
            changes[k] = v
    return dataclasses.replace(Semantics(), **changes)


def _cshape(v, ndim):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def _fresh(sem: Semantics, C: int) -> oracle.State:
    s = oracle.State.fresh(C, affine=sem.default_affine)
    s.running_var = np.full(C, sem.initial_running_var)
    return s


def predict(sem: Semantics, probe: Probe, dtype: str = "float64") -> list[Observation]:
    """What an implementation with semantics ``sem`` shows on ``probe``, in float64, given the probe's
    inputs as they are in ``dtype`` (half precision rounds some of them)."""
    cfg = probe.config
    out: list[Observation] = []
    if probe.defaults:
        cfg = dataclasses.replace(cfg, eps=sem.default_eps, momentum=sem.default_momentum)
        s = _fresh(sem, cfg.num_features)
        out += fresh_observations(sem.starts_training, s)
    else:
        s = cast(oracle.State, probe.state).copy()  # a probe without defaults holds its state
    for i, call in enumerate(probe.case(dtype).calls, 1):
        training, x = call.training, np.asarray(call.x, np.float64)
        if sem.pooling == "position_loop" and x.ndim == 3:
            inner = dataclasses.replace(sem, pooling="channel")
            y = np.stack([_call(inner, cfg, s, training, x[:, :, l]) for l in range(x.shape[2])], axis=2)
        else:
            y = _call(sem, cfg, s, training, x)
        out += call_observations(i, training, y, s)
    return out


def _call(sem: Semantics, cfg: Config, s: oracle.State, training: bool, x: np.ndarray) -> np.ndarray:
    """One forward call; updates ``s`` as the variant does."""
    axes = {"position": (0,), "all": tuple(range(x.ndim))}.get(sem.pooling, (0,) if x.ndim == 2 else (0, 2))
    m = int(np.prod([x.shape[a] for a in axes]))
    mean_b = x.mean(axis=axes, keepdims=True)
    var_b = ((x - (0.0 if sem.variance == "about_zero" else mean_b)) ** 2).mean(axis=axes, keepdims=True)
    tracking = s.running_mean is not None
    update = tracking and (training or sem.eval_updates)
    if training or sem.eval_uses_batch or not tracking:
        mean, var = mean_b, var_b * (m / (m - 1) if sem.normalise_unbiased else 1.0)
    else:
        mean, var = _cshape(s.running_mean, x.ndim), _cshape(s.running_var, x.ndim)
    if update or (tracking and sem.counter_counts_eval):
        s.num_batches_tracked = (s.num_batches_tracked or 0) + 1
    if update:
        f = _factor(sem, cfg.momentum, s.num_batches_tracked or 0)
        stored = var_b * m / (m - 1) if sem.stored_variance == "unbiased" else var_b
        C = x.shape[1]
        for name, stat in (("running_mean", mean_b), ("running_var", stored)):
            r = getattr(s, name)
            new = np.broadcast_to(stat, (1, C) + stat.shape[2:]).reshape(C, -1).mean(axis=1)  # per channel
            setattr(s, name, f * r + (1 - f) * new if sem.momentum == "reversed" else (1 - f) * r + f * new)
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = {"inside": np.sqrt(var + cfg.eps), "outside": np.sqrt(var) + cfg.eps}.get(sem.eps, np.sqrt(var))
        xhat = (x - mean) / denominator
    C = x.shape[1]
    w = _cshape(np.ones(C) if s.weight is None else s.weight, x.ndim)
    b = _cshape(np.zeros(C) if s.bias is None else s.bias, x.ndim)
    return {"weight_then_bias": xhat * w + b, "weight_ignored": xhat + b,
            "bias_before_weight": (xhat + b) * w}[sem.affine]


def _factor(sem: Semantics, momentum, t: int) -> float:
    if momentum is None or (sem.momentum_zero_as_none and momentum == 0):
        return {"1/t": 1.0 / t, "1/(t+1)": 1.0 / (t + 1), "0.1": 0.1}[sem.momentum_none]
    return float(momentum)
