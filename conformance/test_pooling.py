"""Which values pool into one channel's statistics: N and L together."""

import numpy as np

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec.assertions import assert_close, assert_running_stats_close
from conformance.spec.cases import Call
from conformance.suite import conformance_property


def as_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, L) -> (N * L, C): channels last, one row per (n, l)."""
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


@conformance_property
def test_statistics_pool_batch_and_length_together(subject, data):
    """(N, C, L) gives what the 2D computation gives on (N * L, C) after moving C last,
    in the output and in the running stats. Normalising each (channel, position)
    separately fails this."""
    case = data.draw(cst.cases(subject.dtype, ndims=(3,), large=True).filter(lambda c: c.x.shape[2] >= 2), label="case")
    flat = case.replace(calls=[Call(True, as_rows(case.x), case.call.layout)])
    seen3, seen2 = replay.run_candidate(subject, case), replay.run_candidate(subject, flat)
    exp3, exp2 = replay.run_oracle(case), replay.run_oracle(flat)
    assert_close("3D train output (as rows) vs the 2D output on the same rows", as_rows(seen3.outputs[0]),
                 seen2.outputs[0], exp3.output_bounds[0] + exp2.output_bounds[0], dtype=subject.dtype)
    both = replay.Bounds(*(getattr(exp3.state_bounds[0], k) + getattr(exp2.state_bounds[0], k)
                           for k in ("running_mean", "running_var")))
    assert_running_stats_close("after a 3D call vs after the 2D call", seen3.states[0], seen2.states[0], both,
                               dtype=subject.dtype)
