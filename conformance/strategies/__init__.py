"""Hypothesis strategies: shapes, input values, configurations, states and call sequences.

Small composable pieces, each one public function that returns a strategy: ``cases("float32",
large=True)`` draws whole cases, ``any_config(affine=st.just(True))`` configurations. Where a draw
depends on an earlier one (the values on the shape, the state on the configuration) the function
is a drawing function, given Hypothesis' ``draw`` (``st.composite``).

Speed. Generating the data is most of a run's time, and a strategy *object* costs far more
than a draw from it: a fresh object is instantiated, validated and labelled on its first
draw, in every example. So every strategy here is built once: at module level, or by a
function that ``cacheable`` (``cache.py``) makes build one object per distinct arguments. The
properties call these functions inside the test body too; those that come back for every
example (configurations, states, shapes, inputs) find the objects already built. Inside an
input the unit noise is drawn directly, without a strategy of its own.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance.spec import dtypes, oracle  # dtypes: registers bfloat16 with NumPy
from conformance.spec.cases import LAYOUTS, Call, Case, Config
from conformance.strategies.cache import cacheable

_integers = cacheable(st.integers, composite=False)

# --- shapes -----------------------------------------------------------------

# Most properties use small batches (readable counterexamples, fast); the large ones draw
# N and L up to 64, and in about one example in eight one of BIG_SHAPES: kernels switch code paths
# above a reduction size, and float32 summation errors only show at a few thousand values.
SMALL, LARGE = 8, 64
BIG_SHAPES = ((512, 1), (1025, 1), (2048, 1), (4096, 1), (64, 64), (16, 128), (2, 1024), (8, 257))


@cacheable(composite=False)
def shapes(num_features: int, *, ndims=(2, 3), min_m: int = 2, max_side: int = SMALL):
    """(N, C) or (N, C, L) with C = ``num_features``, N and L up to ``max_side`` and m = N * L >= ``min_m``.

    >>> shapes(3, ndims=(3,), min_m=4)
    """
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


@cacheable(composite=False)
def _big_shapes(num_features: int, ndims: tuple, min_m: int):
    options = [(n, num_features) if length == 1 else (n, num_features, length) for n, length in BIG_SHAPES
               if (2 if length == 1 else 3) in ndims and n * length >= min_m]
    return st.sampled_from(options)


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
VALUE_PROFILES = {  # name: (offsets, spreads, trend)
    "ordinary": ((0.0, 1.0, 3.0), (1.0,), 0.0),
    "large offset, small spread": ((1e4,), (1e-2,), 0.0),
    "hundreds (x**2 overflows float16)": ((300.0, 1000.0), (1.0, 30.0), 0.0),
    "tiny spread": ((0.0, 0.5, 1.0), (1e-3, 1e-4, 1e-6), 0.0),
    "wide scale": ((0.0,), (1e-3, 1e3), 0.0),
    "constant": ((0.0, 5.0, -2.5, 1e4), (0.0,), 0.0),
    "trend along the batch": ((0.0, 3.0), (1.0,), 1.0),
}


def _profile(name: str, k: int, negative: bool) -> tuple[float, float, float, float]:
    offsets, spreads, trend = VALUE_PROFILES[name]
    return offsets[k % len(offsets)], spreads[k // len(offsets) % len(spreads)], -1.0 if negative else 1.0, trend


@cacheable(composite=False)
def profiles_of(*names: str):
    """(offset, spread, sign, trend) for one channel, from the named profiles, each equally likely.

    One choice per channel: a draw from every (profile, k, sign) in turn (k < 9 picks the
    profile's offset and spread), in the order the profiles are named, so that a channel
    shrinks towards the first profile, its first offset and spread, positive.

    >>> profiles_of("ordinary", "tiny spread")
    """
    return st.sampled_from([_profile(name, k, negative)
                            for name, k, negative in itertools.product(names, range(9), (False, True))])


channel_profiles = profiles_of(*VALUE_PROFILES)

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


@cacheable(composite=False)
def _head(size: int):
    return hnp.arrays(np.float64, size, elements=unit_values)


_seeds = st.integers(0, 2**32 - 1)


def _extend(head: np.ndarray, seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = size - head.size
    return np.concatenate([head, head[rng.integers(0, head.size, n)] * rng.choice([-1.0, 1.0], n)])


def _ramp(shape) -> np.ndarray:
    """-1 to 1 over the m values of each channel, in the order (n, l)."""
    N, L = shape[0], shape[2] if len(shape) == 3 else 1
    ramp = np.linspace(-1.0, 1.0, N * L).reshape(N, 1, L)
    return ramp if len(shape) == 3 else ramp[:, :, 0]


@cacheable
def inputs(draw, dtype, shape, *, profiles=channel_profiles) -> np.ndarray:
    """An input of ``shape`` in ``dtype``: unit noise shaped per channel by a profile, one per
    channel, drawn from ``profiles``.

    >>> inputs("float32", (4, 3, 2), profiles=profiles_of("constant"))
    """
    base = _noise_values(draw, shape)
    chan = [draw(profiles) for _ in range(shape[1])]
    offset = np.array([o * sign for o, _, sign, _ in chan])
    spread = np.array([s for _, s, _, _ in chan])
    trend = np.array([t for _, _, _, t in chan])
    if trend.any():
        base = base + oracle.per_channel(trend, len(shape)) * _ramp(shape)
    x = oracle.per_channel(offset, len(shape)) + oracle.per_channel(spread, len(shape)) * base
    return x.astype(dtype)


_ordinary = profiles_of("ordinary")


def ordinary_inputs(dtype, shape):
    """Inputs of ordinary magnitude only (for relations that need headroom).

    >>> ordinary_inputs("float64", (8, 3))
    """
    return inputs(dtype, shape, profiles=_ordinary)


@cacheable
def grid_inputs(draw, dtype, shape) -> np.ndarray:
    """Values k / 256 with |k| < 2**12: shifts by multiples of 1/256 and scaling by
    powers of two stay exact in float32, so relations compare like with like.

    >>> grid_inputs("float32", (5, 2))
    """
    return (np.round(_noise_values(draw, shape) * (2**12 - 1)) / 256.0).astype(dtype)


# --- configuration ----------------------------------------------------------------

eps_values = st.one_of(
    st.just(oracle.DEFAULT_EPS),
    st.sampled_from([10.0**k for k in range(0, -9, -1)]),  # shrinks towards 1, as integers(-8, 0) would
    st.floats(1e-8, 1.0),
)
momenta = st.one_of(st.none(), st.just(0.0), st.just(1.0), st.just(0.1),
                    st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
_booleans = st.booleans()


@cacheable
def configs(draw, num_features, *, eps=eps_values, momentum=momenta, affine=_booleans,
            track_running_stats=_booleans) -> Config:
    """BatchNorm1d(``num_features``, ...) with each constructor argument drawn from its strategy.

    >>> configs(3, momentum=st.just(0.0), track_running_stats=st.just(True))
    """
    return Config(num_features, draw(eps), draw(momentum), draw(affine), draw(track_running_stats))


@cacheable
def any_config(draw, **options) -> Config:
    """A configuration for any ``num_features``; ``options`` as for ``configs``.

    >>> any_config(affine=st.just(True))
    """
    return draw(configs(draw(num_features), **options))


layouts = st.sampled_from(LAYOUTS)

# --- state ----------------------------------------------------------------------------

weights = st.one_of(st.just(0.0), st.floats(-3.0, 3.0))
biases = st.floats(-3.0, 3.0)
running_means = st.floats(-5.0, 5.0)
running_vars = st.one_of(st.just(1.0), st.floats(1e-3, 10.0))


_counts = st.integers(0, 4)


def states(config: Config, dtype, *, num_batches_tracked=_counts):
    """Weights (negative and zero included), biases and running stats, exact in ``dtype``.

    >>> states(Config(3, track_running_stats=False), "float16")
    """
    # Keyed by the three fields the state depends on: a configuration drawn per example is seldom drawn again.
    return _states(config.num_features, config.affine, config.track_running_stats, dtype,
                   num_batches_tracked=num_batches_tracked)


@cacheable
def _states(draw, C, affine, track_running_stats, dtype, *, num_batches_tracked) -> oracle.State:
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

_max_sides = st.sampled_from((SMALL, LARGE))
_big = st.integers(0, 7).map(lambda k: k == 7)  # one example in about 8; shrinks towards a small shape


@cacheable
def cases(draw, dtype, *, config=None, training=True, values=inputs, ndims=(2, 3), large=False, big=False,
          set_state=True, layout=layouts, min_m=2) -> Case:
    """One call: a configuration (from ``config``, by default ``any_config()``), a state (set by
    the suite so affine bugs are visible), one input (from ``values(dtype, shape)``).

    ``large`` lets m = N * L reach several thousand; ``big`` draws every shape from BIG_SHAPES.

    >>> cases("float32", large=True)
    >>> cases("float64", config=any_config(affine=st.just(True)), training=False, ndims=(3,))
    """
    cfg = draw(config if config is not None else any_config())
    if big or (large and draw(_big)):
        shape = draw(_big_shapes(cfg.num_features, ndims, min_m))
    else:
        max_side = draw(_max_sides) if large else SMALL
        shape = draw(shapes(cfg.num_features, ndims=ndims, min_m=min_m, max_side=max_side))
    x = draw(values(dtype, shape))
    state = draw(states(cfg, dtype)) if set_state else None
    return Case(cfg, dtypes.name(dtype), (Call(training, x, draw(layout)),), state)


_ndims = st.sampled_from((2, 3))


@cacheable
def sequences(draw, dtype, *, config=None, min_calls=1, max_calls=5, modes=_booleans, set_state=True) -> Case:
    """A sequence of train and eval calls (``modes``) with varying batch sizes (C, and L's presence, fixed).

    >>> sequences("float32", config=any_config(track_running_stats=st.just(True)), modes=st.just(True))
    """
    cfg = draw(config if config is not None else any_config())
    ndim = draw(_ndims)
    n_calls = draw(_integers(min_calls, max_calls))
    calls = []
    for _ in range(n_calls):
        training = draw(modes)
        shape = draw(shapes(cfg.num_features, ndims=(ndim,), min_m=2, max_side=SMALL))
        calls.append(Call(training, draw(inputs(dtype, shape)), draw(layouts)))
    state = draw(states(cfg, dtype)) if set_state else None
    return Case(cfg, dtypes.name(dtype), tuple(calls), state)


def use_shape_pool() -> None:
    """Draw num_features and shapes from the fixed pool (``pool.py``) from now on, for every property.

    The properties and the functions above look these names up when they draw, so rebinding them
    here is the whole switch; without it nothing of the pool is loaded and the draws are the default's."""
    from conformance.strategies import pool

    globals().update(num_features=pool.num_features, shapes=pool.shapes, _big_shapes=pool.big_shapes)
