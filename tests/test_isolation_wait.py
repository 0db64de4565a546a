"""How the suite waits for the candidate's reply (conformance/isolation.py): where each test
process and its candidate have a core each, it polls without sleeping for up to SPIN_S, then
sleeps in poll() until the call timeout.

The waiting tests force the spin on, so that the path is tested on any machine (pytest-xdist's
-n 2 on two cores turns it off); the candidates are tests/candidates/hostile.py's.
"""

from __future__ import annotations

import re
import select
import time

import numpy as np
import pytest

from conformance.candidates.errors import CandidateDied
from conformance.isolation import channel, proxy
from conformance.spec.cases import Config
from tests.conftest import CANDIDATES

X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
FRESH_EVAL = X / np.sqrt(1.0 + 1e-5)  # a fresh module in eval mode: running mean 0, running var 1


@pytest.mark.parametrize(("cores", "workers", "spins"), [
    (2, None, True),  # serial on two cores: the suite and its candidate, one core each
    (1, None, False),
    (2, "2", False),  # -n 2 on two cores: four processes
    (4, "2", True),
    (8, "5", False),
    (2, "not a number", True),  # read as one process
])
def test_the_suite_spins_only_where_each_test_process_and_its_candidate_have_a_core(monkeypatch, cores, workers,
                                                                                    spins):
    monkeypatch.setattr(channel.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    if workers is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", workers)
    assert channel.spin_seconds() == (channel.SPIN_S if spins else 0.0)


@pytest.fixture
def load(monkeypatch):
    """``load(factory, timeout)``: hostile.py's factory in a spinning child, whose calls to
    ``_ready_soon`` (True: the reply came within the spin) are recorded in ``channel.spun``."""
    monkeypatch.setattr(channel, "spin_seconds", lambda: channel.SPIN_S)
    loaded = []

    def load(factory: str, timeout: float = 10.0):
        impl = proxy.resolve(f"{CANDIDATES / 'hostile.py'}:{factory}", proxy.Limits(call_timeout=timeout))
        worker, ready_soon = impl.channel, impl.channel._ready_soon
        worker.spun = []
        worker._ready_soon = lambda: worker.spun.append(ready_soon()) or worker.spun[-1]
        loaded.append(worker)
        assert worker.spin == channel.SPIN_S
        return impl

    yield load
    for worker in loaded:
        worker.close()


def test_a_reply_already_there_is_read_without_sleeping(load):
    inst = load("slow_but_correct").make(Config(3), "float64")
    inst.eval()
    inst.ensure()
    pending = inst.play_later([(False, X, "contiguous")])
    assert select.select([inst.impl.channel.conn], [], [], 60)[0], "no reply within a minute"  # there, unread
    [(y, _)] = pending.result()
    np.testing.assert_allclose(y, FRESH_EVAL, rtol=1e-12)
    assert inst.impl.channel.spun[-1] is True


def test_a_reply_after_the_spin_is_read_by_the_sleeping_poll(load):
    inst = load("slow_but_correct").make(Config(3), "float64")
    inst.eval()
    np.testing.assert_allclose(inst.forward(X), FRESH_EVAL, rtol=1e-12)  # 0.25 s: far beyond SPIN_S
    assert inst.impl.channel.spun[-1] is False


def test_a_hang_is_still_killed_at_the_call_timeout(load):
    inst = load("hang", timeout=1.0).make(Config(3), "float64")
    inst.eval()
    started = time.perf_counter()
    with pytest.raises(CandidateDied, match=r"did not return within 1 s \(a hang\?\); its process was killed"
                                                      r", while constructing it as BatchNorm1d\(3.*, then setting the "
                                                      r"mode, then calling it on a float64 input of shape \(4, 3\)"):
        inst.forward(X)
    assert 1.0 <= time.perf_counter() - started < 10.0
    assert inst.impl.channel.spun == [False]


@pytest.mark.parametrize(("hangs", "slowest", "timeout"), [
    (0, 0.001, 10.0), (1, 0.001, 10.0),  # not yet tightened
    (2, 0.001, channel.TIGHT_FLOOR_S),  # a fast candidate: the floor
    (2, 0.25, 2.5),  # a slow one keeps a generous multiple of its slowest call
    (5, 3.0, 10.0),  # never above the configured timeout
])
def test_after_two_hangs_the_call_timeout_is_a_multiple_of_the_slowest_call(hangs, slowest, timeout):
    times = channel.CallTimes(hangs=hangs, slowest=slowest)
    assert times.timeout(10.0) == pytest.approx(timeout)


def test_a_candidate_that_keeps_hanging_is_killed_sooner_and_the_channel_says_why(load):
    impl = load("hang", timeout=1.5)
    impl.channel.times = channel.CallTimes()  # this test's own record, not one shared with other tests
    messages = []
    for _ in range(3):
        inst = impl.make(Config(3), "float64")
        inst.forward(X)  # train mode: answered, and timed
        inst.eval()
        started = time.perf_counter()
        with pytest.raises(CandidateDied) as raised:
            inst.forward(X)
        messages.append((str(raised.value), time.perf_counter() - started))
    assert all("did not return within 1.5 s (a hang?); its process was killed, while" in m for m, _ in messages[:2])
    third, waited = messages[2]
    assert re.search(r"did not return within 1 s \(a hang\?\); its process was killed \(after 2 hangs the call "
                     r"timeout was 1 s, not 1.5 s: 10x the slowest call so far \(.* s\), at least 1 s\)", third), third
    assert 1.0 <= waited < 1.5
    [note] = impl.notes()  # written at the second hang, with the slowest call then
    assert note.startswith("after 2 hangs the call timeout was 1 s, not 1.5 s: 10x the slowest call so far ("), note
