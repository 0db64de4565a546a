"""Hypothesis strategies: shapes, input values, configurations, states and call sequences.

Small composable pieces. Where a draw depends on an earlier one (the values on the shape,
the state on the configuration) a plain function draws them, given Hypothesis' ``draw``, and
``_drawn`` makes it a strategy (``st.composite``, made once per function).

Speed. Generating the data is most of a run's time, and a strategy *object* costs far more
than a draw from it: a fresh object is instantiated, validated and labelled on its first
draw, in every example. So every strategy here is built once: at module level, or by a
function cached on its arguments (``functools.lru_cache``; strategies are immutable and
hash by identity). The properties build their own strategies inside the test body too;
those that come back for every example (configurations, states, shapes, inputs) hit the
caches. Inside an input the unit noise is drawn directly, without a strategy of its own.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance.spec import dtypes, oracle  # dtypes: registers bfloat16 with NumPy
from conformance.spec.cases import LAYOUTS, Call, Case, Config

_cached = functools.lru_cache(maxsize=None)  # arguments from a small, fixed set
_bounded = functools.lru_cache(maxsize=4096)  # arguments that may be fresh objects (strategies built per example)

_JUST = type(st.just(None))


def _canonical(s):
    """The properties build ``st.just(v)`` afresh for every example: one cached object per value,
    so that the strategies built from it are cached too. Other strategies key by identity."""
    if type(s) is _JUST:
        try:
            hash(s.value)
        except TypeError:
            return s
        if repr(s) in (f"just({s.value!r})", "none()"):  # nothing mapped or filtered
            return _just(type(s.value), s.value)
    return s


@_bounded
def _just(_type, value):
    return st.just(value)


# --- shapes -----------------------------------------------------------------

# Most properties use small batches (readable counterexamples, fast); the large ones draw
# N and L up to 64, and in about one example in eight one of BIG_SHAPES: kernels switch code paths
# above a reduction size, and float32 summation errors only show at a few thousand values.
SMALL, LARGE = 8, 64
BIG_SHAPES = ((512, 1), (1025, 1), (2048, 1), (4096, 1), (64, 64), (16, 128), (2, 1024), (8, 257))


def shapes(num_features: int, *, ndims=(2, 3), min_m: int = 2, max_side: int = SMALL):
    """(N, C) or (N, C, L) with m = N * L >= min_m."""
    return _shapes(int(num_features), tuple(ndims), int(min_m), int(max_side))


@_cached
def _shapes(num_features: int, ndims: tuple, min_m: int, max_side: int):
    # A filter, not shapes valid by construction (N >= 2, say): the rejected draws make Hypothesis'
    # mutator give up on a test case sooner, so a run tries more distinct configurations and shapes;
    # without the filter, bugs that need one rare configuration were caught in fewer random seeds
    # (benchmarks/catch_rate.py).
    n = _integers(1, max_side)
    l = _integers(1, max_side)
    two = n.map(lambda N: (N, num_features))
    three = st.tuples(n, l).map(lambda t: (t[0], num_features, t[1]))
    options = [s for d, s in ((2, two), (3, three)) if d in ndims]
    return st.one_of(*options).filter(lambda s: _m(s) >= min_m)


def _m(shape) -> int:
    """m = N * L of an (N, C) or (N, C, L) shape (oracle.values_per_channel without an array)."""
    return shape[0] * (shape[2] if len(shape) == 3 else 1)


def _rarely(yes, no, *, one_in: int):
    """``yes`` in about one draw of ``one_in``, else ``no``; shrinks towards ``no``."""
    return st.integers(0, one_in - 1).flatmap(lambda k: yes if k == one_in - 1 else no)


# Kernels tile channels by 8, 16 or 32: some examples go well past one tile, with a ragged tail.
WIDE = (9, 12, 17, 33)
num_features = _rarely(st.sampled_from(WIDE), st.integers(1, 5), one_in=6)

# --- values -------------------------------------------------------------------

# Per-channel value profiles: (offset magnitude, spread, trend). Each channel draws one, so one
# input mixes scales across channels. A trend adds a ramp from -1 to 1 along the batch, in the
# order (n, l), as sorted data or a time series has: the blocks of a block reduction then have
# different means, which a merge that drops Chan's between-block term gets wrong.
PROFILES = {  # name: (offsets, spreads, trend)
    "ordinary": ((0.0, 1.0, 3.0), (1.0,), 0.0),
    "large offset, small spread": ((1e4,), (1e-2,), 0.0),
    "hundreds (x**2 overflows float16)": ((300.0, 1000.0), (1.0, 30.0), 0.0),
    "tiny spread": ((0.0, 0.5, 1.0), (1e-3, 1e-4, 1e-6), 0.0),
    "wide scale": ((0.0,), (1e-3, 1e3), 0.0),
    "constant": ((0.0, 5.0, -2.5, 1e4), (0.0,), 0.0),
    "trend along the batch": ((0.0, 3.0), (1.0,), 1.0),
}


def _profile(name: str, k: int, negative: bool) -> tuple[float, float, float, float]:
    offsets, spreads, trend = PROFILES[name]
    return offsets[k % len(offsets)], spreads[k // len(offsets) % len(spreads)], -1.0 if negative else 1.0, trend


@_cached
def profiles_of(*names: str):
    """(offset, spread, sign, trend) for one channel, from the named profiles, each equally likely.

    One choice per channel: a draw from every (profile, k, sign) in turn (k < 9 picks the
    profile's offset and spread), in the order the profiles are named, so that a channel
    shrinks towards the first profile, its first offset and spread, positive."""
    return st.sampled_from([_profile(name, k, negative)
                            for name, k, negative in itertools.product(names, range(9), (False, True))])


channel_profiles = profiles_of(*PROFILES)

unit_values = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


SMALL_ARRAY = 64  # the first this many values are drawn (and shrunk) element by element


def _noise_values(draw, shape) -> np.ndarray:
    """Values in [-1, 1]. The first SMALL_ARRAY are drawn one by one (they shrink); the rest of
    a large array repeats them, picked and signed by a seeded generator (drawing thousands one
    by one is slow). The tail is made of the head, so the shrinker cannot get stuck on an
    all-zero head with a failing generated tail: shrinking the head shrinks everything.

    The head is hypothesis.extra.numpy's array ("sparse with a fill": a fill value and about ten
    values at drawn indices). A cheaper head, every value drawn or a fill and values at seeded
    positions, cost fewer choices but gave Hypothesis' mutator more to copy: runs then tried fewer
    distinct configurations, and caught rare-configuration bugs in fewer seeds."""
    size = int(np.prod(shape))
    head = draw(_head(min(size, SMALL_ARRAY)))
    if size <= SMALL_ARRAY:
        return head.reshape(shape)
    return _extend(head, draw(_seeds), size).reshape(shape)


@_cached
def _head(size: int):
    return hnp.arrays(np.float64, size, elements=unit_values)


_seeds = st.integers(0, 2**32 - 1)


def _extend(head: np.ndarray, seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = size - head.size
    return np.concatenate([head, head[rng.integers(0, head.size, n)] * rng.choice([-1.0, 1.0], n)])


@_cached
def _composite(function):
    """``st.composite(function)``: a drawing function ``function(draw, *args)`` as a strategy. One
    per function, so that each kind of value has its own span label: Hypothesis' mutator copies a
    span over another of the same label (two calls get the same input, say)."""
    return st.composite(function)


def _drawn(function, *args):
    return _composite(function)(*args)


def _ramp(shape) -> np.ndarray:
    """-1 to 1 over the m values of each channel, in the order (n, l)."""
    N, L = shape[0], shape[2] if len(shape) == 3 else 1
    ramp = np.linspace(-1.0, 1.0, N * L).reshape(N, 1, L)
    return ramp if len(shape) == 3 else ramp[:, :, 0]


def _input_values(draw, dtype, shape, profiles) -> np.ndarray:
    base = _noise_values(draw, shape)
    chan = [draw(profiles) for _ in range(shape[1])]
    offset = np.array([o * sign for o, _, sign, _ in chan])
    spread = np.array([s for _, s, _, _ in chan])
    trend = np.array([t for _, _, _, t in chan])
    if trend.any():
        base = base + oracle.per_channel(trend, len(shape)) * _ramp(shape)
    x = oracle.per_channel(offset, len(shape)) + oracle.per_channel(spread, len(shape)) * base
    return x.astype(dtype)


def _grid_values(draw, dtype, shape) -> np.ndarray:
    return (np.round(_noise_values(draw, shape) * (2**12 - 1)) / 256.0).astype(dtype)


def inputs(dtype, shape, *, profiles=channel_profiles):
    """An input of ``shape`` in ``dtype``: unit noise shaped per channel by a profile."""
    return _inputs(dtype, tuple(int(s) for s in shape), profiles)


@_bounded
def _inputs(dtype, shape, profiles):
    return _drawn(_input_values, dtype, shape, profiles)


_ordinary = profiles_of("ordinary")


def ordinary_inputs(dtype, shape):
    """Inputs of ordinary magnitude only (for relations that need headroom)."""
    return inputs(dtype, shape, profiles=_ordinary)


def grid_inputs(dtype, shape):
    """Values k / 256 with |k| < 2**12: shifts by multiples of 1/256 and scaling by
    powers of two stay exact in float32, so relations compare like with like."""
    return _grid_inputs(dtype, tuple(int(s) for s in shape))


@_bounded
def _grid_inputs(dtype, shape):
    return _drawn(_grid_values, dtype, shape)


# --- configuration ----------------------------------------------------------------

eps_values = st.one_of(
    st.just(oracle.DEFAULT_EPS),
    st.sampled_from([10.0**k for k in range(0, -9, -1)]),  # shrinks towards 1, as integers(-8, 0) would
    st.floats(1e-8, 1.0),
)
momenta = st.one_of(st.none(), st.just(0.0), st.just(1.0), st.just(0.1), st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
_booleans = st.booleans()


def configs(num_features, *, eps=eps_values, momentum=momenta, affine=_booleans, track_running_stats=_booleans):
    return _configs(int(num_features), *map(_canonical, (eps, momentum, affine, track_running_stats)))


@_bounded
def _configs(num_features, eps, momentum, affine, track_running_stats):
    return _drawn(_config, num_features, eps, momentum, affine, track_running_stats)


def _config(draw, num_features, eps, momentum, affine, track_running_stats) -> Config:
    return Config(num_features, draw(eps), draw(momentum), draw(affine), draw(track_running_stats))


layouts = st.sampled_from(LAYOUTS)

# --- state ----------------------------------------------------------------------------

weights = st.one_of(st.just(0.0), st.floats(-3.0, 3.0))
biases = st.floats(-3.0, 3.0)
running_means = st.floats(-5.0, 5.0)
running_vars = st.one_of(st.just(1.0), st.floats(1e-3, 10.0))


_counts = st.integers(0, 4)


def states(config: Config, dtype, *, num_batches_tracked=_counts):
    """Weights (negative and zero included), biases and running stats, exact in ``dtype``."""
    return _states(config.num_features, config.affine, config.track_running_stats, dtype,
                   _canonical(num_batches_tracked))


@_bounded
def _states(C, affine, track_running_stats, dtype, num_batches_tracked):
    return _drawn(_state, C, affine, track_running_stats, dtype, num_batches_tracked)


def _state(draw, C, affine, track_running_stats, dtype, num_batches_tracked) -> oracle.State:
    def vector(elements):  # C values, each drawn
        return np.array([draw(elements) for _ in range(C)], np.float64).astype(dtype)

    return oracle.State(
        weight=vector(weights) if affine else None,
        bias=vector(biases) if affine else None,
        running_mean=vector(running_means) if track_running_stats else None,
        running_var=vector(running_vars) if track_running_stats else None,
        num_batches_tracked=draw(num_batches_tracked) if track_running_stats else None,
    )


# --- whole cases ----------------------------------------------------------------------

_any_config = num_features.flatmap(configs)
_max_sides = st.sampled_from((SMALL, LARGE))


def cases(dtype, *, config=None, training=True, values=inputs, ndims=(2, 3), large=False, set_state=True,
          layout=layouts, min_m=2):
    """One call: a configuration, a state (set by the suite so affine bugs are visible), one input.

    ``large`` lets m = N * L reach several thousand."""
    return _cases(dtype, _canonical(config if config is not None else _any_config), bool(training), values,
                  tuple(ndims), bool(large), bool(set_state), _canonical(layout), int(min_m))


@_bounded
def _cases(dtype, config, training, values, ndims, large, set_state, layout, min_m):
    return _drawn(_case, dtype, config, training, values, ndims, large, set_state, layout, min_m)


@_cached
def _big_shapes(num_features: int, ndims: tuple, min_m: int):
    options = [(n, num_features) if length == 1 else (n, num_features, length) for n, length in BIG_SHAPES
               if (2 if length == 1 else 3) in ndims and n * length >= min_m]
    return st.sampled_from(options)


_big = st.integers(0, 7).map(lambda k: k == 7)  # one example in about 8; shrinks towards a small shape


def _case(draw, dtype, config, training, values, ndims, large, set_state, layout, min_m) -> Case:
    cfg = draw(config)
    if large and draw(_big):
        shape = draw(_big_shapes(cfg.num_features, ndims, min_m))
    else:
        max_side = draw(_max_sides) if large else SMALL
        shape = draw(_shapes(cfg.num_features, ndims, min_m, max_side))
    x = draw(values(dtype, shape))
    state = draw(states(cfg, dtype)) if set_state else None
    return Case(cfg, dtypes.name(dtype), (Call(training, x, draw(layout)),), state)


_ndims = st.sampled_from((2, 3))


def sequences(dtype, *, config=None, min_calls=1, max_calls=5, modes=_booleans, set_state=True):
    """A sequence of train and eval calls with varying batch sizes (C, and L's presence, fixed)."""
    return _sequences(dtype, _canonical(config if config is not None else _any_config), int(min_calls),
                      int(max_calls), _canonical(modes), bool(set_state))


@_bounded
def _sequences(dtype, config, min_calls, max_calls, modes, set_state):
    return _drawn(_sequence, dtype, config, min_calls, max_calls, modes, set_state)


def _sequence(draw, dtype, config, min_calls, max_calls, modes, set_state) -> Case:
    cfg = draw(config)
    ndim = draw(_ndims)
    n_calls = draw(_integers(min_calls, max_calls))
    calls = []
    for _ in range(n_calls):
        training = draw(modes)
        shape = draw(_shapes(cfg.num_features, (ndim,), 2, SMALL))
        calls.append(Call(training, draw(inputs(dtype, shape)), draw(layouts)))
    state = draw(states(cfg, dtype)) if set_state else None
    return Case(cfg, dtypes.name(dtype), tuple(calls), state)


@_cached
def _integers(lo, hi):
    return st.integers(lo, hi)
