"""One small interface over every candidate form.

Properties see an ``Instance``: call it in train or eval mode, read and set its state.
Whether the candidate is a torch.nn.Module, a NumPy object, a function with
torch.nn.functional.batch_norm's signature or a pure init/apply pair; the dtype move;
building non-contiguous inputs; and noticing a modified input all live here, once.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from conformance.candidates.errors import CandidateError, MalformedOutput, candidate_raised, raised
from conformance.candidates.instance import Pending, Ready, Seen
from conformance.spec import dtypes, oracle
from conformance.spec.cases import Config

STATE_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
VECTORS = STATE_FIELDS[:4]


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


# --- array kinds -------------------------------------------------------------------


class NumpyArrays:
    name = "numpy.ndarray"

    def native(self, a: np.ndarray, dtype=None):
        return a if dtype is None else np.array(a, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return np.array(a)

    def is_native(self, a) -> bool:
        return isinstance(a, np.ndarray)

    def dtype_name(self, a) -> str:
        return np.asarray(a).dtype.name


class TorchArrays:
    name = "torch.Tensor"

    def __init__(self, device=None):
        import torch

        self.torch, self.device = torch, device or torch.device("cpu")

    def native(self, a: np.ndarray, dtype=None, device=True):
        """A tensor of ``a``'s values on this device (on the CPU, sharing memory, without ``device``)."""
        a = np.asarray(a) if dtype is None else np.array(a, dtype=dtype)
        if a.dtype.name == "bfloat16":  # NumPy has no bfloat16: go through its bits
            t = self.torch.from_numpy(a.view(np.int16)).view(self.torch.bfloat16)
        else:
            t = self.torch.from_numpy(a)
        return t.to(self.device) if device and self.device.type != "cpu" else t

    def to_numpy(self, a) -> np.ndarray:
        a = a.detach().cpu()
        if a.dtype == self.torch.bfloat16:
            return a.view(self.torch.int16).numpy().view(dtypes.register_bfloat16()).copy()
        return a.numpy().copy()

    def is_native(self, a) -> bool:
        return isinstance(a, self.torch.Tensor)

    def dtype_name(self, a) -> str:
        return str(a.dtype).removeprefix("torch.")


# --- the interface -------------------------------------------------------------------


class AdaptedInstance:
    """One constructed candidate under test, in one dtype, in this process (satisfies ``Instance``)."""

    form = "?"
    arrays: NumpyArrays | TorchArrays

    def __init__(self, name: str, dtype, config: Config):
        self.name, self.dtype, self.config = name, np.dtype(dtype), config
        self.input_modified = False  # whether the last call changed its input

    # --- calls -------------------------------------------------------------------
    def forward(self, x: np.ndarray, layout: str = "contiguous") -> np.ndarray:
        """Call the candidate; a crash or a malformed result becomes a CandidateError."""
        try:
            return self.forward_raw(x, layout)
        except BaseException as e:
            if not candidate_raised(e):
                raise
            mode = "train" if self.training else "eval"
            raise CandidateError(
                f"{self.name} raised {raised(e)} (on a {x.dtype} input of shape {x.shape} "
                f"in {mode} mode, layout {layout})"
            ) from e

    def forward_raw(self, x: np.ndarray, layout: str = "contiguous") -> np.ndarray:
        """Call the candidate and let its exceptions through (for the error properties)."""
        native = self.arrays.native(lay_out(x, layout))
        out = self._call(native)
        self.input_modified = not _same(self.arrays.to_numpy(native), x)
        if not self.arrays.is_native(out):
            raise MalformedOutput(f"{self.name} returned {type(out).__name__}, expected {self.arrays.name}")
        y = self.arrays.to_numpy(out)
        if y.shape != x.shape:
            raise MalformedOutput(f"{self.name} returned shape {y.shape} for an input of shape {x.shape}")
        return y

    @property
    def device(self) -> str:
        return str(getattr(self.arrays, "device", None) or "cpu")

    def play(self, calls) -> Seen:
        """Each call ``(training, x, layout)`` in turn: its output and the state after it.
        (One request for a whole sequence when the candidate runs in a process of its own.)"""
        seen = []
        for training, x, layout in calls:
            self.train(training)
            seen.append((self.forward(x, layout), self.get_state()))
        return seen

    def play_later(self, calls) -> Pending[Seen]:
        """``play``, done at once: only a candidate in a process of its own works meanwhile."""
        return Ready(self.play(calls))

    # --- state -------------------------------------------------------------------
    def get_state(self) -> oracle.State:
        """The state as float64 copies (None where absent)."""
        vec = {k: None if (v := self._get(k)) is None else np.array(self.arrays.to_numpy(v), np.float64)
               for k in VECTORS}
        nbt = self._get("num_batches_tracked")
        return oracle.State(**vec, num_batches_tracked=None if nbt is None else int(nbt))

    def set_state(self, state: oracle.State) -> None:
        for k in STATE_FIELDS:
            v = getattr(state, k)
            if v is None:
                continue
            if self._get(k) is None:
                if k == "num_batches_tracked":
                    continue  # a candidate without a counter: the counter's own properties judge that
                raise CandidateError(f"{self.name} has no {k} although {self.config!r} should have one")
            self._set(k, v)

    # --- gradients ---------------------------------------------------------------------
    def can_backward(self) -> str | None:
        """None when gradients can be taken, else the reason they cannot."""
        return f"the {self.form} form has no backward"

    def backward(self, x: np.ndarray, grad_output: np.ndarray, layout: str = "contiguous") -> oracle.Gradients:
        """Run forward in the current mode, then backward with ``grad_output``; the three
        gradients as float64 arrays (weight and bias gradients None without affine)."""
        try:
            return self._backward(self.arrays.native(lay_out(x, layout)), grad_output)
        except BaseException as e:
            if not candidate_raised(e):
                raise
            raise CandidateError(f"{self.name}: backward raised {raised(e)} (input shape {x.shape})") from e

    def buffers_with_gradients(self) -> list[str]:
        """Names of running-stat buffers that take part in autograd (they must not)."""
        return []

    def state_dtypes(self) -> dict[str, str]:
        """Dtype names of the floating-point state that exists."""
        return {k: self.arrays.dtype_name(v) for k in VECTORS if (v := self._get(k)) is not None}

    # --- per form ------------------------------------------------------------------
    @property
    def training(self) -> bool:
        raise NotImplementedError

    def train(self, mode: bool = True): ...
    def eval(self): ...
    def _call(self, native): ...
    def _get(self, key): ...
    def _set(self, key, value): ...

    def _backward(self, native, grad_output) -> oracle.Gradients:
        raise NotImplementedError


