"""Runs that find a bug: the failure report, the reproduction line, and the known-deviations file.

The buggy candidate is tests/candidates/unbiased_variance.py (it normalises with the
unbiased variance). The runs where it fails load tests/candidates/fast_profile.py
(``-p fast_profile --hypothesis-profile=plugin_tests``): the dev profile without
Hypothesis' explain phase, which alone takes 8-10 s per failing property here and is not
what these tests check. That is also a user's own profile, which the plugin must honour
(and name in the reproduce line).
"""

from __future__ import annotations

import re
import shlex

import pytest

OK, FAILED, USAGE_ERROR = pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.USAGE_ERROR
PROPERTY = "train_output_matches_the_oracle"
BUGGY = "unbiased_variance.py:make"


@pytest.fixture
def buggy(candidate):
    candidate("unbiased_variance.py")
    return BUGGY


@pytest.fixture
def fast(candidate):
    """Options for a run under the plugin_tests profile (the dev profile without the explain phase)."""
    candidate("fast_profile.py")
    return ("-p", "fast_profile", "--hypothesis-profile=plugin_tests")


def counterexample(text: str) -> str:
    """The ``Draw 1 (case): ...`` part of the first failure (the shrunk Case, up to the next blank line)."""
    m = re.search(r"^E\s+Draw 1 \(case\): (.*?)^E\s*$", text, re.M | re.S)
    assert m, text
    return m.group(1)


def reproduce_lines(text: str, report_section) -> list[str]:
    return [line for line in report_section(text, "reproduce") if line.strip()]


def test_a_buggy_candidate_fails_with_the_counterexample_expected_got_and_a_reproduce_line(
        buggy, fast, run_conformance, report_section):
    result = run_conformance("conformance", f"--impl={buggy}", *fast, "-k", f"{PROPERTY} and float64",
                             "--hypothesis-seed=1")
    text = result.text
    assert result.ret == FAILED, text
    result.assert_outcomes(failed=1)
    # The shrunk counterexample, as Hypothesis prints it (the wording changed across versions).
    assert "Falsifying example" in text or "Failing test case" in text, text
    case = counterexample(text)
    assert case.startswith("Case(float64, BatchNorm1d("), case
    assert "train(x=np.array(" in case, case
    # What was expected and what came back, and where.
    m = re.search(r"train output \(float64\) differs at \[n=\d+, c=\d+(, l=\d+)?\]: expected (\S+), got (\S+),", text)
    assert m, text
    assert m.group(2) != m.group(3)
    # One command that reproduces it.
    lines = reproduce_lines(text, report_section)
    assert len(lines) == 1, lines
    cmd = shlex.split(lines[0])
    assert cmd[:3] == ["pytest", "--pyargs", "conformance.test_forward"], cmd
    assert f"--impl={buggy}" in cmd and "--hypothesis-profile=plugin_tests" in cmd and "--hypothesis-seed=1" in cmd, cmd
    assert cmd[cmd.index("-k") + 1] == f"test_{PROPERTY}[{buggy}-float64]", cmd
    # The verdict.
    summary = report_section(text, "batchnorm conformance")
    assert f"{buggy}-float64: DOES NOT CONFORM (1 failed)" in summary, summary
    assert f"    fails: {PROPERTY} (train output)" in summary, summary  # with the quantity that differs


def test_the_counterexample_is_shrunk_to_a_small_input(buggy, fast, run_conformance):
    result = run_conformance("conformance", f"--impl={buggy}", *fast, "-k", f"{PROPERTY} and float64",
                             "--hypothesis-seed=1")
    assert result.ret == FAILED, result.text
    m = re.search(r"differs at \[[^]]*\]: .*; (\d+) of (\d+) elements off", result.text)
    assert m, result.text
    assert int(m.group(2)) <= 8, m.group(0)


def test_the_reproduce_line_reproduces_the_failure(buggy, fast, run_conformance, report_section):
    first = run_conformance("conformance", f"--impl={buggy}", *fast, "-k", f"{PROPERTY} and float32")
    assert first.ret == FAILED, first.text
    cmd = shlex.split(reproduce_lines(first.text, report_section)[0])
    assert cmd[0] == "pytest" and "--hypothesis-profile=plugin_tests" in cmd, cmd
    again = run_conformance(*cmd[1:], "-p", "fast_profile")
    assert again.ret == FAILED, again.text
    again.assert_outcomes(failed=1)
    assert counterexample(again.text) == counterexample(first.text)


