"""The interface a property sees of one constructed candidate, in-process or in a child process.

``conformance.candidates.adapter`` satisfies it over every candidate form in this process;
``conformance.isolation.proxy`` satisfies it by asking the candidate's own process.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from conformance.candidates.errors import the_candidates
from conformance.spec import oracle
from conformance.spec.cases import Config

# pytest leaves these frames out of a failure that is the candidate's own (the message says what happened).
__tracebackhide__ = the_candidates

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Pending(Protocol[T_co]):
    """A result that may still be on its way (a request to another process)."""

    def result(self) -> T_co: ...


class Ready(Generic[T]):
    """A result already there."""

    def __init__(self, value: T):
        self.value = value

    def result(self) -> T:
        return self.value


Seen = list[tuple[np.ndarray, oracle.State]]  # per call: the output and the state after it


@runtime_checkable
class Instance(Protocol):
    """One candidate under test, built for one configuration in one dtype."""

    name: str
    form: str
    config: Config

    @property
    def training(self) -> bool: ...

    @property
    def input_modified(self) -> bool:
        """Whether the last call changed its input."""

    @property
    def device(self) -> str:
        """Where its arrays live ("cpu", "cuda:0")."""

    def forward(self, x: np.ndarray, layout: str = "contiguous") -> np.ndarray:
        """Its output; a crash or a malformed result raises CandidateError."""

    def forward_raw(self, x: np.ndarray, layout: str = "contiguous") -> np.ndarray:
        """Its output, letting what it raises through (for the error properties)."""

    def play(self, calls) -> Seen:
        """Each call ``(training, x, layout)`` in turn: its output and the state after it."""

    def play_later(self, calls) -> Pending[Seen]:
        """``play``, read later: a candidate in a process of its own works while the suite computes."""

    def train(self, mode: bool = True) -> None: ...

    def eval(self) -> None: ...

    def get_state(self) -> oracle.State: ...

    def set_state(self, state: oracle.State) -> None: ...

    def can_backward(self) -> str | None:
        """None when gradients can be taken, else the reason they cannot."""

    def backward(self, x: np.ndarray, grad_output: np.ndarray, layout: str = "contiguous") -> oracle.Gradients: ...

    def buffers_with_gradients(self) -> list[str]: ...

    def state_dtypes(self) -> dict[str, str]: ...
