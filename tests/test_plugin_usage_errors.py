"""Bad invocations stop pytest with one clear line and exit code 4, never a traceback.

These runs stop in ``pytest_configure``, before anything is collected or any profile is
chosen, so they run in-process (``pytester.runpytest_inprocess``): about 0.1 s each
against 1-2 s for a subprocess. What an in-process run imports is dropped from
sys.modules afterwards; torch, which some specs import while being resolved, cannot be
imported a second time in one process: tests/conftest.py imports it once, before any run.
"""

from __future__ import annotations

import pytest

from conformance.candidates.registry import registered

USAGE_ERROR = pytest.ExitCode.USAGE_ERROR


@pytest.fixture
def run_inprocess(pytester, plugin_env):
    def run(*args: str):
        result = pytester.runpytest_inprocess(*args)
        result.text = result.stdout.str() + "\n" + result.stderr.str()
        return result

    return run


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("ERROR:")]


def assert_one_clear_usage_error(result, *fragments: str) -> str:
    """Exit code 4, no traceback, exactly one ``ERROR:`` line, holding every fragment; returns the line."""
    text = result.text
    assert result.ret == USAGE_ERROR, text
    assert "Traceback" not in text, text
    assert "INTERNALERROR" not in text, text
    lines = error_lines(text)
    assert len(lines) == 1, text
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


# (files to create in the scratch directory, --impl spec, fragments the error line must hold)
BAD_SPECS = {
    "unknown name": ({}, "nonsense", ["unknown implementation", "Registered names:"]),
    "module that does not exist": ({}, "no.such.module:make", ["no.such.module", "ModuleNotFoundError"]),
    "file that does not exist": ({}, "missing_file.py:make", ["no such file", "missing_file.py"]),
    "file whose import raises": (
        {"broken_import.py": "raise RuntimeError('boom at import')\n"},
        "broken_import.py:make", ["broken_import.py", "RuntimeError", "boom at import"]),
    "file with a syntax error": ({"syntax_error.py": "def make(:\n"}, "syntax_error.py:make", ["SyntaxError"]),
    "module whose import raises": (
        {"broken_pkg/__init__.py": "", "broken_pkg/bn.py": "import no_such_dependency_of_bn\n"},
        "broken_pkg.bn:make", ["broken_pkg.bn", "no_such_dependency_of_bn"]),
    "file without the attribute": ({"no_factory.py": "def other(n):\n    pass\n"}, "no_factory.py:make",
                                   ["no attribute 'make'"]),
    "module without the attribute": ({}, "json:no_such_factory", ["json", "no attribute 'no_such_factory'"]),
    "attribute that is not callable": ({"not_callable.py": "make = 42\n"}, "not_callable.py:make",
                                       ["int", "not a callable factory"]),
    "factory that raises on construction": (
        {"factory_raises.py": "def make(num_features, **kwargs):\n    raise RuntimeError('cannot construct')\n"},
        "factory_raises.py:make", ["factory(2) raised RuntimeError", "cannot construct"]),
    "pure form whose init raises": (
        {"pure_raises.py": "class make:\n    @staticmethod\n    def init(num_features, **kwargs):\n"
                           "        raise RuntimeError('no state')\n    @staticmethod\n"
                           "    def apply(state, x, **kwargs):\n        return x, state\n"},
        "pure_raises.py:make", ["init(2, affine=True, track_running_stats=True, dtype=float32) raised RuntimeError",
                                "no state"]),
    "factory returning neither form": (
        {"wrong_type.py": "def make(num_features, **kwargs):\n    return [num_features]\n"},
        "wrong_type.py:make", ["factory(2) returned list", "torch.nn.Module"]),
    "empty factory name": ({}, "json:", ["json:"]),
}


@pytest.mark.parametrize("files, spec, fragments", list(BAD_SPECS.values()), ids=list(BAD_SPECS))
def test_a_bad_impl_spec_is_one_clear_usage_error(pytester, run_inprocess, files, spec, fragments):
    for name, content in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    if any("/" in name for name in files):
        pytester.syspathinsert()  # a package in the working directory, as `python -m pytest` sees it
    line = assert_one_clear_usage_error(run_inprocess("conformance", f"--impl={spec}"), f"--impl={spec}", *fragments)
    assert line.startswith(f"ERROR: --impl={spec}:"), line


