"""The pytest plugin (registered through the ``pytest11`` entry point).

Options: ``--impl SPEC`` (repeatable), ``--known-deviations FILE``, ``--max-examples N``;
Hypothesis' own ``--hypothesis-profile`` and ``--hypothesis-seed`` are honoured.
The plugin is inert for test suites that do not use the ``subject`` parameter.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from . import forms, known_deviations, profiles
from .registry import ImplementationError, Subject, registered, resolve

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_IMPL = "numpy"
_IMPLS = pytest.StashKey[list]()
_DEVIATIONS = pytest.StashKey[list]()
_OUTCOMES = pytest.StashKey[dict]()


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
    parser.addini("conformance_impl", type="args", default=[],
                  help="implementations checked when --impl is not given (default: numpy)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """``pytest conformance`` where no ./conformance exists runs the installed suite."""
    args[:] = [_installed_path(a) for a in args]
    ns = early_config.known_args_namespace
    if ns.file_or_dir:
        ns.file_or_dir = [_installed_path(a) for a in ns.file_or_dir]


def _installed_path(arg: str) -> str:
    head, sep, rest = arg.partition("::")
    parts = Path(head).parts
    if parts and parts[0] == "conformance" and not Path(head).exists():
        return str(PACKAGE_DIR.joinpath(*parts[1:])) + sep + rest
    return arg


def pytest_configure(config):
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
                impls.append(resolve(spec))
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
    if profile is not None and profile not in profiles.PROFILES:
        pass  # a profile of the user's own: Hypothesis' plugin has loaded it
    profiles.choose(profile, max_examples=config.getoption("conformance_max_examples"), seed=seed)
    config.stash[_OUTCOMES] = defaultdict(dict)


def _impls(config):
    if _IMPLS not in config.stash:
        specs = config.getini("conformance_impl") or [DEFAULT_IMPL]
        try:
            config.stash[_IMPLS] = [resolve(s) for s in specs]
        except ImplementationError as e:
            raise pytest.UsageError(f"{e} (from the conformance_impl ini option)") from None
    return config.stash[_IMPLS]


def pytest_report_header(config):
    explicit = config.getoption("conformance_impls")
    if not explicit and not any("conformance" in str(a) for a in config.invocation_params.args):
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
    params = []
    for impl in _impls(metafunc.config):
        for dtype in impl.dtypes:
            subject = Subject(impl, dtype)
            marks = [pytest.mark.skip(reason=impl.unavailable)] if impl.unavailable else []
            params.append(pytest.param(subject, id=subject.id, marks=marks))
    metafunc.parametrize("subject", params)


def property_id(item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_")


def pytest_collection_modifyitems(config, items):
    ours = [it for it in items if "subject" in getattr(getattr(it, "callspec", None), "params", {})]
    for it in ours:
        needed = [c for m in it.iter_markers("conformance_needs") for c in m.args]
        reason = forms.not_applicable(it.callspec.params["subject"].impl.form, needed)
        if reason:
            it.add_marker(pytest.mark.skip(reason=reason))
    deviations = config.stash.get(_DEVIATIONS, [])
    if not deviations:
        return
    known = {property_id(it) for it in ours}
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
            f"--hypothesis-profile={profiles.active_name().split('-')[0]}"]
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
    return report.failed and isinstance(report.longrepr, str) and report.longrepr.startswith("[XPASS(strict)]")


def pytest_report_teststatus(report, config):
    if report.when == "call" and _is_fixed(report):
        return "failed", "X", ("FIXED (remove its known-deviations entry)", {"red": True})
    return None


def _subject_id(nodeid: str) -> str | None:
    return nodeid.rsplit("[", 1)[1].rstrip("]") if nodeid.endswith("]") else None


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _IMPLS not in config.stash:
        return
    ids = {Subject(i, d).id for i in config.stash[_IMPLS] for d in i.dtypes}
    per = defaultdict(lambda: defaultdict(list))
    for key in ("passed", "failed", "xfailed", "xpassed", "skipped", "error"):
        for rep in terminalreporter.stats.get(key, []):
            sid = _subject_id(getattr(rep, "nodeid", "") or "")
            if sid in ids and rep.when in ("call", "setup"):
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
