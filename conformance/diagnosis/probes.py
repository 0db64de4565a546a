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


def _positional(shape, seed, offsets):
    """(N, C, L) values whose mean and spread change with the position l."""
    x, L = grid(shape, seed, offsets), shape[2]
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
          ((True, grid((3, 2), 5, [1.0, -1.0])),
           (True, grid((5, 2), 6, [0.0, 2.0])),
           (True, grid((2, 2), 7, [-1.0, 0.5], scale=2.0)),
           (False, grid((2, 2), 8, [0.0, 0.0]))),
          needs=("counter",)),
    Probe("probe 3 (momentum=0; (N, C) input)",
          Config(2, eps=0.0625, momentum=0.0),
          oracle.State(np.array([1.0, 2.0]), np.array([0.0, -0.5]), np.array([0.25, -0.5]), np.array([1.5, 0.75]), 2),
          ((True, grid((3, 2), 9, [1.0, 0.0])),
           (True, grid((4, 2), 10, [-1.0, 1.0]))),
          needs=("counter",)),
    Probe("probe 4 (factory(C) with its defaults; (N, C, L) input)",
          Config(2), None,
          ((True, _positional((3, 2, 2), 11, [0.5, -1.0]) / 4),
           (False, grid((2, 2, 2), 12, [0.0, 1.0]))),
          needs=("constructor",)),
)


# --- what is observed -----------------------------------------------------------------


@dataclass
class Observation:
    label: str  # e.g. "call 2 (eval): running_var"
    kind: str  # "output", "running_mean", "running_var", "num_batches_tracked", "training"
    value: object


STATE_KINDS = ("running_mean", "running_var", "num_batches_tracked")


def fresh_observations(training, state) -> list[Observation]:
    return [Observation("fresh module: training", "training", bool(training))] + [
        Observation(f"fresh module: {k}", k, getattr(state, k)) for k in STATE_KINDS]


def call_observations(i, training, y, state) -> list[Observation]:
    head = f"call {i} ({'train' if training else 'eval'})"
    return [Observation(f"{head}: output", "output", y)] + [
        Observation(f"{head}: {k}", k, getattr(state, k)) for k in STATE_KINDS]


# --- what the candidate does ----------------------------------------------------------


class ProbeCrashed(Exception):
    pass


def crash(e: Exception) -> ProbeCrashed:
    return ProbeCrashed(str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}")


def observe(impl, dtype: str, probe: Probe, facts: dict) -> list[Observation]:
    """Play ``probe`` on the candidate; note side facts (input modified, dtypes) in ``facts``."""
    case = probe.case(dtype)
    try:
        out: list[Observation] = []
        if probe.defaults:
            inst = impl.make_default(case.config.num_features, dtype)
            out += fresh_observations(inst.training, inst.get_state())
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
            out += call_observations(i, call.training, y, inst.get_state())
    except Exception as e:
        raise crash(e) from e
    return out


def _narrower(state_dtypes: dict, dtype) -> bool:
    """Whether some state has fewer bits than the module's dtype (float32 for half input)."""
    module = np.dtype(dtypes.state_dtype(dtype)).itemsize
    return any(np.dtype(v).itemsize < module for v in state_dtypes.values())