class NumpyInstance(AdaptedInstance):
    """A NumPy object: __call__(ndarray) -> ndarray, train(), eval(), .training, state attributes."""

    form = "numpy"
    arrays = NumpyArrays()

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

    def _get(self, key):
        v = getattr(self.obj, key, None)
        return None if v is None else (int(v) if key == "num_batches_tracked" else v)

    def can_backward(self):
        if callable(getattr(self.obj, "backward", None)):
            return None
        return f"{self.name} has no backward(grad_output) -> (grad_input, grad_weight, grad_bias) method"

    def _backward(self, native, grad_output):
        self.obj(native)
        out = self.obj.backward(np.array(grad_output, dtype=native.dtype))
        if not (isinstance(out, tuple) and len(out) == 3):
            raise CandidateError(f"{self.name}: backward returned {type(out).__name__}, expected (dx, dweight, dbias)")
        dx, dw, db = (None if v is None else np.array(v, np.float64) for v in out)
        return oracle.Gradients(dx, dw, db)

    def _set(self, key, value):
        if key == "num_batches_tracked":
            setattr(self.obj, key, int(value))
        else:
            setattr(self.obj, key, np.array(value, dtype=np.asarray(self._get(key)).dtype))


class TorchInstance(AdaptedInstance):
    """A torch.nn.Module shaped like torch.nn.BatchNorm1d, moved to the dtype under test."""

    form = "module"

    def __init__(self, name, dtype, config, module):
        import torch

        super().__init__(name, dtype, config)
        self.torch = torch
        self.module = module.to(torch_dtype(dtype))
        first = next(itertools.chain(module.parameters(), module.buffers()), None)
        self.arrays = TorchArrays(None if first is None else first.device)

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

    def _get(self, key):
        v = getattr(self.module, key, None)
        return None if v is None else (int(v.item()) if key == "num_batches_tracked" else v)

    def set_state(self, state: oracle.State) -> None:
        with self.torch.no_grad():
            super().set_state(state)

    def _set(self, key, value):
        # copy_ converts to the tensor's dtype and device; native() reads bfloat16 too
        getattr(self.module, key).copy_(self.arrays.native(np.asarray(value), device=False))

    def can_backward(self):
        return None

    def _backward(self, native, grad_output):
        x = native.detach().requires_grad_(True)
        self.module.zero_grad(set_to_none=True)
        y = self.module(x)
        y.backward(self.arrays.native(np.asarray(grad_output)).to(native.dtype))
        return _gradients(self.arrays, x, self._get("weight"), self._get("bias"))

    def buffers_with_gradients(self):
        return [k for k in ("running_mean", "running_var") if (t := self._get(k)) is not None
                and (t.requires_grad or t.grad is not None)]


