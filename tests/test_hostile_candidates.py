"""A candidate that segfaults, aborts, exits, hangs, leaks, returns the wrong thing, raises
odd exceptions or modifies its input fails the property that triggered it, clearly; the run
goes on to the end and the report is written (tests/candidates/hostile.py).

Each run checks the correct reference (numpy) and one hostile candidate on two properties:
one in train mode, where the hostile candidates behave, and one in eval mode, where most
misbehave. The train-mode property must pass, the eval-mode one must fail with a message
that says what happened.
"""

from __future__ import annotations

import json
import re

import pytest

OK, FAILED, USAGE = pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.USAGE_ERROR
TRAIN, EVAL = "train_output_matches_the_oracle", "eval_output_uses_the_running_stats"
QUICK = ("--max-examples=5", "--call-timeout=2", "--memory-limit=1", "-p", "fast_profile",
         "--hypothesis-profile=plugin_tests")

# factory in hostile.py -> what the failure of the eval-mode property must say
MISBEHAVIOURS = {
    "segfault": r"died with SIGSEGV .*Fatal Python error: Segmentation fault.*in misbehave",
    "abort": r"died with SIGABRT",
    "exits": r"exited with status 0",
    "hang": r"did not return within 2 s \(a hang\?\); its process was killed",
    "leak": r"ran out of memory .* under its limit of 1 GiB",
    "fills_its_memory": r"ran out of memory \(CandidateError: .*raised MemoryError.* under its limit of 1 GiB",
    "wrong_shape": r"returned shape \(1, ",
    "wrong_type": r"returned list, expected numpy.ndarray",
    "unprintable_exception": r"raised _Unprintable: <_Unprintable whose str\(\) raised>",
    "system_exit": r"raised SystemExit: 3",
    "keyboard_interrupt": r"raised KeyboardInterrupt",
    "base_exception": r"raised BaseException: not an Exception at all",
}


def run_hostile(run_conformance, candidate, factory: str, *properties: str, extra=()):
    spec = candidate("hostile.py") + ":" + factory
    candidate("fast_profile.py")
    result = run_conformance("conformance", "--impl=numpy", f"--impl={spec}", "-k", " or ".join(properties),
                             *QUICK, *extra)
    return spec, result


@pytest.fixture
def temp_dir(tmp_path_factory, monkeypatch):
    """The inner run's temporary directory (TMPDIR): what it leaves there shows."""
    path = tmp_path_factory.mktemp("inner-tmp")
    monkeypatch.setenv("TMPDIR", str(path))
    return path


def assert_no_worker_logs_left(temp_dir) -> None:
    """The candidate process's log is unlinked as soon as it is open: no run, killed or not, leaves one."""
    assert not list(temp_dir.glob("conformance-worker-*")), "the candidate processes' logs were left behind"


def results_of(pytester, where="reports") -> dict:
    data = json.loads((pytester.path / where / "results.json").read_text())
    assert data["status"] == "complete", data["status"]
    return {(r["subject"], r["property_id"]): r for r in data["results"]}


@pytest.mark.parametrize("factory", sorted(MISBEHAVIOURS))
def test_a_misbehaving_candidate_fails_only_the_property_that_triggered_it(pytester, candidate, run_conformance,
                                                                            factory, temp_dir):
    spec, result = run_hostile(run_conformance, candidate, factory, TRAIN, EVAL)
    assert result.ret == FAILED, result.text
    got = results_of(pytester)
    for dtype in ("float32", "float64"):
        assert got[(f"numpy-{dtype}", TRAIN)]["outcome"] == "passed"
        assert got[(f"numpy-{dtype}", EVAL)]["outcome"] == "passed"
        assert got[(f"{spec}-{dtype}", TRAIN)]["outcome"] == "passed", got[(f"{spec}-{dtype}", TRAIN)]
        failed = got[(f"{spec}-{dtype}", EVAL)]
        assert failed["outcome"] == "failed"
        assert re.search(MISBEHAVIOURS[factory], failed["failure"]["message"], re.S), failed["failure"]["message"]
        assert failed["reproduce"]
    assert "Traceback (most recent call last)" not in result.text.split("short test summary")[-1]
    assert (pytester.path / "reports" / "report.html").is_file()
    assert (pytester.path / "reports" / "junit.xml").is_file()
    assert_no_worker_logs_left(temp_dir)


def test_a_wrong_output_dtype_fails_the_dtype_property(pytester, candidate, run_conformance):
    spec, result = run_hostile(run_conformance, candidate, "wrong_dtype", TRAIN, "output_has_the_input_shape_and_dtype")
    assert result.ret == FAILED, result.text
    got = results_of(pytester)
    failed = got[(f"{spec}-float32", "the_output_has_the_input_shape_and_dtype")]
    assert failed["outcome"] == "failed" and "output dtype float16, input dtype float32" in failed["failure"]["message"]
    assert got[(f"{spec}-float32", TRAIN)]["outcome"] == "passed"


def test_a_candidate_that_modifies_its_input_fails_the_hygiene_property_only(pytester, candidate, run_conformance):
    spec, result = run_hostile(run_conformance, candidate, "mutates_input", TRAIN, "the_input_is_never_modified")
    assert result.ret == FAILED, result.text
    got = results_of(pytester)
    assert got[(f"{spec}-float64", "the_input_is_never_modified")]["outcome"] == "failed"
    assert got[(f"{spec}-float64", TRAIN)]["outcome"] == "passed"


