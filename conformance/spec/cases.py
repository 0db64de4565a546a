"""Plain data that the strategies generate and the properties consume.

A ``Case`` prints as a readable counterexample: the module's configuration, the
state the suite sets, and the sequence of calls with their exact input arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from conformance.spec import oracle

LAYOUTS = ("contiguous", "transposed", "strided")


@dataclass(frozen=True)
class Config:
    """Constructor arguments of BatchNorm1d."""

    num_features: int
    eps: float = oracle.DEFAULT_EPS
    momentum: float | None = oracle.DEFAULT_MOMENTUM
    affine: bool = True
    track_running_stats: bool = True

    def kwargs(self) -> dict:
        return dict(eps=self.eps, momentum=self.momentum, affine=self.affine,
                    track_running_stats=self.track_running_stats)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs().items())
        return f"BatchNorm1d({self.num_features}, {args})"


@dataclass(frozen=True)
class Call:
    """One forward call: train or eval mode, the input, and its memory layout."""

    training: bool
    x: np.ndarray
    layout: str = "contiguous"

    def __repr__(self) -> str:
        mode = "train" if self.training else "eval"
        lay = "" if self.layout == "contiguous" else f", layout={self.layout!r}"
        return f"{mode}(x={_array_repr(self.x)}{lay})"


@dataclass(frozen=True)
class Case:
    """A module configuration, the state the suite sets before calling, and the calls."""

    config: Config
    dtype: str
    calls: tuple[Call, ...]
    state: oracle.State | None = None  # None: leave the fresh module's state as it is

    @property
    def x(self) -> np.ndarray:
        return self.calls[0].x

    @property
    def call(self) -> Call:
        return self.calls[0]

    def replace(self, *, calls=None, **config_changes) -> "Case":
        """The same case with other calls or other constructor arguments."""
        return dataclasses.replace(
            self, config=dataclasses.replace(self.config, **config_changes),
            calls=self.calls if calls is None else tuple(calls)
        )

    def initial_state(self) -> oracle.State:
        """The state the oracle starts from: the set state, or a fresh module's."""
        fresh = oracle.State.fresh(
            self.config.num_features, affine=self.config.affine, track_running_stats=self.config.track_running_stats
        )
        if self.state is None:
            return fresh
        return oracle.State(
            *(getattr(self.state, k) if getattr(fresh, k) is not None else None for k in _STATE_FIELDS)
        ).copy()  # only the fields this configuration has

    def _repr_pretty_(self, p, cycle):  # how Hypothesis prints a counterexample
        p.text(repr(self))

    def __repr__(self) -> str:
        lines = [f"Case({self.dtype}, {self.config!r},"]
        if self.state is not None:
            st = ", ".join(
                f"{k}={_array_repr(v) if isinstance(v, np.ndarray) else repr(v)}"
                for k in _STATE_FIELDS
                if (v := getattr(self.state, k)) is not None
            )
            lines.append(f"     state=({st}),")
        lines.append("     calls=[" + ",\n            ".join(repr(c) for c in self.calls) + "])")
        return "\n".join(lines)


_STATE_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _array_repr(a: np.ndarray) -> str:
    body = np.array2string(np.asarray(a), separator=", ", threshold=200, floatmode="unique")
    return f"np.array({body}, dtype=np.{np.asarray(a).dtype})"
