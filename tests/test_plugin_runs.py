"""Runs that pass: candidates given every way, repeated --impl, runs from outside the repository,
the run header and the profile it reports.

Every run is a subprocess in pytester's scratch directory (see ``run_conformance``),
restricted to one property and a few examples.
"""

from __future__ import annotations

import importlib.util
import re
from importlib.metadata import version

import hypothesis
import numpy as np
import pytest

OK = pytest.ExitCode.OK
ONE_PROPERTY = ("-k", "train_output_matches_the_oracle")


def verdicts(report_section, text: str) -> dict[str, str]:
    """``{subject id: verdict line}`` from the "batchnorm conformance" summary section."""
    out = {}
    for line in report_section(text, "batchnorm conformance"):
        m = re.match(r"(\S+): (CONFORMS WITH \d+ KNOWN DEVIATIONS?|CONFORMS|DOES NOT CONFORM|NOT CHECKED)\b", line)
        if m:
            out[m.group(1)] = line
    return out


# --- candidates given as a file or a module ----------------------------------------------------


def test_candidates_given_as_a_file_path_and_as_a_module_pass(pytester, candidate, run_conformance, report_section):
    """``path/to/file.py:make`` and ``package.module:make``, both in the scratch directory, in one run."""
    file_spec = candidate("good_numpy.py", subdir="my/kernels") + ":make"
    candidate("good_numpy.py", subdir="mybn")
    (pytester.path / "mybn" / "__init__.py").write_text("")
    module_spec = "mybn.good_numpy:make"
    result = run_conformance("conformance", f"--impl={file_spec}", f"--impl={module_spec}", *ONE_PROPERTY,
                             "--max-examples", "5", "-v")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=4)
    for spec in (file_spec, module_spec):
        for dtype in ("float32", "float64"):
            result.stdout.fnmatch_lines([f"*test_train_output_matches_the_oracle[[]{spec}-{dtype}[]] PASSED*"])
    v = verdicts(report_section, result.text)
    assert sorted(v) == sorted(f"{s}-{d}" for s in (file_spec, module_spec) for d in ("float32", "float64")), v
    assert all(": CONFORMS (1 passed)" in line for line in v.values()), v


def test_a_torch_module_candidate_passes(pytester, run_conformance):
    pytest.importorskip("torch")
    pytester.makepyfile(torch_bn="""
        import torch

        def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
            return torch.nn.BatchNorm1d(num_features, eps=eps, momentum=momentum, affine=affine,
                                        track_running_stats=track_running_stats)
    """)
    result = run_conformance("conformance", "--impl=torch_bn.py:make", *ONE_PROPERTY, "--max-examples", "3")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2)
    assert "torch_bn.py:make (torch_bn.py:make, module form" in result.text


# --- --impl repeated -----------------------------------------------------------------------------


def test_repeated_impl_gives_results_and_a_verdict_per_implementation_and_dtype(run_conformance, report_section):
    result = run_conformance("conformance", "--impl=numpy", "--impl=mine", "--impl=numpy", *ONE_PROPERTY,
                             "--max-examples", "3", "-v")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=4)  # numpy given twice still runs once
    for sid in ("numpy-float32", "numpy-float64", "mine-float32", "mine-float64"):
        assert f"test_train_output_matches_the_oracle[{sid}] PASSED" in result.text
    v = verdicts(report_section, result.text)
    assert sorted(v) == ["mine-float32", "mine-float64", "numpy-float32", "numpy-float64"], result.text
    for sid, line in v.items():
        assert line.startswith(f"{sid}: CONFORMS (1 passed"), line
    header = [line for line in result.stdout.lines if line.startswith("conformance impl:")]
    assert [h.split()[2] for h in header] == ["numpy", "mine"], header


# --- from a directory that is not the repository -------------------------------------------------


@pytest.mark.parametrize("target", [
    ["--pyargs", "conformance"],
    ["conformance"],
], ids=["pyargs", "plain"])
def test_the_installed_suite_runs_from_any_directory(pytester, run_conformance, target):
    assert not (pytester.path / "conformance").exists()
    result = run_conformance(*target, "--impl=numpy", *ONE_PROPERTY, "--max-examples", "3")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2)


def test_a_local_conformance_directory_is_not_replaced_by_the_installed_suite(pytester, run_conformance):
    """``pytest conformance`` means ./conformance when there is one."""
    pytester.mkdir("conformance")
    (pytester.path / "conformance" / "test_local.py").write_text("def test_local():\n    pass\n")
    result = run_conformance("conformance", "--impl=numpy")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=1)


