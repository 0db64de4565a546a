"""One small interface over every candidate form.

Properties see an ``Instance``: call it in train or eval mode, read and set its state.
Whether the candidate is a torch.nn.Module or a NumPy object, the dtype move, building
non-contiguous inputs and noticing a modified input all live here, once.
"""

from __future__ import annotations

import numpy as np

from . import oracle
from .cases import Config

STATE_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class CandidateError(AssertionError):
    """The candidate broke the calling contract: it crashed, or returned the wrong kind of thing."""


def lay_out(x: np.ndarray, layout: str) -> np.ndarray:
    """A view with the values of ``x`` in the requested memory layout.

    transposed: the axes reversed in memory (Fortran order); strided: every other
    element of a buffer twice as long in the last axis, the gaps filled with NaN so
    that reading them shows.
    """
    if layout == "contiguous":
        return np.ascontiguousarray(x).copy()
    if layout == "transposed":
        return np.asfortranarray(x).copy(order="F")
    if layout == "strided":
        buf = np.full(x.shape[:-1] + (2 * x.shape[-1],), np.nan, dtype=x.dtype)
        view = buf[..., ::2]
        view[...] = x
        return view
    raise ValueError(f"unknown layout {layout!r}")


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


class Instance:
    """One constructed candidate under test, in one dtype."""

    form = "?"

    def __init__(self, name: str, dtype, config: Config):
        self.name, self.dtype, self.config = name, np.dtype(dtype), config
        self.input_modified = False  # whether the last call changed its input

    # --- calls -------------------------------------------------------------------
    def forward(self, x: np.ndarray, layout: str = "contiguous") -> np.ndarray:
        """Call the candidate; a crash or a malformed result becomes a CandidateError."""
        try:
            return self.forward_raw(x, layout)
        except CandidateError:
            raise
        except Exception as e:
            mode = "train" if self.training else "eval"
            raise CandidateError(
                f"{self.name} raised {type(e).__name__}: {e} (on a {x.dtype} input of shape {x.shape} "
                f"in {mode} mode, layout {layout})"
            ) from e

    def forward_raw(self, x: np.ndarray, layout: str = "contiguous") -> np.ndarray:
        """Call the candidate and let its exceptions through (for the error properties)."""
        arr = lay_out(x, layout)
        native = self._to_native(arr)
        before = x.copy()
        out = self._call(native)
        self.input_modified = not _same(self._from_native_input(native), before)
        y = self._from_native_output(out)
        if y.shape != x.shape:
            raise CandidateError(f"{self.name} returned shape {y.shape} for an input of shape {x.shape}")
        return y

    # --- state -------------------------------------------------------------------
    def get_state(self) -> oracle.State:
        """The state as float64 copies (None where absent)."""
        raw = {k: self._get(k) for k in STATE_FIELDS}
        return oracle.State(
            **{k: None if v is None else np.array(v, np.float64) for k, v in raw.items() if k != "num_batches_tracked"},
            num_batches_tracked=raw["num_batches_tracked"],
        )

    def set_state(self, state: oracle.State) -> None:
        for k in STATE_FIELDS:
            v = getattr(state, k)
            if v is None:
                continue
            if self._get(k) is None:
                raise CandidateError(f"{self.name} has no {k} although {self.config!r} should have one")
            self._set(k, v)

    def state_dtypes(self) -> dict[str, str]:
        """Dtype names of the floating-point state that exists."""
        return {k: d for k in STATE_FIELDS[:4] if (d := self._dtype_of(k)) is not None}

    # --- to be provided per form ------------------------------------------------
    training: bool

    def train(self, mode: bool = True): ...
    def eval(self): ...
    def _call(self, native): ...
    def _to_native(self, arr: np.ndarray): ...
    def _from_native_input(self, native) -> np.ndarray: ...
    def _from_native_output(self, out) -> np.ndarray: ...
    def _get(self, key): ...
    def _set(self, key, value): ...
    def _dtype_of(self, key) -> str | None: ...


class NumpyInstance(Instance):
    """A NumPy object: __call__(ndarray) -> ndarray, train(), eval(), .training, state attributes."""

    form = "numpy"

    def __init__(self, name, dtype, config, obj):
        super().__init__(name, dtype, config)
        self.obj = obj

    @property
    def training(self) -> bool:
        return bool(self.obj.training)

    def train(self, mode: bool = True):
        self.obj.train(mode)

    def eval(self):
        self.obj.eval()

    def _call(self, native):
        return self.obj(native)

    def _to_native(self, arr):
        return arr

    def _from_native_input(self, native):
        return np.asarray(native)

    def _from_native_output(self, out):
        if not isinstance(out, np.ndarray):
            raise CandidateError(f"{self.name} returned {type(out).__name__}, expected numpy.ndarray")
        return out.copy()

    def _get(self, key):
        v = getattr(self.obj, key, None)
        if key == "num_batches_tracked":
            return None if v is None else int(v)
        return v

    def _set(self, key, value):
        if key == "num_batches_tracked":
            setattr(self.obj, key, int(value))
        else:
            setattr(self.obj, key, np.array(value, dtype=np.asarray(self._get(key)).dtype))

    def _dtype_of(self, key):
        v = getattr(self.obj, key, None)
        return None if v is None else np.asarray(v).dtype.name


class TorchInstance(Instance):
    """A torch.nn.Module shaped like torch.nn.BatchNorm1d, moved to the dtype under test."""

    form = "module"

    def __init__(self, name, dtype, config, module):
        import torch

        super().__init__(name, dtype, config)
        self.torch = torch
        self.module = module.to(_torch_dtype(torch, dtype))
        tensors = list(module.parameters()) + list(module.buffers())
        self.device = tensors[0].device if tensors else torch.device("cpu")

    @property
    def training(self) -> bool:
        return bool(self.module.training)

    def train(self, mode: bool = True):
        self.module.train(mode)

    def eval(self):
        self.module.eval()

    def _call(self, native):
        with self.torch.no_grad():
            return self.module(native)

    def _to_native(self, arr):
        return self.torch.from_numpy(arr).to(self.device)

    def _from_native_input(self, native):
        return native.cpu().numpy()

    def _from_native_output(self, out):
        if not isinstance(out, self.torch.Tensor):
            raise CandidateError(f"{self.name} returned {type(out).__name__}, expected torch.Tensor")
        return out.detach().cpu().numpy().copy()

    def _get(self, key):
        v = getattr(self.module, key, None)
        if v is None:
            return None
        if key == "num_batches_tracked":
            return int(v.item())
        return v.detach().cpu().numpy()

    def _set(self, key, value):
        t = getattr(self.module, key)
        with self.torch.no_grad():
            t.copy_(self.torch.as_tensor(np.asarray(value)).to(t.dtype))

    def _dtype_of(self, key):
        v = getattr(self.module, key, None)
        return None if v is None else str(v.dtype).removeprefix("torch.")


def _torch_dtype(torch, dtype):
    return {"float32": torch.float32, "float64": torch.float64}[np.dtype(dtype).name]


def is_torch_module(obj) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(obj, torch.nn.Module)
