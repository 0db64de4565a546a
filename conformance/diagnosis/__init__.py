"""Diagnosis: which known deviation does a failing implementation have?

A failing property says *that* an implementation differs from torch; the diagnosis says
*how*, in words. It plays a few fixed probes (a configuration, a state and a call
sequence with fixed inputs) on the candidate through the ``Instance`` interface and
compares what it observes (each call's output, running stats and counter) with

- torch's semantics: the float64 oracle, with the error bounds of ``replay.run_oracle``;
- each *variant* in the catalog: the same semantics with one step done the way a known
  deviation does it (statistics pooled per position, eps outside the square root,
  running_var biased, ...), computed by ``predict``.

A variant matches when the candidate agrees with it on every observation, within the
tolerances module's bounds; two entries may match together (an implementation with two
bugs), and with them any number of entries about defaults, which only the probe of
``factory(C)`` sees (a framework differs from torch in several defaults at once). Some
entries are checks rather than variants (the input modified in place, a missing
ValueError, the result depending on memory layout); they are run on the side. A float64
candidate that computes in float32 (or rounds eps, or keeps state, in float32) has its
probes compared with torch at float32's precision, so that what else it does can be named.
When the candidate differs from torch and no variant, alone or paired, reproduces it,
the verdict says the deviation is not in the catalog and lists what differs: it is
never forced into the nearest entry.

``diagnose`` never raises: a candidate that crashes while probed gets a verdict that
starts with "probe crashed:".
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np

from conformance.spec import dtypes, oracle, tolerances
from conformance.candidates import replay
from conformance.spec.cases import Call, Case, Config
from conformance.candidates.forms import HAS

# --- the semantics a variant changes ---------------------------------------------------


@dataclass(frozen=True)
class Semantics:
    """torch's BatchNorm1d with each step a catalog entry may change, at torch's setting."""

    pooling: str = "channel"  # all N*L values of a channel; "position": each (c, l) over N;
    #                           "position_loop": one 2D call per position; "all": every channel together
    variance: str = "about_mean"  # "about_zero": mean(x^2)
    normalise_unbiased: bool = False  # the normalisation divides by m - 1
    eps: str = "inside"  # sqrt(var + eps); "outside": sqrt(var) + eps; "ignored": sqrt(var)
    affine: str = "weight_then_bias"  # "weight_ignored": xhat + bias; "bias_before_weight": (xhat + bias) * weight
    stored_variance: str = "unbiased"  # running_var accumulates sigma^2 * m/(m-1); "biased": sigma^2
    momentum: str = "torch"  # (1 - f) running + f batch; "reversed": f running + (1 - f) batch
    momentum_none: str = "1/t"  # the factor of momentum=None: "1/(t+1)", "0.1"
    momentum_zero_as_none: bool = False
    eval_uses_batch: bool = False
    eval_updates: bool = False
    counter_counts_eval: bool = False
    # what factory(C) does with the arguments it is not given
    default_eps: float = oracle.DEFAULT_EPS
    default_momentum: float | None = oracle.DEFAULT_MOMENTUM
    initial_running_var: float = 1.0
    starts_training: bool = True


@dataclass(frozen=True)
class Entry:
    """A named known deviation: a change to the semantics, or a side check; and its verdict."""

    name: str
    title: str
    verdict: str  # what the implementation does, what torch does
    changes: dict = field(default_factory=dict)  # Semantics fields (empty for a side check)
    check: str | None = None  # the side check that detects it (see SIDE_CHECKS)

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "verdict": self.verdict}


CATALOG: tuple[Entry, ...] = (
    # which values pool
    Entry("per_position_pooling", "statistics pooled per position",
          "Each (channel, position) is normalised on its own: your implementation pools over N only, for every "
          "position l separately; torch pools all N*L values of a channel together (the tutorial's misreading).",
          {"pooling": "position"}),
    Entry("per_position_calls", "one 2D call per position",
          "Each position goes through the 2D computation separately: your implementation normalises x[:, :, l] "
          "over N alone and updates the running stats once per position; torch pools all N*L values of a channel "
          "and updates once per call (the tutorial's misreading).",
          {"pooling": "position_loop"}),
    Entry("pooled_over_channels", "statistics pooled over every channel",
          "One mean and variance for the whole batch: your implementation pools every channel together; torch "
          "computes the statistics per channel, over N and L.",
          {"pooling": "all"}),
    # the normalisation
    Entry("unbiased_normalisation", "unbiased variance in the normalisation",
          "The output is normalised with the unbiased variance: your implementation divides by "
          "sqrt(sigma^2 * m/(m-1) + eps); torch normalises with the biased sigma^2 (divide by m) and keeps the "
          "unbiased one for running_var only.",
          {"normalise_unbiased": True}),
    Entry("variance_about_zero", "variance taken about zero",
          "The variance is taken about zero: your implementation uses mean(x^2); torch uses mean((x - mean)^2).",
          {"variance": "about_zero"}),
    Entry("eps_outside_sqrt", "eps outside the square root",
          "eps sits outside the square root: your implementation divides by sqrt(sigma^2) + eps; torch divides by "
          "sqrt(sigma^2 + eps).",
          {"eps": "outside"}),
    Entry("eps_ignored", "eps ignored",
          "eps is never used: your implementation divides by sqrt(sigma^2); torch divides by sqrt(sigma^2 + eps).",
          {"eps": "ignored"}),
    Entry("weight_ignored", "weight ignored",
          "The weight is not applied: your implementation outputs xhat + bias; torch outputs weight * xhat + bias.",
          {"affine": "weight_ignored"}),
    Entry("bias_before_weight", "bias added before the weight",
          "The bias is added before scaling: your implementation outputs (xhat + bias) * weight; torch outputs "
          "weight * xhat + bias.",
          {"affine": "bias_before_weight"}),
    # the running statistics
    Entry("biased_running_var", "biased running_var",
          "running_var matches the biased variance: your implementation stores sigma^2, torch stores "
          "sigma^2 * m/(m-1) (the unbiased variance, m = N*L).",
          {"stored_variance": "biased"}),
    Entry("momentum_reversed", "momentum convention reversed",
          "The momentum convention is reversed: your implementation computes momentum * running + "
          "(1 - momentum) * batch (the Keras/Flax/ONNX convention); torch computes (1 - momentum) * running + "
          "momentum * batch.",
          {"momentum": "reversed"}),
    Entry("cumulative_average_off_by_one", "cumulative average off by one",
          "momentum=None's cumulative average is off by one: your implementation weighs the new batch by "
          "1/(t+1); torch weighs it by 1/t, t being num_batches_tracked after the increment (the first batch "
          "replaces the initial statistics).",
          {"momentum_none": "1/(t+1)"}),
    Entry("momentum_none_as_0_1", "momentum=None treated as 0.1",
          "momentum=None falls back to 0.1: your implementation uses a fixed momentum; torch uses the cumulative "
          "average, 1/num_batches_tracked.",
          {"momentum_none": "0.1"}),
    Entry("momentum_zero_as_none", "momentum=0 treated as None",
          "momentum=0 takes the cumulative-average branch (`if not momentum`): your implementation updates the "
          "running stats with 1/num_batches_tracked; torch keeps them frozen.",
          {"momentum_zero_as_none": True}),
    # train versus eval
    Entry("eval_uses_batch_statistics", "eval uses batch statistics",
          "Eval mode normalises with the batch statistics: your implementation ignores running_mean and "
          "running_var in eval; torch normalises with them.",
          {"eval_uses_batch": True}),
    Entry("eval_updates_running_stats", "eval updates the running stats",
          "Eval mode updates the running statistics: your implementation changes running_mean, running_var and "
          "num_batches_tracked in eval; torch changes no state in eval.",
          {"eval_updates": True}),
    Entry("counter_counts_eval_calls", "num_batches_tracked counts eval calls",
          "num_batches_tracked counts eval calls too: your implementation increments it on every call; torch "
          "counts training calls only.",
          {"counter_counts_eval": True}),
    # defaults
    Entry("default_eps_1e_3", "default eps 1e-3",
          "The default eps is 1e-3 (Keras' default): factory(C) normalises with eps=1e-3; torch's default is 1e-5.",
          {"default_eps": 1e-3}),
    Entry("default_momentum_0_9", "default momentum 0.9",
          "The default momentum is 0.9 in torch's convention (ONNX's 0.9 not converted): factory(C) keeps 90% of "
          "each batch; torch's default 0.1 keeps 10%.",
          {"default_momentum": 0.9}),
    Entry("default_momentum_0_01", "default momentum 0.01 (Keras' and Flax's 0.99)",
          "The default momentum is 0.01 in torch's convention (Keras' and Flax's default 0.99, which weighs the "
          "old running value): factory(C) keeps 1% of each batch; torch's default 0.1 keeps 10%.",
          {"default_momentum": 0.01}),
    Entry("running_var_starts_at_zero", "running_var starts at 0",
          "running_var starts at 0: factory(C) initialises it to zeros; torch initialises it to ones.",
          {"initial_running_var": 0.0}),
    Entry("starts_in_eval_mode", "starts in eval mode",
          "A fresh module is in eval mode: factory(C) has training=False; torch starts in training mode.",
          {"starts_training": False}),
    # side checks
    Entry("modifies_its_input", "input modified in place",
          "The input is modified in place: your implementation writes into the array it is given (e.g. "
          "x -= mean); torch never modifies its input.",
          check="input_modified"),
    Entry("depends_on_memory_layout", "result depends on the memory layout",
          "The result depends on how the input is laid out in memory: your implementation reads the raw buffer "
          "(a transposed or strided view gives other values); torch reads the values whatever the layout.",
          check="layout"),
    Entry("output_dtype_differs", "output dtype differs from the input's",
          "The output does not keep the input's dtype: your implementation returns another dtype (e.g. float64 "
          "for float32 input); torch returns the input's dtype.",
          check="output_dtype"),
    Entry("state_dtype_changes", "running stats change dtype",
          "The running statistics change dtype: your implementation replaces them with arrays of another dtype "
          "(e.g. rebinding to float64 results); torch updates them in place in the module's dtype.",
          check="state_dtype"),
    Entry("state_in_a_narrower_dtype", "state kept in a narrower dtype",
          "Part of the state is kept in a narrower dtype than the module's: your implementation holds e.g. float32 "
          "running statistics in a float64 module (Flax creates batch_stats as float32 whatever param_dtype), so "
          "they carry float32 rounding; torch keeps all state in the module's dtype.",
          check="narrow_state"),
    Entry("variance_cancels", "variance cancels catastrophically",
          "The variance loses its digits on a large offset: your implementation agrees with torch on centred data "
          "but not on the same data shifted by 1e4 (typical of E[x^2] - E[x]^2 in the working precision); torch "
          "subtracts the mean before squaring.",
          check="cancellation"),
    Entry("computes_in_float32", "float64 computed in float32",
          "A float64 module computes in float32: your implementation's float64 outputs and running stats carry "
          "float32 rounding (Keras 3 promotes float64 to float32 on its torch and JAX backends); torch computes "
          "float64 in float64.",
          check="float32_compute"),
    Entry("eps_rounded_to_float32", "eps rounded to float32",
          "eps is rounded to float32 in a float64 module: your implementation normalises with float32(eps) (ONNX "
          "stores float attributes, eps and momentum, in 32 bits); torch uses eps as given, in double.",
          check="eps_float32"),
    Entry("accepts_one_value_per_channel", "no error for one value per channel",
          "One value per channel is accepted in training: your implementation returns an output (the bias); "
          "torch raises ValueError('Expected more than 1 value per channel when training').",
          check="one_value"),
    Entry("accepts_other_ranks", "no rank check",
          "Input of rank other than 2 or 3 is accepted: your implementation normalises a 4D input; torch's "
          "BatchNorm1d raises ValueError('expected 2D or 3D input').",
          check="rank"),
    Entry("accepts_wrong_channel_count", "no channel-count check",
          "A channel count other than num_features is accepted (e.g. by broadcasting a size-1 channel axis); "
          "torch raises.",
          check="channels"),
)
BY_NAME = {e.name: e for e in CATALOG}


def variant(*entries: Entry) -> Semantics | None:
    """The semantics with every entry's changes; None when two entries change one step differently."""
    changes: dict = {}
    for e in entries:
        for k, v in e.changes.items():
            if k in changes and changes[k] != v:
                return None
            changes[k] = v
    return dataclasses.replace(Semantics(), **changes)


