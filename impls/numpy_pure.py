"""A NumPy reference in the pure form: state in, (output, new state) out, nothing modified."""

from __future__ import annotations

import numpy as np

from conformance.spec import oracle


class reference:
    @staticmethod
    def init(num_features, *, affine=True, track_running_stats=True, dtype=np.float32):
        fresh = oracle.State.fresh(num_features, affine=affine, track_running_stats=track_running_stats)
        state = {k: None if (v := getattr(fresh, k)) is None else v.astype(dtype)
                 for k in ("weight", "bias", "running_mean", "running_var")}
        state["num_batches_tracked"] = fresh.num_batches_tracked
        return state

    @staticmethod
    def apply(state, x, *, training, momentum, eps):
        x = np.asarray(x)
        if x.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.ndim}D input)")
        for k in ("running_mean", "running_var", "weight", "bias"):
            if state[k] is not None and state[k].shape[0] != x.shape[1]:
                raise ValueError(f"{k} should contain {x.shape[1]} elements not {state[k].shape[0]}")
        work = oracle.State(*(state[k] for k in ("weight", "bias", "running_mean", "running_var",
                                                 "num_batches_tracked"))).copy()
        out = oracle.forward(work, x, training=training, eps=eps, momentum=momentum)
        new = dict(state)
        if out.f is not None:
            dtype = state["running_mean"].dtype
            new.update(running_mean=work.running_mean.astype(dtype), running_var=work.running_var.astype(dtype),
                       num_batches_tracked=work.num_batches_tracked)
        return out.y.astype(x.dtype), new
