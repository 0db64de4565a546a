"""A fixed pool of input shapes, for implementations that compile per input shape (``--shapes=pool``).

JAX, Keras and ``torch.compile`` compile for each new input shape; the default strategies draw
hundreds of shapes in a run and shrinking walks through hundreds more. From the pool, each
shape compiles once per run, and a counterexample shrinks within the pool towards its first
(smallest) entries. It keeps what the default draws are for: m = 2 and 3, small shapes, m from
512 to 4096, channels past one tile of 8, 2D and 3D input.

Imported only when pooling is on (``conformance.strategies.use_shape_pool``): Hypothesis draws
some numbers from the constants of the loaded local modules, so a module loaded only then leaves
the default draws as they were.
"""

from __future__ import annotations

from hypothesis import strategies as st

from conformance.strategies.cache import cacheable

# Smallest first: sampled_from shrinks towards the first entry.
NUM_FEATURES = (1, 2, 3, 5, 9, 33)
# (N, L), L = 0 for an (N, C) input; within the default limits (sides up to 8, or 64 for a large case).
# N = 2 leads each rank: a first example with one sample would show a per-position bug as a one-value
# error rather than as wrong values.
SIDES = ((2, 0), (1, 0), (3, 0), (2, 2), (1, 2), (1, 3), (5, 0), (3, 2), (8, 0), (4, 5), (2, 8), (8, 8),
         (64, 0), (16, 64), (64, 64))
# m from 512 to 4096, as the default's big shapes.
BIG_SIDES = ((512, 0), (4096, 0), (64, 64), (2, 1024), (8, 257))

num_features = st.sampled_from(NUM_FEATURES)


def _shape(n: int, num_features: int, length: int) -> tuple[int, ...]:
    return (n, num_features, length) if length else (n, num_features)


@cacheable(composite=False)
def shapes(num_features: int, *, ndims=(2, 3), min_m: int = 2, max_side: int = 8):
    """The pool's shapes with C = ``num_features`` that the default ``shapes`` could draw with these limits."""
    options = [_shape(n, num_features, length) for n, length in SIDES
               if (3 if length else 2) in ndims and n * max(length, 1) >= min_m and max(n, length) <= max_side]
    return st.sampled_from(options)


@cacheable(composite=False)
def big_shapes(num_features: int, ndims: tuple, min_m: int):
    options = [_shape(n, num_features, length) for n, length in BIG_SIDES
               if (3 if length else 2) in ndims and n * max(length, 1) >= min_m]
    return st.sampled_from(options)


def all_shapes() -> set[tuple[int, ...]]:
    """Every shape the pool can give (a property may still build others, e.g. a wrong channel count)."""
    return {_shape(n, c, length) for c in NUM_FEATURES for n, length in SIDES + BIG_SIDES}