# --- the probes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    config: Config
    state: oracle.State | None  # None: built as factory(C), its own defaults observed
    calls: tuple[tuple[bool, np.ndarray], ...]  # (training, x); the values are exact in float32
    needs: tuple[str, ...] = ()  # capabilities of the candidate's form (conformance/forms.py)

    @property
    def defaults(self) -> bool:
        return self.state is None

    def case(self, dtype: str) -> Case:
        dt = np.dtype(dtype)
        return Case(self.config, dt.name, tuple(Call(t, x.astype(dt)) for t, x in self.calls), self.state)


def _grid(shape, seed, offsets, scale=1.0):
    """Fixed values on a 1/8 grid (exact in float32), one offset per channel."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-16, 17, size=shape) / 8.0 * scale
    return x + np.asarray(offsets, np.float64).reshape((1, -1) + (1,) * (len(shape) - 2))


def _positional(shape, seed, offsets):
    """(N, C, L) values whose mean and spread change with the position l."""
    x, L = _grid(shape, seed, offsets), shape[2]
    return x * (1 + np.arange(L) / 4.0).reshape(1, 1, L) + (np.arange(L) / 2.0).reshape(1, 1, L)


PROBES = (
    Probe("probe 1 (train, eval, train, eval; (N, C, L) input)",
          Config(3, eps=0.0625, momentum=0.25),
          oracle.State(np.array([1.5, -0.75, 2.0]), np.array([0.25, -1.0, 0.5]), np.array([0.5, -0.25, 1.0]),
                       np.array([2.0, 0.5, 1.5]), 4),
          ((True, _positional((3, 3, 4), 1, [1.0, -2.0, 0.5])),
           (False, _positional((2, 3, 4), 2, [0.0, 1.0, -1.0])),
           (True, _positional((4, 3, 2), 3, [2.0, 0.0, -0.5])),
           (False, _positional((2, 3, 3), 4, [0.5, 0.5, 0.5])))),
    Probe("probe 2 (momentum=None from a fresh counter; (N, C) input)",
          Config(2, eps=0.0625, momentum=None),
          oracle.State(np.array([1.25, -0.5]), np.array([0.5, 0.25]), np.zeros(2), np.ones(2), 0),
          ((True, _grid((3, 2), 5, [1.0, -1.0])),
           (True, _grid((5, 2), 6, [0.0, 2.0])),
           (True, _grid((2, 2), 7, [-1.0, 0.5], scale=2.0)),
           (False, _grid((2, 2), 8, [0.0, 0.0]))),
          needs=("counter",)),
    Probe("probe 3 (momentum=0; (N, C) input)",
          Config(2, eps=0.0625, momentum=0.0),
          oracle.State(np.array([1.0, 2.0]), np.array([0.0, -0.5]), np.array([0.25, -0.5]), np.array([1.5, 0.75]), 2),
          ((True, _grid((3, 2), 9, [1.0, 0.0])),
           (True, _grid((4, 2), 10, [-1.0, 1.0]))),
          needs=("counter",)),
    Probe("probe 4 (factory(C) with its defaults; (N, C, L) input)",
          Config(2), None,
          ((True, _positional((3, 2, 2), 11, [0.5, -1.0]) / 4),
           (False, _grid((2, 2, 2), 12, [0.0, 1.0]))),
          needs=("constructor",)),
)


# --- what a variant computes -------------------------------------------------------------


@dataclass
class Observation:
    label: str  # e.g. "call 2 (eval): running_var"
    kind: str  # "output", "running_mean", "running_var", "num_batches_tracked", "training"
    value: object


STATE_KINDS = ("running_mean", "running_var", "num_batches_tracked")


def _cshape(v, ndim):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def _fresh(sem: Semantics, C: int) -> oracle.State:
    s = oracle.State.fresh(C)
    s.running_var = np.full(C, sem.initial_running_var)
    return s


def predict(sem: Semantics, probe: Probe) -> list[Observation]:
    """What an implementation with semantics ``sem`` shows on ``probe``, in float64."""
    cfg = probe.config
    out: list[Observation] = []
    if probe.defaults:
        cfg = dataclasses.replace(cfg, eps=sem.default_eps, momentum=sem.default_momentum)
        s = _fresh(sem, cfg.num_features)
        out += _observe_fresh(sem.starts_training, s)
    else:
        s = probe.state.copy()
    for i, (training, x) in enumerate(probe.calls, 1):
        x = np.asarray(x, np.float64)
        if sem.pooling == "position_loop" and x.ndim == 3:
            inner = dataclasses.replace(sem, pooling="channel")
            y = np.stack([_call(inner, cfg, s, training, x[:, :, l]) for l in range(x.shape[2])], axis=2)
        else:
            y = _call(sem, cfg, s, training, x)
        out += _observe(i, training, y, s)
    return out


def _call(sem: Semantics, cfg: Config, s: oracle.State, training: bool, x: np.ndarray) -> np.ndarray:
    """One forward call; updates ``s`` as the variant does."""
    axes = {"position": (0,), "all": tuple(range(x.ndim))}.get(sem.pooling, (0,) if x.ndim == 2 else (0, 2))
    m = int(np.prod([x.shape[a] for a in axes]))
    mean_b = x.mean(axis=axes, keepdims=True)
    var_b = ((x - (0.0 if sem.variance == "about_zero" else mean_b)) ** 2).mean(axis=axes, keepdims=True)
    update = training or sem.eval_updates
    if training or sem.eval_uses_batch:
        mean, var = mean_b, var_b * (m / (m - 1) if sem.normalise_unbiased else 1.0)
    else:
        mean, var = _cshape(s.running_mean, x.ndim), _cshape(s.running_var, x.ndim)
    if update or sem.counter_counts_eval:
        s.num_batches_tracked += 1
    if update:
        f = _factor(sem, cfg.momentum, s.num_batches_tracked)
        stored = var_b * m / (m - 1) if sem.stored_variance == "unbiased" else var_b
        C = x.shape[1]
        for name, stat in (("running_mean", mean_b), ("running_var", stored)):
            r = getattr(s, name)
            new = np.broadcast_to(stat, (1, C) + stat.shape[2:]).reshape(C, -1).mean(axis=1)  # per channel
            setattr(s, name, f * r + (1 - f) * new if sem.momentum == "reversed" else (1 - f) * r + f * new)
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = {"inside": np.sqrt(var + cfg.eps), "outside": np.sqrt(var) + cfg.eps}.get(sem.eps, np.sqrt(var))
        xhat = (x - mean) / denominator
    w, b = _cshape(s.weight, x.ndim), _cshape(s.bias, x.ndim)
    return {"weight_then_bias": xhat * w + b, "weight_ignored": xhat + b,
            "bias_before_weight": (xhat + b) * w}[sem.affine]


def _factor(sem: Semantics, momentum, t: int) -> float:
    if momentum is None or (sem.momentum_zero_as_none and momentum == 0):
        return {"1/t": 1.0 / t, "1/(t+1)": 1.0 / (t + 1), "0.1": 0.1}[sem.momentum_none]
    return float(momentum)


def _observe_fresh(training, state) -> list[Observation]:
    return [Observation("fresh module: training", "training", bool(training))] + [
        Observation(f"fresh module: {k}", k, getattr(state, k)) for k in STATE_KINDS]


def _observe(i, training, y, state) -> list[Observation]:
    head = f"call {i} ({'train' if training else 'eval'})"
    return [Observation(f"{head}: output", "output", y)] + [
        Observation(f"{head}: {k}", k, getattr(state, k)) for k in STATE_KINDS]


# --- what the candidate does ---------------------------------------------------------------


class ProbeCrashed(Exception):
    pass


def _crash(e: Exception) -> ProbeCrashed:
    return ProbeCrashed(str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}")


def observe(impl, dtype: str, probe: Probe, facts: dict) -> list[Observation]:
    """Play ``probe`` on the candidate; note side facts (input modified, dtypes) in ``facts``."""
    case = probe.case(dtype)
    try:
        out: list[Observation] = []
        if probe.defaults:
            inst = impl.make_default(case.config.num_features, dtype)
            out += _observe_fresh(inst.training, inst.get_state())
        else:
            inst = impl.make(case.config, dtype)
            inst.set_state(case.initial_state())
        before = inst.state_dtypes()
        facts["narrow_state"] = facts.get("narrow_state", False) or _narrower(before, dtype)
        for i, call in enumerate(case.calls, 1):
            inst.train(call.training)
            y = inst.forward(call.x)
            facts["input_modified"] = facts.get("input_modified", False) or bool(inst.input_modified)
            facts["output_dtype"] = facts.get("output_dtype", False) or y.dtype != np.dtype(dtype)
            facts["state_dtype"] = facts.get("state_dtype", False) or inst.state_dtypes() != before
            facts["narrow_state"] = facts["narrow_state"] or _narrower(inst.state_dtypes(), dtype)
            out += _observe(i, call.training, y, inst.get_state())
    except Exception as e:  # noqa: BLE001 - whatever the candidate does is data here
        raise _crash(e) from e
    return out


def _narrower(state_dtypes: dict, dtype) -> bool:
    """Whether some state has fewer bits than the module's dtype (float32 for half input)."""
    module = np.dtype(dtypes.state_dtype(dtype)).itemsize
    return any(np.dtype(v).itemsize < module for v in state_dtypes.values())


