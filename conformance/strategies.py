"""Hypothesis strategies: shapes, input values, configurations, states and call sequences.

Small composable pieces; ``@composite`` only where a draw depends on an earlier one
(the values depend on the shape, the state on the configuration).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import dtypes  # noqa: F401 - registers bfloat16 with NumPy
from . import oracle
from .cases import LAYOUTS, Call, Case, Config

# --- shapes -----------------------------------------------------------------

# Most properties use small batches (readable counterexamples, fast); some draw
# m = N * L up to 64 * 64 = 4096.
SMALL, LARGE = 8, 64


def shapes(num_features: int, *, ndims=(2, 3), min_m: int = 2, max_side: int = SMALL):
    """(N, C) or (N, C, L) with m = N * L >= min_m."""
    n = st.integers(1, max_side)
    l = st.integers(1, max_side)
    two = n.map(lambda N: (N, num_features))
    three = st.tuples(n, l).map(lambda t: (t[0], num_features, t[1]))
    options = [s for d, s in ((2, two), (3, three)) if d in ndims]
    return st.one_of(*options).filter(lambda s: oracle.values_per_channel(np.empty(s)) >= min_m)


num_features = st.integers(1, 5)

# --- values -------------------------------------------------------------------

# Per-channel value profiles: (offset magnitude, spread). Each channel draws one,
# so one input mixes scales across channels.
PROFILES = {  # name: (offsets, spreads)
    "ordinary": ((0.0, 1.0, 3.0), (1.0,)),
    "large offset, small spread": ((1e4,), (1e-2,)),
    "hundreds (x**2 overflows float16)": ((300.0, 1000.0), (1.0, 30.0)),
    "tiny spread": ((0.0, 0.5, 1.0), (1e-3, 1e-4, 1e-6)),
    "wide scale": ((0.0,), (1e-3, 1e3)),
    "constant": ((0.0, 5.0, -2.5, 1e4), (0.0,)),
}


def _profile(name: str, k: int, negative: bool) -> tuple[float, float, float]:
    offsets, spreads = PROFILES[name]
    return offsets[k % len(offsets)], spreads[k // len(offsets) % len(spreads)], -1.0 if negative else 1.0


def profiles_of(*names: str):
    """(offset, spread, sign) for one channel, from the named profiles, each equally likely.
    (Flat draws rather than flatmap: this runs for every channel of every input.)"""
    return st.builds(_profile, st.sampled_from(names), st.integers(0, 8), st.booleans())


channel_profiles = profiles_of(*PROFILES)

unit_values = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


SMALL_ARRAY = 64  # the first this many values are drawn (and shrunk) element by element


def noise(shape):
    """Values in [-1, 1]. The first SMALL_ARRAY are drawn one by one (they shrink); the rest of
    a large array repeats them, picked and signed by a seeded generator (drawing thousands one
    by one is slow). The tail is made of the head, so the shrinker cannot get stuck on an
    all-zero head with a failing generated tail: shrinking the head shrinks everything."""
    size = int(np.prod(shape))
    head = hnp.arrays(np.float64, min(size, SMALL_ARRAY), elements=unit_values)
    if size <= SMALL_ARRAY:
        return head.map(lambda a: a.reshape(shape))
    return st.tuples(head, st.integers(0, 2**32 - 1)).map(lambda t: _extend(t[0], t[1], size).reshape(shape))


def _extend(head: np.ndarray, seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = size - head.size
    return np.concatenate([head, head[rng.integers(0, head.size, n)] * rng.choice([-1.0, 1.0], n)])


@st.composite
def inputs(draw, dtype, shape, *, profiles=channel_profiles):
    """An input of ``shape`` in ``dtype``: unit noise shaped per channel by a profile."""
    C = shape[1]
    base = draw(noise(shape))
    chan = draw(st.lists(profiles, min_size=C, max_size=C))
    offset = np.array([o * sign for o, _, sign in chan])
    spread = np.array([s for _, s, _ in chan])
    x = oracle._per_channel(offset, len(shape)) + oracle._per_channel(spread, len(shape)) * base
    return x.astype(dtype)


def ordinary_inputs(dtype, shape):
    """Inputs of ordinary magnitude only (for relations that need headroom)."""
    return inputs(dtype, shape, profiles=profiles_of("ordinary"))


@st.composite
def grid_inputs(draw, dtype, shape):
    """Values k / 256 with |k| < 2**12: shifts by multiples of 1/256 and scaling by
    powers of two stay exact in float32, so relations compare like with like."""
    base = draw(noise(shape))
    return (np.round(base * (2**12 - 1)) / 256.0).astype(dtype)


# --- configuration ----------------------------------------------------------------

eps_values = st.one_of(
    st.just(oracle.DEFAULT_EPS),
    st.integers(-8, 0).map(lambda k: 10.0**k),
    st.floats(1e-8, 1.0),
)
momenta = st.one_of(st.none(), st.just(0.0), st.just(1.0), st.just(0.1), st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))


def configs(num_features, *, eps=eps_values, momentum=momenta, affine=st.booleans(), track_running_stats=st.booleans()):
    return st.builds(
        Config, num_features=st.just(num_features), eps=eps, momentum=momentum, affine=affine,
        track_running_stats=track_running_stats,
    )


layouts = st.sampled_from(LAYOUTS)

# --- state ----------------------------------------------------------------------------

weights = st.one_of(st.just(0.0), st.floats(-3.0, 3.0))
biases = st.floats(-3.0, 3.0)
running_means = st.floats(-5.0, 5.0)
running_vars = st.one_of(st.just(1.0), st.floats(1e-3, 10.0))


def _vector(dtype, C, elements):
    return hnp.arrays(np.float64, C, elements=elements).map(lambda v: v.astype(dtype))


def states(config: Config, dtype, *, num_batches_tracked=st.integers(0, 4)):
    """Weights (negative and zero included), biases and running stats, exact in ``dtype``."""
    C = config.num_features
    return st.builds(
        oracle.State,
        weight=_vector(dtype, C, weights) if config.affine else st.none(),
        bias=_vector(dtype, C, biases) if config.affine else st.none(),
        running_mean=_vector(dtype, C, running_means) if config.track_running_stats else st.none(),
        running_var=_vector(dtype, C, running_vars) if config.track_running_stats else st.none(),
        num_batches_tracked=num_batches_tracked if config.track_running_stats else st.none(),
    )


# --- whole cases ----------------------------------------------------------------------


@st.composite
def cases(draw, dtype, *, config=None, training=True, values=inputs, ndims=(2, 3), large=False, set_state=True,
          layout=layouts, min_m=2):
    """One call: a configuration, a state (set by the suite so affine bugs are visible), one input.

    ``large`` lets m = N * L reach several thousand."""
    cfg = draw(config if config is not None else num_features.flatmap(configs))
    max_side = draw(st.sampled_from((SMALL, LARGE))) if large else SMALL
    shape = draw(shapes(cfg.num_features, ndims=ndims, min_m=min_m, max_side=max_side))
    x = draw(values(dtype, shape))
    state = draw(states(cfg, dtype)) if set_state else None
    return Case(cfg, np.dtype(dtype).name, (Call(training, x, draw(layout)),), state)


@st.composite
def sequences(draw, dtype, *, config=None, min_calls=1, max_calls=5, modes=st.booleans(), set_state=True):
    """A sequence of train and eval calls with varying batch sizes (C, and L's presence, fixed)."""
    cfg = draw(config if config is not None else num_features.flatmap(configs))
    ndim = draw(st.sampled_from((2, 3)))
    n_calls = draw(st.integers(min_calls, max_calls))
    calls = []
    for _ in range(n_calls):
        training = draw(modes)
        shape = draw(shapes(cfg.num_features, ndims=(ndim,)))
        calls.append(Call(training, draw(inputs(dtype, shape)), draw(layouts)))
    state = draw(states(cfg, dtype)) if set_state else None
    return Case(cfg, np.dtype(dtype).name, tuple(calls), state)
