"""Hostile candidates: each misbehaves in one way, on a correct base otherwise.

Most misbehave only in eval mode (``EVAL``), so that in one run the train-mode
properties pass and the eval-mode ones fail: the failure belongs to the property that
triggered it, and the run goes on. Specs: ``hostile.py:segfault`` and so on.
"""

import ctypes
import os
import sys
import time

import numpy as np

from tests.mutants.base import Reference


class _EvalHostile(Reference):
    """Correct in train mode; ``misbehave(x)`` in eval mode."""

    def __call__(self, x):
        if not self.training:
            return self.misbehave(x)
        return super().__call__(x)

    def misbehave(self, x):
        raise NotImplementedError


class segfault(_EvalHostile):
    def misbehave(self, x):
        return ctypes.string_at(0)  # reads address 0: SIGSEGV


class abort(_EvalHostile):
    def misbehave(self, x):
        os.abort()


class exits(_EvalHostile):
    def misbehave(self, x):
        os._exit(0)  # no exception, no traceback: the process is just gone


class hang(_EvalHostile):
    def misbehave(self, x):
        time.sleep(3600)


_HELD = []


class leak(_EvalHostile):
    """Keeps 256 MiB more on each eval call, for ever."""

    def misbehave(self, x):
        _HELD.append(np.ones(32 << 20))
        return Reference.__call__(self, x)


def _nested(depth: int) -> list:
    x = []
    for _ in range(depth):
        x = [x]
    return x


class fills_its_memory(_EvalHostile):
    """Allocates until its memory limit is full to the last page, then needs a deeper stack
    than it has used so far (comparing two deeply nested lists recurses in C, allocating
    nothing), then allocates again. Under an address-space limit the stack cannot grow:
    SIGSEGV. The suite must report it as running out of memory all the same."""

    def misbehave(self, x):
        a, b = _nested(5000), _nested(5000)  # built before the memory is full
        size = 256 << 20
        while size >= 4096:
            try:
                _HELD.append(np.empty(size, np.uint8))
            except MemoryError:
                size //= 2
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(20000)
        try:
            assert a == b
        finally:
            sys.setrecursionlimit(limit)
        _HELD.append(np.empty(1 << 20, np.uint8))
        return Reference.__call__(self, x)


class wrong_shape(_EvalHostile):
    def misbehave(self, x):
        return Reference.__call__(self, x)[:1]


class wrong_type(_EvalHostile):
    def misbehave(self, x):
        return Reference.__call__(self, x).tolist()


class wrong_dtype(_EvalHostile):
    def misbehave(self, x):
        return Reference.__call__(self, x).astype(np.float16)


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("and its __str__ raises")


class unprintable_exception(_EvalHostile):
    def misbehave(self, x):
        raise _Unprintable()


class system_exit(_EvalHostile):
    def misbehave(self, x):
        raise SystemExit(3)


class keyboard_interrupt(_EvalHostile):
    """In a process of its own, a KeyboardInterrupt is the candidate's: a failure, not a Ctrl-C."""

    def misbehave(self, x):
        raise KeyboardInterrupt


class base_exception(_EvalHostile):
    def misbehave(self, x):
        raise BaseException("not an Exception at all")


class mutates_input(Reference):
    """Right output, but the input is centred in place along the way."""

    def __call__(self, x):
        y = super().__call__(x)
        x -= x.mean()
        return y


class chatty(Reference):
    """Correct, and writes to stdout and stderr on every call: it must not upset the suite."""

    def __call__(self, x):
        print("chatty: a call", flush=True)
        os.write(2, b"chatty: on fd 2\n")
        return super().__call__(x)


class crashes_at_construction(Reference):
    """Constructs fine once (the suite's probe), then segfaults in every later constructor."""

    built = [0]

    def __init__(self, *args, **kwargs):
        type(self).built[0] += 1
        if type(self).built[0] > 1:
            ctypes.string_at(0)
        super().__init__(*args, **kwargs)


class slow_but_correct(_EvalHostile):
    """A quarter of a second per eval call: slow, not hung; the time limits must let it pass."""

    def misbehave(self, x):
        time.sleep(0.25)
        return Reference.__call__(self, x)


_CALLS = [0]


class _HostileAfter40(Reference):
    """Correct for the first 40 calls of its process, then ``misbehave`` on every call."""

    def __call__(self, x):
        _CALLS[0] += 1
        if _CALLS[0] > 40:
            self.misbehave()
        return super().__call__(x)

    def misbehave(self):
        raise NotImplementedError


class hangs_after_40(_HostileAfter40):
    def misbehave(self):
        time.sleep(3600)


class busy_after_40(_HostileAfter40):
    def misbehave(self):
        while True:
            pass