def _raises(impl, dtype, config: Config, x: np.ndarray, training: bool = True) -> bool:
    inst = impl.make(config, dtype)
    inst.train(training)
    try:
        inst.forward_raw(x.astype(dtype))
    except Exception:  # noqa: BLE001 - any exception is a refusal here
        return True
    return False


def _layout_differs(impl, dtype, has) -> bool:
    probe = PROBES[0]
    x = probe.calls[0][1].astype(dtype)
    outs = []
    for layout in ("contiguous", "transposed", "strided"):
        inst = impl.make(probe.config, dtype)
        inst.set_state(probe.state)
        inst.train(True)
        outs.append(inst.forward(x, layout))
    bound = replay.run_oracle(probe.case(dtype)).output_bounds[0].reshape(1, -1, 1)
    return any(not (np.abs(o - outs[0]) <= 2 * bound).all() for o in outs[1:])


def _cancels(impl, dtype, judge) -> bool:
    """Agrees with torch on centred data, not on the same data shifted by 1e4 (spread 1e-2); judged
    with the bounds of ``judge`` (float32 for a float64 candidate that works in float32)."""
    centred = _grid((8, 2), 14, [0.0, 0.0]) / 100  # spread about 1e-2
    results = []
    for offset in (0.0, 1e4):
        case = Case(Config(2), dtype, (Call(True, (centred + offset).astype(dtype)),))
        inst = impl.make(case.config, dtype)
        inst.train(True)
        exp = replay.run_oracle(Case(case.config, judge, (Call(True, (centred + offset).astype(judge)),)))
        results.append(_close(inst.forward(case.x), exp.outputs[0], exp.output_bounds[0], judge)[0])
    return results == [True, False]


