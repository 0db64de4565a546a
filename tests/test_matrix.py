"""``python -m conformance.report matrix``: the table from results, the README markers, usage errors,
and one real run (numpy, a few examples; torch-cuda skipped where there is no GPU).
"""

from __future__ import annotations

import pytest

from conformance.report import matrix
from conformance.report import model as results
from conformance.report.model import Diagnosis, ImplementationInfo, PropertyResult, Run


def result(subject, property_id, outcome, reason=None):
    name, dtype = subject.rsplit("-", 1)
    return PropertyResult(property_id, "test_x", subject, name, dtype, outcome, reason=reason)


def fake_run() -> Run:
    run = Run(status="complete", environment={"packages": {"torch": "2.13.0", "numpy": "2.4.6"}, "python": "3.11.7",
                                              "max_examples": 100, "derandomize": True})
    run.implementations["fw"] = ImplementationInfo("fw", "fw", "impls.fw:make", "numpy", ["float32", "float64"])
    run.results += [result("fw-float32", "a", "passed"), result("fw-float32", "b", "failed"),
                    result("fw-float32", "c", "not_applicable", "not applicable: no counter"),
                    result("fw-float64", "a", "failed"), result("fw-float64", "b", "failed")]
    run.diagnoses["fw-float32"] = Diagnosis("fw-float32", "matched", "...", [{"name": "biased_running_var"}])
    run.diagnoses["fw-float64"] = Diagnosis("fw-float64", "matched", "...", [{"name": "biased_running_var"},
                                                                             {"name": "computes_in_float32"}])
    return run


def test_cells_count_the_failing_properties():
    run = fake_run()
    assert matrix.cell(run, "fw-float32") == "1 deviation"
    assert matrix.cell(run, "fw-float64") == "2 deviations"
    assert matrix.cell(run, "fw-float16") == "—"
    run.results = [r for r in run.results if r.outcome != "failed"]
    assert matrix.cell(run, "fw-float32") == "CONFORMS"
    run.results = [result("fw-float64", "a", "not_applicable")]
    assert matrix.cell(run, "fw-float64") == "n/a"


def test_deviations_are_named_with_the_dtypes_where_they_were_seen():
    assert matrix.named(fake_run(), ["fw-float32", "fw-float64"]) == \
        "`biased_running_var`, `computes_in_float32` (float64)"


def test_deviations_are_listed_by_aspect_when_the_diagnosis_has_aspects():
    run = fake_run()
    running = {"aspect": "running_update", "status": "matched", "entries": ["biased_running_var"]}
    run.diagnoses["fw-float32"].aspects = [running, {"aspect": "eps", "status": "matches_torch", "entries": []}]
    run.diagnoses["fw-float64"].aspects = [running, {"aspect": "gradients", "status": "deviates", "entries": []},
                                           {"aspect": "cumulative_average", "status": "unsupported", "entries": []}]
    assert matrix.named(run, ["fw-float32", "fw-float64"]) == \
        "running_update: `biased_running_var`, gradients: deviates (float64), cumulative_average: unsupported (float64)"


def test_the_table_has_a_row_per_implementation_with_its_version_and_unavailable_ones_say_why():
    ok = {"name": "fw", "run": fake_run(), "error": None}
    missing = Run(status="complete")
    missing.implementations["gone"] = ImplementationInfo("gone", unavailable="gone is not installed: pip install x")
    missing.results.append(result("gone-float32", "a", "skipped", "gone is not installed"))
    broken = {"name": "bad", "run": None, "error": "the run produced no results (exit 4): ERROR: --impl=bad"}
    table = matrix.markdown([ok, {"name": "gone", "run": missing, "error": None}, broken],
                            {"fw": "fw 1.2.3"}, "ci")
    lines = table.splitlines()
    assert lines[0].startswith("Produced by `python -m conformance.report matrix` on ")
    assert ("profile `ci` (100 examples per property, derandomized); Python 3.11.7, torch 2.13.0, numpy 2.4.6"
            in lines[0])
    assert "| `fw` | fw 1.2.3 | 1 deviation | 2 deviations | `biased_running_var`, `computes_in_float32` (float64) |" \
        in lines
    assert "| `gone` |  | skipped | skipped | not run: gone is not installed: pip install x |" in lines
    assert "| `bad` |  | error | error | the run produced no results (exit 4): ERROR: --impl=bad |" in lines


def test_update_readme_replaces_what_is_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{matrix.START}\nold table\n{matrix.END}\nafter\n")
    matrix.update_readme(readme, "| new |\n")
    assert readme.read_text() == f"# x\n\nbefore\n{matrix.START}\n| new |\n{matrix.END}\nafter\n"


@pytest.mark.parametrize("argv, message", [
    (["--impl", "nonsense"], "unknown implementation nonsense"),
    (["--impl", "numpy", "--profile", "quick"], "--profile=quick"),
    (["--impl", "numpy", "--jobs", "0"], "at least 1"),
])
def test_usage_errors_exit_2_before_running_anything(argv, message, tmp_path, capsys):
    assert matrix.main(argv + ["--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_readme_without_markers_is_a_usage_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert matrix.main(["--impl", "numpy", "--out", str(tmp_path / "out"), "--update-readme", str(readme)]) == 2
    assert "has no <!-- matrix:start --> ... <!-- matrix:end --> markers" in capsys.readouterr().err


def framework(name: str) -> str:
    """What a run records of a registered implementation's version (the matrix's version column)."""
    from conformance.candidates.registry import resolve

    return resolve(name).framework


def test_the_version_column_names_what_an_implementation_runs():
    from importlib.metadata import version

    assert framework("numpy") == f"batchnorm-conformance {version('batchnorm-conformance')}"
    pytest.importorskip("torch")
    assert framework("torch-functional") == f"torch {version('torch')}"
    pytest.importorskip("onnxruntime")
    assert framework("onnxruntime").startswith(f"onnxruntime {version('onnxruntime')} (CPU), onnx ")


def test_a_real_run_writes_the_matrix_and_the_readme(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.chdir(tmp_path)  # the installed suite, as another project runs it
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{matrix.START}\n{matrix.END}\n")
    code = matrix.main(["--impl", "numpy", "--impl", "torch-cuda", "--max-examples", "2", "--jobs", "2",
                        "--out", "out", "--update-readme", str(readme)])
    assert code == 0, capsys.readouterr()
    table = (tmp_path / "out" / "matrix.md").read_text()
    assert "| `numpy` | batchnorm-conformance " in table and "| CONFORMS | CONFORMS |" in table
    cuda = next(line for line in table.splitlines() if line.startswith("| `torch-cuda`"))
    assert "skipped" in cuda or "CONFORMS" in cuda  # CONFORMS where there is a GPU
    assert table in readme.read_text()
    merged = results.load(tmp_path / "out" / "matrix.json")
    assert {"numpy-float32", "numpy-float64"} <= set(merged.subjects())
    assert (tmp_path / "out" / "matrix.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "out" / "matrix-runs" / "numpy" / "pytest.log").exists()
    # --no-run: the same table again, from what the run left
    (tmp_path / "out" / "matrix.md").unlink()
    assert matrix.main(["--impl", "numpy", "--impl", "torch-cuda", "--no-run", "--out", "out"]) == 0
    assert (tmp_path / "out" / "matrix.md").read_text().splitlines()[1:] == table.splitlines()[1:]
