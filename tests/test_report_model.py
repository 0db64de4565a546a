"""The results model and its HTML view, without running pytest: JSON round trip, merging,
rendering passing, failing and crashing results, and escaping of everything a candidate says.
"""

from __future__ import annotations

import builtins
import json
import math
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from conformance.report import html as report_html
from conformance.report import model as results
from conformance.report.model import Diagnosis, Failure, ImplementationInfo, PropertyResult, Run
from conformance.spec.assertions import Mismatch, assert_close

HOSTILE = "<script>alert('x')</script><img src=x onerror=\"alert(1)\"> & </pre></details><!--"

# What the page may contain: this module's own markup, nothing a candidate could smuggle in.
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "main", "section", "h1", "h2", "h3", "p",
                "b", "br", "small", "span", "div", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "a", "ul",
                "li", "code", "pre", "details", "summary", "article", "figure", "figcaption", "svg", "rect", "text"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.comments = set(), [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(attrs)

    def handle_comment(self, data):
        self.comments += 1


def parse(page: str) -> Tags:
    t = Tags()
    t.feed(page)
    return t


def mismatch(shape=(2, 3, 4), bad=((1, 2, 3),)) -> Mismatch:
    expected = np.linspace(-1, 1, math.prod(shape)).reshape(shape)
    got = expected.copy()
    for idx in bad:
        got[idx] += 0.5
    got[0, 0, 0] = np.nan
    with pytest.raises(Mismatch) as e:
        assert_close("train output", got, expected, np.full(shape[1], 1e-6), dtype="float32")
    return e.value


def sample_run(name="mine", hostile=False) -> Run:
    label = HOSTILE if hostile else "boom"
    m = mismatch().to_dict()
    impl = ImplementationInfo(name, spec=name, target=f"{name}:make", form="numpy", dtypes=["float32"], device="cpu")
    rs = [
        PropertyResult("train_output_matches_the_oracle", "test_forward", f"{name}-float32", name, "float32", "failed",
                       order=0, examples={"tried": 3, "passing": 2, "failing": 1, "invalid": 0, "shrinks": 7,
                                          "stopped_because": "nothing left to do"},
                       reproduce=f"pytest --pyargs conformance.test_forward --impl={name}",
                       failure=Failure("mismatch", "Mismatch", m["message"], f"Draw 1 (case): Case({label})", m)),
        PropertyResult("eval_changes_no_state", "test_eval", f"{name}-float32", name, "float32", "failed", order=1,
                       failure=Failure("crash", "CandidateError", f"{name} raised RuntimeError: {label}")),
        PropertyResult("a_fresh_module_is_in_training_mode", "test_defaults", f"{name}-float32", name, "float32",
                       "passed", order=2, examples={"tried": 3}),
        PropertyResult("momentum_none_is_the_cumulative_average", "test_running_stats", f"{name}-float32", name,
                       "float32", "not_applicable", order=3, reason=f"not applicable to the numpy form {label}"),
        PropertyResult("channels_are_independent", "test_invariance", f"{name}-float32", name, "float32",
                       "known_deviation", order=4, reason=f"known deviation: {label}"),
    ]
    run = Run(status="complete", exit_status=1, environment={"python": "3.11", "packages": {"numpy": label}},
              implementations={name: impl}, results=rs)
    run.diagnoses[f"{name}-float32"] = Diagnosis(f"{name}-float32", "matched", f"eps sits outside {label}",
                                                 [{"name": "eps_outside_sqrt", "title": label, "verdict": label}],
                                                 [f"probe 1, call 1 differs {label}"])
    return run


# --- the model -------------------------------------------------------------------------------------


def test_a_run_survives_a_json_round_trip(tmp_path):
    run = sample_run()
    path = run.write(tmp_path / "r" / "results.json")
    again = results.load(path)
    assert again.to_dict() == json.loads(run.dumps())
    assert again.results[0].failure.mismatch["shape"] == [2, 3, 4]
    assert again.verdict("mine-float32") == "DOES NOT CONFORM"


def test_json_has_no_nan_or_numpy_values():
    run = sample_run()
    run.results[0].duration = float("nan")
    run.environment["x"] = (np.float32(1.5), np.int64(3), float("inf"))
    text = run.dumps()  # allow_nan=False: this would raise on NaN
    assert json.loads(text)["environment"]["x"] == [1.5, 3, None]


def test_a_file_that_is_not_results_is_refused(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text('{"schema": "something else"}')
    with pytest.raises(ValueError, match="not a batchnorm-conformance results file"):
        results.load(bad)


def test_merging_runs_gives_every_subject_and_a_later_run_replaces_a_subject():
    a, b = sample_run("alpha"), sample_run("beta")
    rerun = sample_run("alpha")
    for r in rerun.results:
        r.outcome, r.failure = "passed", None
    rerun.diagnoses.clear()
    merged = results.merge([a, b, rerun], ["a.json", "b.json", "rerun.json"])
    assert merged.subjects() == ["alpha-float32", "beta-float32"]
    assert merged.verdict("alpha-float32") == "CONFORMS"  # the re-run replaced it
    assert "alpha-float32" not in merged.diagnoses and "beta-float32" in merged.diagnoses
    assert [s["file"] for s in merged.sources] == ["a.json", "b.json", "rerun.json"]
    assert len(merged.results) == 2 * len(a.results)


def test_the_merge_command_writes_one_matrix(tmp_path):
    for name in ("alpha", "beta"):
        sample_run(name).write(tmp_path / f"{name}.json")
    out = tmp_path / "matrix.html"
    proc = subprocess.run([sys.executable, "-m", "conformance.report", "merge", str(tmp_path / "alpha.json"),
                           str(tmp_path / "beta.json"), "-o", str(out), "--json", str(tmp_path / "merged.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "alpha-float32" in page and "beta-float32" in page
    assert results.load(tmp_path / "merged.json").subjects() == ["alpha-float32", "beta-float32"]
    bad = subprocess.run([sys.executable, "-m", "conformance.report", "merge", str(tmp_path / "nope.json")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "cannot read results" in bad.stderr


# --- the page ----------------------------------------------------------------------------------------


def test_a_passing_run_renders_a_matrix_without_failures():
    run = Run(status="complete", results=[PropertyResult("p1", "test_forward", "numpy-float64", "numpy", "float64",
                                                         "passed", examples={"tried": 5})])
    page = report_html.render(run)
    assert "1 conforms" in page and 'id="matrix"' in page
    assert 'id="failures"' not in page and 'id="diagnosis"' not in page
    assert parse(page).tags <= ALLOWED_TAGS


def test_a_failing_and_crashing_run_renders_each_failure():
    page = report_html.render(sample_run())
    tags = parse(page)
    assert tags.tags <= ALLOWED_TAGS
    assert 'id="f1"' in page and 'href="#f1"' in page and 'id="f2"' in page  # matrix cells link to failures
    assert ">CRASH<" in page and ">FAIL<" in page and ">n/a<" in page and ">known<" in page
    assert "error heatmap" in page and page.count("<rect") > 24  # one cell per (n, c, l) and more
    assert "Draw 1 (case)" in page  # the minimal input
    assert "expected (torch semantics)" in page and "n=1, c=2, l=3" in page  # the worst element
    assert "pooled over N and L" in page and "pooled over N only" in page  # the pooling picture
    assert "eps sits outside" in page  # the diagnosis


def test_the_page_is_self_contained():
    page = report_html.render(sample_run())
    tags = parse(page)
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
    links = [v for k, v in tags.attrs if k in ("href", "src", "action", "srcset", "data", "xlink:href")]
    assert all(v.startswith("#") for v in links), links
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page


def test_everything_from_the_candidate_is_escaped():
    page = report_html.render(sample_run(name="<b>evil</b>" + HOSTILE, hostile=True))
    tags = parse(page)
    assert tags.tags <= ALLOWED_TAGS, tags.tags - ALLOWED_TAGS
    assert "script" not in tags.tags and "img" not in tags.tags
    assert not [k for k, _ in tags.attrs if k.startswith("on")]
    assert tags.comments == 0
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;evil&lt;/b&gt;" in page


def test_heatmap_of_a_running_stat_vector_and_of_a_large_array():
    small = report_html.heatmap_svg([3], [0.0, 1.0, 2.0], [0.0, 1.5, None], [1e-6] * 3)
    assert small.count("<rect") == 3 + 5  # three cells and the legend
    shape = (64, 2, 64)
    n = math.prod(shape)
    big = report_html.heatmap_svg(shape, [0.0] * n, [1.0] * n, [1e-3] * n)
    assert big.count("<rect") <= 2 * report_html.MAX_SIDE ** 2 + 5  # blocks, not 8192 cells


# --- reading what pytest and Hypothesis report ---------------------------------------------------------


def test_a_failure_in_an_exception_group_shows_its_mismatch_and_counterexample():
    from conformance.candidates.errors import CandidateError
    from conformance.session.property_data import failure_of

    m = mismatch()
    m.add_note("Falsifying example: test_x(subject=mine-float32, data=data(...))")
    m.add_note("Draw 1 (case): Case(float32, ...)")
    crash = CandidateError("mine raised RuntimeError: " + HOSTILE)
    group = builtins.ExceptionGroup("Hypothesis found 2 distinct failures.", [crash, m])
    f = failure_of(group)
    assert f["kind"] == "mismatch" and f["exception_type"] == "Mismatch"
    assert f["counterexample"].splitlines()[1] == "Draw 1 (case): Case(float32, ...)"
    assert f["mismatch"]["index"] == [0, 0, 0] and "2 distinct failures" in f["message"]
    assert failure_of(crash)["kind"] == "crash" and failure_of(ValueError("x"))["kind"] == "error"
    assert failure_of(AssertionError("y"))["kind"] == "assertion"
    json.dumps(results.json_safe(f), allow_nan=False)


def test_examples_tried_are_read_from_hypothesis_statistics():
    from conformance.session.property_data import examples_tried

    case = lambda status: {"status": status, "runtime": 0.0, "drawtime": 0.0, "events": []}  # noqa: E731
    stats = {"reuse-phase": {"test-cases": [case("valid")]},
             "generate-phase": {"test-cases": [case("valid")] * 3 + [case("invalid"), case("interesting")]},
             "shrink-phase": {"test-cases": [case("valid")] * 7},
             "stopped-because": "nothing left to do"}
    assert examples_tried(stats) == {"tried": 5, "passing": 4, "failing": 1, "invalid": 1, "shrinks": 7,
                                     "stopped_because": "nothing left to do"}