def _float64_fits(impl, dtype, x, eps) -> list[bool] | None:
    """In float64, a train call with batch statistics: whether the output is within the float64
    bounds, and within the float32 bounds, of the oracle's; None in another dtype."""
    if np.dtype(dtype) != np.float64:
        return None  # in float32 the two cannot be told apart
    config = Config(x.shape[1], eps=eps, affine=False, track_running_stats=False)
    inst = impl.make(config, dtype)
    inst.train(True)
    y = inst.forward(x.astype(dtype))
    fits = []
    for judge in ("float64", "float32"):
        exp = replay.run_oracle(Case(config, judge, (Call(True, x.astype(judge)),)))
        fits.append(_close(y, exp.outputs[0], exp.output_bounds[0], judge)[0])
    return fits


def _computes_in_float32(impl, dtype) -> bool:
    """In float64: the output has float32's error, not float64's (inputs and eps exact in float32)."""
    return _float64_fits(impl, dtype, _grid((8, 2), 16, [0.5, -1.0]), 0.0625) == [False, True]


def _eps_in_float32(impl, dtype) -> bool:
    """In float64: the output matches eps = float32(0.1), not eps = 0.1 (tiny spread: eps dominates)."""
    if np.dtype(dtype) != np.float64:
        return False  # in float32 the two cannot be told apart
    eps = 0.1
    x = _grid((8, 2), 15, [0.0, 0.0]) / 4096
    inst = impl.make(Config(2, eps=eps, affine=False, track_running_stats=False), dtype)
    inst.train(True)
    y = inst.forward(x.astype(dtype))
    fits = []
    for e in (eps, float(np.float32(eps))):
        exp = replay.run_oracle(Case(Config(2, eps=e, affine=False, track_running_stats=False), dtype,
                                     (Call(True, x.astype(dtype)),)))
        fits.append(_close(y, exp.outputs[0], exp.output_bounds[0], dtype)[0])
    return fits == [False, True]


