"""The probes, and what a candidate shows on them.

A probe is a configuration, a state (or ``factory(C)``'s own) and a call sequence with fixed
inputs. ``observe`` plays it on the candidate through the ``Instance`` interface, and
``variants.predict`` computes what a catalog variant would show on it: both give the same list
of ``Observation``s (the fresh module's state on the defaults probe, then each call's output,
running stats and counter), so that the two can be compared one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.candidates.errors import CandidateDied
from conformance.spec import dtypes, oracle
from conformance.spec.cases import Call, Case, Config

# --- the probes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    config: Config
    state: oracle.State | None  # None: built as factory(C), its own defaults observed
    calls: tuple[tuple[bool, np.ndarray], ...]  # (training, x); the values are exact in float32
    needs: tuple[str, ...] = ()  # capabilities of the candidate's form (conformance/candidates/forms.py)
    aspect: str = ""  # the aspect it is played for (aspects.ASPECTS)
    judged: tuple[str, ...] = ("output", "running_mean", "running_var", "num_batches_tracked")  # kinds compared

    @property
    def defaults(self) -> bool:
        return self.state is None

    def case(self, dtype: str) -> Case:
        dt = np.dtype(dtype)
        return Case(self.config, dt.name, tuple(Call(t, x.astype(dt)) for t, x in self.calls), self.state)


def grid(shape, seed, offsets, scale=1.0):
    """Fixed values on a 1/8 grid (exact in float32), one offset per channel."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-16, 17, size=shape) / 8.0 * scale
    return x + np.asarray(offsets, np.float64).reshape((1, -1) + (1,) * (len(shape) - 2))


def alike(n, seed, offset=0.0, scale=1.0):
    """(n, 1) values: with one channel and no length, every pooling gives the same statistics, so a probe
    of the normalisation or the running update is blind to which values pool."""
    return grid((n, 1), seed, [offset], scale)


def _positional(shape, seed, offsets):
    """(N, C, L) values whose mean and spread change with the position l."""
    x, L = grid(shape, seed, offsets), shape[2]
    return x * (1 + np.arange(L) / 4.0).reshape(1, 1, L) + (np.arange(L) / 2.0).reshape(1, 1, L)


