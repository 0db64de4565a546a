"""Bugs in a hand-written backward pass (NumPy form: ``backward(grad_output)``)."""

from __future__ import annotations

from .base import Reference


class BackwardFromTheOutput(Reference):
    """The output y = weight * xhat + bias is kept for backward in place of xhat."""

    def save_for_backward(self, xhat, y, var, axes, count, used_batch_statistics):
        super().save_for_backward(y, y, var, axes, count, used_batch_statistics)
