"""The candidate's own process: ``python -m conformance.isolation.child FD``.

The suite runs other people's code. Here it runs in a child process of its own, so
that a segfault, an abort, ``os._exit``, a hang or a runaway allocation ends this
process, not the test run (``conformance.isolation.channel`` is the other end).

Protocol, over the connection on file descriptor FD (pickled tuples, one reply per request):

    ("hello", sys_path, spec, memory_limit)  -> ("ok", metadata) | ("usage", message)
    ("call", drop, target, method, args, before, with_state)
                                   -> ("ok", result, attributes, state, handle, seconds) | ("raised", error, seconds)

``target`` is the handle of an instance, or (config, dtype, default) to construct one
first (then ``method`` may be None); its handle comes back, and the seconds the request took here
(the parent derives a tighter call timeout from them once a candidate has hung). ``drop`` lists
handles of instances the suite no longer holds; ``before`` lists calls
that return nothing (train, eval, set_state), made first: the suite sends them with the
next call rather than one round trip each. With ``with_state`` the reply carries the state
after the call (or the error reading it raised), which the suite reads after most calls. ``error`` is a dict that
the parent turns back into an exception of the same kind (``conformance.candidates.errors``). After a
MemoryError the process answers, then exits: what a leak holds is freed with it. The
memory limit is on data (``limit_memory``), with a reserve let go before answering an
error (``Reserve``).
"""

from __future__ import annotations

import faulthandler
import mmap
import pickle
import resource
import sys
import time

from conformance.candidates.errors import describe, safe_str


def limit_memory(budget: int | None) -> None:
    """Data memory (heap and private writable mappings: VmData): what the process holds now, plus ``budget`` bytes.

    RLIMIT_DATA rather than RLIMIT_AS: the stack is not counted. Under an address-space
    limit, a candidate that fills it to the last pages gets no MemoryError when the stack
    next grows, but a SIGSEGV; under this one, the stack grows and the next allocation
    raises MemoryError.
    """
    if not budget:
        return
    try:
        with open("/proc/self/status") as f:
            held = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
        resource.setrlimit(resource.RLIMIT_DATA, (held + budget, resource.RLIM_INFINITY))
    except (OSError, ValueError, StopIteration):  # no /proc (not Linux): no limit, the parent still survives a crash
        pass


class Reserve:
    """Memory held back under the limit, let go when the candidate runs out, so that the reply still fits."""

    SIZE = 8 << 20

    def __init__(self):
        self.block = None
        self.take()

    def take(self) -> None:
        if self.block is None:
            try:  # private and writable, so it counts against the limit; never touched, so it costs nothing
                self.block = mmap.mmap(-1, self.SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            except (OSError, ValueError, AttributeError):
                self.block = None

    def release(self) -> None:
        if self.block is not None:
            self.block.close()
            self.block = None


class Server:
    def __init__(self, conn):
        self.conn, self.impl, self.instances, self.next = conn, None, {}, 0
        self.reserve = None

    def hello(self, sys_path, spec, memory_limit):
        from conformance.candidates.registry import ImplementationError, resolve

        sys.path[:] = sys_path
        try:
            impl = resolve(spec)
        except ImplementationError as e:
            return ("usage", str(e))
        except BaseException as e:  # noqa: BLE001 - loading other people's code
            return ("usage", f"--impl={spec}: loading it raised {type(e).__name__}: {safe_str(e)}")
        self.impl = impl
        limit_memory(memory_limit)
        self.reserve = Reserve() if memory_limit else None
        meta = {k: getattr(impl, k) for k in ("name", "spec", "target", "form", "dtypes", "unavailable", "lacks",
                                              "framework", "compiles_per_shape")}
        return ("ok", meta)

    def attributes(self, inst) -> dict:
        return {"training": bool(getattr(inst, "training", True)), "input_modified": inst.input_modified,
                "state_modified": getattr(inst, "state_modified", False), "form": inst.form,
                "device": inst.device}

    def make(self, config, dtype, default) -> int:
        inst = self.impl.make_default(config.num_features, dtype) if default else self.impl.make(config, dtype)
        self.next += 1
        self.instances[self.next] = inst
        return self.next

    def call(self, target, method, args, before=(), with_state=False):
        handle = self.make(*target) if isinstance(target, tuple) else target
        inst = self.instances[handle]
        try:
            for name, a in before:
                getattr(inst, name)(*a)
            result = None if method is None else getattr(inst, method)(*args)
        except BaseException:
            if isinstance(target, tuple):  # the suite never learns this handle
                del self.instances[handle]
            raise
        state = None
        if with_state:
            try:
                state = ("ok", inst.get_state())
            except BaseException as e:  # noqa: BLE001 - raised again when the suite reads the state
                state = ("raised", describe(e))
        return ("ok", result, self.attributes(inst), state, handle)

    def send(self, reply) -> None:
        self.conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))

    def serve(self) -> None:
        while True:
            try:
                request = self.conn.recv()
            except EOFError:  # the suite is gone
                return
            op, *args = request
            if op == "hello":
                self.send(self.hello(*args))
                continue
            drop, *args = args
            for h in drop:
                self.instances.pop(h, None)
            started = time.perf_counter()
            try:
                reply = getattr(self, op)(*args) + (time.perf_counter() - started,)
            except BaseException as e:  # noqa: BLE001 - whatever the candidate raises goes back
                if self.reserve:
                    self.reserve.release()  # room to describe and send it, should it be out of memory
                info = describe(e)
                self.send(("raised", info, time.perf_counter() - started))
                if info["out_of_memory"]:
                    return
                if self.reserve:
                    self.reserve.take()
                continue
            try:
                self.send(reply)
            except Exception as e:  # noqa: BLE001 - a result that cannot be pickled
                error = describe(TypeError(f"its result cannot be sent back: {safe_str(e)}"))
                self.send(("raised", error, reply[-1]))


def main(argv: list[str]) -> int:
    from multiprocessing.connection import Connection

    faulthandler.enable()  # a segfault or abort prints the Python stack to stderr: the parent shows it
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core files from a crashing candidate
    except (OSError, ValueError):
        pass
    Server(Connection(int(argv[1]))).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
