"""A buggy BatchNorm1d whose bug the diagnosis catalog does not describe: the bias is added twice."""

from tests.mutants.base import Reference


class make(Reference):
    def apply_affine(self, y):
        y = super().apply_affine(y)
        return y if self.bias is None else y + self.as_channels(self.bias, y.ndim)
