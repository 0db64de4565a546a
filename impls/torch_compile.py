"""torch.nn.BatchNorm1d compiled with ``torch.compile`` (TorchInductor), registered as ``torch-compile``.

Each instance is the eager module with ``module.compile(dynamic=True)``: dynamic shapes, so
that a new batch size or length does not recompile. The first factory call in a process
compiles and runs a small module once; where inductor cannot compile (no C++ compiler, say),
the factory raises ``Unavailable`` with the reason and the suite skips the implementation.
Where compiled torch differs from eager torch, the suite reports it: nothing here corrects it.
"""

from __future__ import annotations

from conformance.candidates.errors import Unavailable

_CHECKED: dict[str, str | None] = {}  # "reason": why inductor cannot compile here, None where it can


def _torch():
    if "reason" not in _CHECKED:
        _CHECKED["reason"] = _cannot_compile()
    if _CHECKED["reason"] is not None:
        raise Unavailable(f"torch-compile: torch.compile cannot compile on this machine: {_CHECKED['reason']}")
    import torch

    return torch


def _cannot_compile() -> str | None:
    """None where inductor compiles and runs a BatchNorm1d, else what went wrong, in one line."""
    import torch

    try:
        probe = torch.nn.BatchNorm1d(2)
        probe.compile(dynamic=True)
        probe(torch.arange(8.0).reshape(4, 2))
    except Exception as e:  # noqa: BLE001 - any failure to compile means the implementation cannot run here
        text = str(e).strip().splitlines()
        return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
    return None


def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
    torch = _torch()
    module = torch.nn.BatchNorm1d(num_features, eps=eps, momentum=momentum, affine=affine,
                                  track_running_stats=track_running_stats)
    module.compile(dynamic=True)
    return module


make.conformance_framework = ("torch",)
