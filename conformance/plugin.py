"""The pytest plugin (registered through the ``pytest11`` entry point).

Options: ``--impl SPEC`` (repeatable), ``--known-deviations FILE``, ``--max-examples N``;
Hypothesis' own ``--hypothesis-profile`` and ``--hypothesis-seed`` are honoured.
The plugin is inert for test suites that do not use the ``subject`` parameter.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from pathlib import Path

import pytest

from hypothesis.errors import InvalidArgument

from conformance.spec import dtypes
from conformance.candidates import forms
from conformance.isolation import proxy as isolation
from conformance.session import deviations as known_deviations, ordering
from conformance.strategies import profiles
from conformance.report import hooks
from conformance.candidates.registry import ImplementationError, Subject, registered, resolve

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_IMPL = "numpy"
# The last resort against a hang in the test process itself (--isolation=none: a candidate
# stuck in C code): pytest-timeout's thread method ends the process, pytest-xdist replaces a
# worker. A run of the thorough profile on a slow but correct implementation stays far below
# it; with isolation, --call-timeout ends a hang of the candidate's first.
TEST_TIME_LIMIT_S = 900
_IMPLS = pytest.StashKey[list]()
_DEVIATIONS = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("batchnorm-conformance", "BatchNorm1d conformance")
    group.addoption(
        "--impl", action="append", dest="conformance_impls", metavar="SPEC", default=None,
        help="implementation to check: a registered name (" + ", ".join(sorted(registered())) + "), "
        "package.module:factory or path/to/file.py:factory. Repeatable.",
    )
    group.addoption("--known-deviations", dest="conformance_known_deviations", metavar="FILE", default=None,
                    help="file of 'property_id: reason' lines; those failures are reported, not gated")
    group.addoption("--max-examples", dest="conformance_max_examples", type=int, metavar="N", default=None,
                    help="Hypothesis examples per property (overrides the profile)")
    group.addoption("--dtype", action="append", dest="conformance_dtypes", metavar="DTYPE", default=None,
                    choices=dtypes.ALL + ("all",),
                    help="input dtypes to check: " + ", ".join(dtypes.ALL) + " or all (default: float32 and float64). "
                    "Half precision runs where the implementation declares it. Repeatable.")
    group.addoption("--isolation", dest="conformance_isolation", choices=("process", "none"), default="process",
                    help="process (default): each implementation runs in a child process of its own, so that a "
                    "segfault, abort, hang or runaway allocation fails the property that triggered it; none: in "
                    "the test process (for a debugger or a profiler)")
    group.addoption("--call-timeout", dest="conformance_call_timeout", type=float, metavar="SECONDS",
                    default=isolation.Limits.call_timeout,
                    help="with --isolation=process: the longest one call to the candidate may take "
                    "(default: %(default)s s; the suite's inputs take milliseconds)")
    group.addoption("--memory-limit", dest="conformance_memory_limit", type=float, metavar="GIB",
                    default=isolation.Limits.memory_limit / (1 << 30),
                    help="with --isolation=process: the memory (GiB of heap and other data, the stack not counted) the "
                    "candidate's process may take beyond its size once loaded; 0 for no limit (default: %(default)s)")
    group.addoption("--conformance-report-dir", dest="conformance_report_dir", metavar="DIR", default="reports",
                    help="where results.json, report.html and junit.xml go (default: reports, "
                         "relative to the invocation directory)")
    group.addoption("--no-conformance-report", dest="conformance_report", action="store_false", default=True,
                    help="write no report files")
    parser.addini("conformance_impl", type="args", default=[],
                  help="implementations checked when --impl is not given (default: numpy)")


def _rewrite_positional_args(config):
    """``pytest conformance`` where no ./conformance exists runs the installed suite.

    Only the positional arguments (config.args, what pytest collects) are rewritten: option
    values such as ``-k conformance`` or ``-m conformance`` are left alone."""
    if not config.option.pyargs:
        config.args[:] = [_installed_path(a) for a in config.args]


def _installed_path(arg: str) -> str:
    head, sep, rest = arg.partition("::")
    parts = Path(head).parts
    if parts and parts[0] == "conformance" and not Path(head).exists():
        return str(PACKAGE_DIR.joinpath(*parts[1:])) + sep + rest
    return arg


def all_property_ids() -> set[str]:
    """Every property id of the suite, whatever part of it a run collects."""
    import ast

    ids = set()
    for path in PACKAGE_DIR.glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                ids.add(node.name.removeprefix("test_"))
    return ids


def _runs_the_suite(config) -> bool:
    """Whether this session runs the conformance properties (decides the header)."""
    if config.getoption("conformance_impls"):
        return True
    for arg in config.args:
        head = arg.split("::")[0]
        if config.option.pyargs:
            if head == "conformance" or head.startswith("conformance."):
                return True
            continue
        path = Path(config.invocation_params.dir, head).resolve()
        if path == PACKAGE_DIR or PACKAGE_DIR in path.parents:
            return True
    return False


def load(spec: str, config, isolate: bool = False):
    """An implementation, in a child process of its own unless ``--isolation=none`` (and not ``isolate``)."""
    if config.getoption("conformance_isolation", "process") == "none" and not isolate:
        return resolve(spec)
    for name, value in (("--call-timeout", config.getoption("conformance_call_timeout")),
                        ("--memory-limit", config.getoption("conformance_memory_limit"))):
        if value < 0 or (name == "--call-timeout" and value == 0):
            raise pytest.UsageError(f"{name}={value:g}: must be positive")
    limit = config.getoption("conformance_memory_limit")
    return isolation.resolve(spec, isolation.Limits(config.getoption("conformance_call_timeout"),
                                                    int(limit * (1 << 30)) or None))


def pytest_unconfigure(config):
    isolation.close_all()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    _rewrite_positional_args(config)
    config.addinivalue_line("markers", "conformance_needs(*capabilities): the property applies only to candidate "
                            "forms with these capabilities (see conformance/forms.py)")
    specs = config.getoption("conformance_impls")
    if specs:
        impls, seen = [], set()
        for spec in specs:
            if spec in seen:
                continue
            seen.add(spec)
            try:
                impls.append(load(spec, config))
            except ImplementationError as e:
                raise pytest.UsageError(str(e)) from None
        config.stash[_IMPLS] = impls
    try:
        path = config.getoption("conformance_known_deviations")
        config.stash[_DEVIATIONS] = known_deviations.load(path) if path else []
    except known_deviations.DeviationsFileError as e:
        raise pytest.UsageError(str(e)) from None
    seed = config.getoption("hypothesis_seed", default=None)
    profile = config.getoption("hypothesis_profile", default=None)
    max_examples = config.getoption("conformance_max_examples")
    if max_examples is not None and max_examples < 1:
        raise pytest.UsageError(f"--max-examples={max_examples}: must be at least 1")
    try:
        profiles.choose(profile, max_examples=max_examples, seed=seed)
    except InvalidArgument as e:
        raise pytest.UsageError(f"--hypothesis-profile={profile}: {e}") from None
    if config.getoption("conformance_report") and not config.pluginmanager.has_plugin(hooks.NAME):
        config.pluginmanager.register(hooks.ReportPlugin(config), hooks.NAME)  # results.json, report.html, junit.xml


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    """Resolve conformance_impl from the ini file before collecting: a bad value is then one usage
    error (exit 4), not a UsageError inside pytest_generate_tests, i.e. one collection error per module."""
    if session.config.getini("conformance_impl"):
        _impls(session.config)


def _impls(config):
    if _IMPLS not in config.stash:
        specs = config.getini("conformance_impl") or [DEFAULT_IMPL]
        try:
            config.stash[_IMPLS] = [load(s, config) for s in specs]
        except ImplementationError as e:
            raise pytest.UsageError(f"{e} (from the conformance_impl ini option)") from None
    return config.stash[_IMPLS]


def pytest_report_header(config):
    if not _runs_the_suite(config):
        return None
    from importlib.metadata import version

    lines = []
    for impl in _impls(config):
        lines.append(f"conformance impl: {impl.describe()}" + (f" [skipped: {impl.unavailable}]" if impl.unavailable else ""))
    versions = []
    for pkg in ("batchnorm-conformance", "numpy", "hypothesis", "torch"):
        try:
            versions.append(f"{pkg} {version(pkg)}")
        except Exception:
            pass
    lines.append("conformance versions: " + ", ".join(versions))
    s = profiles.active()
    seed = config.getoption("hypothesis_seed", default=None)
    how = "derandomized" if s.derandomize else (f"seed {seed}" if seed is not None else "random seed")
    lines.append(f"conformance profile: {profiles.active_name()} ({s.max_examples} examples per property, {how})")
    return lines


def pytest_generate_tests(metafunc):
    if "subject" not in metafunc.fixturenames:
        return
    requested = metafunc.config.getoption("conformance_dtypes") or list(dtypes.CORE)
    requested = list(dtypes.ALL) if "all" in requested else list(dict.fromkeys(requested))
    params = []
    for impl in _impls(metafunc.config):
        for dtype in requested:
            subject = Subject(impl, dtype)
            marks = []
            if impl.unavailable:
                marks.append(pytest.mark.skip(reason=impl.unavailable))
            elif dtype not in impl.dtypes:
                marks.append(pytest.mark.skip(reason=f"not applicable: {impl.name} does not declare {dtype} "
                                              f"(conformance_dtypes = {impl.dtypes})"))
            params.append(pytest.param(subject, id=subject.id, marks=marks))
    metafunc.parametrize("subject", params)


def property_id(item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_")


def _test_time_limit(config):
    """pytest-timeout's mark for each property, unless the user set a limit of their own
    (``--timeout``, or ``timeout`` in the ini file)."""
    if not config.pluginmanager.has_plugin("timeout"):
        return None
    if config.getoption("timeout", None) is not None or config.getini("timeout"):
        return None
    return pytest.mark.timeout(TEST_TIME_LIMIT_S, method="thread")


def pytest_collection_modifyitems(config, items):
    is_property = lambda it: "subject" in getattr(getattr(it, "callspec", None), "params", {})  # noqa: E731
    ordering.reorder(items, is_property, property_id)
    ours = [it for it in items if is_property(it)]
    limit = _test_time_limit(config)
    for it in ours:
        if limit is not None:
            it.add_marker(limit)
        needed = [c for m in it.iter_markers("conformance_needs") for c in m.args]
        impl = it.callspec.params["subject"].impl
        reason = forms.not_applicable(impl.form, needed, impl.capabilities)
        if reason:
            it.add_marker(pytest.mark.skip(reason=reason))
    deviations = config.stash.get(_DEVIATIONS, [])
    if not deviations:
        return
    known = {property_id(it) for it in ours} | all_property_ids()
    unknown = sorted({d.property_id for d in deviations} - known)
    if unknown and ours:
        raise pytest.UsageError(
            f"--known-deviations lists unknown property ids: {', '.join(unknown)} "
            f"(known: see `pytest conformance --collect-only -q`)"
        )
    for it in ours:
        subject = it.callspec.params["subject"]
        d = known_deviations.lookup(deviations, property_id(it), subject.impl.name)
        if d is not None:
            it.add_marker(pytest.mark.xfail(strict=True, reason=f"known deviation: {d.reason}"))


def reproduction(item, config) -> str:
    subject = item.callspec.params["subject"]
    module = item.module.__name__
    args = ["pytest", "--pyargs", module, "-k", item.name, f"--impl={subject.impl.spec}",
            f"--hypothesis-profile={profiles.active_base_name()}"]
    if subject.dtype not in dtypes.CORE:  # half precision runs only when asked for
        args.append(f"--dtype={subject.dtype}")
    seed = config.getoption("hypothesis_seed", default=None)
    if seed is not None:
        args.append(f"--hypothesis-seed={seed}")
    return " ".join(shlex.quote(a) for a in args)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    params = getattr(getattr(item, "callspec", None), "params", {})
    if report.when == "call" and report.failed and "subject" in params:
        report.sections.append(("reproduce", reproduction(item, item.config)))


def _is_fixed(report) -> bool:
    """A strict xfail that passed: a listed known deviation that no longer deviates."""
    return (report.failed and isinstance(report.longrepr, str)
            and report.longrepr.startswith("[XPASS(strict)] known deviation"))


def pytest_report_teststatus(report, config):
    if report.when == "call" and _is_fixed(report):
        return "failed", "X", ("FIXED (remove its known-deviations entry)", {"red": True})
    return None


def _subject_id(nodeid: str) -> str | None:
    return nodeid.rsplit("[", 1)[1].rstrip("]") if nodeid.endswith("]") else None


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _IMPLS not in config.stash:  # an xdist controller collects nothing itself
        if not _runs_the_suite(config):
            return
        _impls(config)
    ids = {Subject(i, d).id for i in config.stash[_IMPLS] for d in dtypes.ALL}
    per = defaultdict(lambda: defaultdict(list))
    for key in ("passed", "failed", "xfailed", "xpassed", "skipped", "error"):
        for rep in terminalreporter.stats.get(key, []):
            sid = _subject_id(getattr(rep, "nodeid", "") or "")
            if sid in ids and rep.when != "teardown":  # "???": xdist's report of a crashed worker
                name = rep.nodeid.split("::")[-1].split("[")[0].removeprefix("test_")
                if key == "skipped" and "not applicable" in str(rep.longrepr):
                    key = "not applicable"
                per[sid]["fixed" if _is_fixed(rep) else key].append(name)
    if not per:
        return
    tr = terminalreporter
    tr.section("batchnorm conformance")
    for sid in sorted(per):
        r = per[sid]
        fixed = sorted(set(r["fixed"]))
        failed = sorted(set(r["failed"] + r["error"]) - set(fixed))
        verdict = "CONFORMS" if not (failed or fixed) and r["passed"] else ("DOES NOT CONFORM" if failed or fixed else "NOT CHECKED")
        counts = ", ".join(f"{len(v)} {k}" for k, v in r.items() if v)
        tr.write_line(f"{sid}: {verdict} ({counts})", red=bool(failed), green=verdict == "CONFORMS")
        for name in failed:
            tr.write_line(f"    fails: {name}")
        for name in sorted(r["xfailed"]):
            tr.write_line(f"    known deviation: {name}")
        for name in fixed:
            tr.write_line(f"    fixed, remove from the known-deviations file: {name}")
