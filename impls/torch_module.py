"""torch.nn.BatchNorm1d itself, on the CPU (``torch``) or on CUDA (``torch-cuda``)."""

from __future__ import annotations

from conformance.candidates.errors import Unavailable
from conformance.spec.dtypes import ALL


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
    import torch

    return torch.nn.BatchNorm1d(num_features, eps=eps, momentum=momentum, affine=affine,
                                track_running_stats=track_running_stats)


def make_cuda(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
    import torch

    if not torch.cuda.is_available():
        raise Unavailable("torch-cuda: CUDA is not available on this machine (torch.cuda.is_available() is False)")
    return make(num_features, eps, momentum, affine, track_running_stats).to("cuda")


make.conformance_dtypes = make_cuda.conformance_dtypes = ALL  # float16 and bfloat16 too: torch runs both on CPU
make.conformance_framework = make_cuda.conformance_framework = ("torch",)  # the matrix's version column
