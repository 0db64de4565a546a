"""The parent's end of the connection to a candidate's process: start it, send a request, wait for the reply.

What the child does that the parent survives:

- it dies (segfault, abort, ``os._exit``, killed for memory): ``CandidateDied`` naming the
  signal or exit status, the call that was running and the last lines the child wrote
  (faulthandler prints the Python stack of a segfault);
- it does not answer within ``call_timeout`` seconds: killed, ``CandidateDied`` (a hang);
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
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from conformance.candidates.errors import CandidateDied, ImplementationError, rebuild

START_TIMEOUT_S = 120.0  # importing a framework on a cold disk can take tens of seconds
LOG_TAIL = 1500  # characters of the child's output quoted when it dies


@dataclass(frozen=True)
class Limits:
    call_timeout: float = 10.0  # seconds one call (forward, backward, construction) may take
    memory_limit: int | None = 2 << 30  # bytes the child may map beyond its size after loading


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

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> dict:
        parent, child = socket.socketpair()
        fd, path = tempfile.mkstemp(prefix="conformance-candidate-", suffix=".log")
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


def _first_line(s: str) -> str:
    return s.splitlines()[0] if s else ""


def _gib(n) -> str:
    return f"{n / (1 << 30):g} GiB" if n else "no limit"
