"""The seams between the layers: the ordering names real properties, both instances satisfy the Protocol,
the verdict rule, and the not-applicable outcome travels as a type, not a text."""

from __future__ import annotations

import pytest

from conformance.candidates.instance import Instance
from conformance.candidates.registry import resolve
from conformance.isolation import proxy
from conformance.report.model import Outcome, Verdict, verdict
from conformance.session import ordering
from conformance.session.invocation import all_property_ids
from conformance.spec.cases import Config
from conformance.suite import NotApplicable


def test_every_property_the_ordering_names_exists():
    assert set(ordering.FIRST) <= all_property_ids(), sorted(set(ordering.FIRST) - all_property_ids())


@pytest.mark.parametrize("spec", ["numpy", "numpy-functional", "numpy-pure"])
def test_an_in_process_instance_of_every_numpy_form_satisfies_the_instance_protocol(spec):
    assert isinstance(resolve(spec).make(Config(3), "float32"), Instance)


def test_an_isolated_instance_satisfies_the_instance_protocol_and_reports_its_device():
    impl = proxy.resolve("numpy", proxy.Limits(call_timeout=60.0))
    try:
        inst = impl.make(Config(3), "float32")
        assert impl.device is None  # built lazily: nothing has been asked of it yet
        assert inst.device == "cpu" and impl.device == "cpu"
        assert isinstance(inst, Instance)
    finally:
        impl.channel.close()


@pytest.mark.parametrize("outcomes, expected", [
    (["passed", "not_applicable"], Verdict.CONFORMS),
    (["passed", "failed"], Verdict.DOES_NOT_CONFORM),
    (["passed", "fixed"], Verdict.DOES_NOT_CONFORM),
    (["known_deviation", "passed"], Verdict.CONFORMS_WITH_KNOWN_DEVIATIONS),
    (["skipped", "not_applicable"], Verdict.NOT_CHECKED),
    ([], Verdict.NOT_CHECKED),
])
def test_one_verdict_rule(outcomes, expected):
    assert verdict(outcomes) is expected


def test_outcomes_serialise_as_their_plain_values():
    assert str(Outcome.NOT_APPLICABLE) == "not_applicable" and Outcome.NOT_APPLICABLE.words == "not applicable"
    assert f"{Verdict.DOES_NOT_CONFORM}" == "DOES NOT CONFORM"


def test_not_applicable_is_a_skip_whose_reason_reads_as_given():
    e = NotApplicable("finite differences are checked in float64")
    assert isinstance(e, pytest.skip.Exception)
    assert str(e) == "not applicable: finite differences are checked in float64"
