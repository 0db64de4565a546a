"""The dtypes the suite checks, and how each is stored and computed.

float32 and float64 are the core. float16 and bfloat16 are capabilities: an
implementation declares them (``conformance_dtypes``) and a run asks for them
(``--dtype``). A half-precision check feeds half input to a float32 module, as
mixed-precision training does: the output is half, the state stays float32, and a
correct implementation accumulates in float32.

bfloat16 comes from ml_dtypes (the NumPy extension JAX uses), which registers the name with
NumPy when imported (``register_bfloat16``). The suite's own process imports it with the
tolerances; a candidate's process only when it meets bfloat16, since the import takes most of
its start-up.
"""

from __future__ import annotations

import numpy as np

CORE = ("float32", "float64")
HALF = ("float16", "bfloat16")
ALL = CORE + HALF


def register_bfloat16() -> np.dtype:
    """Import ml_dtypes, so that ``np.dtype("bfloat16")`` works; NumPy's bfloat16."""
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


def name(dtype) -> str:
    if isinstance(dtype, str) and dtype == "bfloat16":
        register_bfloat16()
    return np.dtype(dtype).name


def state_dtype(dtype) -> str:
    """The dtype of the module (its parameters and buffers) when fed ``dtype`` input."""
    return "float32" if name(dtype) in HALF else name(dtype)


def compute_dtype(dtype) -> str:
    """The precision a correct implementation accumulates in for ``dtype`` input."""
    return state_dtype(dtype)


def finfo(dtype):
    import ml_dtypes

    return ml_dtypes.finfo(np.dtype(name(dtype)))
