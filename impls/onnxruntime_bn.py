"""ONNX Runtime running a one-node ``BatchNormalization`` model (registered name ``onnxruntime``).

Install with ``pip install 'batchnorm-conformance[onnxruntime]'`` (onnx builds the model,
onnxruntime runs it on the CPU execution provider).

The model is built with the ``onnx.helper`` API: one BatchNormalization node (opset 15),
inputs X, scale, B, input_mean, input_var, X of any rank. An ONNX graph holds no state: the
adapter holds weight, bias and the running statistics and feeds them in (see
impls/framework_shell.py). Eval calls run the node in inference mode (``training_mode=0``,
the default: Y from input_mean and input_var). Train calls run a second model whose node has
``training_mode=1``: Y from the batch statistics, and the outputs running_mean and running_var,
which the adapter stores. ONNX Runtime's CPU build runs training_mode=1 (checked with 1.32); a
build that cannot makes the factory raise Unavailable, saying so, and nothing is checked.

Mapped: ``momentum = 1 - torch momentum`` (ONNX weighs input_mean by its momentum),
``epsilon=eps``, the channel axis is ONNX's own (axis 1). ONNX has no affine flag: with
affine=False the adapter feeds scale 1 and B 0 (exact: x_hat * 1 + 0). ``track_running_stats=False``:
every call runs the training_mode=1 model, fed fresh statistics whose update is dropped.
A fresh instance starts in inference mode, as the node does by default; ``factory(C)`` leaves
epsilon and momentum unset, so ONNX's defaults (1e-5 and 0.9, i.e. 0.1 in torch's convention) apply.

Declared: no batch counter; no 1D-specific rank check (the op takes any rank >= 2); no backward
(inference runtime). Not corrected: the running_var ONNX stores is the biased variance (the ONNX
spec's ReduceVar), and ONNX attributes are 32-bit floats, so a float64 model normalises with
float32(eps) and updates with float32(momentum).
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.candidates.errors import Unavailable
from conformance.impls.framework_shell import DEFAULT, FrameworkBatchNorm, decay, require

OPSET = 15
INPUTS = ("X", "scale", "B", "input_mean", "input_var")


def _modules():
    onnx = require("onnx", "onnxruntime")
    ort = require("onnxruntime", "onnxruntime")
    return onnx, ort


def model(dtype_name: str, epsilon=DEFAULT, momentum=DEFAULT, training: bool = False):
    """The one-node ONNX model (a ModelProto); epsilon and momentum in ONNX's convention,
    DEFAULT leaving the attribute unset."""
    onnx, _ = _modules()
    helper, elem = onnx.helper, {"float32": onnx.TensorProto.FLOAT, "float64": onnx.TensorProto.DOUBLE}[dtype_name]
    attrs = {k: float(v) for k, v in (("epsilon", epsilon), ("momentum", momentum)) if v is not DEFAULT}
    if training:
        attrs["training_mode"] = 1
    outputs = ["Y", "running_mean", "running_var"] if training else ["Y"]
    node = helper.make_node("BatchNormalization", list(INPUTS), outputs, **attrs)
    vector = lambda name: helper.make_tensor_value_info(name, elem, ["C"])  # noqa: E731
    graph = helper.make_graph([node], "batchnorm", [helper.make_tensor_value_info("X", elem, None)]
                              + [vector(n) for n in INPUTS[1:]],
                              [helper.make_tensor_value_info("Y", elem, None)] + [vector(n) for n in outputs[1:]])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                             producer_name="batchnorm-conformance")


@functools.lru_cache(maxsize=512)
def session(dtype_name: str, epsilon=DEFAULT, momentum=DEFAULT, training: bool = False):
    _, ort = _modules()
    ort.set_default_logger_severity(4)  # errors reach the suite as exceptions: no log lines
    options = ort.SessionOptions()
    options.log_severity_level = 4
    # One thread: a session per (eps, momentum) is built in under a millisecond (with ONNX Runtime's
    # thread pools, several); the default graph optimisations stay on.
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(model(dtype_name, epsilon, momentum, training).SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=None)
def _check_training_mode(dtype_name: str) -> None:
    _, ort = _modules()
    try:
        feeds = {n: np.ones((2, 1) if n == "X" else 1, dtype_name) for n in INPUTS}
        session(dtype_name, training=True).run(None, feeds)
    except Exception as e:
        raise Unavailable(f"onnxruntime {ort.__version__} cannot run BatchNormalization with training_mode=1 "
                          f"on the CPU ({type(e).__name__}: {e}); this adapter needs it for train calls") from e


class OnnxRuntimeBatchNorm1d(FrameworkBatchNorm):
    framework = "onnxruntime"

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        super().__init__(num_features, affine=affine, track_running_stats=track_running_stats, dtype=dtype,
                         training=False)
        _check_training_mode(self.dtype.name)
        self._attrs = (DEFAULT if eps is DEFAULT else float(eps), DEFAULT if momentum is DEFAULT else decay(momentum))
        C = num_features
        if affine:
            self.weight, self.bias = np.ones(C, self.dtype), np.zeros(C, self.dtype)
        if track_running_stats:
            self.running_mean, self.running_var = self._fresh_stats()

    def _run(self, x, *, batch_stats):
        C, dtype = self.num_features, self.dtype
        scale = self.weight if self.affine else np.ones(C, dtype)
        bias = self.bias if self.affine else np.zeros(C, dtype)
        feeds = dict(zip(INPUTS, (x, scale, bias, *self._stats_in())))
        out = session(dtype.name, *self._attrs, training=batch_stats).run(None, feeds)
        return (out[0], (out[1], out[2])) if batch_stats else (out[0], None)


def make(num_features, eps=DEFAULT, momentum=DEFAULT, affine=True, track_running_stats=True, *, dtype):
    return OnnxRuntimeBatchNorm1d(num_features, eps, momentum, affine, track_running_stats, dtype)


def framework() -> str:
    """What the adapter runs (the matrix's version column)."""
    onnx, ort = _modules()
    return f"onnxruntime {ort.__version__} (CPU), onnx {onnx.__version__}, opset {OPSET}"


make.conformance_form = "numpy"
make.conformance_dtypes = ("float32", "float64")
make.conformance_lacks = ("counter", "rank_check", "backward")
make.conformance_framework = framework