COMPUTE_CHECKS = ("float32_compute", "eps_float32")  # the outputs carry float32 rounding
PRECISION_CHECKS = COMPUTE_CHECKS + ("narrow_state",)  # the outputs or the state do
SIDE_CHECKS = {
    # name: (capability needed, fn(impl, dtype, facts) -> deviation present)
    "input_modified": (None, lambda impl, dt, facts: facts.get("input_modified", False)),
    "output_dtype": (None, lambda impl, dt, facts: facts.get("output_dtype", False)),
    "state_dtype": (None, lambda impl, dt, facts: facts.get("state_dtype", False)),
    "narrow_state": (None, lambda impl, dt, facts: facts.get("narrow_state", False)),
    "layout": (None, lambda impl, dt, facts: _layout_differs(impl, dt, facts)),
    "one_value": (None, lambda impl, dt, facts: not _raises(impl, dt, Config(1), np.ones((1, 1)))),
    "rank": ("rank_check", lambda impl, dt, facts: not _raises(impl, dt, Config(2),
                                                                np.arange(16.0).reshape(2, 2, 2, 2))),
    "channels": (None, lambda impl, dt, facts: not _raises(impl, dt, Config(3, affine=False),
                                                           _grid((4, 1), 13, [0.0]))),
    "cancellation": (None, lambda impl, dt, facts: _cancels(impl, dt, facts.get("judge", dt))),
    "float32_compute": (None, lambda impl, dt, facts: _computes_in_float32(impl, dt)),
    "eps_float32": (None, lambda impl, dt, facts: _eps_in_float32(impl, dt)),
}