def test_the_reproduce_line_reproduces_a_half_precision_failure(pytester, buggy, fast, run_conformance, report_section):
    with open(pytester.path / buggy.split(":")[0], "a") as f:
        f.write('\nmake.conformance_dtypes = ("float32", "float64", "float16")\n')
    first = run_conformance("conformance", f"--impl={buggy}", *fast, "--dtype", "float16", "-k", PROPERTY)
    assert first.ret == FAILED, first.text
    first.assert_outcomes(failed=1)
    cmd = shlex.split(reproduce_lines(first.text, report_section)[0])
    again = run_conformance(*cmd[1:], "-p", "fast_profile")
    assert again.ret == FAILED, again.text


def test_the_reproduce_line_keeps_a_hyphenated_profile_name(buggy, pytester, run_conformance, report_section):
    pytester.makepyfile(hyphen_profile="""
        from hypothesis import Phase, settings
        from conformance.strategies import profiles  # noqa: F401

        settings.register_profile("my-profile", parent=settings.get_profile("dev"),
                                  phases=[Phase.explicit, Phase.generate, Phase.shrink])
    """)
    result = run_conformance("conformance", f"--impl={buggy}", "-p", "hyphen_profile",
                             "--hypothesis-profile=my-profile",
                             "-k", f"{PROPERTY} and float32")
    assert result.ret == FAILED, result.text
    assert "--hypothesis-profile=my-profile" in shlex.split(reproduce_lines(result.text, report_section)[0])


# --- known deviations ---------------------------------------------------------------------------


def deviations(pytester, *lines: str) -> str:
    (pytester.path / "deviations.txt").write_text("# known deviations\n" + "\n".join(lines) + "\n")
    return "--known-deviations=deviations.txt"


UNBIASED = f"{PROPERTY}: train output -- normalises with the unbiased variance"


def test_a_listed_property_that_fails_in_its_quantity_is_a_known_deviation(buggy, fast, pytester, run_conformance,
                                                                            report_section):
    kd = deviations(pytester, UNBIASED)
    # A second, passing property shows that the run is still gated on the rest.
    result = run_conformance("conformance", f"--impl={buggy}", *fast, kd, "-rx",
                             "-k", f"{PROPERTY} or a_fresh_module_is_in_training_mode")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2, xfailed=2)
    xfails = [line for line in result.stdout.lines if line.startswith("XFAIL")]
    reason = "known deviation: train output differs (normalises with the unbiased variance)"
    assert len(xfails) == 2 and all(reason in x for x in xfails), xfails
    summary = report_section(result.text, "batchnorm conformance")
    assert summary.count(f"    known deviation: {PROPERTY}") == 2, summary
    assert any(line.startswith(f"{buggy}-float32: CONFORMS WITH 1 KNOWN DEVIATION (") for line in summary), summary


def test_a_listed_property_that_fails_in_another_quantity_fails_the_run(buggy, fast, pytester, run_conformance):
    kd = deviations(pytester, f"{PROPERTY}: running_var -- we store the biased variance")
    result = run_conformance("conformance", f"--impl={buggy}", *fast, kd, "-k", f"{PROPERTY} and float64")
    assert result.ret == FAILED, result.text
    result.assert_outcomes(failed=1)
    assert "listed: running_var differs (we store the biased variance); this failure is train output" in result.text


def test_an_entry_that_names_the_diagnosed_catalog_entry_excuses_the_property(buggy, fast, pytester,
                                                                             run_conformance):
    kd = deviations(pytester, f"{PROPERTY}: unbiased_normalisation -- we normalise with the unbiased variance")
    result = run_conformance("conformance", f"--impl={buggy}", *fast, kd, "-rx", "-k", f"{PROPERTY} and float64")
    assert result.ret == OK, result.text
    result.assert_outcomes(xfailed=1)
    assert "known deviation: unbiased variance in the normalisation, unbiased_normalisation" in result.text


@pytest.mark.parametrize("entry, why", [
    ("eps_outside_sqrt", "not explained by eps_outside_sqrt: the diagnosis does not find it"),
    ("biased_running_var", f"a failure of {PROPERTY}, which biased running_var cannot produce")])
