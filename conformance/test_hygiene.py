"""What a call must not do: modify its input, change dtypes, produce non-finite output from finite input."""

import numpy as np

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec.assertions import assert_close
from conformance.suite import conformance_property, needs


@conformance_property
def test_the_input_is_never_modified(subject, data):
    case = data.draw(cst.sequences(subject.dtype), label="case")
    for i, call, inst, _ in replay.play(subject, case):
        assert not inst.input_modified, (
            f"call {i} ({'train' if call.training else 'eval'}, layout {call.layout}) modified its input array")


@conformance_property
def test_the_output_has_the_input_shape_and_dtype(subject, data):
    case = data.draw(cst.sequences(subject.dtype), label="case")
    seen = replay.run_candidate(subject, case)
    for i, (call, y) in enumerate(zip(case.calls, seen.outputs), 1):
        assert y.shape == call.x.shape, f"call {i}: output shape {y.shape}, input shape {call.x.shape}"
        assert y.dtype == call.x.dtype, f"call {i}: output dtype {y.dtype}, input dtype {call.x.dtype}"


@needs("own_state")
@conformance_property
def test_the_state_keeps_the_module_dtype(subject, data):
    case = data.draw(cst.sequences(subject.dtype), label="case")
    seen = replay.run_candidate(subject, case)
    for k, dt in seen.instance.state_dtypes().items():
        assert dt == subject.state_dtype, (
            f"{k} has dtype {dt} after the calls; the module's dtype is {subject.state_dtype}")


constant_channel = cst.profiles_of("constant")


@conformance_property
def test_constant_channels_give_finite_output_equal_to_the_bias(subject, data):
    values = lambda dtype, shape: cst.inputs(dtype, shape, profiles=constant_channel)  # noqa: E731
    case = data.draw(cst.cases(subject.dtype, values=values, large=True), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    y = seen.outputs[0]
    bad = np.argwhere(~np.isfinite(y))
    assert bad.size == 0, (f"non-finite output {y[tuple(bad[0])]!r} at {tuple(int(i) for i in bad[0])} "
                           "for constant channels")
    assert_close("train output for constant channels (the bias)", y, exp.outputs[0], exp.output_bounds[0],
                 dtype=subject.dtype)
