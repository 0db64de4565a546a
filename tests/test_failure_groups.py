"""Failures grouped by what they share: one crash, or one compared quantity."""

from __future__ import annotations

import pytest

from conformance.report.groups import compared_quantity, crash_message, failure_groups
from conformance.report.model import Failure, FailureKind, Outcome, PropertyResult, Run


def failed(prop: str, failure: Failure, subject: str = "fw-float32") -> PropertyResult:
    return PropertyResult(prop, "m", subject, "fw", "float32", Outcome.FAILED, failure=failure)


def crash(message: str) -> Failure:
    return Failure(FailureKind.CRASH, "CandidateError", message)


def differs(what: str) -> Failure:
    return Failure(FailureKind.MISMATCH, "Mismatch", f"{what}: ...", mismatch={"what": what})


@pytest.mark.parametrize("what, quantity", [
    ("running_var after call 2", "running_var"), ("train output", "train output"),
    ("train output of x + shift vs of x", "train output"), ("grad_input (train)", "grad_input"),
    ("eval output of sample 3 alone vs within the batch", "eval output"),
])
def test_the_compared_quantity_is_the_head_of_the_comparison_name(what, quantity):
    assert compared_quantity(what) == quantity


def test_a_crash_message_drops_what_differs_between_examples():
    a = crash_message("fw: factory(3, eps=0.1, momentum=0.5) raised NotImplementedError: no untracked (x 4)")
    b = crash_message("fw: factory(7, eps=1e-05, momentum=None) raised NotImplementedError: no untracked (x 9)")
    assert a == b == "NotImplementedError: no untracked (x #)"


def test_failures_sharing_a_crash_or_a_quantity_are_one_group_each_largest_first():
    run = Run()
    for i, prop in enumerate(["p1", "p2", "p3"]):
        run.record(failed(prop, crash(f"fw: factory({i + 2}) raised NotImplementedError: untracked unsupported")))
    run.record(failed("p4", differs("running_var after call 1")))
    run.record(failed("p5", differs("running_var vs the last batch's unbiased variance")))
    run.record(failed("p6", differs("train output")))
    run.record(failed("other-subject", differs("train output"), subject="fw-float64"))
    groups = failure_groups(run, "fw-float32")
    assert [(g.kind, g.what, g.properties) for g in groups] == [
        ("crash", "CandidateError: NotImplementedError: untracked unsupported", ["p1", "p2", "p3"]),
        ("differs", "running_var", ["p4", "p5"]),
        ("differs", "train output", ["p6"]),
    ]
    assert groups[0].headline() == ("3 fail with the same crash: "
                                    "CandidateError: NotImplementedError: untracked unsupported")


def test_one_unsupported_configuration_reads_as_one_group(candidate, run_conformance, report_section):
    spec = candidate("no_untracked.py") + ":make"
    result = run_conformance("conformance", f"--impl={spec}", "--max-examples", "20", "-k",
                             "float64 and (without_tracking or eval_without_tracking or train_output_matches)")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.text
    summary = report_section(result.text, "batchnorm conformance")
    header = next(line for line in summary if "fail with the same crash" in line)
    assert header.strip().startswith("3 fail with the same crash: CandidateError: NotImplementedError: "
                                     "track_running_stats=False is not supported"), summary