def test_the_conformance_impl_ini_option_is_used_without_impl(pytester, run_conformance):
    pytester.makeini("[pytest]\nconformance_impl = mine\n")
    result = run_conformance("--pyargs", "conformance", *ONE_PROPERTY, "--max-examples", "3", "-v")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2)
    assert "[mine-float32] PASSED" in result.text and "numpy-float32" not in result.text


def test_a_bad_conformance_impl_ini_value_is_a_usage_error_also_with_q(pytester, run_conformance):
    pytester.makeini("[pytest]\nconformance_impl = nonsense\n")
    result = run_conformance("-q", "--pyargs", "conformance", *ONE_PROPERTY)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.text
    assert "Traceback" not in result.text and "conformance_impl" in result.text


# --- implementations unavailable here --------------------------------------------------------------


def run_beside_numpy_and_expect_skips(run_conformance, spec: str, reason: str):
    """``spec`` and numpy on one property: numpy's subjects pass and ``spec``'s are skipped, with
    ``reason``; the run passes (exit 0), as it does when every test is skipped."""
    result = run_conformance("conformance", f"--impl={spec}", "--impl=numpy", *ONE_PROPERTY, "--max-examples", "3",
                             "-rs")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2, skipped=2)
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert skips and all(reason in line for line in skips), skips
    return result


def test_torch_cuda_without_cuda_is_skipped_with_the_reason(run_conformance, report_section):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: torch-cuda runs")
    result = run_beside_numpy_and_expect_skips(run_conformance, "torch-cuda", "CUDA")
    header = [line for line in result.stdout.lines if line.startswith("conformance impl: torch-cuda")]
    assert len(header) == 1 and "[skipped:" in header[0] and "CUDA" in header[0], header
    v = verdicts(report_section, result.text)
    assert v["torch-cuda-float32"].startswith("torch-cuda-float32: NOT CHECKED (1 skipped)"), v
    assert v["numpy-float32"] == "numpy-float32: CONFORMS (1 passed)", v


def test_a_pure_form_that_is_unavailable_here_is_skipped_with_the_reason(pytester, run_conformance):
    """Its init raises Unavailable: probed when --impl is resolved, as a factory is."""
    pytester.makepyfile(pure_unavailable="""
        from conformance.candidates.errors import Unavailable

        class make:
            @staticmethod
            def init(num_features, **kwargs):
                raise Unavailable("needs an accelerator this machine does not have")

            @staticmethod
            def apply(state, x, **kwargs):
                raise AssertionError("never reached")
    """)
    run_beside_numpy_and_expect_skips(run_conformance, "pure_unavailable.py:make", "needs an accelerator")


# --- the header and the profiles ----------------------------------------------------------------


def header_lines(result) -> dict[str, str]:
    out = {}
    for line in result.stdout.lines:
        m = re.match(r"conformance (impl|versions|profile): (.*)", line)
        if m:
            out.setdefault(m.group(1), m.group(2))
    return out


@pytest.fixture
def collect_inprocess(pytester, plugin_env):
    """``pytest --collect-only ARGS`` in this process: enough for the header, about 0.3 s against 3 s.

    Only for runs without Hypothesis options: ``--hypothesis-profile`` and ``--hypothesis-seed``
    would change this process's Hypothesis state (its default profile, its forced seed).
    """

    def run(*args: str):
        result = pytester.runpytest_inprocess("--collect-only", *args)
        result.text = result.stdout.str() + "\n" + result.stderr.str()
        return result

    return run


def test_the_header_shows_implementation_versions_profile_and_seed(collect_inprocess):
    result = collect_inprocess("conformance", "--impl=numpy", *ONE_PROPERTY)
    assert result.ret == OK, result.text
    h = header_lines(result)
    assert h["impl"].startswith("numpy (conformance.impls.numpy_reference:make, numpy form, float32, float64"), h
    for pkg, v in [("batchnorm-conformance", version("batchnorm-conformance")), ("numpy", np.__version__),
                   ("hypothesis", hypothesis.__version__)]:
        assert f"{pkg} {v}" in h["versions"], h
    if importlib.util.find_spec("torch") is not None:
        assert f"torch {version('torch')}" in h["versions"], h
    # Outside CI the default is the dev profile, with a random seed.
    assert h["profile"] == "dev (30 examples per property, random seed)", h


