"""A pytest plugin for benchmarks/speed.py: when each property starts and ends, and when the first failure shows.

Loaded with ``-p _speed_timing`` (benchmarks/ on PYTHONPATH); writes JSON to the file named by
the environment variable BN_SPEED_TIMING at the end of the session (a worker under pytest-xdist
writes ``<file>.<worker id>``). Timestamps are ``time.time()``, comparable with the parent's.

    session_start         pytest_sessionstart (interpreter up, plugins loaded)
    collected             collection finished
    first_start           the first test's protocol starts
    first_failure         the first failing report is logged: the moment -x stops and the terminal
                          shows the F; the property's shrinking is done by then
    first_failure_found   the first time a property's body raised: Hypothesis found a failing
                          example (measured by wrapping each property's ``.hypothesis.inner_test``,
                          which Hypothesis lets a plugin replace); shrinking starts here
    session_finish        pytest_sessionfinish
    tests                 per test: nodeid, outcome, call duration, logged at
"""

from __future__ import annotations

import functools
import json
import os
import time

import pytest

_OUT = os.environ.get("BN_SPEED_TIMING")
_t: dict = {"session_start": None, "collected": None, "first_start": None, "first_failure": None,
            "first_failure_nodeid": None, "first_failure_found": None, "first_failure_found_nodeid": None,
            "session_finish": None, "tests": []}


def pytest_sessionstart(session):
    _t["session_start"] = time.time()


def pytest_collection_finish(session):
    _t["collected"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    from hypothesis.errors import HypothesisException

    for item in items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        inner = getattr(handle, "inner_test", None)
        if inner is None or getattr(inner, "_speed_timed", False):
            continue

        # functools.wraps: Hypothesis derandomizes from the test's source and signature, which it
        # reads through __wrapped__; without it every run got a seed of its own (the signature's
        # defaults show addresses) and tried other examples than a plain run
        @functools.wraps(inner)
        def timed(*args, _inner=inner, _nodeid=item.nodeid.split("[")[0], **kwargs):
            try:
                return _inner(*args, **kwargs)
            except Exception as e:
                if _t["first_failure_found"] is None and not isinstance(e, HypothesisException):
                    _t["first_failure_found"] = time.time()
                    _t["first_failure_found_nodeid"] = _nodeid
                raise

        timed._speed_timed = True
        handle.inner_test = timed


def pytest_runtest_logstart(nodeid, location):
    if _t["first_start"] is None:
        _t["first_start"] = time.time()


def pytest_runtest_logreport(report):
    now = time.time()
    if report.failed and _t["first_failure"] is None:
        _t["first_failure"], _t["first_failure_nodeid"] = now, report.nodeid
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _t["tests"].append({"nodeid": report.nodeid, "outcome": report.outcome, "duration": report.duration,
                            "logged": now})


def pytest_sessionfinish(session):
    _t["session_finish"] = time.time()
    if not _OUT:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    with open(f"{_OUT}.{worker}" if worker else _OUT, "w") as f:
        json.dump(_t, f)
