"""Run a candidate in a child process of its own (the default; ``--isolation=none`` turns it off).

The parent holds an ``IsolatedImplementation`` and ``IsolatedInstance`` objects with the
interface of ``registry.Implementation`` and ``adapter.Instance``; each method call is a
request to the child (conformance/worker.py), which holds the real ones. Arrays cross
as NumPy arrays, which is what the properties see anyway.

What the child does that the parent survives:

- it dies (segfault, abort, ``os._exit``, killed for memory): ``CandidateDied`` naming the
  signal or exit status, the call that was running and the last lines the child wrote
  (faulthandler prints the Python stack of a segfault);
- it does not answer within ``call_timeout`` seconds: killed, ``CandidateDied`` (a hang);
- it raises MemoryError under its memory limit (``memory_limit`` bytes of data, heap and
  private mappings, above what it held once the candidate was loaded; the stack is not
  counted, see ``worker.limit_memory``): ``CandidateDied`` (a leak without bound).

``CandidateDied`` is a BaseException, as KeyboardInterrupt is: Hypothesis reports it on the
first example that triggered it and does not shrink, since every shrink step would cost a
process restart or a whole time limit. The message carries that example's call. The next
request starts a fresh child.
"""

from __future__ import annotations

import builtins
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from conformance.candidates.adapter import CandidateError
from conformance.candidates.registry import ImplementationError, Implementation

START_TIMEOUT_S = 120.0  # importing a framework on a cold disk can take tens of seconds
LOG_TAIL = 1500  # characters of the child's output quoted when it dies


class CandidateDied(BaseException):
    """The candidate's process died, hung or ran out of memory during a call."""


@dataclass(frozen=True)
class Limits:
    call_timeout: float = 10.0  # seconds one call (forward, backward, construction) may take
    memory_limit: int | None = 2 << 30  # bytes the child may map beyond its size after loading


# Set in the child unless the user set them. The suite's inputs are small (a few thousand values
# at most) and it makes one call at a time: a pool of threads cannot speed a call up, while its
# idle threads spin (OpenMP's default) on the core the suite needs to generate the next example.
# torch.batch_norm on an (8, 3, 4) input: 0.03 ms with one thread, 0.27 ms with two passive
# threads; a serial ci run of torch: 38 s with spinning threads, 32 s with one thread.
# Set OMP_NUM_THREADS to test a candidate's threaded path.
CHILD_ENVIRONMENT = {"OMP_NUM_THREADS": "1"}


# Waiting for a reply: a process that sleeps in poll() is woken when the reply comes, and that
# costs: a ping-pong over the socket took 8 us with both ends on one core, 72 us across two
# cores (the wake-up of an idle core; a virtual machine's is dearer still) and 21 us across two
# with the waiting end polling, and a run makes about 14,000 requests. So the suite first polls
# without sleeping for up to SPIN_S (most replies come within it: a forward takes 0.05-0.4 ms),
# then sleeps until the call timeout. It spins only where each test process and its candidate
# can have a core each (``spin_seconds``): on 2 cores a serial ci run of torch took 28.2 s
# sleeping and 26.6 s spinning (numpy: 26.8 s and 25.0 s); pytest-xdist's -n 2 there sleeps.
SPIN_S = 0.002


