"""The parent's end of the connection to a candidate's process: start it, send a request, wait for the reply.

What the child does that the parent survives:

- it dies (segfault, abort, ``os._exit``, killed for memory): ``CandidateDied`` naming the
  signal or exit status, the call that was running and the last lines the child wrote
  (faulthandler prints the Python stack of a segfault);
- it does not answer within ``call_timeout`` seconds: killed, ``CandidateDied`` (a hang); after
  ``HANGS_BEFORE_TIGHTENING`` hangs, later calls wait ``TIGHT_FACTOR`` times the slowest call so far
  (at least ``TIGHT_FLOOR_S``, at most ``call_timeout``), and ``Channel.notes`` says so;
- it raises MemoryError under its memory limit (``memory_limit`` bytes of data, heap and
  private mappings, above what it held once the candidate was loaded; the stack is not
  counted, see ``child.limit_memory``): ``CandidateDied`` (a leak without bound).

The message of ``CandidateDied`` carries the call that was running. The next request starts a
fresh child.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from conformance.candidates.errors import CandidateDied, ImplementationError, rebuild, the_candidates

# pytest leaves these frames out of a failure that is the candidate's own (the message says what happened).
__tracebackhide__ = the_candidates

START_TIMEOUT_S = 120.0  # importing a framework on a cold disk can take tens of seconds
LOG_TAIL = 1500  # characters of the child's output quoted when it dies


@dataclass(frozen=True)
class Limits:
    call_timeout: float = 10.0  # seconds one call (forward, backward, construction) may take
    memory_limit: int | None = 2 << 30  # bytes the child may map beyond its size after loading


# A candidate that hung twice will likely hang again: later calls wait a generous multiple of its
# slowest call so far, so that each further hang costs seconds rather than the configured timeout.
HANGS_BEFORE_TIGHTENING = 2
TIGHT_FACTOR = 10.0
TIGHT_FLOOR_S = 1.0
# Once a candidate has died, a call that takes longer than this (or twice its slowest) starts the
# next child while the suite waits, so that a restart after a death costs no load time.
SPARE_AFTER_S = 0.1


# Set in the child unless the user set them: one call at a time on small inputs gains nothing from
# a thread pool, whose idle threads spin on the core the suite needs (docs/speed.md); set
# OMP_NUM_THREADS to test a candidate's threaded path.
CHILD_ENVIRONMENT = {"OMP_NUM_THREADS": "1"}


# Waking a process that sleeps in poll() costs more than most replies take, so the suite first
# polls without sleeping for up to SPIN_S, then sleeps until the call timeout; it spins only where
# each test process and its candidate can have a core each (``spin_seconds``; docs/speed.md).
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


@dataclass
class CallTimes:
    """What this process has seen of one candidate's calls, over every child and channel (the
    diagnosis loads it again): its hangs and its slowest answered call, as the child timed it."""

    hangs: int = 0
    slowest: float = 0.0
    notes: list[str] = field(default_factory=list)  # for the report: when the timeout was tightened, and why

    @classmethod
    def of(cls, spec: str, limits: Limits) -> "CallTimes":
        return _CALL_TIMES.setdefault((spec, limits), cls())

    def timeout(self, configured: float) -> float:
        """``configured``, tightened after ``HANGS_BEFORE_TIGHTENING`` hangs."""
        if self.hangs < HANGS_BEFORE_TIGHTENING:
            return configured
        return min(configured, max(TIGHT_FLOOR_S, TIGHT_FACTOR * self.slowest))

    def describe(self, configured: float) -> str:
        return (f"after {self.hangs} hangs the call timeout was {self.timeout(configured):.2g} s, not "
                f"{configured:g} s: {TIGHT_FACTOR:g}x the slowest call so far ({self.slowest:.2g} s), "
                f"at least {TIGHT_FLOOR_S:g} s")

    def hung(self, configured: float) -> None:
        self.hangs += 1
        if self.hangs == HANGS_BEFORE_TIGHTENING and self.timeout(configured) < configured:
            self.notes.append(self.describe(configured))


_CALL_TIMES: dict[tuple[str, Limits], CallTimes] = {}


class Channel:
    """The connection to one child process for one ``--impl`` spec, started on first use and after each death."""

    def __init__(self, spec: str, limits: Limits):
        self.spec, self.limits = spec, limits
        self.proc: Any = None  # subprocess.Popen while started
        self.conn: Any = None  # multiprocessing.connection.Connection while started
        self.generation = 0  # bumps at each start: instances of a dead child are gone
        self.dropped: list[int] = []
        self.log_read: Any = None
        self._ready: Any = None
        self._last = b""  # the tail of what the child wrote, quoted when it dies
        self.in_flight: InFlight | None = None
        self.spin = spin_seconds()
        self.spare: tuple | None = None  # a child started ahead, once one has died (see ``start``)
        self.deaths = 0
        self.times = CallTimes.of(spec, limits)

    @property
    def notes(self) -> list[str]:
        return self.times.notes

    def call_timeout(self) -> float:
        return self.times.timeout(self.limits.call_timeout)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> dict:
        """Start a child (or take the spare) and read its hello; after a death, start the next spare."""
        spawned, self.spare = self.spare or self._spawn(), None
        self.proc, self.conn, self.log_read, self._ready = spawned
        self.generation += 1
        self.dropped.clear()
        kind, payload = self._read("loading the candidate", START_TIMEOUT_S)
        if kind == "usage":
            self.close()
            raise ImplementationError(payload)
        if self.deaths and self.spare is None:  # likely to die again: its replacement loads while it works
            self.spare = self._spawn()
        return payload

    def _spawn(self) -> tuple:
        """A child process, sent its hello but not yet read: (process, connection, log, poll object)."""
        parent, child = socket.socketpair()
        fd, path = tempfile.mkstemp(prefix="conformance-candidate-", suffix=".log")
        try:
            # Read through a second descriptor, then unlinked at once: the file lives while the two
            # processes hold it, and nothing is left in the temp directory whatever ends them.
            log_read = open(path, "rb", buffering=0)
            os.unlink(path)
            proc = subprocess.Popen(
                [sys.executable, "-m", "conformance.isolation.child", str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                start_new_session=True,  # Ctrl-C reaches the suite, which then ends the child
                env=child_environment(),
            )
        finally:
            os.close(fd)
            child.close()
        conn = Connection(parent.detach())
        ready = select.poll()  # one poll object for the connection, not a selector per call
        ready.register(conn.fileno(), select.POLLIN)
        try:
            conn.send_bytes(pickle.dumps(("hello", list(sys.path), self.spec, self.limits.memory_limit),
                                         protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # gone already: reading its hello reports how
            pass
        return proc, conn, log_read, ready

    def running(self) -> bool:
        """Started and not known to be dead, without a system call: a child that died between
        calls is found by the next exchange (end of file), which reports its exit."""
        return self.proc is not None and self.proc.returncode is None

    def close(self) -> None:
        """End the child and the spare."""
        self._retire()
        if self.spare is not None:
            _end(*self.spare[:3])
            self.spare = None

    def _retire(self) -> None:
        """End the child (the spare, if any, takes over at the next request)."""
        if self.in_flight is not None:  # its reply will never come
            self.in_flight.orphaned, self.in_flight = True, None
        _end(self.proc, self.conn, self.log_read)
        self.proc = self.conn = self.log_read = None

    # --- requests ----------------------------------------------------------------------
    def submit(self, message: tuple, doing: str | Described, on_reply=None) -> "InFlight":
        """Send ``message`` and return at once: the candidate works while the suite does (its
        oracle, say). One request is in flight at a time: a new one first receives the last."""
        self.settle()
        if not self.running():
            self._retire()
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
        *reply, seconds = self._read(doing, self.call_timeout(), spare=bool(self.deaths or self.times.hangs))
        if not (reply[0] == "raised" and reply[1]["out_of_memory"]):
            self.times.slowest = max(self.times.slowest, seconds)
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

    def _read(self, doing: str | Described, timeout: float, spare: bool = False):
        """The reply; with ``spare``, a call that takes longer than usual starts the next child meanwhile."""
        try:
            if not self._ready_soon() and not self._wait(timeout, spare):
                self._hung(doing, timeout)
            reply = pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            self._died(doing, self._exit_description())
        finally:
            self._forward_output()
        return reply

    def _wait(self, timeout: float, spare: bool) -> bool:
        """Whether the reply comes within ``timeout`` seconds, sleeping in poll()."""
        if spare and self.spare is None:
            usual = min(timeout, max(SPARE_AFTER_S, 2 * self.times.slowest))
            if self._ready.poll(usual * 1000):
                return True
            self.spare = self._spawn()  # this child may be hung: its replacement loads while we wait
            timeout -= usual
        return bool(self._ready.poll(timeout * 1000))

    def _hung(self, doing: str | Described, timeout: float):
        tightened = timeout < self.limits.call_timeout
        waited = f"{timeout:.2g}" if tightened else f"{timeout:g}"
        what = f"did not return within {waited} s (a hang?); its process was killed"
        if tightened:
            what += f" ({self.times.describe(self.limits.call_timeout)})"
        self.times.hung(self.limits.call_timeout)
        self._died(doing, what, kill=True)

    def _died(self, doing: str | Described, what: str, kill: bool = False):
        if kill and self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.deaths += 1
        tail = self._log_tail()
        self._retire()
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
            self._last = (self._last + data)[-LOG_TAIL:]
            sys.stderr.write(data.decode("utf-8", "replace"))

    def _log_tail(self) -> str:
        self._forward_output()
        tail, self._last = self._last, b""
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

    def __init__(self, channel: Channel, doing: str | Described, on_reply=None):
        self.channel, self.doing, self.on_reply = channel, doing, on_reply
        self.done, self.value = False, None
        self.error: BaseException | None = None
        self.orphaned = False

    def receive(self) -> None:
        if self.done:
            return
        self.done = True
        w = self.channel
        if w.in_flight is self:
            w.in_flight = None
        try:
            if self.orphaned:  # the process was closed (and so killed) before its reply came
                raise CandidateDied(f"{w.spec}: the candidate's process was ended while {self.doing}")
            self.value = w._receive(self.doing)
            if self.on_reply is not None:
                self.value = self.on_reply(self.value)
        except (Exception, CandidateDied) as e:  # noqa: BLE001 - raised to whoever reads the result
            self.error = e

    def result(self):
        self.receive()
        if self.error is not None:
            raise self.error
        return self.value


def _end(proc, conn, log_read) -> None:
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the candidate's own children too
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()
    for f in (conn, log_read):
        if f is not None:
            f.close()


def _first_line(s: str) -> str:
    return s.splitlines()[0] if s else ""


def _gib(n) -> str:
    return f"{n / (1 << 30):g} GiB" if n else "no limit"