# --- comparing -------------------------------------------------------------------------------


def _bounds(probe: Probe, dtype: str) -> list:
    """Per observation, the bound on |candidate - prediction| (tolerances, through replay.run_oracle)."""
    exp = replay.run_oracle(probe.case(dtype))
    out = [0] * (1 + len(STATE_KINDS)) if probe.defaults else []
    for ob, sb in zip(exp.output_bounds, exp.state_bounds):
        out += [ob, sb.running_mean, sb.running_var, 0]
    return out


def _close(got, want, bound, dtype) -> tuple[bool, str]:
    if want is None or got is None:
        return (want is None) == (got is None), f"expected {want!r}, got {got!r}"
    if isinstance(want, (bool, int, np.integer)):
        return got == want, f"expected {want!r}, got {got!r}"
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if g.shape != w.shape:
        return False, f"shape {g.shape}, expected {w.shape}"
    b = np.asarray(bound, np.float64)
    if b.ndim == 1 and w.ndim > 1:
        b = b.reshape((1, -1) + (1,) * (w.ndim - 2))
    # The bound is for torch's values; a variant's values may need one more rounding each.
    b = np.broadcast_to(b, w.shape) + 2 * tolerances.value_bound(w, dtype)
    with np.errstate(invalid="ignore"):
        diff = np.abs(g - w)
        bad = ~(diff <= b)
    if not bad.any():
        return True, ""
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(bad, np.nan_to_num(diff, nan=np.inf), -1))),
                                                 w.shape))
    names = {1: "c", 2: "nc", 3: "ncl"}[w.ndim]
    where = "[" + ", ".join(f"{k}={i}" for k, i in zip(names, idx)) + "]"
    return False, f"at {where}: expected {float(w[idx]):.6g}, got {float(g[idx]):.6g}"


