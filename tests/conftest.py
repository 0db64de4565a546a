"""Shared fixtures of the suite's own tests.

The plugin's tests (tests/test_plugin*.py) drive pytest itself through ``pytester``:
each builds a scratch directory that is not this repository and runs
``pytest conformance`` / ``pytest --pyargs conformance`` there, as another project would.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# Imported once, here, before any test: pytester restores sys.modules after each test (and after
# each in-process run), which drops a torch first imported during a test, and torch imported a
# second time in one process is broken (it crashed this session with a segfault). Imported here,
# it is part of every snapshot and stays. torch is optional for the project.
try:
    import torch  # noqa: F401
except ImportError:
    pass

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ROOT / "tests" / "candidates"

# Environment that changes what the plugin or Hypothesis choose. The CI variables are the
# ones Hypothesis itself looks at (any of them selects its "ci" profile); the plugin's own
# default-profile choice reads CI.
_CI_VARIABLES = ("CI", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", "TF_BUILD", "bamboo.buildKey", "BUILDKITE",
                 "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS", "GITLAB_CI",
                 "HEROKU_TEST_RUN_ID", "TEAMCITY_VERSION")
_PYTEST_VARIABLES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_XDIST_WORKER",
                     "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")

# One subprocess run restricted to one or two properties takes 1-3 s (most of it importing
# torch); the failing runs shrink and take longer. Generous, so a loaded machine does not
# turn slowness into failures.
SUBPROCESS_TIMEOUT = 180


@pytest.fixture
def plugin_env(monkeypatch):
    """A neutral environment for the runs: not in CI, no pytest options from the environment.

    Returns the monkeypatch, for tests that then set CI themselves.
    """
    for name in _CI_VARIABLES + _PYTEST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The candidate files build on the mutant set's correct base (tests.mutants.base), so the
    # scratch directory's runs need this repository importable.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return monkeypatch


@pytest.fixture
def candidate(pytester):
    """Copy a file of tests/candidates/ into the scratch directory (optionally under ``subdir``); returns
    its path relative to the scratch directory, as an ``--impl`` spec would name it."""

    def copy(name: str, subdir: str | None = None) -> str:
        dest_dir = pytester.path / subdir if subdir else pytester.path
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(CANDIDATES / name, dest_dir / name)
        return f"{subdir}/{name}" if subdir else name

    return copy


@pytest.fixture
def run_conformance(pytester, plugin_env):
    """``pytest ARGS`` in a fresh interpreter whose working directory is the scratch directory.

    A subprocess, not pytester's in-process run: a conformance run changes process-wide
    state that would leak between runs and into this session — the Hypothesis profiles
    registered and loaded (``--hypothesis-profile``), the forced seed (``--hypothesis-seed``),
    the chosen conformance profile, and the property modules in sys.modules, whose
    ``@settings`` are fixed when they are imported.
    """

    def run(*args: str):
        result = pytester.runpytest_subprocess(*args, timeout=SUBPROCESS_TIMEOUT)
        result.text = output(result)
        return result

    return run


def output(result) -> str:
    """stdout and stderr of a pytester run, together."""
    return result.stdout.str() + "\n" + result.stderr.str()


@pytest.fixture
def report_section():
    """``report_section(text, title)``: the lines of every pytest report section called ``title``
    (``=== title ===`` or ``--- title ---``), each up to the next section line."""

    def lines(text: str, title: str) -> list[str]:
        out, inside = [], False
        for line in text.splitlines():
            # A long title leaves room for one separator character each side.
            m = re.fullmatch(r"[=_-]+ (.*?) [=_-]+", line)
            if m:
                inside = m.group(1) == title
                continue
            if inside:
                out.append(line)
        return out

    return lines
