"""Training-mode output: the normalisation itself."""

import numpy as np
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec import oracle, tolerances
from conformance.spec.assertions import assert_close
from conformance.suite import conformance_property

identity_affine = cst.any_config(affine=st.just(False))


@conformance_property
def test_train_output_matches_the_oracle(subject, data):
    case = data.draw(cst.cases(subject.dtype, large=True), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    assert_close("train output", seen.outputs[0], exp.outputs[0], exp.output_bounds[0], dtype=subject.dtype)


def big_values(dtype, shape):
    """Ordinary values, some with a trend along the batch (blocks of a block reduction then differ in mean)."""
    return cst.inputs(dtype, shape, profiles=cst.profiles_of("ordinary", "trend along the batch"))


@conformance_property
def test_the_output_for_thousands_of_values_per_channel_matches_the_oracle(subject, data):
    """m from 512 to 4096 values per channel, on well-conditioned data: where kernels switch to block
    reductions or other code paths, and a float32 bug of one part in m is still above the bound."""
    case = data.draw(cst.cases(subject.dtype, big=True, values=big_values), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    assert_close("train output", seen.outputs[0], exp.outputs[0], exp.output_bounds[0], dtype=subject.dtype)


@conformance_property
def test_train_output_has_zero_mean_per_channel(subject, data):
    case = data.draw(cst.cases(subject.dtype, config=identity_affine, large=True), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    got_mean = oracle.batch_mean(seen.outputs[0])
    assert_close("per-channel mean of the train output", got_mean, np.zeros_like(got_mean), exp.output_bounds[0],
                 dtype=subject.dtype)


@conformance_property
def test_train_output_has_biased_variance_var_over_var_plus_eps(subject, data):
    case = data.draw(cst.cases(subject.dtype, config=identity_affine, large=True), label="case")
    seen, exp = replay.run_candidate(subject, case), replay.run_oracle(case)
    var = exp.forwards[0].var
    target = var / (var + case.config.eps)
    bound = tolerances.variance_ratio_bound(exp.output_bounds[0], target, case.x, var, case.config.eps, subject.dtype)
    assert_close("per-channel biased variance of the train output", oracle.batch_var(seen.outputs[0]), target, bound,
                 dtype=subject.dtype)


@conformance_property
def test_affine_output_is_weight_times_normalised_plus_bias(subject, data):
    case = data.draw(cst.cases(subject.dtype, config=cst.any_config(affine=st.just(True))), label="case")
    identity = case.replace(affine=False)
    y_affine = replay.run_candidate(subject, case).outputs[0]
    y_plain = replay.run_candidate(subject, identity).outputs[0]
    w, b = case.state.weight.astype(np.float64), case.state.bias.astype(np.float64)
    expected = oracle.normalize(y_plain, np.zeros_like(w), np.ones_like(w), 0.0, w, b)  # w * xhat + b
    bound_affine = replay.run_oracle(case).output_bounds[0]
    bound_plain = replay.run_oracle(identity).output_bounds[0]
    assert_close("affine train output vs weight * (output without affine) + bias", y_affine, expected,
                 bound_affine + np.abs(w) * bound_plain, dtype=subject.dtype)