def test_an_unknown_name_lists_every_registered_name(run_inprocess):
    names = sorted(registered())
    assert {"numpy", "torch", "torch-cuda", "mine"} <= set(names)
    line = assert_one_clear_usage_error(run_inprocess("conformance", "--impl=nonsense"), "--impl=nonsense")
    assert ", ".join(names) in line, line


def test_one_bad_spec_among_good_ones_is_still_a_usage_error(run_inprocess):
    assert_one_clear_usage_error(run_inprocess("conformance", "--impl=numpy", "--impl=nonsense"), "--impl=nonsense")


def test_the_error_is_the_same_with_pyargs(run_inprocess):
    assert_one_clear_usage_error(run_inprocess("--pyargs", "conformance", "--impl=nonsense"), "--impl=nonsense")


def test_a_numpy_form_factory_that_raises_is_a_usage_error(pytester, candidate, run_conformance):
    pytester.makepyfile(numpy_form_raises="""
        def make(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, dtype):
            raise RuntimeError("cannot construct")
    """)
    candidate("fast_profile.py")  # while the bug is there, the failure is not explained: that takes seconds
    result = run_conformance("conformance", "--impl=numpy_form_raises.py:make", "-p", "fast_profile",
                             "--hypothesis-profile=plugin_tests", "-k", "train_output_matches_the_oracle and float64")
    assert result.ret == USAGE_ERROR, result.text
    assert "Traceback" not in result.text


# --- the known-deviations file -----------------------------------------------------------------

BAD_DEVIATIONS = {
    "entry without a quantity": ("train_output_matches_the_oracle:\n", ["names no quantity"]),
    "entry with a blank reason": ("# header\ntrain_output_matches_the_oracle: train output --   \n",
                                  [":2:", "has no reason"]),
    "entry without a colon": ("train_output_matches_the_oracle because reasons\n",
                              ["expected '[implementation::]property_id [dtype]: quantity -- reason'"]),
    "impl entry without a quantity": ("numpy::train_output_matches_the_oracle: a reason\n", ["names no quantity"]),
}


@pytest.mark.parametrize("content, fragments", list(BAD_DEVIATIONS.values()), ids=list(BAD_DEVIATIONS))
def test_a_malformed_known_deviations_file_is_a_usage_error(pytester, run_inprocess, content, fragments):
    (pytester.path / "deviations.txt").write_text(content)
    result = run_inprocess("conformance", "--impl=numpy", "--known-deviations", "deviations.txt")
    assert_one_clear_usage_error(result, "deviations.txt", *fragments)


def test_a_missing_known_deviations_file_is_a_usage_error(run_inprocess):
    result = run_inprocess("conformance", "--impl=numpy", "--known-deviations", "no_such_file.txt")
    assert_one_clear_usage_error(result, "--known-deviations", "no_such_file.txt")


# --- other options ---------------------------------------------------------------------------


def test_a_non_integer_max_examples_is_a_usage_error(run_inprocess):
    result = run_inprocess("conformance", "--impl=numpy", "--max-examples", "many")
    assert result.ret == USAGE_ERROR, result.text
    assert "--max-examples" in result.text and "Traceback" not in result.text


@pytest.mark.parametrize("n", ["0", "-1"])
def test_max_examples_below_one_is_a_usage_error(run_inprocess, n):
    result = run_inprocess("conformance", "--impl=numpy", "--max-examples", n)
    assert_one_clear_usage_error(result, "--max-examples")


def test_an_unknown_hypothesis_profile_is_a_usage_error(run_conformance):
    result = run_conformance("conformance", "--impl=numpy", "--hypothesis-profile=no_such_profile")
    assert result.ret == USAGE_ERROR, result.text
    assert "INTERNALERROR" not in result.text and "no_such_profile" in result.text