def spin_seconds() -> float:
    """SPIN_S where the cores number at least two per test process (pytest-xdist's workers, or
    this one), else 0."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        processes = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        processes = 1
    return SPIN_S if cores >= 2 * processes else 0.0


def child_environment() -> dict[str, str]:
    env = {**CHILD_ENVIRONMENT, **os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


class Worker:
    """One child process for one ``--impl`` spec, started on first use and after each death."""

    def __init__(self, spec: str, limits: Limits):
        self.spec, self.limits = spec, limits
        self.proc = self.conn = None
        self.generation = 0  # bumps at each start: instances of a dead child are gone
        self.dropped: list[int] = []
        self.log_read = self._ready = None
        self.in_flight: InFlight | None = None
        self.spin = spin_seconds()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> dict:
        parent, child = socket.socketpair()
        fd, path = tempfile.mkstemp(prefix="conformance-worker-", suffix=".log")
        try:
            # Read through a second descriptor, then unlinked at once: the file lives while the two
            # processes hold it, and nothing is left in the temp directory whatever ends them.
            self.log_read = open(path, "rb", buffering=0)
            os.unlink(path)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "conformance.isolation.child", str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                start_new_session=True,  # Ctrl-C reaches the suite, which then ends the child
                env=child_environment(),
            )
        finally:
            os.close(fd)
            child.close()
        self.conn = Connection(parent.detach())
        self._ready = select.poll()  # one poll object for the connection, not a selector per call
        self._ready.register(self.conn.fileno(), select.POLLIN)
        self.generation += 1
        self.dropped.clear()
        doing = "loading the candidate"
        self._send(("hello", list(sys.path), self.spec, self.limits.memory_limit), doing)
        kind, payload = self._read(doing, START_TIMEOUT_S)
        if kind == "usage":
            self.close()
            raise ImplementationError(payload)
        return payload

    def running(self) -> bool:
        """Started and not known to be dead, without a system call: a child that died between
        calls is found by the next exchange (end of file), which reports its exit."""
        return self.proc is not None and self.proc.returncode is None

    def close(self) -> None:
        if self.in_flight is not None:  # its reply will never come
            self.in_flight.orphaned, self.in_flight = True, None
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the candidate's own children too
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()
        for f in (self.conn, self.log_read):
            if f is not None:
                f.close()
        self.proc = self.conn = self.log_read = None

    # --- requests ----------------------------------------------------------------------
    def submit(self, message: tuple, doing: str | Described, on_reply=None) -> "InFlight":
        """Send ``message`` and return at once: the candidate works while the suite does (its
        oracle, say). One request is in flight at a time: a new one first receives the last."""
        self.settle()
        if not self.running():
            self.close()
            self.start()
        op, *args = message
        drop, self.dropped = self.dropped, []
        self._send((op, drop, *args), doing)
        self.in_flight = InFlight(self, doing, on_reply)
        return self.in_flight

    def settle(self) -> None:
        """Receive the reply still in flight, if any (what it holds waits in its InFlight)."""
        if self.in_flight is not None:
            self.in_flight.receive()

    def _send(self, message: tuple, doing: str | Described) -> None:
        try:
            self.conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the child is gone
            self._died(doing, self._exit_description())

    def _receive(self, doing: str | Described):
        reply = self._read(doing, self.limits.call_timeout)
        if reply[0] == "raised":
            info = reply[1]
            if info["out_of_memory"]:
                self._died(doing, f"ran out of memory ({info['type']}: {_first_line(info['message'])}) under "
                                  f"its limit of {_gib(self.limits.memory_limit)} above its size after loading "
                                  "(a leak without bound, or an allocation far beyond the input's size)")
            raise rebuild(info)
        return reply[1:]

    def _ready_soon(self) -> bool:
        """Whether the reply comes within ``self.spin`` seconds, polled without sleeping."""
        if self.spin:
            deadline = time.perf_counter() + self.spin
            while time.perf_counter() < deadline:
                if self._ready.poll(0):
                    return True
        return False

    def _read(self, doing: str | Described, timeout: float):
        try:
            if not self._ready_soon() and not self._ready.poll(timeout * 1000):
                self._died(doing, f"did not return within {timeout:g} s (a hang?); its process was killed",
                           kill=True)
            reply = pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            self._died(doing, self._exit_description())
        finally:
            self._forward_output()
        return reply

    def _died(self, doing: str | Described, what: str, kill: bool = False):
        if kill and self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        tail = self._log_tail()
        self.close()
        words = f"\nIts last output:\n{tail}" if tail.strip() else ""
        raise CandidateDied(f"{self.spec}: the candidate's process {what}, while {doing}.{words}")

    def _exit_description(self) -> str:
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "closed its connection (its state is unknown; it was killed)"
        if rc < 0:
            try:
                sig = signal.Signals(-rc)
                return f"died with {sig.name} ({signal.strsignal(sig)})"
            except ValueError:
                return f"died with signal {-rc}"
        return f"exited with status {rc}"

    def _forward_output(self) -> None:
        """What the candidate printed goes to stderr, where pytest captures it for the test."""
        if self.log_read is None or os.fstat(self.log_read.fileno()).st_size <= self.log_read.tell():
            return  # nothing new: the usual case, one fstat rather than a read
        data = self.log_read.read(1 << 16)
        if data:
            self._last = (getattr(self, "_last", b"") + data)[-LOG_TAIL:]
            sys.stderr.write(data.decode("utf-8", "replace"))

    def _log_tail(self) -> str:
        self._forward_output()
        tail, self._last = getattr(self, "_last", b""), b""
        return tail.decode("utf-8", "replace")


class Described:
    """What a request does, in words for a failure message: built only when one needs it (most
    requests succeed, and formatting shapes and dtypes for each cost more than its pickling)."""

    __slots__ = ("build",)

    def __init__(self, build):
        self.build = build

    def __str__(self) -> str:
        return self.build()


class InFlight:
    """A request sent to the child whose reply has not been read yet."""

    def __init__(self, worker: Worker, doing: str | Described, on_reply=None):
        self.worker, self.doing, self.on_reply = worker, doing, on_reply
        self.done, self.value, self.error = False, None, None
        self.orphaned = False

    def receive(self) -> None:
        if self.done:
            return
        self.done = True
        w = self.worker
        if w.in_flight is self:
            w.in_flight = None
        try:
            if self.orphaned:  # the process was closed (and so killed) before its reply came
                raise CandidateDied(f"{w.spec}: the candidate's process was ended while {self.doing}")
            self.value = w._receive(self.doing)
            if self.on_reply is not None:
                self.value = self.on_reply(self.value)
        except (Exception, CandidateDied) as e:  # raised to whoever reads the result
            self.error = e

    def result(self):
        self.receive()
        if self.error is not None:
            raise self.error
        return self.value


def _first_line(s: str) -> str:
    return s.splitlines()[0] if s else ""


def _gib(n) -> str:
    return f"{n / (1 << 30):g} GiB" if n else "no limit"


_REBUILT: dict[tuple[str, str, str], type] = {}


def rebuild(info: dict) -> BaseException:
    """The exception the child sent back, as the same kind of exception here: a
    CandidateError stays one; a ValueError subclass of the candidate's becomes a
    ValueError subclass of the same name (the error properties test the kind)."""
    if info["candidate_error"]:
        return CandidateError(info["message"])
    if info["module"] == "builtins" and isinstance(getattr(builtins, info["type"], None), type):
        cls = getattr(builtins, info["type"])
    else:
        key = (info["module"], info["type"], info["base"])
        if key not in _REBUILT:
            base = getattr(builtins, info["base"], Exception)
            _REBUILT[key] = type(info["type"], (base,), {"__module__": info["module"]})
        cls = _REBUILT[key]
    try:
        e = cls(info["message"])
    except Exception:  # noqa: BLE001 - a builtin with another constructor (UnicodeError subclasses, say)
        e = CandidateError(f"{info['type']}: {info['message']}")
    if info["where"]:
        e.add_note("raised in the candidate's process at " + " <- ".join(reversed(info["where"])))
    if not isinstance(e, Exception):  # SystemExit, KeyboardInterrupt, GeneratorExit: the candidate's, not ours
        e = CandidateError(f"raised {info['type']}: {info['message']}")
    return e


# --- the parent's side of the interface ---------------------------------------------------------


class IsolatedImplementation(Implementation):
    """An Implementation whose factory lives in the child: ``make`` returns IsolatedInstances."""

    worker: Worker | None = None

    def _build(self, config, dtype, kwargs):
        return IsolatedInstance(self, config, dtype, default=False)

    def make_default(self, num_features, dtype):
        from conformance.spec.cases import Config

        if "constructor" not in self.capabilities:
            raise CandidateError(f"{self.name}: the {self.form} form has no constructor defaults")
        inst = IsolatedInstance(self, Config(num_features), dtype, default=True)
        inst.ensure()  # what a fresh default instance is (its mode, say) is what is being checked
        return inst


def resolve(spec: str, limits: Limits) -> IsolatedImplementation:
    """Load ``spec`` in a child process; raises ImplementationError as registry.resolve does."""
    worker = Worker(spec, limits)
    try:
        meta = worker.start()
    except CandidateDied as e:
        raise ImplementationError(f"--impl={spec}: loading it killed its process: {e}") from None
    impl = IsolatedImplementation(meta["name"], meta["spec"], meta["target"], None, form=meta["form"],
                                  dtypes=tuple(meta["dtypes"]), unavailable=meta["unavailable"],
                                  lacks=tuple(meta["lacks"]))
    impl.worker = worker
    _WORKERS.add(worker)
    return impl


_WORKERS: "weakref.WeakSet[Worker]" = weakref.WeakSet()


def close_all() -> None:
    for w in list(_WORKERS):
        w.close()


class _Arrays:
    """What the properties and the report read of an instance's array kind."""

    def __init__(self, device: str):
        self.device = device


