"""A correct NumPy BatchNorm1d without a batch counter, which declares so (conformance_lacks)."""

from tests.mutants.base import Reference


class make(Reference):
    conformance_lacks = ("counter",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_batches_tracked = None  # no counter: momentum is always a number here

    def count_batch(self):
        pass
