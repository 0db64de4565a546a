"""The report files a run writes: results.json, report.html and junit.xml under reports/, for
passing, failing and crashing candidates, under pytest-xdist, when interrupted, and never for a
run of unrelated tests.

Every run is a subprocess in pytester's scratch directory (``run_conformance``), restricted to
a property or two and a few examples; the failing runs use the plugin_tests profile (no
explain phase, see tests/candidates/fast_profile.py).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

OK, FAILED, INTERRUPTED = pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED
FEW = ("--max-examples", "3")
TWO = ("-k", "train_output_matches_the_oracle or tutorial_worked_examples")


@pytest.fixture
def fast(candidate):
    candidate("fast_profile.py")
    return ("-p", "fast_profile", "--hypothesis-profile=plugin_tests")


def load(pytester, where="reports") -> dict:
    return json.loads((pytester.path / where / "results.json").read_text())


def outcomes(data: dict) -> dict:
    return {(r["subject"], r["property_id"]): r["outcome"] for r in data["results"]}


class Tags(HTMLParser):
    def __init__(self, page):
        super().__init__()
        self.tags = set()
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)


def test_a_passing_run_writes_results_html_and_junit(pytester, run_conformance):
    result = run_conformance("conformance", "--impl=numpy", "-k", "train_output_matches_the_oracle", *FEW)
    assert result.ret == OK, result.text
    data = load(pytester)
    assert data["status"] == "complete" and data["exit_status"] == 0
    assert outcomes(data) == {("numpy-float32", "train_output_matches_the_oracle"): "passed",
                              ("numpy-float64", "train_output_matches_the_oracle"): "passed"}
    r = data["results"][0]
    assert r["examples"]["tried"] == 3 and r["module"] == "test_forward" and r["dtype"] == "float32"
    env = data["environment"]
    assert {"numpy", "hypothesis", "pytest"} <= set(env["packages"]) and env["max_examples"] == 3
    assert data["implementations"]["numpy"]["device"] == "cpu" and data["implementations"]["numpy"]["form"] == "numpy"
    page = (pytester.path / "reports" / "report.html").read_text()
    assert "numpy-float64" in page and "2 conforms" in page
    cases = list(ET.parse(pytester.path / "reports" / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == 2
    assert "conformance reports: reports" in result.text


def test_a_failing_run_records_the_counterexample_expected_got_and_the_diagnosis(
        pytester, candidate, fast, run_conformance):
    spec = candidate("eps_outside_sqrt.py") + ":make"
    result = run_conformance("conformance", f"--impl={spec}", *fast,
                             "-k", "train_output_matches_the_oracle and float64")
    assert result.ret == FAILED, result.text
    data = load(pytester)
    (r,) = data["results"]
    assert r["outcome"] == "failed"
    f = r["failure"]
    assert f["kind"] == "mismatch" and f["exception_type"] == "Mismatch"
    m = f["mismatch"]
    assert m["what"] == "train output" and len(m["expected"]) == len(m["got"]) > 0 and m["shape"]
    assert "Draw 1 (case): Case(float64" in f["counterexample"]
    assert r["reproduce"].startswith("pytest --pyargs conformance.test_forward -k ")
    assert r["examples"]["failing"] >= 1
    d = data["diagnoses"][f"{spec}-float64"]
    assert d["status"] == "matched" and [x["name"] for x in d["deviations"]] == ["eps_outside_sqrt"]
    assert f"{spec}-float64: diagnosis: eps sits outside the square root" in result.text
    page = (pytester.path / "reports" / "report.html").read_text()
    assert "eps sits outside the square root" in page and "error heatmap" in page and "1 does not conform" in page
    junit = ET.parse(pytester.path / "reports" / "junit.xml").getroot()
    assert [c for c in junit.iter("testcase") if c.find("failure") is not None]


def test_a_crashing_candidate_with_a_hostile_name_and_message_is_reported_as_text(
        pytester, candidate, fast, run_conformance):
    candidate("hostile_crash.py")
    (pytester.path / "hostile_crash.py").rename(pytester.path / "<script>bn.py")
    spec = "<script>bn.py:make"
    result = run_conformance("conformance", f"--impl={spec}", *fast, "-k", "train_output_matches_the_oracle")
    assert result.ret == FAILED, result.text
    data = load(pytester)
    assert {r["outcome"] for r in data["results"]} == {"failed"}
    assert {r["failure"]["kind"] for r in data["results"]} == {"crash"}
    assert "<script>alert('pwned')</script>" in data["results"][0]["failure"]["message"]
    assert data["diagnoses"][f"{spec}-float32"]["verdict"].startswith("probe crashed: ")
    page = (pytester.path / "reports" / "report.html").read_text()
    assert "script" not in Tags(page).tags and "img" not in Tags(page).tags
    assert "&lt;script&gt;bn.py:make-float32" in page and "&lt;script&gt;alert(&#x27;pwned&#x27;)" in page


def test_xdist_gives_the_results_of_a_serial_run(pytester, candidate, fast, run_conformance):
    pytest.importorskip("xdist")
    spec = candidate("per_position.py") + ":make"
    args = ("conformance", "--impl=numpy", f"--impl={spec}", *fast, *TWO, "--hypothesis-seed=3")
    serial = run_conformance(*args, "--conformance-report-dir=serial")
    parallel = run_conformance(*args, "-n", "2", "--conformance-report-dir=parallel")
    assert serial.ret == parallel.ret == FAILED, parallel.text
    a, b = load(pytester, "serial"), load(pytester, "parallel")
    assert outcomes(a) == outcomes(b) and len(outcomes(a)) == 8
    assert [(r["subject"], r["property_id"]) for r in a["results"]] == \
        [(r["subject"], r["property_id"]) for r in b["results"]]  # collection order, not arrival order
    for sid in (f"{spec}-float32", f"{spec}-float64"):
        assert a["diagnoses"][sid]["status"] == b["diagnoses"][sid]["status"] == "matched"
        assert [x["name"] for x in b["diagnoses"][sid]["deviations"]] == ["per_position_pooling"]
    assert b["environment"]["workers"] == 2
    junit = ET.parse(pytester.path / "parallel" / "junit.xml").getroot()
    assert len(list(junit.iter("testcase"))) == 8
    assert (pytester.path / "parallel" / "report.html").is_file()


def test_an_interrupted_run_still_writes_its_partial_results(pytester, candidate, run_conformance):
    spec = candidate("interrupts.py") + ":make"
    # In the test process, the candidate's KeyboardInterrupt stands for the user's Ctrl-C (in a
    # process of its own, it would be the candidate's: a failure, see test_hostile_candidates.py).
    result = run_conformance("conformance", "--impl=numpy", f"--impl={spec}", "-k", "train_output_matches_the_oracle",
                             *FEW, "--isolation=none")
    assert result.ret == INTERRUPTED, result.text
    data = load(pytester)
    assert data["status"] == "interrupted" and data["exit_status"] == int(INTERRUPTED)
    assert outcomes(data)[("numpy-float32", "train_output_matches_the_oracle")] == "passed"
    assert "partial" in (pytester.path / "reports" / "report.html").read_text()


def test_unrelated_tests_write_no_reports(pytester, run_conformance):
    pytester.makepyfile(test_unrelated="def test_one():\n    pass\n")
    result = run_conformance("test_unrelated.py")
    assert result.ret == OK, result.text
    assert not (pytester.path / "reports").exists()
    assert "conformance reports" not in result.text


def test_the_report_can_be_turned_off_or_sent_elsewhere(pytester, run_conformance):
    off = run_conformance("conformance", "--impl=numpy", "-k", "train_output_matches_the_oracle and float64", *FEW,
                          "--no-conformance-report")
    assert off.ret == OK, off.text
    assert not (pytester.path / "reports").exists()
    there = run_conformance("conformance", "--impl=numpy", "-k", "train_output_matches_the_oracle and float64", *FEW,
                            "--conformance-report-dir", "out/ci", "--junitxml", "mine.xml")
    assert there.ret == OK, there.text
    assert load(pytester, "out/ci")["environment"]["junit"].endswith("mine.xml")
    assert (pytester.path / "mine.xml").is_file() and not (pytester.path / "out" / "ci" / "junit.xml").exists()


def test_a_known_deviation_is_recorded_with_its_reason(pytester, candidate, fast, run_conformance):
    spec = candidate("eps_outside_sqrt.py") + ":make"
    (pytester.path / "deviations.txt").write_text(
        "train_output_matches_the_oracle: train output -- eps placed as in our paper\n")
    result = run_conformance("conformance", f"--impl={spec}", *fast,
                             "-k", "train_output_matches_the_oracle and float64",
                             "--known-deviations", "deviations.txt")
    assert result.ret == OK, result.text
    data = load(pytester)
    (r,) = data["results"]
    assert r["outcome"] == "known_deviation" and "eps placed as in our paper" in r["reason"]
    assert data["diagnoses"] == {}  # it conforms, up to what is listed


def test_a_result_whose_report_data_fails_to_build_is_kept_with_a_note(pytester, run_conformance):
    pytester.makepyfile(broken_data='''
from conformance.session import property_data

def describe(self, *args):
    raise RuntimeError("cannot describe this one")

property_data.PropertyData.describe = describe
''')
    result = run_conformance("conformance", "--impl=numpy", "-p", "broken_data", "-k",
                             "train_output_matches_the_oracle and float64", *FEW)
    assert result.ret == OK, result.text
    (r,) = load(pytester)["results"]
    assert r["outcome"] == "passed" and "report data unavailable: RuntimeError: cannot describe this one" in r["reason"]
