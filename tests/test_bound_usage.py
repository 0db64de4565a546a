"""How much of each bound a run uses: the recorder in conformance.assertions, the ``bound_used`` field of
the results model (JSON, merge, HTML), a run of the suite that fills it under pytest-xdist, and the
table of benchmarks/tightness.py.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from conformance.report import html as report_html
from conformance.report import model as results
from conformance.report.model import Failure, PropertyResult, Run
from conformance.spec.assertions import (
    Mismatch,
    assert_close,
    assert_running_stats_close,
    assert_state_close,
    bound_usage,
    reset_bound_usage,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_recorder():
    reset_bound_usage()
    yield
    reset_bound_usage()


def used() -> tuple[float, str]:
    u = bound_usage()
    assert u is not None, "nothing recorded"
    return u.ratio, u.what


# --- the recorder ------------------------------------------------------------------------------


def test_nothing_is_recorded_before_a_comparison_and_after_a_reset():
    assert bound_usage() is None
    assert_close("x", [1.0], [1.0], [1.0])
    reset_bound_usage()
    assert bound_usage() is None


def test_a_passing_comparison_is_recorded_with_its_largest_ratio():
    # Per-channel bounds (C,) broadcast over (N, C, L): channel 1's 0.03 of 0.1 is the largest.
    expected = np.zeros((2, 2, 3))
    got = expected.copy()
    got[0, 0, 0], got[1, 1, 2] = 0.01, -0.03
    assert_close("train output", got, expected, [1.0, 0.1])
    ratio, what = used()
    assert ratio == pytest.approx(0.3) and what == "train output"


def test_the_largest_ratio_and_its_comparison_are_kept():
    assert_close("first", [1.5], [1.0], [1.0])
    assert_close("second", [1.1], [1.0], [1.0])
    assert used() == (pytest.approx(0.5), "first")
    assert_close("third", [1.9], [1.0], [1.0])
    assert used() == (pytest.approx(0.9), "third")


def test_a_zero_bound_is_unused_by_an_exact_match_and_infinitely_exceeded_otherwise():
    assert_close("exact", [2.0, 0.0], [2.0, 0.0], [0.0, 0.0])
    assert used() == (0.0, "exact")
    with pytest.raises(Mismatch):
        assert_close("off", [2.0, 1e-300], [2.0, 0.0], [0.0, 0.0])
    assert used() == (math.inf, "off")


def test_a_failing_comparison_is_recorded_before_it_raises():
    with pytest.raises(Mismatch):
        assert_close("running_var after call 1", [1.0, 4.0], [1.0, 1.0], [0.5, 0.5])
    assert used() == (pytest.approx(6.0), "running_var after call 1")


def test_non_finite_expected_values_are_compared_exactly_and_use_no_bound():
    assert_close("x", [np.nan, np.inf, 1.05], [np.nan, np.inf, 1.0], [0.1, 0.1, 0.1])
    assert used()[0] == pytest.approx(0.5)
    reset_bound_usage()
    with pytest.raises(Mismatch):  # an infinity where NaN is due: a failure, but not a ratio
        assert_close("y", [np.inf, 1.0], [np.nan, 1.0], [0.1, 0.1])
    assert used() == (0.0, "y")


def test_a_nan_where_a_number_is_due_is_infinitely_far():
    with pytest.raises(Mismatch):
        assert_close("output", [np.nan, 1.0], [1.0, 1.0], [0.1, 0.1])
    assert used() == (math.inf, "output")


def test_an_overflow_the_dtype_allows_uses_none_of_the_bound():
    big = float(np.finfo(np.float32).max)
    assert_close("output", [np.inf, 1.0], [big, 1.0], [big * 1e-6, 0.1], dtype="float32")
    assert used() == (0.0, "output")


def test_the_state_helpers_record_through_assert_close():
    class State:
        def __init__(self, mean, var):
            self.running_mean, self.running_var = np.array(mean), np.array(var)

    bounds = State([1.0], [1.0])
    assert_running_stats_close("after call 1", State([0.2], [1.7]), State([0.0], [1.0]), bounds)
    assert used() == (pytest.approx(0.7), "running_var after call 1")
    assert_state_close("absent", None, None, [1.0])  # nothing compared: nothing changes
    assert used()[1] == "running_var after call 1"


def test_an_empty_comparison_records_zero():
    assert_close("nothing", np.zeros((0, 2)), np.zeros((0, 2)), [1.0, 1.0])
    assert used() == (0.0, "nothing")


# --- the results model ----------------------------------------------------------------------------


def run_with(*usages: tuple[str, str, float | None, str | None], name="impl") -> Run:
    rs = [PropertyResult(prop, "test_forward", f"{name}-float32", name, "float32", outcome, order=i,
                         bound_used=ratio, bound_used_by=what)
          for i, (prop, outcome, ratio, what) in enumerate(usages)]
    return Run(status="complete", results=rs)


def test_bound_used_survives_a_json_round_trip_finite_infinite_and_absent(tmp_path):
    run = run_with(("a", "passed", 0.031, "train output"), ("b", "failed", math.inf, "eval output"),
                   ("c", "passed", None, None))
    run.results[1].failure = Failure("mismatch", "Mismatch", "eval output differs")
    data = json.loads(run.dumps())
    assert [r["bound_used"] for r in data["results"]] == [0.031, "inf", None]
    again = results.load(run.write(tmp_path / "results.json"))
    assert [(r.bound_used, r.bound_used_by) for r in again.results] == \
        [(0.031, "train output"), (math.inf, "eval output"), (None, None)]
    assert again.to_dict() == data


def test_a_results_file_without_bound_used_still_loads(tmp_path):
    data = json.loads(run_with(("a", "passed", 0.5, "x")).dumps())
    for r in data["results"]:
        del r["bound_used"], r["bound_used_by"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    (r,) = results.load(path).results
    assert r.bound_used is None and r.bound_used_by is None


def test_merge_keeps_bound_used_and_the_worst_is_per_subject():
    a = run_with(("p", "passed", 0.2, "x"), ("q", "passed", 0.7, "y"), name="one")
    b = run_with(("p", "failed", 3e5, "z"), name="two")
    merged = results.merge([a, b])
    assert {r.subject: r.bound_used for r in merged.results if r.property_id == "p"} == \
        {"one-float32": 0.2, "two-float32": 3e5}
    assert merged.worst_bound_used("one-float32").property_id == "q"
    assert merged.worst_bound_used("nobody") is None


# --- the HTML view -----------------------------------------------------------------------------------


def test_the_matrix_shows_bound_used_per_cell_and_the_worst_per_subject():
    run = run_with(("p", "passed", 0.0312, "<b>train output</b>"), ("q", "passed", 0.004, "eval output"),
                   ("r", "passed", None, None))
    page = report_html.render(run)
    assert '<span class="used" title="bound used: the largest |candidate' in page
    assert ">0.031</span>" in page and ">0.004</span>" in page
    assert "in &lt;b&gt;train output&lt;/b&gt;" in page and "<b>train output</b>" not in page
    assert "bound used (worst)</th>" in page
    assert '<td class="cell total" title="bound used: the largest' in page and "of p\">0.031</td>" in page
    assert "(bound used 0.031)" in page and "<script" not in page


def test_used_text_is_compact():
    assert [report_html.used_text(v) for v in (0.0, 0.0312, 1.2e-5, 3.46e5, math.inf, 1.0)] == \
        ["0", "0.031", "1.2e-05", "3.5e+05", "inf", "1"]


# --- a run of the suite ---------------------------------------------------------------------------


def test_a_run_records_bound_used_for_passed_and_failed_properties_under_xdist(pytester, candidate, run_conformance):
    pytest.importorskip("xdist")
    candidate("fast_profile.py")
    spec = candidate("eps_outside_sqrt.py") + ":make"
    result = run_conformance("conformance", "--impl=numpy", f"--impl={spec}", "-p", "fast_profile",
                             "--hypothesis-profile=plugin_tests", "--max-examples=3", "-p", "xdist", "-n", "2",
                             "-k", "train_output_matches_the_oracle")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.text
    data = json.loads((pytester.path / "reports" / "results.json").read_text())
    by = {(r["subject"], r["outcome"]): r for r in data["results"]}
    for dtype in ("float32", "float64"):
        passed = by[(f"numpy-{dtype}", "passed")]
        assert 0 <= passed["bound_used"] <= 1 and passed["bound_used_by"] == "train output"
    failed = by[(f"{spec}-float64", "failed")]
    assert failed["failure"]["kind"] == "mismatch"
    assert failed["bound_used"] == "inf" or failed["bound_used"] > 1
    assert "bound used (worst)" in (pytester.path / "reports" / "report.html").read_text()


# --- benchmarks/tightness.py ----------------------------------------------------------------------


def tightness(monkeypatch):
    spec = importlib.util.spec_from_file_location("tightness", ROOT / "benchmarks" / "tightness.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tightness", module)  # dataclasses look their module up there
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts the repository first
    spec.loader.exec_module(module)
    return module


def test_tightness_takes_the_worst_sound_usage_and_the_weakest_mismatch_catch(monkeypatch):
    t = tightness(monkeypatch)
    mutant = t.CATALOG[0]
    prop = min(mutant.fails)
    rows: dict = {}
    sound = t.Job("sound", "welford", "x", ("float32",), None)
    t.add_sound(rows, sound, run_with((prop, "passed", 0.02, "train output"), name="w"))
    t.add_sound(rows, sound, run_with((prop, "passed", 0.05, "eval output"), name="w"))
    failed = run_with((prop, "failed", 40.0, "train output"), name="m")
    failed.results[0].dtype = mutant.dtype
    failed.results[0].failure = Failure("mismatch", "Mismatch", "differs")
    job = t.Job("mutant", mutant.name, mutant.spec, (mutant.dtype,), None)
    t.add_mutant(rows, job, failed)
    row = rows[prop]
    assert (row.sound, row.catch) == (0.05, 40.0) and row.margin == pytest.approx(800)
    assert row.sound_at == "welford-float32: eval output" and row.catch_by == f"{mutant.name}: train output"
    text = t.table(rows)
    assert text.splitlines()[0].split()[:5] == ["property", "worst", "sound", "usage", "weakest"]
    assert f"{prop}  0.05" in text and "800" in text