def test_ci_selects_the_derandomized_ci_profile(plugin_env, collect_inprocess):
    plugin_env.setenv("CI", "true")
    result = collect_inprocess("conformance", "--impl=numpy", *ONE_PROPERTY)
    assert result.ret == OK, result.text
    assert header_lines(result)["profile"] == "ci (100 examples per property, derandomized)"


def test_profile_max_examples_and_seed_are_in_the_header_and_take_effect(run_conformance):
    result = run_conformance("conformance", "--impl=numpy", "--hypothesis-profile=thorough", "--max-examples", "7",
                             "--hypothesis-seed=123", "-k", "train_output_matches_the_oracle and float64",
                             "--hypothesis-show-statistics")
    assert result.ret == OK, result.text
    profile = header_lines(result)["profile"]
    assert profile.startswith("thorough") and profile.endswith("(7 examples per property, seed 123)"), profile
    assert "Stopped because settings.max_examples=7" in result.text  # not only printed: applied


def test_a_seed_under_ci_turns_derandomization_off(plugin_env, run_conformance):
    plugin_env.setenv("CI", "true")
    # Also a node id under the plain `conformance` argument, rewritten to the installed suite.
    result = run_conformance("conformance/test_forward.py::test_train_output_matches_the_oracle", "--impl=numpy",
                             "--hypothesis-seed=123", "--collect-only")
    assert result.ret == OK, result.text
    profile = header_lines(result)["profile"]
    assert profile.startswith("ci") and profile.endswith("(100 examples per property, seed 123)"), profile
    assert "2 tests collected" in result.text or "collected 2 items" in result.text, result.text


# --- exemptions: what a verdict leaves out, said where the verdict is --------------------------------


def test_a_declared_lack_is_listed_in_the_verdict_line_and_checked(candidate, run_conformance, report_section):
    spec = candidate("no_counter.py") + ":make"
    result = run_conformance("conformance", f"--impl={spec}", "--max-examples", "5", "-k",
                             "a_candidate_that_declares_no_batch_counter_keeps_none or momentum_none or "
                             "train_output_matches_the_oracle")
    assert result.ret == OK, result.text
    summary = report_section(result.text, "batchnorm conformance")
    line = next(x for x in summary if x.startswith(f"{spec}-float32:"))
    assert line.startswith(f"{spec}-float32: CONFORMS (declares it lacks: counter) ("), line
    assert "2 passed, 1 not applicable" in line, line  # momentum=None needs the counter it lacks


def test_properties_about_state_a_function_cannot_hold_are_not_applicable_to_the_functional_form(pytester,
                                                                                                 run_conformance):
    result = run_conformance("conformance", "--impl=numpy-functional", "--max-examples", "3", "-k",
                             "the_state_keeps_the_module_dtype or without_tracking_there_are_no_running_stats")
    assert result.ret == OK, result.text
    import json

    data = json.loads((pytester.path / "reports" / "results.json").read_text())
    assert {r["outcome"] for r in data["results"]} == {"not_applicable"}, data["results"]
    assert all("the suite holds the state" in r["reason"] for r in data["results"])


def test_a_property_that_raises_not_applicable_is_recorded_as_not_applicable(pytester, run_conformance):
    result = run_conformance("conformance", "--impl=numpy", "--max-examples", "2", "-k",
                             "input_gradient_matches_finite_differences_in_float64 and float32")
    assert result.ret == OK, result.text
    import json

    (r,) = json.loads((pytester.path / "reports" / "results.json").read_text())["results"]
    assert r["outcome"] == "not_applicable" and r["reason"].startswith("not applicable: finite differences"), r


def test_skips_after_a_not_applicable_one_are_still_counted_as_skipped(run_conformance, report_section):
    """The summary once filed every skip after the first not-applicable one as not applicable."""
    result = run_conformance("conformance", "--impl=numpy-functional", "--impl=torch-cuda", "-k",
                             "a_fresh_module_is_in_training_mode")
    assert result.ret == OK, result.text
    lines = {line.split(":")[0]: line for line in report_section(result.text, "batchnorm conformance")}
    assert lines["numpy-functional-float32"].endswith("NOT CHECKED (1 not applicable)"), lines
    if "torch-cuda-float32" in lines and "CONFORMS" not in lines["torch-cuda-float32"]:  # no GPU here
        assert lines["torch-cuda-float32"].endswith("NOT CHECKED (1 skipped)"), lines
