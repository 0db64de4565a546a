"""Play a Case on a candidate, and on the oracle with the error bounds of each result.

Properties compare the two; neither side knows about the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from conformance.candidates.errors import the_candidates
from conformance.candidates.instance import Instance
from conformance.candidates.registry import Subject
from conformance.spec import oracle, tolerances
from conformance.spec.cases import Case

# pytest leaves these frames out of a failure that is the candidate's own (the message says what happened).
__tracebackhide__ = the_candidates


class Observed:
    """What the candidate did: its instance, each call's output, the state after each call.

    Read when first used: a candidate in a process of its own computes while the suite
    computes the oracle (``run_candidate`` then ``run_oracle``). Whatever the candidate
    raised is raised there."""

    def __init__(self, instance: Instance, played):
        self._instance, self._played, self._seen = instance, played, None

    def _read(self) -> list:
        if self._seen is None:
            self._seen = self._played.result()
        return self._seen or []

    @property
    def instance(self) -> Instance:
        self._read()
        return self._instance

    @property
    def outputs(self) -> list[np.ndarray]:
        return [y for y, _ in self._read()]

    @property
    def states(self) -> list[oracle.State]:
        return [s for _, s in self._read()]


def play(subject: Subject, case: Case):
    """Build the candidate, set the case's state, and make each call; yields
    (call number, call, instance, output) right after each call, for checks between calls."""
    inst = subject.make(case.config)
    if case.state is not None:
        inst.set_state(case.initial_state())
    for i, call in enumerate(case.calls, 1):
        inst.train(call.training)
        yield i, call, inst, inst.forward(call.x, call.layout)


def run_candidate(subject: Subject, case: Case) -> Observed:
    """``play`` without checks between calls: the whole sequence at once, read when used."""
    inst = subject.make(case.config)
    if case.state is not None:
        inst.set_state(case.initial_state())
    return Observed(inst, inst.play_later([(call.training, call.x, call.layout) for call in case.calls]))


@dataclass
class Bounds:
    """Per-channel bounds on the running mean and running variance."""

    running_mean: np.ndarray | float = 0.0
    running_var: np.ndarray | float = 0.0


@dataclass
class Expected:
    """What the oracle computes for each call, and how far a correct candidate may be from it."""

    forwards: list[oracle.Forward] = field(default_factory=list)
    output_bounds: list[np.ndarray] = field(default_factory=list)
    states: list[oracle.State] = field(default_factory=list)
    state_bounds: list[Bounds] = field(default_factory=list)

    @property
    def outputs(self) -> list[np.ndarray]:
        return [f.y for f in self.forwards]


def run_oracle(case: Case) -> Expected:
    cfg, dtype = case.config, case.dtype
    state = case.initial_state()
    exp = Expected()
    # State values set by the suite are exact in the dtype: they start with zero error.
    b = Bounds()
    for call in case.calls:
        prev = state.copy()
        fwd = oracle.forward(state, call.x, training=call.training, eps=cfg.eps, momentum=cfg.momentum)
        exp.forwards.append(fwd)
        bound = tolerances.output_bound(call.x, fwd.mean, fwd.var, cfg.eps, state.weight, state.bias, dtype,
                                        batch_stats=fwd.used_batch_stats, expected=fwd.y)
        if not fwd.used_batch_stats:  # normalised with running stats that carry earlier rounding
            bound = bound + tolerances.stat_error_effect(call.x, fwd.mean, fwd.var, cfg.eps, state.weight,
                                                         b.running_mean, b.running_var)
        exp.output_bounds.append(bound)
        if fwd.f is not None:
            dmean, dvar = tolerances.batch_stat_bounds(call.x, dtype)
            b = Bounds(
                tolerances.running_bound(b.running_mean, prev.running_mean, fwd.batch_mean, dmean, fwd.f, dtype),
                tolerances.running_bound(b.running_var, prev.running_var, fwd.batch_var_unbiased, dvar, fwd.f, dtype),
            )
        exp.states.append(state.copy())
        exp.state_bounds.append(b)
    return exp
