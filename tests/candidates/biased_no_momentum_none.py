"""Stores the biased running variance, and rejects momentum=None in its constructor."""

from tests.mutants.running import BiasedRunningVar


class make(BiasedRunningVar):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, *args, **kwargs):
        if momentum is None:
            raise NotImplementedError("momentum=None (a cumulative average) is not supported")
        super().__init__(num_features, eps, momentum, *args, **kwargs)