def test_an_entry_the_diagnosis_does_not_find_or_that_cannot_fail_the_property_fails_the_run(
        entry, why, buggy, fast, pytester, run_conformance):
    kd = deviations(pytester, f"{PROPERTY}: {entry} -- listed for this test")
    result = run_conformance("conformance", f"--impl={buggy}", *fast, kd, "-k", f"{PROPERTY} and float64")
    assert result.ret == FAILED, result.text
    result.assert_outcomes(failed=1)
    assert why in result.text


def test_a_listed_property_that_crashes_fails_the_run(candidate, fast, pytester, run_conformance):
    """A candidate that dies on every eval call is not excused by an entry for the eval output's values."""
    spec = candidate("hostile.py") + ":segfault"
    kd = deviations(pytester, "eval_output_uses_the_running_stats: eval output -- rounds the running stats")
    result = run_conformance("conformance", f"--impl={spec}", *fast, kd, "-k",
                             "eval_output_uses_the_running_stats and float64")
    assert result.ret == FAILED, result.text
    result.assert_outcomes(failed=1)
    assert "this failure is a crash or an error, not a comparison, which the entry does not excuse" in result.text


def test_entries_that_do_not_match_the_failing_subject_do_not_excuse_it(buggy, fast, pytester, run_conformance):
    kd = deviations(pytester,
                    "train_output_has_zero_mean_per_channel: train output -- another property, not selected",
                    f"numpy::{PROPERTY}: train output -- this property, but for numpy only, which is not checked",
                    f"{PROPERTY} [float32]: train output -- this property, but in float32 only")
    result = run_conformance("conformance", f"--impl={buggy}", *fast, kd, "-k", f"{PROPERTY} and float64")
    assert result.ret == FAILED, result.text
    result.assert_outcomes(failed=1)


def test_a_listed_property_that_passes_fails_the_run_as_fixed(pytester, run_conformance, report_section):
    kd = deviations(pytester, f"{PROPERTY}: train output -- was broken once")
    result = run_conformance("conformance", "--impl=numpy", kd, "-k", PROPERTY, "--max-examples", "3")
    assert result.ret == FAILED, result.text
    assert "FIXED" in result.text
    result.stdout.fnmatch_lines([f"FIXED*test_{PROPERTY}[[]numpy-float32[]]*"])
    summary = report_section(result.text, "batchnorm conformance")
    assert f"    fixed, remove from the known-deviations file: {PROPERTY}" in summary, summary
    assert any(line.startswith("numpy-float32: DOES NOT CONFORM") for line in summary), summary


def test_an_unknown_property_id_is_a_usage_error(buggy, pytester, run_conformance):
    kd = deviations(pytester, "no_such_property: train output -- a typo", UNBIASED)
    result = run_conformance("conformance", f"--impl={buggy}", kd, "-k", PROPERTY)
    assert result.ret == USAGE_ERROR, result.text
    assert "Traceback" not in result.text
    errors = [line for line in result.text.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "no_such_property" in errors[0] and PROPERTY not in errors[0], errors


def test_an_entry_without_a_quantity_is_a_usage_error(buggy, pytester, run_conformance):
    kd = deviations(pytester, f"{PROPERTY}: normalises with the unbiased variance")
    result = run_conformance("conformance", f"--impl={buggy}", kd, "-k", PROPERTY)
    assert result.ret == USAGE_ERROR, result.text
    assert "Traceback" not in result.text and "names no quantity that differs" in result.text, result.text


def test_an_impl_prefixed_entry_applies_to_that_implementation_only(buggy, fast, pytester, run_conformance):
    kd = deviations(pytester, f"{buggy}::{UNBIASED}")
    result = run_conformance("conformance", f"--impl={buggy}", "--impl=numpy", *fast, kd, "-k", PROPERTY, "-v")
    # The buggy candidate's failure is the known deviation; numpy passes (and is not FIXED: not listed for it).
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2, xfailed=2)
    assert f"test_{PROPERTY}[{buggy}-float32] XFAIL" in result.text
    assert f"test_{PROPERTY}[numpy-float32] PASSED" in result.text


def test_a_deviations_file_works_when_only_one_module_runs(pytester, run_conformance):
    kd = deviations(pytester, "eval_changes_no_state: running_mean -- in test_eval.py, which this run does not collect")
    result = run_conformance("conformance/test_forward.py", "--impl=numpy", kd, "-k", PROPERTY, "--max-examples", "3")
    assert result.ret == OK, result.text
