"""The Instance interface over a candidate that runs in a child process of its own (the default).

The parent holds an ``IsolatedImplementation`` and ``IsolatedInstance`` objects; each method
call is a request over the ``Channel`` to the child (``conformance.isolation.child``), which
holds the real ones. Arrays cross as NumPy arrays, which is what the properties see anyway.
``--isolation=none`` runs the candidate in the test process instead.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from conformance.candidates.errors import (
    CandidateDied,
    CandidateError,
    ImplementationError,
    rebuild,
    the_candidates,
)
from conformance.candidates.instance import Instance, Pending, Seen
from conformance.candidates.registry import Implementation
from conformance.isolation.channel import Channel, Described, InFlight, Limits
from conformance.spec.cases import Config

# pytest leaves these frames out of a failure that is the candidate's own (the message says what happened).
__tracebackhide__ = the_candidates

__all__ = ["IsolatedImplementation", "IsolatedInstance", "Limits", "close_all", "resolve"]


# --- the parent's side of the interface ---------------------------------------------------------


class IsolatedImplementation(Implementation):
    """An Implementation whose factory lives in the child: ``make`` returns IsolatedInstances."""

    channel: Channel  # set by resolve

    def _build(self, config: Config, dtype, kwargs: dict) -> Instance:
        return IsolatedInstance(self, config, dtype, default=False)

    def _built(self, inst: Instance) -> Instance:
        return inst  # constructed with its first call, whose reply records the device

    def notes(self) -> list[str]:
        return list(self.channel.notes)

    def make_default(self, num_features, dtype):
        if "constructor" not in self.capabilities:
            raise CandidateError(f"{self.name}: the {self.form} form has no constructor defaults")
        inst = IsolatedInstance(self, Config(num_features), dtype, default=True)
        inst.ensure()  # what a fresh default instance is (its mode, say) is what is being checked
        return inst


def resolve(spec: str, limits: Limits) -> IsolatedImplementation:
    """Load ``spec`` in a child process; raises ImplementationError as registry.resolve does."""
    channel = Channel(spec, limits)
    try:
        meta = channel.start()
    except CandidateDied as e:
        raise ImplementationError(f"--impl={spec}: loading it killed its process: {e}") from None
    impl = IsolatedImplementation(meta["name"], meta["spec"], meta["target"], None, form=meta["form"],
                                  dtypes=tuple(meta["dtypes"]), unavailable=meta["unavailable"],
                                  lacks=tuple(meta["lacks"]), framework=meta["framework"],
                                  compiles_per_shape=meta["compiles_per_shape"])
    impl.channel = channel
    _CHANNELS.add(channel)
    return impl


_CHANNELS: "weakref.WeakSet[Channel]" = weakref.WeakSet()


def close_all() -> None:
    for c in list(_CHANNELS):
        c.close()


class IsolatedInstance:
    """The Instance interface, each call answered by the child.

    Construction is sent with the first call, and train, eval and set_state with the
    next call: one round trip per forward instead of four."""

    def __init__(self, impl: IsolatedImplementation, config, dtype, default: bool):
        self.impl, self.config, self.dtype, self.default = impl, config, np.dtype(dtype), default
        self.name, self.form = impl.name, impl.form
        self.generation = self.handle = None
        self._attrs: dict[str, Any] = {"training": True, "input_modified": False, "state_modified": False,
                                       "device": None}
        self._before: list[tuple[str, tuple]] = []  # calls that return nothing, sent with the next one
        self._state = None  # the state after the last call, while nothing has changed it since

    training = property(lambda self: self._attrs["training"])
    input_modified = property(lambda self: self._attrs["input_modified"])
    state_modified = property(lambda self: self._attrs["state_modified"])

    @property
    def device(self) -> str:
        self.ensure()
        return self._attrs["device"]

    def ensure(self) -> None:
        """Construct it now (else the first call does)."""
        if self.handle is None:
            self._call(None)

    def _call(self, method: str | None, *args, doing: str | Described | None = None, with_state: bool = False):
        return self._submit(method, *args, doing=doing, with_state=with_state).result()

    def _submit(self, method: str | None, *args, doing: str | Described | None = None, with_state: bool = False,
                then=None) -> InFlight:
        """Send the call; the reply updates this instance when it is read (``then`` maps the result)."""
        w = self.impl.channel
        w.settle()  # a reply in flight may be this instance's construction
        if self.handle is not None and (w.generation != self.generation or not w.running()):
            raise CandidateDied(f"{self.name}: this instance's process died earlier in the test")
        before, self._before, self._state = self._before, [], None
        construct = self.handle is None
        target = (self.config, self.dtype, self.default) if construct else self.handle

        def steps() -> str:  # what the request does, in the words of a failure message
            said = [f"constructing it as {self.config!r} in {self.dtype.name}"] if construct else []
            said += [_DOING.get(m, m) for m, _ in before] + ([str(doing or f"calling {method}")] if method else [])
            return ", then ".join(said)

        def on_reply(reply):  # read from the process that answered: w.generation is its
            result, self._attrs, self._state, handle = reply
            self.impl.device = self._attrs["device"]
            if self.handle is None:
                self.handle, self.generation = handle, w.generation
                weakref.finalize(self, _drop, weakref.ref(w), w.generation, handle)
            return result if then is None else then(result)

        return w.submit(("call", target, method, args, before, with_state), Described(steps), on_reply)

    def _later(self, method: str, *args) -> None:
        self._before.append((method, args))
        self._state = None

    def _forward(self, method, x, layout):
        mode = "train" if self.training else "eval"
        return self._call(method, x, layout, with_state=True,
                          doing=Described(lambda: f"calling it on a {x.dtype} input of shape {x.shape} in {mode} "
                                                  f"mode (layout {layout})"))

    def forward(self, x, layout="contiguous"):
        return self._forward("forward", x, layout)

    def forward_raw(self, x, layout="contiguous"):
        return self._forward("forward_raw", x, layout)

    def play(self, calls):
        return self.play_later(calls).result()

    def play_later(self, calls) -> Pending[Seen]:
        """``play`` sent, not waited for: the suite computes its oracle meanwhile."""
        calls = list(calls)

        def doing() -> str:
            shapes = ", ".join(f"{'train' if training else 'eval'} {x.dtype} {x.shape}" for training, x, _ in calls)
            return f"calling it on {len(calls)} input(s) in turn ({shapes})"

        def then(seen):
            if seen:
                self._state = ("ok", seen[-1][1])  # read again by get_state without a round trip
            return seen

        return self._submit("play", calls, doing=Described(doing), then=then)

    def backward(self, x, grad_output, layout="contiguous"):
        return self._call("backward", x, grad_output, layout,
                          doing=Described(lambda: f"taking gradients for an input of shape {x.shape}"))

    def train(self, mode=True):
        self._later("train", mode)
        self._attrs = {**self._attrs, "training": bool(mode)}

    def eval(self):
        self.train(False)

    def get_state(self):
        if self._state is None:
            return self._call("get_state", doing="reading its state")
        kind, value = self._state
        if kind == "raised":
            raise rebuild(value)
        return value

    def set_state(self, state):
        self._later("set_state", state)

    def can_backward(self):
        return self._call("can_backward")

    def buffers_with_gradients(self):
        return self._call("buffers_with_gradients")

    def state_dtypes(self):
        return self._call("state_dtypes")


_DOING = {"train": "setting the mode", "set_state": "setting its state"}


def _drop(channel_ref, generation, handle):
    w = channel_ref()
    if w is not None and w.generation == generation:
        w.dropped.append(handle)