def _blocks(n, seed):
    """(n, 1) values whose level steps up every 256 samples (exact in float32): a statistic merged
    from blocks without the between-block term, or switched above some size, shows on it."""
    x = alike(n, seed)
    return x + (np.arange(n) // 256 / 8.0).reshape(-1, 1)


def _state(rm, rv, nbt):
    """Running statistics and a counter, no affine parameters."""
    return oracle.State(None, None, np.asarray(rm, np.float64), np.asarray(rv, np.float64), nbt)


_UNTRACKED = oracle.State()
# Below half an ulp of the probes' variances in float64: every eps placement gives the same output, and
# torch refuses eps=0 in training.
_NO_EPS = 2.0 ** -60
_WIDE = 11  # channels: past a tile of 8
_STATS = ("running_mean", "running_var")
_COUNTER = ("counter",)

PROBES = (
    # pooling first: the layout check replays its first call
    Probe("pooling probe (train; (N, 11, L) input)", Config(_WIDE, eps=0.0625, momentum=0.25, affine=False),
          _state(np.linspace(-1, 1, _WIDE), np.linspace(0.5, 2, _WIDE), 2),
          ((True, _positional((3, _WIDE, 4), 1, np.linspace(-2, 2, _WIDE))),),
          aspect="pooling", judged=("output",) + _STATS),
    Probe("normalisation probe (train, eps=2^-60; (4, 1) input)", Config(1, eps=_NO_EPS, affine=False,
                                                                       track_running_stats=False),
          _UNTRACKED, ((True, alike(4, 21, 100.5)),), aspect="normalising_variance", judged=("output",)),
    Probe("large-batch normalisation probe (train, eps=2^-60; (2048, 1) input)",
          Config(1, eps=_NO_EPS, affine=False, track_running_stats=False),
          _UNTRACKED, ((True, _blocks(2048, 22)),), aspect="normalising_variance", judged=("output",)),
    Probe("eps probe (train, eps=0.25, small spread)", Config(1, eps=0.25, affine=False, track_running_stats=False),
          _UNTRACKED, ((True, alike(4, 23, 0.0, 0.25)),), aspect="eps", judged=("output",)),
    Probe("affine probe (train, weight and bias)", Config(1, eps=0.0625, track_running_stats=False),
          oracle.State(np.array([-1.5]), np.array([0.25]), None, None, None),
          ((True, alike(4, 24, 1.0)),), aspect="affine", judged=("output",)),
    Probe("running-update probe (two train calls, momentum=0.25)", Config(1, eps=0.0625, momentum=0.25, affine=False),
          _state([0.5], [2.0], 4),
          ((True, alike(4, 25, 1.0)), (True, alike(4, 26, -0.5, 2.0))), aspect="running_update", judged=_STATS),
    Probe("momentum=0 probe (two train calls)", Config(1, eps=0.0625, momentum=0.0, affine=False),
          _state([-0.5], [1.5], 2),
          ((True, alike(4, 27, 1.0)), (True, alike(4, 28, -1.0))), needs=_COUNTER, aspect="running_update",
          judged=_STATS),
    Probe("momentum=None probe (three train calls from a fresh counter)",
          Config(1, eps=0.0625, momentum=None, affine=False), _state([1.25], [0.5], 0),
          ((True, alike(4, 29, 1.0)), (True, alike(4, 30, 0.0)), (True, alike(4, 31, -1.0, 2.0))),
          needs=_COUNTER, aspect="cumulative_average", judged=_STATS),
    Probe("eval probe (one eval call with running stats)", Config(2, eps=0.0625, momentum=0.25, affine=False),
          _state([0.5, -0.25], [2.0, 0.5], 3), ((False, grid((4, 2), 32, [0.0, 1.0])),),
          aspect="eval", judged=("output",) + _STATS),
    Probe("untracked eval probe (eval without running stats)", Config(2, eps=0.0625, affine=False,
                                                                      track_running_stats=False),
          _UNTRACKED, ((False, grid((4, 2), 33, [1.0, -1.0])),), aspect="eval", judged=("output",)),
    Probe("counter probe (train, eval, train)", Config(2, eps=0.0625, momentum=0.25, affine=False),
          _state([0.0, 0.0], [1.0, 1.0], 1),
          ((True, grid((4, 2), 34, [0.0, 0.0])), (False, grid((4, 2), 35, [0.0, 0.0])),
           (True, grid((4, 2), 36, [0.0, 0.0]))), needs=_COUNTER, aspect="counter", judged=("num_batches_tracked",)),
    Probe("untracked state probe (train without running stats)", Config(2, eps=0.0625, affine=False,
                                                                        track_running_stats=False),
          _UNTRACKED, ((True, grid((4, 2), 37, [0.0, 0.0])),), needs=("own_state",), aspect="counter",
          judged=("running_mean", "running_var", "num_batches_tracked")),
    Probe("defaults probe (factory(C) with its defaults; (N, C, L) input)", Config(2), None,
          ((True, _positional((3, 2, 2), 11, [0.5, -1.0]) / 4),
           (False, grid((3, 2, 2), 12, [0.0, 1.0]))),
          needs=("constructor",), aspect="defaults",
          judged=("training", "weight", "bias", "output", "running_mean", "running_var", "num_batches_tracked")),
)


# --- what is observed -----------------------------------------------------------------


@dataclass
class Observation:
    label: str  # e.g. "call 2 (eval): running_var"
    kind: str  # "output", "running_mean", "running_var", "num_batches_tracked", "training"
    value: object
    dtype: str | None = None  # the dtype the candidate keeps a state array in, where it said


STATE_KINDS = ("running_mean", "running_var", "num_batches_tracked")


FRESH_KINDS = ("weight", "bias") + STATE_KINDS  # what a fresh module shows besides its mode


def fresh_observations(training, state) -> list[Observation]:
    return [Observation("fresh module: training", "training", bool(training))] + [
        Observation(f"fresh module: {k}", k, getattr(state, k)) for k in FRESH_KINDS]


def call_observations(i, training, y, state, kept_in: dict | None = None) -> list[Observation]:
    head = f"call {i} ({'train' if training else 'eval'})"
    return [Observation(f"{head}: output", "output", y)] + [
        Observation(f"{head}: {k}", k, getattr(state, k), (kept_in or {}).get(k)) for k in STATE_KINDS]


# --- what the candidate does ----------------------------------------------------------


class ProbeCrashed(Exception):
    pass


def crash(e: BaseException) -> ProbeCrashed:
    return ProbeCrashed(str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}")


def build(impl, config: Config, dtype):
    """The candidate for ``dtype`` input built as the properties build it: a float32 module for half input."""
    return impl.make(config, dtypes.state_dtype(dtype))


def build_default(impl, num_features: int, dtype):
    return impl.make_default(num_features, dtypes.state_dtype(dtype))


def observe(impl, dtype: str, probe: Probe, facts: dict) -> list[Observation]:
    """Play ``probe`` on the candidate; note side facts (input modified, dtypes) in ``facts``."""
    case = probe.case(dtype)
    try:
        out: list[Observation] = []
        if probe.defaults:
            inst = build_default(impl, case.config.num_features, dtype)
            out += fresh_observations(inst.training, inst.get_state())
        else:
            inst = build(impl, case.config, dtype)
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
            out += call_observations(i, call.training, y, inst.get_state(), inst.state_dtypes())
    except (Exception, CandidateDied) as e:  # a death or a hang costs this probe only
        raise crash(e) from e
    return out


def _narrower(state_dtypes: dict, dtype) -> bool:
    """Whether some state has fewer bits than the module's dtype (float32 for half input)."""
    module = np.dtype(dtypes.state_dtype(dtype)).itemsize
    return any(np.dtype(v).itemsize < module for v in state_dtypes.values())
