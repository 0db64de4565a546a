"""A correct NumPy BatchNorm1d that rejects track_running_stats=False in its constructor."""

from tests.mutants.base import Reference


class make(Reference):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, **kwargs):
        if not track_running_stats:
            raise NotImplementedError("track_running_stats=False is not supported")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, **kwargs)
