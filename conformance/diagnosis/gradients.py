"""The gradient probes: a train call (the gradients flow through the batch statistics) and an eval
call (the running statistics are constants, and no buffer may receive a gradient), each compared
with the closed form of ``spec.oracle.backward`` or with the one catalogued gradient variant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.candidates.errors import CandidateDied
from conformance.diagnosis.catalog import Semantics
from conformance.diagnosis.compare import close
from conformance.diagnosis.probes import ProbeCrashed, build, crash, grid
from conformance.spec import oracle, tolerances
from conformance.spec.cases import Config


@dataclass(frozen=True)
class GradientProbe:
    name: str
    config: Config
    state: oracle.State
    training: bool
    x: np.ndarray
    grad_output: np.ndarray


_WEIGHT, _BIAS = np.array([1.5, -0.75]), np.array([0.25, -1.0])
GRADIENT_PROBES = (
    GradientProbe("train gradient probe", Config(2, eps=0.0625, track_running_stats=False),
                  oracle.State(_WEIGHT, _BIAS), True, grid((4, 2), 40, [0.5, -1.0]), grid((4, 2), 41, [0.25, 0.0])),
    GradientProbe("eval gradient probe", Config(2, eps=0.0625, momentum=0.25),
                  oracle.State(_WEIGHT, _BIAS, np.array([0.5, -0.25]), np.array([2.0, 0.5]), 3),
                  False, grid((4, 2), 42, [1.0, -0.5]), grid((4, 2), 43, [0.0, 0.5])),
)


@dataclass
class Played:
    probe: GradientProbe
    grads: oracle.Gradients
    buffers: list[str]


def play(impl, dtype: str, probe: GradientProbe) -> Played | str:
    """The candidate's gradients on ``probe``; the reason when it has no backward pass."""
    try:
        inst = build(impl, probe.config, dtype)
        reason = inst.can_backward()
        if reason:
            return reason
        inst.set_state(probe.state)
        inst.train(probe.training)
        grads = inst.backward(probe.x.astype(dtype), probe.grad_output.astype(dtype))
        return Played(probe, grads, list(inst.buffers_with_gradients()))
    except (Exception, CandidateDied) as e:  # a death or a hang costs this probe only
        raise crash(e) from e


def differences(played: Played, sem: Semantics, dtype: str) -> list[str]:
    """What differs from the gradients ``sem`` predicts, within the tolerances' bounds."""
    p = played.probe
    x, g = p.x.astype(np.float64), p.grad_output.astype(np.float64)
    fwd = oracle.forward(p.state.copy(), x, training=p.training, eps=p.config.eps, momentum=p.config.momentum)
    through = fwd.used_batch_stats and sem.gradients == "through_statistics"
    want = oracle.backward(x, g, fwd.mean, fwd.var, p.config.eps, p.state.weight, batch_stats=through)
    bounds = tolerances.gradient_bounds(x, g, fwd.mean, fwd.var, p.config.eps, p.state.weight, dtype,
                                        batch_stats=fwd.used_batch_stats)
    out = []
    for name, got, expected, bound in zip(("grad_input", "grad_weight", "grad_bias"),
                                          (played.grads.input, played.grads.weight, played.grads.bias),
                                          (want.input, want.weight, want.bias), bounds):
        ok, why = close(got, expected, bound, dtype)
        if not ok:
            out.append(f"{p.name}, {name} differs from {'torch' if sem == Semantics() else 'the variant'} {why}")
    if played.buffers:
        out.append(f"{p.name}: gradients reach the buffers {', '.join(played.buffers)}")
    return out


__all__ = ["GRADIENT_PROBES", "GradientProbe", "Played", "ProbeCrashed", "differences", "play"]