def _gradients(arrays, x, weight, bias) -> oracle.Gradients:
    def grad(t):
        if t is None:
            return None
        if t.grad is None:
            raise CandidateError("no gradient reached a tensor that takes part in the output")
        return arrays.to_numpy(t.grad).astype(np.float64)

    return oracle.Gradients(grad(x), grad(weight), grad(bias))


class _HeldState(AdaptedInstance):
    """Forms whose state the suite holds and passes in: functional and pure."""

    def __init__(self, name, dtype, config, arrays, state: dict):
        super().__init__(name, dtype, config)
        self.arrays, self.state, self._training = arrays, state, True

    @property
    def training(self) -> bool:
        return self._training

    def train(self, mode: bool = True):
        self._training = bool(mode)

    def eval(self):
        self._training = False

    def _get(self, key):
        return self.state.get(key)

    def _set(self, key, value):
        self.state[key] = (int(value) if key == "num_batches_tracked"
                           else self.arrays.native(np.asarray(value), self.dtype))


def fresh_state(config: Config, dtype, arrays) -> dict:
    fresh = oracle.State.fresh(config.num_features, affine=config.affine,
                               track_running_stats=config.track_running_stats)
    state = {k: None if (v := getattr(fresh, k)) is None else arrays.native(v, dtype) for k in VECTORS}
    state["num_batches_tracked"] = fresh.num_batches_tracked
    return state


class FunctionalInstance(_HeldState):
    """fn(input, running_mean, running_var, weight, bias, training, momentum, eps) -> output,
    running stats updated in place. The suite plays the module's part: it holds the
    tensors, and (as BatchNorm1d does) uses batch statistics when there are no running stats.
    The function never sees num_batches_tracked: the suite holds it and nothing changes it."""

    def __init__(self, name, dtype, config, fn, arrays):
        super().__init__(name, dtype, config, arrays, fresh_state(config, dtype, arrays))
        self.fn = fn
        self.form = "functional-torch" if isinstance(arrays, TorchArrays) else "functional-numpy"

    def _call(self, native):
        s, c = self.state, self.config
        training = self.training or s["running_mean"] is None
        return self.fn(native, s["running_mean"], s["running_var"], s["weight"], s["bias"], training, c.momentum, c.eps)

    def _set(self, key, value):  # in place: the function writes into the tensors it is given
        if key in VECTORS:
            self.state[key][...] = self.arrays.native(np.asarray(value), self.dtype)
        else:
            super()._set(key, value)

    def can_backward(self):
        return None if self.form == "functional-torch" else "the functional-numpy form has no backward"

    def _backward(self, native, grad_output):
        s, c = self.state, self.config
        leaf = lambda t: None if t is None else t.detach().clone().requires_grad_(True)  # noqa: E731
        x, w, b = leaf(native), leaf(s["weight"]), leaf(s["bias"])
        y = self.fn(x, s["running_mean"], s["running_var"], w, b, self.training or s["running_mean"] is None,
                    c.momentum, c.eps)
        y.backward(self.arrays.native(np.asarray(grad_output)).to(native.dtype))
        return _gradients(self.arrays, x, w, b)

    def buffers_with_gradients(self):
        return [k for k in ("running_mean", "running_var") if (t := self.state[k]) is not None
                and (t.requires_grad or t.grad is not None)]


class PureInstance(_HeldState):
    """init(num_features, *, affine, track_running_stats, dtype) -> state;
    apply(state, x, *, training, momentum, eps) -> (y, new_state). Nothing passed in may change."""

    form = "pure"

    def __init__(self, name, dtype, config, obj):
        try:
            state = obj.init(config.num_features, affine=config.affine, track_running_stats=config.track_running_stats,
                             dtype=np.dtype(dtype).type)
        except BaseException as e:
            if not candidate_raised(e):
                raise
            raise CandidateError(f"{name}: init({config.num_features}, ...) raised {raised(e)}") from e
        super().__init__(name, dtype, config, NumpyArrays(), dict(state))
        self.obj = obj
        self.state_modified = False  # whether the last apply changed the state passed in

    def _call(self, native):
        passed = dict(self.state)
        before = {k: None if v is None else np.array(v, copy=True) for k, v in passed.items()}
        out = self.obj.apply(passed, native, training=self.training, momentum=self.config.momentum, eps=self.config.eps)
        self.state_modified = set(passed) != set(before) or any(not _equal_value(passed[k], before[k]) for k in before)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise CandidateError(f"{self.name}: apply returned {type(out).__name__}, expected a (y, new_state) pair")
        y, new_state = out
        self.state = dict(new_state)
        return y


def _equal_value(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return _same(np.asarray(a), np.asarray(b))


def torch_dtype(dtype):
    import torch

    return getattr(torch, np.dtype(dtype).name)


def is_torch_module(obj) -> bool:
    # An instance of torch.nn.Module exists only once torch is imported: no need to import it
    # to learn that a NumPy object is not one.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)
