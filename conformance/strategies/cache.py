"""``cacheable``: a strategy function that builds one strategy object per distinct arguments.

Hypothesis does the same for its own strategy functions (``cacheable`` and ``defines_strategy`` in
``hypothesis/strategies/_internal/utils.py``): a strategy object costs far more than a draw from it,
since a fresh one is validated and labelled on its first draw, and the properties call strategy
functions inside their bodies, once per example. Strategies are immutable, so one object can serve
every call with the same arguments.

A drawing function, given Hypothesis' ``draw`` first, becomes a strategy function::

    @cacheable
    def configs(draw, num_features, *, eps=eps_values, ...) -> Config:
        return Config(num_features, draw(eps), ...)

    configs(3, affine=st.just(True))  # a strategy: the same object for equal arguments

``@cacheable(composite=False)`` caches a function that returns a strategy built from others
(``one_of``, ``sampled_from``) instead: it draws nothing itself, so it adds no span of its own.
"""

from __future__ import annotations

import collections
import functools
from typing import Any, cast

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

MAXSIZE = 4096  # strategies kept per function; arguments built afresh per example would grow the cache forever

_JUST = type(st.just(None))
_LAZY = type(st.none())  # what Hypothesis' strategy functions return: built on first use


def _plain_just(s: SearchStrategy):
    """``s`` as a ``st.just(v)`` with nothing mapped or filtered, or None.

    Hypothesis keeps a just's maps and filters in ``_transformations`` (a lazy one's too, once
    built); where that attribute is missing, ``s`` counts as transformed and keys by identity."""
    if type(s) is _LAZY:
        try:
            s = cast(Any, s).wrapped_strategy
        except Exception:  # noqa: BLE001 - invalid arguments: keyed by identity, the error shows where it is drawn
            return None
    if type(s) is _JUST and getattr(s, "_transformations", None) == ():
        return s
    return None


def _key(value):
    """A hashable key, equal for arguments that give the same strategy; TypeError if there is none.

    The properties build ``st.just(v)`` afresh for every example: a plain just keys by its value,
    so that it finds the strategy built for an equal one. Other strategies key by identity. A
    float keys by its bits (0.0 and -0.0 differ, a NaN finds itself), any value by its type too."""
    if isinstance(value, SearchStrategy):
        just = _plain_just(value)
        return value if just is None else (_JUST, _key(just.value))
    if isinstance(value, float):
        return float, value.hex()
    if isinstance(value, tuple):
        return type(value), tuple(map(_key, value))
    hash(value)
    return type(value), value


def cacheable(function=None, /, *, composite: bool = True):
    """Make ``function(draw, *args, **kwargs)`` a strategy function, one strategy per distinct arguments.

    Each drawing function gets its own ``st.composite``, so each kind of value has its own span
    label: Hypothesis' mutator copies a span over another of the same label (two calls get the
    same input, say). With ``composite=False``, ``function(*args, **kwargs)`` returns a strategy.
    Arguments with no key (a list, an array) build a strategy that is not kept."""
    if function is None:
        return functools.partial(cacheable, composite=composite)
    build = st.composite(function) if composite else function
    built: collections.OrderedDict = collections.OrderedDict()  # least recently used first

    @functools.wraps(build)
    def strategy(*args, **kwargs):
        try:
            key = tuple(map(_key, args)), tuple(sorted((k, _key(v)) for k, v in kwargs.items()))
        except TypeError:
            return build(*args, **kwargs)
        s = built.get(key)
        if s is None:
            s = built[key] = build(*args, **kwargs)
            if len(built) > MAXSIZE:
                built.popitem(last=False)
        else:
            built.move_to_end(key)
        return s

    return strategy
