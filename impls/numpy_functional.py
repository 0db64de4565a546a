"""A NumPy reference in torch.nn.functional.batch_norm's form: running stats in, updated in place."""

from __future__ import annotations

import numpy as np

from conformance.spec import oracle


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    x = np.asarray(input)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    if not training and running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    for name, v in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if v is not None and v.shape[0] != x.shape[1]:
            raise RuntimeError(f"{name} should contain {x.shape[1]} elements not {v.shape[0]}")
    # The oracle's counter is unused: momentum is always a number here.
    state = oracle.State(weight, bias, running_mean, running_var, 0 if running_mean is not None else None)
    out = oracle.forward(state, x, training=training, eps=eps, momentum=float(momentum))
    if out.f is not None:
        running_mean[...] = state.running_mean
        running_var[...] = state.running_var
    return out.y.astype(x.dtype)


batch_norm.conformance_form = "functional-numpy"
