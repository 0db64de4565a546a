"""What the plugin does to the collected properties: order, time limit, applicability, known deviations."""

from __future__ import annotations

import pytest

from conformance.candidates import forms
from conformance.session import deviations, ordering
from conformance.session.invocation import all_property_ids
from conformance.session.property_data import KNOWN_DEVIATION, NOT_APPLICABLE, property_id, subject_of

# The last resort against a hang in the test process itself (--isolation=none: a candidate stuck in
# C code): pytest-timeout's thread method ends the process; with isolation, --call-timeout comes first.
TEST_TIME_LIMIT_S = 900


def prepare(config: pytest.Config, items: list[pytest.Item], known: list[deviations.Deviation]) -> None:
    ordering.reorder(items, lambda it: subject_of(it) is not None, property_id)
    ours = [it for it in items if subject_of(it) is not None]
    limit = _time_limit(config)
    for it in ours:
        if limit is not None:
            it.add_marker(limit)
        reason = not_applicable(it)
        if reason:
            it.stash[NOT_APPLICABLE] = reason
            it.add_marker(pytest.mark.skip(reason=reason))
    if known:
        _mark_known_deviations(ours, known)


def not_applicable(item: pytest.Item) -> str | None:
    """Why the property does not apply to its subject (an undeclared dtype, a form that cannot express it)."""
    subject = subject_of(item)
    assert subject is not None
    impl = subject.impl
    if impl.unavailable:
        return None  # skipped, with the factory's reason, at parametrisation
    if subject.dtype not in impl.dtypes:
        return f"not applicable: {impl.name} does not declare {subject.dtype} (conformance_dtypes = {impl.dtypes})"
    needed = [c for m in item.iter_markers("conformance_needs") for c in m.args]
    return forms.not_applicable(impl.form, needed, impl.capabilities)


def _mark_known_deviations(ours: list[pytest.Item], known: list[deviations.Deviation]) -> None:
    ids = {property_id(it) for it in ours} | all_property_ids()
    unknown = sorted({d.property_id for d in known} - ids)
    if unknown and ours:
        raise pytest.UsageError(f"--known-deviations lists unknown property ids: {', '.join(unknown)} "
                                f"(known: see `pytest conformance --collect-only -q`)")
    for it in ours:
        subject = subject_of(it)
        assert subject is not None
        d = deviations.lookup(known, property_id(it), subject.impl.name, subject.dtype)
        if d is not None:
            it.stash[KNOWN_DEVIATION] = d  # judged on the failure itself (property_data.judge_known_deviation)


def _time_limit(config: pytest.Config) -> pytest.MarkDecorator | None:
    """pytest-timeout's mark for each property, unless the user set a limit of their own."""
    if not config.pluginmanager.has_plugin("timeout"):
        return None
    if config.getoption("timeout", None) is not None or config.getini("timeout"):
        return None
    return pytest.mark.timeout(TEST_TIME_LIMIT_S, method="thread")
