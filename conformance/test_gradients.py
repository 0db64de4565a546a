"""Gradients: the backward pass against its closed form, its invariants and finite differences."""

import numpy as np
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.spec import oracle, tolerances
from conformance.spec.assertions import assert_close, assert_state_close
from conformance.suite import NotApplicable, conformance_property, needs

tracked = cst.any_config(track_running_stats=st.just(True))


def prepared(subject, case):
    """An instance with the case's state set, or a skip when the candidate has no backward."""
    inst = subject.make(case.config)
    reason = inst.can_backward()
    if reason:
        raise NotApplicable(reason)
    inst.set_state(case.initial_state())
    inst.train(case.call.training)
    return inst


def expected_gradients(case, g):
    state = case.initial_state()
    fwd = oracle.forward(state.copy(), case.x, training=case.call.training, eps=case.config.eps,
                         momentum=case.config.momentum)
    grads = oracle.backward(case.x, g, fwd.mean, fwd.var, case.config.eps, state.weight,
                            batch_stats=fwd.used_batch_stats)
    bounds = tolerances.gradient_bounds(case.x, g, fwd.mean, fwd.var, case.config.eps, state.weight, case.dtype,
                                        batch_stats=fwd.used_batch_stats)
    return grads, bounds, fwd


def grad_outputs(case):
    return cst.ordinary_inputs(case.dtype, case.x.shape)


def check_gradients(subject, got, want, bounds, mode, affine):
    """The weight and bias gradients must be there exactly when the module is affine."""
    assert_close(f"grad_input ({mode})", got.input, want.input, bounds[0], dtype=subject.dtype)
    for k, b in (("weight", bounds[1]), ("bias", bounds[2])):
        expected = getattr(want, k) if affine else None
        assert_state_close(f"grad_{k} ({mode})", getattr(got, k), expected, b, dtype=subject.dtype)


@needs("backward")
@conformance_property
def test_train_gradients_match_the_closed_form(subject, data):
    case = data.draw(cst.cases(subject.dtype, values=cst.ordinary_inputs), label="case")
    g = data.draw(grad_outputs(case), label="grad_output")
    inst = prepared(subject, case)
    want, bounds, _ = expected_gradients(case, g)
    check_gradients(subject, inst.backward(case.x, g, case.call.layout), want, bounds, "train", case.config.affine)


@needs("backward")
@conformance_property
def test_train_input_gradient_sums_to_zero_per_channel(subject, data):
    case = data.draw(cst.cases(subject.dtype, values=cst.ordinary_inputs), label="case")
    g = data.draw(grad_outputs(case), label="grad_output")
    inst = prepared(subject, case)
    _, (bx, _, _), _ = expected_gradients(case, g)
    dx = inst.backward(case.x, g, case.call.layout).input
    m = oracle.values_per_channel(case.x)
    sums = oracle.batch_mean(dx) * m
    assert_close("per-channel sum of grad_input (train)", sums, np.zeros_like(sums), m * bx, dtype=subject.dtype)


@needs("backward")
@conformance_property
def test_train_input_gradient_ignores_a_per_channel_constant_added_to_grad_output(subject, data):
    case = data.draw(cst.cases(subject.dtype, values=cst.ordinary_inputs), label="case")
    g = data.draw(grad_outputs(case), label="grad_output")
    k = data.draw(cst.ordinary_inputs(subject.dtype, (1, case.config.num_features)), label="constant")[0]
    g2 = (g.astype(np.float64) + oracle.per_channel(k.astype(np.float64), g.ndim)).astype(subject.dtype)
    dx1 = prepared(subject, case).backward(case.x, g, case.call.layout).input
    dx2 = prepared(subject, case).backward(case.x, g2, case.call.layout).input
    _, (b1, _, _), _ = expected_gradients(case, g)
    _, (b2, _, _), _ = expected_gradients(case, g2)
    assert_close("grad_input for grad_output + constant vs for grad_output", dx2, dx1, b1 + b2, dtype=subject.dtype)


@needs("backward")
@conformance_property
def test_train_input_gradient_does_not_depend_on_the_bias(subject, data):
    affine = cst.any_config(affine=st.just(True))
    case = data.draw(cst.cases(subject.dtype, config=affine, values=cst.ordinary_inputs), label="case")
    g = data.draw(grad_outputs(case), label="grad_output")
    other = data.draw(cst.states(case.config, subject.dtype), label="other bias").bias
    dx1 = prepared(subject, case).backward(case.x, g, case.call.layout).input
    inst = prepared(subject, case)
    inst.set_state(oracle.State(bias=other))
    dx2 = inst.backward(case.x, g, case.call.layout).input
    _, (b, _, _), _ = expected_gradients(case, g)
    assert_close("grad_input with another bias vs with the first", dx2, dx1, 2 * b, dtype=subject.dtype)


@needs("backward")
@conformance_property
def test_eval_gradients_use_the_running_stats_and_reach_no_buffer(subject, data):
    """d input = g * weight / sqrt(running_var + eps); running_mean and running_var get no gradient."""
    case = data.draw(cst.cases(subject.dtype, config=tracked, training=False, values=cst.ordinary_inputs, min_m=1),
                     label="case")
    g = data.draw(grad_outputs(case), label="grad_output")
    inst = prepared(subject, case)
    want, bounds, _ = expected_gradients(case, g)
    check_gradients(subject, inst.backward(case.x, g, case.call.layout), want, bounds, "eval", case.config.affine)
    assert not inst.buffers_with_gradients(), f"gradients reached the buffers {inst.buffers_with_gradients()}"


@needs("backward")
@conformance_property
def test_input_gradient_matches_finite_differences_in_float64(subject, data):
    """<grad_input, v> equals the central difference of sum(g * y) along v, for the candidate's own forward."""
    if subject.dtype != "float64":
        raise NotApplicable("finite differences are checked in float64")
    wide_eps = cst.any_config(eps=st.floats(1e-3, 1.0))
    case = data.draw(cst.cases(subject.dtype, config=wide_eps, values=cst.ordinary_inputs), label="case")
    g = data.draw(grad_outputs(case), label="grad_output")
    v = data.draw(cst.ordinary_inputs(subject.dtype, case.x.shape), label="direction") / 4.0
    inst = prepared(subject, case)
    dx = inst.backward(case.x, g, case.call.layout).input
    _, _, fwd = expected_gradients(case, g)
    h = oracle.per_channel(tolerances.finite_difference_step(fwd.var, case.config.eps), case.x.ndim)
    loss = lambda x: float(np.sum(g * inst.forward(x, case.call.layout)))  # noqa: E731
    central = (loss(case.x + h * v) - loss(case.x - h * v)) / 2
    linear = float(np.sum(dx * h * v))
    state = case.initial_state()
    out_bound = tolerances.output_bound(case.x, fwd.mean, fwd.var, case.config.eps, state.weight, state.bias,
                                        subject.dtype, batch_stats=fwd.used_batch_stats, expected=fwd.y)
    bound = tolerances.finite_difference_bound(case.x, g, fwd.var, case.config.eps, state.weight, out_bound,
                                               float(np.max(h)))
    assert abs(central - linear) <= bound, (
        f"grad_input disagrees with finite differences: <grad_input, h v> = {linear!r}, "
        f"central difference = {central!r}, |diff| {abs(central - linear):.3g} > bound {bound:.3g}")