@dataclass
class _Played:
    probe: Probe
    seen: list[Observation]
    bounds: list


def _compared(played: _Played, predicted: list[Observation], dtype, counter: bool):
    """(observation, ok, why) for each observation the form can show."""
    for got, want, bound in zip(played.seen, predicted, played.bounds):
        if got.kind == "num_batches_tracked" and not counter:
            continue  # the suite holds the counter of a form that has none
        yield (got, *_close(got.value, want.value, bound, dtype))


# --- the verdict ------------------------------------------------------------------------------


@dataclass
class Result:
    status: str  # "matched", "ambiguous", "not_in_catalog", "probe_crashed", "not_run"
    verdict: str
    deviations: list[dict] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def diagnose(impl, dtype: str, failing: list[str] | None = None) -> Result:
    """Name the known deviations of ``impl`` (a ``registry.Implementation``) in ``dtype``.

    ``failing``: the ids of the properties it failed, quoted when no probe shows a
    difference. Never raises.
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _diagnose(impl, np.dtype(dtype).name, failing or [])
    except ProbeCrashed as e:
        return Result("probe_crashed", f"probe crashed: {e}")
    except Exception as e:  # noqa: BLE001 - the diagnosis must never break a run
        return Result("probe_crashed", f"probe crashed: the diagnosis itself failed ({type(e).__name__}: {e})")


def _diagnose(impl, dtype: str, failing: list[str]) -> Result:
    if getattr(impl, "unavailable", None):
        return Result("not_run", f"not probed: {impl.unavailable}")
    has = impl.capabilities if hasattr(impl, "capabilities") else HAS.get(impl.form, set())
    counter = "counter" in has
    facts: dict = {}
    seen = [(p, observe(impl, dtype, p, facts)) for p in PROBES if set(p.needs) <= has]
    # The precision checks first: a float64 candidate that works in float32 (or rounds eps to
    # float32) is compared with torch at float32's precision from then on, so that what else it
    # does can still be named.
    found = set()
    for e in sorted((e for e in CATALOG if e.check), key=lambda e: e.check not in PRECISION_CHECKS):
        need, check = SIDE_CHECKS[e.check]
        try:
            if (need is None or need in has) and check(impl, dtype, facts):
                found.add(e.name)
                if e.check in COMPUTE_CHECKS:
                    facts["judge"] = "float32"  # for the side checks that compare outputs
        except Exception as err:  # noqa: BLE001
            raise _crash(err) from err
    side = [e for e in CATALOG if e.name in found]
    if any(e.check in PRECISION_CHECKS for e in side):
        dtype = "float32"
    played = [_Played(p, observations, _bounds(p, dtype)) for p, observations in seen]
    reference = Semantics()
    differs = [f"{p.probe.name}, {ob.label} differs from torch {why}"
               for p in played for ob, ok, why in _compared(p, predict(reference, p.probe), dtype, counter) if not ok]
    if not differs:
        if side:
            return _matched(side, [])
        which = f" ({', '.join(failing)})" if failing else ""
        return Result("not_in_catalog",
                      f"Not in the catalog: the diagnosis probes saw torch's behaviour, so what the failing "
                      f"properties{which} show is a deviation the catalog does not describe.")
    # Up to two entries that change behaviour, fitted on the probes with explicit arguments; then
    # the fewest entries about defaults (any number: a framework differs in several at once) that
    # also fit the probe of factory(C), which is the only probe they change.
    behaviour = [e for e in CATALOG if e.changes and not _about_defaults(e)]
    defaults = [e for e in CATALOG if e.changes and _about_defaults(e)]
    explicit = [p for p in played if not p.probe.defaults]
    fresh = [p for p in played if p.probe.defaults]
    for size in (0, 1, 2):
        found = []
        for combo in itertools.combinations(behaviour, size):
            if _fits(combo, explicit, dtype, counter):
                found += [combo + extra for extra in _fewest_defaults(combo, defaults, fresh, dtype, counter)]
        if len(found) == 1:
            return _matched(list(found[0]) + side, differs[:8])
        if found:  # the probes cannot tell these apart: say so rather than pick one
            names = " or ".join(" + ".join(e.title for e in c) for c in found)
            return Result("ambiguous", f"The probes fit {names} equally well.",
                          [e.as_dict() for c in found for e in c] + [e.as_dict() for e in side], differs[:8])
    also = (" Also: " + " ".join(e.verdict for e in side)) if side else ""
    return Result("not_in_catalog",
                  f"Not in the catalog: {impl.name} differs from torch ({differs[0]}), and no catalogued deviation, "
                  f"alone or with one other (and any about defaults), reproduces what it does.{also}",
                  [e.as_dict() for e in side], differs[:8])


DEFAULT_FIELDS = {"default_eps", "default_momentum", "initial_running_var", "starts_training"}


def _about_defaults(e: Entry) -> bool:
    """An entry that changes only what factory(C) does: it shows on the defaults probe alone."""
    return set(e.changes) <= DEFAULT_FIELDS


def _fits(entries, played: list[_Played], dtype, counter: bool) -> bool:
    sem = variant(*entries)
    return sem is not None and all(ok for p in played for _, ok, _ in
                                   _compared(p, predict(sem, p.probe), dtype, counter))


def _fewest_defaults(combo, defaults, fresh, dtype, counter) -> list[tuple]:
    """The smallest sets of entries about defaults with which ``combo`` fits the defaults probe."""
    for size in range(len(defaults) + 1):
        fitting = [extra for extra in itertools.combinations(defaults, size)
                   if _fits(combo + extra, fresh, dtype, counter)]
        if fitting:
            return fitting
    return []


def _matched(entries: list[Entry], details: list[str]) -> Result:
    return Result("matched", " ".join(e.verdict for e in entries), [e.as_dict() for e in entries], details)
