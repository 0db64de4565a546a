"""The assertion helpers (``conformance.spec.assertions``) pass what is within the bound, fail what is not,
and say where and by how much.

Every property ends in one of these helpers: one that passes everything makes the suite vacuous,
one that applies a channel's bound to another channel or loses NaNs hides bugs, and one whose
message misnames the element misleads whoever reads the failure. The values here are exact in
float64 (multiples of powers of two), so "just outside" is one rounding past the bound, not a margin.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance.candidates.replay import Bounds
from conformance.spec import oracle
from conformance.spec.assertions import (
    BoundUsage,
    Mismatch,
    assert_absent,
    assert_close,
    assert_equal,
    assert_running_stats_close,
    assert_state_close,
    bound_usage,
    max_usage,
    reset_bound_usage,
)

DRAWS = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
B = 2.0**-10  # a bound, and the values below, exact in float64: expected + B is computed exactly
TINY = 2.0**-30  # one step past B, still exact next to values of magnitude up to 16


@pytest.fixture(autouse=True)
def fresh_recorder():
    reset_bound_usage()
    yield
    reset_bound_usage()


def grid(shape, seed: int = 0) -> np.ndarray:
    """Values k / 256 with |k| < 4096: adding B or B + TINY to them is exact."""
    return np.random.default_rng(seed).integers(-4095, 4096, shape) / 256.0


SHAPES = [(3,), (4, 3), (4, 3, 2)]


def channel_axis(shape) -> int:
    return 0 if len(shape) == 1 else 1


# --- within and outside the bound ---------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["above", "below"])
def test_a_difference_equal_to_the_bound_passes_and_one_step_more_raises_a_mismatch(shape, sign):
    expected = grid(shape)
    assert_close("output", expected + sign * B, expected, np.full(shape[channel_axis(shape)], B))
    assert_close("output", expected + sign * B, expected, np.full(shape, B))  # an elementwise bound
    got = expected.copy()
    got.flat[-1] += sign * (B + TINY)
    with pytest.raises(Mismatch):
        assert_close("output", got, expected, np.full(shape[channel_axis(shape)], B))


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
def test_a_per_channel_bound_applies_to_its_own_channel(shape):
    expected = grid(shape)
    bound = np.array([1.0, B, 1.0])
    off_in_0, off_in_1 = expected.copy(), expected.copy()
    off_in_0[:, 0] += 0.5  # within channel 0's bound, far past channel 1's
    off_in_1[:, 1] += 0.5
    assert_close("output", off_in_0, expected, bound)
    with pytest.raises(Mismatch) as info:
        assert_close("output", off_in_1, expected, bound)
    assert info.value.index[1] == 1


def test_a_zero_bound_passes_only_an_exact_match():
    expected = grid((4, 3))
    assert_close("weight", expected.copy(), expected, 0.0)
    got = expected.copy()
    got[2, 1] = np.nextafter(got[2, 1], np.inf)
    with pytest.raises(Mismatch):
        assert_close("weight", got, expected, 0.0)


@DRAWS
@given(data=st.data(), shape=st.sampled_from(SHAPES))
def test_a_comparison_passes_exactly_when_its_recorded_usage_is_at_most_1(data, shape):
    C = shape[channel_axis(shape)]
    expected = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    got = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    bound = data.draw(hnp.arrays(np.float64, C, elements=st.floats(1e-6, 1e3)))
    b = oracle.per_channel(bound, len(shape)) if len(shape) > 1 else bound
    ratio = float(np.max(np.abs(got - expected) / b))
    reset_bound_usage()
    try:
        assert_close("output", got, expected, bound)
        passed = True
    except Mismatch:
        passed = False
    assert passed == (ratio <= 1)
    usage = bound_usage()
    assert usage.what == "output" and usage.ratio == pytest.approx(ratio, rel=1e-12, abs=0)


# --- the mismatch: what, where, expected, got ---------------------------------------------------


def test_a_mismatch_carries_what_where_expected_got_bound_and_dtype_and_its_message_names_them():
    expected = grid((4, 3, 2))
    got = expected.copy()
    got[1, 2, 0] += 0.25
    with pytest.raises(Mismatch) as info:
        assert_close("running_var after call 2", got, expected, [1.0, 1.0, B], dtype="float32")
    e = info.value
    assert isinstance(e, AssertionError)
    assert e.what == "running_var after call 2" and e.dtype == "float32"
    assert e.index == (1, 2, 0)
    np.testing.assert_array_equal(e.expected, expected)
    np.testing.assert_array_equal(e.got, got)
    assert e.bound.shape == expected.shape and e.bound[1, 2, 0] == B and e.bound[1, 0, 1] == 1.0
    message = str(e)
    for part in ("running_var after call 2", "(float32)", "[n=1, c=2, l=0]", f"expected {float(expected[1, 2, 0])!r}",
                 f"got {float(got[1, 2, 0])!r}", "1 of 24 elements off", "channels [2]"):
        assert part in message, (part, message)


@pytest.mark.parametrize("shape, index, where", [((3,), (2,), "[c=2]"), ((4, 3), (3, 1), "[n=3, c=1]"),
                                                 ((4, 3, 2), (0, 1, 1), "[n=0, c=1, l=1]")], ids=str)
def test_the_message_names_the_position_by_n_c_l(shape, index, where):
    expected = grid(shape)
    got = expected.copy()
    got[index] += 1.0
    with pytest.raises(Mismatch, match=r"differs at " + r"\[" + where[1:-1] + r"\]") as info:
        assert_close("output", got, expected, B)
    assert info.value.index == index


def test_the_mismatch_points_at_the_element_furthest_past_its_bound_not_the_largest_difference():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[0, 0] = 8.0  # 2 times its bound 4
    got[1, 2] = 0.5  # 512 times its bound B
    with pytest.raises(Mismatch) as info:
        assert_close("output", got, expected, [4.0, 1.0, B])
    assert info.value.index == (1, 2)
    assert "2 of 6 elements off, in channels [0, 2]" in str(info.value)


def test_a_mismatch_converts_to_plain_json_with_non_finite_values_as_none():
    expected = np.array([[1.0, np.inf], [np.nan, 2.0]])
    got = np.array([[1.0, np.inf], [np.nan, 5.0]])
    with pytest.raises(Mismatch) as info:
        assert_close("output", got, expected, [B, B], dtype="float64")
    d = json.loads(json.dumps(info.value.to_dict(), allow_nan=False))
    assert d["what"] == "output" and d["index"] == [1, 1] and d["shape"] == [2, 2] and d["dtype"] == "float64"
    assert d["expected"] == [1.0, None, None, 2.0] and d["got"] == [1.0, None, None, 5.0]
    assert d["message"] == str(info.value)


# --- non-finite values and shapes ---------------------------------------------------------------


@pytest.mark.parametrize("got, expected", [
    ([np.nan], [np.nan]), ([np.inf], [np.inf]), ([-np.inf], [-np.inf]), ([np.nan, 1.0], [np.nan, 1.0 + B]),
], ids=["nan", "inf", "-inf", "nan-and-number"])
def test_matching_non_finite_values_pass(got, expected):
    assert_close("output", got, expected, B)


@pytest.mark.parametrize("got, expected", [
    ([np.nan], [1.0]), ([1.0], [np.nan]), ([np.inf], [np.nan]), ([-np.inf], [np.inf]), ([1e300], [np.inf]),
    ([np.inf], [1.0]),
], ids=["nan-for-number", "number-for-nan", "inf-for-nan", "opposite-infinities", "finite-for-inf",
        "inf-for-number"])
def test_a_non_finite_value_where_another_value_is_due_fails(got, expected):
    with pytest.raises(Mismatch, match=r"expected .*, got "):
        assert_close("output", got, expected, 1e308)


def test_an_infinite_result_passes_only_where_the_dtype_overflows_within_the_bound():
    big = float(np.finfo(np.float32).max)
    assert_close("output", [np.inf], [big], [big * 1e-6], dtype="float32")
    with pytest.raises(Mismatch):  # without the dtype nothing overflows
        assert_close("output", [np.inf], [big], [big * 1e-6])
    with pytest.raises(Mismatch):  # the wrong sign
        assert_close("output", [-np.inf], [big], [big * 1e-6], dtype="float32")
    with pytest.raises(Mismatch):  # far from float32's largest value
        assert_close("output", [np.inf], [1e30], [1e24], dtype="float32")


@pytest.mark.parametrize("got_shape, expected_shape", [((3,), (1, 3)), ((4, 3), (3, 4)), ((2, 3, 1), (2, 3))],
                         ids=str)
def test_a_shape_mismatch_fails_naming_both_shapes(got_shape, expected_shape):
    with pytest.raises(AssertionError) as info:
        assert_close("train output", np.zeros(got_shape), np.zeros(expected_shape), 1.0)
    assert not isinstance(info.value, Mismatch)
    message = str(info.value)
    assert "train output" in message and str(got_shape) in message and str(expected_shape) in message


# --- the bound-usage recorder -------------------------------------------------------------------


def test_the_recorder_keeps_the_largest_usage_and_its_comparison_until_reset():
    assert bound_usage() is None
    expected = grid((4, 3))
    assert_close("first", expected + B / 2, expected, B)
    assert bound_usage() == BoundUsage(0.5, "first")
    assert_close("smaller", expected + B / 4, expected, B)
    assert bound_usage() == BoundUsage(0.5, "first")
    assert_close("larger", expected - 3 * B / 4, expected, B)
    assert bound_usage() == BoundUsage(0.75, "larger")
    with pytest.raises(Mismatch):
        assert_close("failing", expected + 4 * B, expected, B)
    assert bound_usage() == BoundUsage(4.0, "failing")  # recorded before raising
    reset_bound_usage()
    assert bound_usage() is None


def test_max_usage_counts_0_over_0_as_0_and_x_over_0_and_nan_as_infinite():
    every = np.ones(2, bool)
    assert max_usage(np.array([0.0, 0.5]), np.array([0.0, 1.0]), every) == 0.5
    assert max_usage(np.array([1e-300, 0.0]), np.array([0.0, 1.0]), every) == math.inf
    assert max_usage(np.array([np.nan, 0.0]), np.array([1.0, 1.0]), every) == math.inf
    assert max_usage(np.array([np.nan, 0.25]), np.array([1.0, 1.0]), np.array([False, True])) == 0.25
    assert max_usage(np.zeros(0), np.zeros(0), np.zeros(0, bool)) == 0.0


# --- exact values and states --------------------------------------------------------------------


def test_assert_equal_passes_equal_values_and_names_what_expected_and_got_otherwise():
    assert_equal("num_batches_tracked after call 1", np.int64(3), 3)
    with pytest.raises(AssertionError) as info:
        assert_equal("num_batches_tracked after call 2", 2, 3)
    # the first line: pytest may rewrite the helper's assert and append its own explanation
    assert str(info.value).splitlines()[0] == "num_batches_tracked after call 2: expected 3, got 2"


def test_assert_absent_passes_none_only_and_names_what_and_the_value():
    assert_absent("running_mean", None)
    for value in (np.zeros(2), np.zeros(0), 0):
        with pytest.raises(AssertionError, match=r"^running_mean with track_running_stats=False: expected no such"):
            assert_absent("running_mean with track_running_stats=False", value)


def test_assert_state_close_requires_presence_to_match():
    assert_state_close("weight", None, None, B)
    with pytest.raises(AssertionError, match="expected no such state"):
        assert_state_close("weight", np.ones(2), None, B)
    with pytest.raises(AssertionError, match="the candidate has none"):
        assert_state_close("weight", None, np.ones(2), B)
    assert_state_close("weight", np.ones(2) + B, np.ones(2), B)


def state(mean, var) -> oracle.State:
    return oracle.State(running_mean=None if mean is None else np.asarray(mean, np.float64),
                        running_var=None if var is None else np.asarray(var, np.float64))


def test_assert_running_stats_close_checks_each_statistic_against_its_own_bound():
    expected = state([0.5, -1.0], [1.0, 2.0])
    bounds = Bounds(np.array([B, B]), np.array([2 * B, 2 * B]))
    assert_running_stats_close("after call 1", state([0.5 + B, -1.0], [1.0, 2.0 - 2 * B]), expected, bounds)
    with pytest.raises(Mismatch) as info:
        assert_running_stats_close("after call 1", state([0.5, -1.0], [1.0, 2.0 + 3 * B]), expected, bounds,
                                   dtype="float32")
    assert info.value.what == "running_var after call 1" and info.value.index == (1,)
    assert info.value.dtype == "float32" and "running_var after call 1 (float32) differs at [c=1]" in str(info.value)
    with pytest.raises(Mismatch) as info:
        assert_running_stats_close("after call 1", state([0.5 + 2 * B, -1.0], [1.0, 2.0]), expected, bounds)
    assert info.value.what == "running_mean after call 1" and info.value.index == (0,)


def test_assert_running_stats_close_with_the_default_zero_bounds_requires_exact_values():
    expected = state([0.5], [1.0])
    assert_running_stats_close("after an eval call", state([0.5], [1.0]), expected, Bounds())
    with pytest.raises(Mismatch, match="running_var after an eval call"):
        assert_running_stats_close("after an eval call", state([0.5], [np.nextafter(1.0, 2.0)]), expected, Bounds())


def test_assert_running_stats_close_requires_absent_stats_to_be_absent():
    assert_running_stats_close("untracked", state(None, None), state(None, None), Bounds())
    with pytest.raises(AssertionError, match="running_mean untracked: expected no such state"):
        assert_running_stats_close("untracked", state([0.0], [1.0]), state(None, None), Bounds())
    with pytest.raises(AssertionError, match="running_mean tracked: expected a value, the candidate has none"):
        assert_running_stats_close("tracked", state(None, None), state([0.0], [1.0]), Bounds())
