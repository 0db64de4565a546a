"""Bugs in a hand-written backward pass (NumPy form: ``backward(grad_output)``)."""

from __future__ import annotations

from tests.mutants.base import Reference


class BackwardFromTheOutput(Reference):
    """The output y = weight * xhat + bias is kept for backward in place of xhat."""

    def save_for_backward(self, xhat, y, var, axes, count, used_batch_statistics):
        super().save_for_backward(y, y, var, axes, count, used_batch_statistics)


class GradBiasAsMean(Reference):
    """d bias is the mean of grad_output over the channel instead of its sum."""

    def bias_gradient(self, g, axes):
        return g.mean(axis=axes)


class MissingGradTerm(Reference):
    """d input leaves out the term that flows through the variance: - xhat * sum(g * w * xhat)."""

    def input_gradient(self, gh, xhat, inv_std, axes, m):
        return inv_std / m * (m * gh - gh.sum(axis=axes, keepdims=True))


class NoAffineGradients(Reference):
    """backward returns (grad_input, None, None) even with affine=True: weight and bias never learn."""

    def backward(self, grad_output):
        return super().backward(grad_output)[0], None, None
