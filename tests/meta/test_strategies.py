"""The public strategies give what their docstrings promise, and reach the rare examples the properties need.

A strategy that quietly stops drawing large batches, wide channel counts or a configuration's
fixed arguments leaves every property that uses it passing for nothing. Each check here draws a
few derandomized examples (``@given``) or searches for one that must exist (``hypothesis.find``).
Only the public functions of ``conformance.strategies`` are used, with their documented arguments.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from conformance import strategies as cst
from conformance.spec import dtypes, oracle
from conformance.spec.cases import LAYOUTS, Case, Config

DRAWS = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
SEARCH = settings(DRAWS, max_examples=400, phases=[Phase.generate])  # the first example found: no shrinking


def search(strategy, condition):
    """An example of ``strategy`` that meets ``condition``; fails the test (NoSuchExample) if none is found."""
    return find(strategy, condition, settings=SEARCH)


def m_of(shape) -> int:
    return shape[0] * (shape[2] if len(shape) == 3 else 1)


def finite(x) -> bool:
    return bool(np.all(np.isfinite(np.asarray(x, np.float64))))


ndims_choices = st.sampled_from([(2,), (3,), (2, 3)])


# --- shapes -------------------------------------------------------------------------------------


@DRAWS
@given(data=st.data(), C=st.integers(1, 40), ndims=ndims_choices, min_m=st.integers(1, 8),
       max_side=st.sampled_from([8, 16]))
def test_shapes_have_the_requested_rank_num_features_sides_and_at_least_min_m_values_per_channel(
        data, C, ndims, min_m, max_side):
    shape = data.draw(cst.shapes(C, ndims=ndims, min_m=min_m, max_side=max_side))
    assert len(shape) in ndims
    assert shape[1] == C
    assert m_of(shape) >= min_m
    assert 1 <= shape[0] <= max_side and (len(shape) == 2 or 1 <= shape[2] <= max_side)


def test_shapes_reach_both_ranks_and_the_largest_side():
    assert len(search(cst.shapes(3), lambda s: len(s) == 2)) == 2
    assert len(search(cst.shapes(3), lambda s: len(s) == 3)) == 3
    assert search(cst.shapes(3, max_side=16), lambda s: s[0] == 16)[0] == 16
    assert search(cst.shapes(3, ndims=(3,), max_side=16), lambda s: s[2] == 16)[2] == 16


# --- input values -------------------------------------------------------------------------------


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.ALL), C=st.integers(1, 6), max_side=st.sampled_from([8, 64]))
def test_inputs_have_the_shape_and_dtype_asked_for_and_finite_values(data, dtype, C, max_side):
    shape = data.draw(cst.shapes(C, max_side=max_side))
    x = data.draw(cst.inputs(dtype, shape))
    assert x.shape == shape
    assert x.dtype == np.dtype(dtype)
    assert finite(x)


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.ALL), C=st.integers(1, 6))
def test_ordinary_inputs_stay_within_an_offset_of_3_plus_a_unit_spread(data, dtype, C):
    shape = data.draw(cst.shapes(C, max_side=64))
    x = data.draw(cst.ordinary_inputs(dtype, shape))
    assert x.shape == shape and x.dtype == np.dtype(dtype)
    assert np.abs(x.astype(np.float64)).max() <= 4.0


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.CORE), C=st.integers(1, 6),
       shift=st.integers(-4096, 4096), log2_scale=st.integers(-3, 3))
def test_grid_inputs_are_multiples_of_1_256_below_16_and_shifts_and_scalings_stay_exact(
        data, dtype, C, shift, log2_scale):
    shape = data.draw(cst.shapes(C, max_side=64))
    x = data.draw(cst.grid_inputs(dtype, shape))
    assert x.shape == shape and x.dtype == np.dtype(dtype)
    k = x.astype(np.float64) * 256
    assert np.all(k == np.round(k)) and np.abs(k).max() < 2**12
    x64 = x.astype(np.float64)
    for exact in (x64 + shift / 256, x64 * 2.0**log2_scale):
        assert np.array_equal(exact.astype(dtype).astype(np.float64), exact)


def channel_stds(x) -> np.ndarray:
    return np.sqrt(oracle.batch_var(x.astype(np.float64)))


@pytest.mark.parametrize("name, condition", [
    ("a constant channel away from zero", lambda x: bool(np.any((channel_stds(x) == 0) & (np.abs(x[0]) > 1)))),
    ("a large offset with a small spread",
     lambda x: bool(np.any((np.abs(oracle.batch_mean(x)) > 5e3) & (channel_stds(x) > 0) & (channel_stds(x) < 1)))),
    ("channels of scales a million apart", lambda x: channel_stds(x).max() > 1e6 * channel_stds(x).min() > 0),
    ("a negative offset", lambda x: bool(np.any(oracle.batch_mean(x) < -100))),
])
def test_inputs_reach_the_ill_conditioned_profiles(name, condition):
    x = search(cst.inputs("float64", (16, 4)), condition)
    assert condition(x), name


def test_large_inputs_vary_beyond_their_first_values():
    """A large input repeats its drawn head with seeded signs: its tail must not be a constant fill."""
    x = search(cst.ordinary_inputs("float64", (4096, 1)), lambda x: np.unique(x[64:]).size > 16)
    assert np.unique(x[64:]).size > 16


# --- configurations -----------------------------------------------------------------------------


@DRAWS
@given(data=st.data(), C=st.integers(1, 40))
def test_configs_have_the_channel_count_and_arguments_in_their_documented_ranges(data, C):
    config = data.draw(cst.configs(C))
    assert isinstance(config, Config) and config.num_features == C
    assert 1e-8 <= config.eps <= 1.0
    assert config.momentum is None or 0.0 <= config.momentum <= 1.0
    assert isinstance(config.affine, bool) and isinstance(config.track_running_stats, bool)


@DRAWS
@given(data=st.data(), C=st.integers(1, 40), eps=st.sampled_from([1e-5, 0.5]),
       momentum=st.sampled_from([None, 0.0, 0.3, 1.0]), affine=st.booleans(), track=st.booleans())
def test_configs_respect_fixed_arguments(data, C, eps, momentum, affine, track):
    config = data.draw(cst.configs(C, eps=st.just(eps), momentum=st.just(momentum), affine=st.just(affine),
                                   track_running_stats=st.just(track)))
    assert config == Config(C, eps, momentum, affine, track)


@pytest.mark.parametrize("kind, condition", [
    ("None", lambda mo: mo is None), ("0", lambda mo: mo == 0.0), ("1", lambda mo: mo == 1.0),
    ("strictly between 0 and 1, not 0.1", lambda mo: mo is not None and 0 < mo < 1 and mo != 0.1),
])
def test_momenta_reach_every_kind(kind, condition):
    assert condition(search(cst.momenta, condition)), kind


@DRAWS
@given(eps=cst.eps_values, momentum=cst.momenta, C=cst.num_features)
def test_eps_momentum_and_num_features_stay_in_their_ranges(eps, momentum, C):
    assert 1e-8 <= eps <= 1.0
    assert momentum is None or 0.0 <= momentum <= 1.0
    assert 1 <= C <= 5 or C in cst.WIDE


@pytest.mark.parametrize("C", cst.WIDE)
def test_num_features_reach_every_wide_channel_count(C):
    assert search(cst.num_features, lambda n: n == C) == C


def test_eps_values_reach_the_default_and_both_ends():
    assert search(cst.eps_values, lambda e: e == oracle.DEFAULT_EPS) == oracle.DEFAULT_EPS
    assert search(cst.eps_values, lambda e: e == 1.0) == 1.0
    assert search(cst.eps_values, lambda e: e <= 1e-8) == 1e-8


# --- states -------------------------------------------------------------------------------------


@DRAWS
@given(data=st.data(), C=st.integers(1, 40), dtype=st.sampled_from(dtypes.ALL), affine=st.booleans(),
       track=st.booleans())
def test_states_have_the_configs_channel_count_dtype_and_fields(data, C, dtype, affine, track):
    config = Config(C, affine=affine, track_running_stats=track)
    state = data.draw(cst.states(config, dtype))
    vectors = {"weight": affine, "bias": affine, "running_mean": track, "running_var": track}
    for name, present in vectors.items():
        v = getattr(state, name)
        if not present:
            assert v is None, name
            continue
        assert v.shape == (C,) and v.dtype == np.dtype(dtype) and finite(v), name
    if track:
        assert np.all(state.running_var.astype(np.float64) > 0)
        assert isinstance(state.num_batches_tracked, int) and 0 <= state.num_batches_tracked <= 4
    else:
        assert state.num_batches_tracked is None


@DRAWS
@given(data=st.data(), count=st.integers(0, 1000))
def test_states_respect_a_fixed_num_batches_tracked(data, count):
    state = data.draw(cst.states(Config(3), "float32", num_batches_tracked=st.just(count)))
    assert state.num_batches_tracked == count


@pytest.mark.parametrize("name, condition", [
    ("a zero weight", lambda s: bool(np.any(s.weight == 0))),
    ("a negative weight", lambda s: bool(np.any(s.weight < 0))),
    ("a running_var other than 1", lambda s: bool(np.any(s.running_var != 1))),
    ("num_batches_tracked above 0", lambda s: s.num_batches_tracked > 0),
])
def test_states_reach_the_values_that_make_affine_and_running_bugs_visible(name, condition):
    assert condition(search(cst.states(Config(3), "float32"), condition)), name


# --- whole cases --------------------------------------------------------------------------------


def check_case(case, dtype, *, ndims=(2, 3), min_m=2) -> None:
    assert isinstance(case, Case) and case.dtype == dtypes.name(dtype)
    assert len(case.calls) == 1
    x = case.x
    assert x.dtype == np.dtype(dtype) and finite(x)
    assert x.ndim in ndims and x.shape[1] == case.config.num_features
    assert m_of(x.shape) >= min_m
    assert case.call.layout in LAYOUTS


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.ALL), large=st.booleans(), ndims=ndims_choices,
       min_m=st.integers(1, 8))
def test_cases_are_one_call_of_the_dtype_rank_and_min_m_asked_for(data, dtype, large, ndims, min_m):
    case = data.draw(cst.cases(dtype, large=large, ndims=ndims, min_m=min_m))
    check_case(case, dtype, ndims=ndims, min_m=min_m)
    assert case.call.training
    if not large:
        assert case.x.shape[0] <= cst.SMALL and (case.x.ndim == 2 or case.x.shape[2] <= cst.SMALL)
    state = case.state
    assert state is not None
    C, cfg = case.config.num_features, case.config
    assert (state.weight is not None) == cfg.affine and (state.running_mean is not None) == cfg.track_running_stats
    for v in (state.weight, state.bias, state.running_mean, state.running_var):
        assert v is None or (v.shape == (C,) and v.dtype == np.dtype(dtype))


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.CORE), layout=st.sampled_from(LAYOUTS))
def test_cases_respect_a_fixed_config_mode_layout_state_and_values(data, dtype, layout):
    config = Config(4, eps=0.25, momentum=None, affine=False, track_running_stats=True)
    case = data.draw(cst.cases(dtype, config=st.just(config), training=False, values=cst.grid_inputs,
                               set_state=False, layout=st.just(layout)))
    check_case(case, dtype)
    assert case.config == config
    assert not case.call.training and case.call.layout == layout
    assert case.state is None
    k = case.x.astype(np.float64) * 256
    assert np.all(k == np.round(k))


def test_large_cases_reach_thousands_of_values_per_channel():
    case = search(cst.cases("float32", large=True), lambda c: m_of(c.x.shape) >= 512)
    assert m_of(case.x.shape) >= 512
    # (N, C) with N > 64 only comes from the big shapes: they are reached, not just large sides
    case = search(cst.cases("float32", large=True, ndims=(2,)), lambda c: m_of(c.x.shape) >= 2048)
    assert case.x.ndim == 2 and m_of(case.x.shape) >= 2048
    case = search(cst.cases("float32", large=True, ndims=(3,)), lambda c: m_of(c.x.shape) >= 2048)
    assert case.x.ndim == 3 and m_of(case.x.shape) >= 2048


def test_large_cases_reach_sides_between_small_and_the_big_shapes():
    big = {(n, length) for n, length in cst.BIG_SHAPES}

    def between(c):
        s = c.x.shape
        return (s[0], s[2] if len(s) == 3 else 1) not in big and max(s[0], s[-1] if len(s) == 3 else 0) > cst.SMALL

    assert between(search(cst.cases("float32", large=True), between))


def test_large_cases_reach_the_wide_channel_counts_with_a_large_batch():
    def wide_and_large(c):
        return c.config.num_features in cst.WIDE and m_of(c.x.shape) >= 512

    assert wide_and_large(search(cst.cases("float32", large=True), wide_and_large))


def test_small_cases_never_reach_large_batches():
    with pytest.raises(NoSuchExample):
        find(cst.cases("float32"), lambda c: m_of(c.x.shape) > cst.SMALL**2,
             settings=settings(SEARCH, max_examples=100))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cases_reach_every_layout(layout):
    assert search(cst.cases("float32"), lambda c: c.call.layout == layout).call.layout == layout


@pytest.mark.parametrize("ndim", [2, 3])
def test_cases_reach_both_ranks(ndim):
    assert search(cst.cases("float32"), lambda c: c.x.ndim == ndim).x.ndim == ndim


# --- sequences ----------------------------------------------------------------------------------


@DRAWS
@given(data=st.data(), dtype=st.sampled_from(dtypes.CORE), bounds=st.tuples(st.integers(1, 4), st.integers(0, 3)))
def test_sequences_have_between_min_and_max_calls_of_one_channel_count_and_rank(data, dtype, bounds):
    min_calls, max_calls = bounds[0], bounds[0] + bounds[1]
    case = data.draw(cst.sequences(dtype, min_calls=min_calls, max_calls=max_calls))
    assert case.dtype == dtypes.name(dtype)
    assert min_calls <= len(case.calls) <= max_calls
    C = case.config.num_features
    assert len({c.x.ndim for c in case.calls}) == 1
    for call in case.calls:
        assert call.x.shape[1] == C and call.x.dtype == np.dtype(dtype) and finite(call.x)
        assert m_of(call.x.shape) >= 2 and call.layout in LAYOUTS
    assert case.state is not None


@DRAWS
@given(data=st.data(), training=st.booleans())
def test_sequences_respect_fixed_modes_config_and_set_state(data, training):
    config = Config(2, momentum=None)
    case = data.draw(cst.sequences("float32", config=st.just(config), min_calls=2, modes=st.just(training),
                                   set_state=False))
    assert case.config == config and case.state is None
    assert len(case.calls) >= 2 and all(c.training == training for c in case.calls)


def test_sequences_reach_max_calls_mixed_modes_and_varying_batch_sizes():
    def rich(c):
        return (len(c.calls) == 5 and len({call.training for call in c.calls}) == 2
                and len({call.x.shape for call in c.calls}) > 1)

    assert rich(search(cst.sequences("float32"), rich))