def test_a_slow_but_correct_candidate_passes(pytester, candidate, run_conformance):
    _, result = run_hostile(run_conformance, candidate, "slow_but_correct", EVAL, extra=("--max-examples=3",))
    assert result.ret == OK, result.text


def test_what_a_candidate_prints_upsets_nothing(pytester, candidate, run_conformance):
    _, result = run_hostile(run_conformance, candidate, "chatty", TRAIN, EVAL)
    assert result.ret == OK, result.text


def test_a_candidate_that_crashes_in_its_constructor_fails_each_property(pytester, candidate, run_conformance):
    spec, result = run_hostile(run_conformance, candidate, "crashes_at_construction", TRAIN, EVAL)
    assert result.ret == FAILED, result.text
    got = results_of(pytester)
    for prop in (TRAIN, EVAL):
        failed = got[(f"{spec}-float32", prop)]
        assert failed["outcome"] == "failed" and "SIGSEGV" in failed["failure"]["message"]
        assert "while constructing it as BatchNorm1d(" in failed["failure"]["message"]
        assert got[("numpy-float32", prop)]["outcome"] == "passed"


def test_a_candidate_that_crashes_as_it_is_imported_is_a_usage_error(pytester, candidate, run_conformance):
    spec = candidate("segfault_on_import.py") + ":make"
    result = run_conformance("conformance", f"--impl={spec}", "--max-examples=2")
    assert result.ret == USAGE, result.text
    assert re.search(r"loading it killed its process: .*died with SIGSEGV", result.text), result.text
    assert "Traceback" not in result.text


def test_under_xdist_the_verdicts_are_the_serial_ones_in_one_merged_report(pytester, candidate, run_conformance):
    spec, serial = run_hostile(run_conformance, candidate, "segfault", TRAIN, EVAL,
                               extra=("--conformance-report-dir=serial",))
    _, parallel = run_hostile(run_conformance, candidate, "segfault", TRAIN, EVAL,
                              extra=("-n", "2", "--conformance-report-dir=parallel"))
    assert serial.ret == parallel.ret == FAILED, parallel.text
    outcome = lambda got: {k: r["outcome"] for k, r in got.items()}  # noqa: E731
    assert outcome(results_of(pytester, "parallel")) == outcome(results_of(pytester, "serial"))
    assert len(outcome(results_of(pytester, "parallel"))) == 8  # 2 implementations x 2 dtypes x 2 properties


def test_without_isolation_xdist_replaces_a_crashed_worker_and_the_run_goes_on(pytester, candidate, run_conformance,
                                                                                temp_dir):
    """--isolation=none: the segfault kills a pytest-xdist worker; xdist reports the property
    it was running as failed and starts another worker; the report records the crash."""
    spec, result = run_hostile(run_conformance, candidate, "segfault", TRAIN, EVAL,
                               extra=("--isolation=none", "-n", "2"))
    assert result.ret == FAILED, result.text
    assert "crashed while running" in result.text
    got = results_of(pytester)
    assert got[(f"{spec}-float32", EVAL)]["outcome"] == "failed"
    assert "crashed" in got[(f"{spec}-float32", EVAL)]["failure"]["message"]
    assert got[("numpy-float32", EVAL)]["outcome"] == "passed"
    assert_no_worker_logs_left(temp_dir)


def test_without_isolation_pytest_timeout_ends_a_hang_and_xdist_goes_on(pytester, candidate, run_conformance,
                                                                         temp_dir):
    """--isolation=none: pytest-timeout's thread method ends the stuck worker (the suite marks
    each property with a generous limit; --timeout sets another), pytest-xdist replaces it."""
    spec, result = run_hostile(run_conformance, candidate, "hang", TRAIN, EVAL,
                               extra=("--isolation=none", "-n", "2", "--timeout=3", "--timeout-method=thread"))
    assert result.ret == FAILED, result.text
    got = results_of(pytester)
    assert got[(f"{spec}-float64", EVAL)]["outcome"] == "failed"
    assert got[(f"{spec}-float64", TRAIN)]["outcome"] == "passed"
    assert got[("numpy-float64", EVAL)]["outcome"] == "passed"
    assert_no_worker_logs_left(temp_dir)


def test_after_two_hangs_each_hang_costs_a_second_and_the_report_says_why(pytester, candidate, run_conformance):
    """Every eval call hangs: the first two hangs wait the call timeout, later ones a second."""
    spec = candidate("hostile.py") + ":hang"
    candidate("fast_profile.py")
    result = run_conformance("conformance", f"--impl={spec}", "-k", "test_eval", *QUICK, "--call-timeout=3")
    assert result.ret == FAILED, result.text
    got = results_of(pytester)
    messages = [r["failure"]["message"] for r in got.values() if r["outcome"] == "failed"]
    assert sum("did not return within 3 s" in m for m in messages) == 2, messages
    assert len(messages) > 4 and all("did not return within 1 s" in m for m in messages
                                     if "within 3 s" not in m), messages
    [note] = json.loads((pytester.path / "reports" / "results.json").read_text())["implementations"][spec]["notes"]
    assert note.startswith("after 2 hangs the call timeout was 1 s, not 3 s"), note
    assert f"note: {note}" in result.text
    assert note in (pytester.path / "reports" / "report.html").read_text()
