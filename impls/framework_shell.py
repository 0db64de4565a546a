"""What the framework adapters (Keras, ONNX Runtime, Flax) share: the NumPy-object shell.

Each adapter is a candidate of the NumPy object form (README, "The candidate contract"):
``__call__(ndarray) -> ndarray``, ``train()``, ``eval()``, ``.training`` and the state
attributes ``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``.
The shell holds that state as NumPy arrays, exactly as the framework last returned it
(its dtype included), hands it to the framework on every call and stores what the
framework returns. It decides one thing itself, torch's rule for which statistics a call
uses; everything computed (statistics, update, normalisation) is the framework's:

    training, running stats held      the framework's training call; its new running stats are stored
    eval, running stats held          the framework's inference call, with the running stats
    track_running_stats=False         the framework's training call whatever the mode (batch
                                      statistics, as torch); the framework's own running stats,
                                      fed fresh, are dropped and never read: the shell holds none

What the shell maps is a convention, not a difference: the channel axis (axis 1, torch's, for
(N, C) and (N, C, L)), the momentum convention (``decay = 1 - momentum``: Keras, Flax and ONNX
weigh the *old* running value by their momentum), eps and the affine flag passed explicitly.
The frameworks keep no batch counter: the adapters declare ``conformance_lacks = ("counter", ...)``
and ``num_batches_tracked`` is the suite's value, held here and never changed.
"""

from __future__ import annotations

import importlib

import numpy as np

from conformance.candidates.errors import Unavailable

STATS = ("running_mean", "running_var")


class _FrameworkDefault:
    """An argument not given: the framework's own default is used (factory(C) observes it)."""

    def __repr__(self) -> str:
        return "<the framework's default>"


DEFAULT = _FrameworkDefault()


def require(module: str, extra: str):
    """Import ``module``, or raise Unavailable naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise Unavailable(f"{extra} is not installed: pip install 'batchnorm-conformance[{extra}]' "
                          f"(import {module}: {e})") from e


def decay(momentum) -> float:
    """torch's momentum (the weight of the new batch) as the decay Keras, Flax and ONNX take
    (the weight of the old running value): ``1 - momentum``."""
    if momentum is None:
        # Not reached from the suite: it discards momentum=None for candidates without a counter.
        raise ValueError("momentum=None (torch's cumulative average) has no counterpart: the framework keeps no "
                         "batch counter")
    return 1.0 - float(momentum)


class FrameworkBatchNorm:
    """The shell. A subclass sets the initial state and implements ``_run``."""

    framework = "?"

    def __init__(self, num_features: int, *, affine: bool, track_running_stats: bool, dtype, training: bool):
        self.num_features, self.affine, self.track_running_stats = num_features, affine, track_running_stats
        self.dtype = np.dtype(dtype)
        self.training = training  # the framework's default call mode for a fresh instance
        self.weight = self.bias = self.running_mean = self.running_var = None
        self.num_batches_tracked = 0 if track_running_stats else None  # held for the suite, never changed

    def train(self, mode: bool = True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        tracked = self.running_mean is not None
        y, stats = self._run(x, batch_stats=self.training or not tracked)
        if tracked and self.training:
            self.running_mean, self.running_var = (np.array(s) for s in stats)
        return np.array(y)

    def _run(self, x: np.ndarray, *, batch_stats: bool):
        """One framework call: ``(y, (new_running_mean, new_running_var))`` with batch statistics
        (the framework's training call), else ``(y, None)`` with the held running statistics."""
        raise NotImplementedError

    def _fresh_stats(self):
        """Running statistics to feed a training call when the shell holds none (dropped after)."""
        return np.zeros(self.num_features, self.dtype), np.ones(self.num_features, self.dtype)

    def _stats_in(self):
        return (self.running_mean, self.running_var) if self.running_mean is not None else self._fresh_stats()