class IsolatedInstance:
    """The Instance interface, each call answered by the child.

    Construction is sent with the first call, and train, eval and set_state with the
    next call: one round trip per forward instead of four."""

    def __init__(self, impl: IsolatedImplementation, config, dtype, default: bool):
        self.impl, self.config, self.dtype, self.default = impl, config, np.dtype(dtype), default
        self.name, self.form = impl.name, impl.form
        self.generation = self.handle = None
        self._attrs = {"training": True, "input_modified": False, "state_modified": False, "device": None}
        self._before: list[tuple[str, tuple]] = []  # calls that return nothing, sent with the next one
        self._state = None  # the state after the last call, while nothing has changed it since

    training = property(lambda self: self._attrs["training"])
    input_modified = property(lambda self: self._attrs["input_modified"])
    state_modified = property(lambda self: self._attrs["state_modified"])

    @property
    def arrays(self) -> _Arrays:
        self.ensure()
        return _Arrays(self._attrs["device"])

    def ensure(self) -> None:
        """Construct it now (else the first call does)."""
        if self.handle is None:
            self._call(None)

    def _call(self, method: str | None, *args, doing: str | Described | None = None, with_state: bool = False):
        return self._submit(method, *args, doing=doing, with_state=with_state).result()

    def _submit(self, method: str | None, *args, doing: str | Described | None = None, with_state: bool = False,
                then=None) -> InFlight:
        """Send the call; the reply updates this instance when it is read (``then`` maps the result)."""
        w = self.impl.worker
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

    def play_later(self, calls) -> InFlight:
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


def _drop(worker_ref, generation, handle):
    w = worker_ref()
    if w is not None and w.generation == generation:
        w.dropped.append(handle)
