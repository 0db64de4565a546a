"""The pytest plugin, the suite's only pytest entry point (``pytest11``: ``batchnorm_conformance``).

It wires the options, parametrises the properties with their subjects (implementation x dtype),
and registers two stateful objects as plugins: ``PropertyData`` (conformance/session), which turns
each report into plain property data where the test runs, and ``ReportHooks``
(conformance/report), which builds the run from that data and writes the reports. It is inert
for test suites that do not use the ``subject`` parameter.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from hypothesis.errors import InvalidArgument

from conformance import strategies
from conformance.candidates.registry import Subject, registered
from conformance.isolation import proxy
from conformance.report.hooks import NAME as REPORT_HOOKS
from conformance.report.hooks import ReportHooks
from conformance.report.model import REPORT_ATTRIBUTE, Outcome
from conformance.session import collection, deviations, invocation
from conformance.session.diagnose import diagnose_run
from conformance.session.property_data import PropertyData
from conformance.spec import dtypes
from conformance.strategies import profiles

_DEVIATIONS = pytest.StashKey[list[deviations.Deviation]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("batchnorm-conformance", "BatchNorm1d conformance")
    group.addoption("--impl", action="append", dest="conformance_impls", metavar="SPEC", default=None,
                    help="implementation to check: a registered name (" + ", ".join(sorted(registered())) + "), "
                    "package.module:factory or path/to/file.py:factory. Repeatable.")
    group.addoption("--known-deviations", dest="conformance_known_deviations", metavar="FILE", default=None,
                    help="file of 'property_id: reason' lines; those failures are reported, not gated")
    group.addoption("--max-examples", dest="conformance_max_examples", type=int, metavar="N", default=None,
                    help="Hypothesis examples per property (overrides the profile)")
    group.addoption("--dtype", action="append", dest="conformance_dtypes", metavar="DTYPE", default=None,
                    choices=dtypes.ALL + ("all",),
                    help="input dtypes to check: " + ", ".join(dtypes.ALL) + " or all (default: float32 and "
                    "float64). Half precision runs where the implementation declares it. Repeatable.")
    group.addoption("--isolation", dest="conformance_isolation", choices=("process", "none"), default="process",
                    help="process (default): each implementation runs in a child process of its own, so that a "
                    "segfault, abort, hang or runaway allocation fails the property that triggered it; none: in "
                    "the test process (for a debugger or a profiler)")
    group.addoption("--call-timeout", dest="conformance_call_timeout", type=float, metavar="SECONDS",
                    default=proxy.Limits.call_timeout,
                    help="with --isolation=process: the longest one call to the candidate may take "
                    "(default: %(default)s s; the suite's inputs take milliseconds)")
    group.addoption("--memory-limit", dest="conformance_memory_limit", type=float, metavar="GIB",
                    default=(proxy.Limits.memory_limit or 0) / (1 << 30),
                    help="with --isolation=process: the memory (GiB of heap and other data, the stack not counted) "
                    "the candidate's process may take beyond its size once loaded; 0 for no limit "
                    "(default: %(default)s)")
    group.addoption("--shapes", dest="conformance_shapes", choices=("auto", "pool", "drawn"), default="auto",
                    help="pool: draw input shapes from a fixed pool, so that an implementation that compiles per "
                    "shape compiles each once; drawn: Hypothesis' shapes; auto (default): pool where an "
                    "implementation declares conformance_compiles_per_shape")
    group.addoption("--conformance-report-dir", dest="conformance_report_dir", metavar="DIR", default="reports",
                    help="where results.json, report.html and junit.xml go (default: reports, "
                         "relative to the invocation directory)")
    group.addoption("--no-conformance-report", dest="conformance_report", action="store_false", default=True,
                    help="write no report files")
    parser.addini("conformance_impl", type="args", default=[],
                  help="implementations checked when --impl is not given (default: numpy)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    invocation.rewrite_positional_args(config)
    config.addinivalue_line("markers", "conformance_needs(*capabilities): the property applies only to candidate "
                            "forms with these capabilities (see conformance/candidates/forms.py)")
    invocation.load_requested(config)
    try:
        path = config.getoption("conformance_known_deviations")
        config.stash[_DEVIATIONS] = deviations.load(path) if path else []
    except deviations.DeviationsFileError as e:
        raise pytest.UsageError(str(e)) from None
    profile = config.getoption("hypothesis_profile", default=None)
    max_examples = config.getoption("conformance_max_examples")
    if max_examples is not None and max_examples < 1:
        raise pytest.UsageError(f"--max-examples={max_examples}: must be at least 1")
    try:
        profiles.choose(profile, max_examples=max_examples, seed=config.getoption("hypothesis_seed", default=None))
    except InvalidArgument as e:
        raise pytest.UsageError(f"--hypothesis-profile={profile}: {e}") from None
    config.pluginmanager.register(PropertyData(), "conformance-property-data")
    if not hasattr(config, "workerinput") and not config.pluginmanager.has_plugin(REPORT_HOOKS):
        hooks = ReportHooks(config, write=config.getoption("conformance_report"),
                            diagnose=lambda run: diagnose_run(run, lambda s: invocation.load(s, config, isolate=True)),
                            settings=lambda: _settings(config))
        config.pluginmanager.register(hooks, REPORT_HOOKS)


def _settings(config: pytest.Config) -> dict:
    s = profiles.active()
    return {"profile": profiles.active_name(), "max_examples": s.max_examples, "derandomize": s.derandomize,
            "seed": config.getoption("hypothesis_seed", None)}


def pytest_unconfigure(config: pytest.Config) -> None:
    proxy.close_all()


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Resolve conformance_impl from the ini file before collecting: a bad value is then one usage
    error (exit 4), not a UsageError inside pytest_generate_tests, i.e. one collection error per module."""
    if session.config.getini("conformance_impl"):
        invocation.implementations(session.config)
    if invocation.runs_the_suite(session.config) and invocation.shape_pool(session.config):
        strategies.use_shape_pool()  # before the first property draws


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not invocation.runs_the_suite(config):
        return None
    lines = [f"conformance impl: {impl.describe()}" + (f" [skipped: {impl.unavailable}]" if impl.unavailable else "")
             for impl in invocation.implementations(config)]
    versions = []
    for pkg in ("batchnorm-conformance", "numpy", "hypothesis", "torch"):
        try:
            versions.append(f"{pkg} {version(pkg)}")
        except Exception:  # noqa: BLE001 - a package that is not installed is not listed
            pass
    lines.append("conformance versions: " + ", ".join(versions))
    s, seed = profiles.active(), config.getoption("hypothesis_seed", default=None)
    how = "derandomized" if s.derandomize else (f"seed {seed}" if seed is not None else "random seed")
    lines.append(f"conformance profile: {profiles.active_name()} ({s.max_examples} examples per property, {how})")
    pooled = invocation.shape_pool(config)
    if pooled:
        lines.append(f"conformance shapes: from the fixed pool ({pooled})")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "subject" not in metafunc.fixturenames:
        return
    requested = metafunc.config.getoption("conformance_dtypes") or list(dtypes.CORE)
    requested = list(dtypes.ALL) if "all" in requested else list(dict.fromkeys(requested))
    params = []
    for impl in invocation.implementations(metafunc.config):
        for dtype in requested:
            subject = Subject(impl, dtype)
            marks = [pytest.mark.skip(reason=impl.unavailable)] if impl.unavailable else []
            params.append(pytest.param(subject, id=subject.id, marks=marks))
    metafunc.parametrize("subject", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collection.prepare(config, items, config.stash.get(_DEVIATIONS, []))


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple | None:
    if report.when == "call" and getattr(report, REPORT_ATTRIBUTE, {}).get("outcome") == Outcome.FIXED:
        return "failed", "X", ("FIXED (remove its known-deviations entry)", {"red": True})
    return None
