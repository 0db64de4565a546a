"""A module built as factory(C): its defaults, observed through behaviour."""

import numpy as np

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec.assertions import assert_close, assert_equal, assert_running_stats_close, assert_state_close
from conformance.spec.cases import Call, Case, Config
from conformance.suite import conformance_property, needs


def default_case(data, dtype, training):
    C = data.draw(cst.num_features, label="num_features")
    shape = data.draw(cst.shapes(C), label="shape")
    x = data.draw(cst.inputs(dtype, shape), label="x")
    return Case(Config(C), np.dtype(dtype).name, (Call(training, x),))


@needs("constructor")
@conformance_property
def test_a_fresh_module_is_in_training_mode(subject, data):
    C = data.draw(cst.num_features, label="num_features")
    assert subject.make_default(C).training is True, "a fresh module should be in training mode (.training is True)"


@needs("constructor")
@conformance_property
def test_a_fresh_module_normalises_with_eps_1e_5_and_identity_affine(subject, data):
    case = default_case(data, subject.dtype, training=True)
    inst = subject.make_default(case.config.num_features)
    y = inst.forward(case.x)
    exp = replay.run_oracle(case)
    assert_close("train output of factory(C)", y, exp.outputs[0], exp.output_bounds[0], dtype=subject.dtype)
    state, fresh = inst.get_state(), exp.states[0]  # identity affine: a weight of ones and a bias of zeros
    assert_state_close("weight of factory(C)", state.weight, fresh.weight, 0.0, dtype=subject.dtype)
    assert_state_close("bias of factory(C)", state.bias, fresh.bias, 0.0, dtype=subject.dtype)


@needs("constructor")
@conformance_property
def test_a_fresh_module_updates_running_stats_with_momentum_0_1(subject, data):
    case = default_case(data, subject.dtype, training=True)
    inst = subject.make_default(case.config.num_features)
    inst.forward(case.x)
    exp = replay.run_oracle(case)
    assert_running_stats_close("after one train call of factory(C)", inst.get_state(), exp.states[0],
                               exp.state_bounds[0], dtype=subject.dtype)
    assert_equal("num_batches_tracked after one train call of factory(C)", inst.get_state().num_batches_tracked, 1)


@needs("constructor")
@conformance_property
def test_a_fresh_module_has_zero_mean_unit_variance_running_stats(subject, data):
    """In eval mode a fresh module outputs x / sqrt(1 + 1e-5)."""
    case = default_case(data, subject.dtype, training=False)
    inst = subject.make_default(case.config.num_features)
    inst.eval()
    y = inst.forward(case.x)
    exp = replay.run_oracle(case)
    assert_close("eval output of a fresh factory(C)", y, exp.outputs[0], exp.output_bounds[0], dtype=subject.dtype)
