"""The plugin is installed for every pytest run in the environment (pytest11 entry point); for a
test suite that is not the conformance suite it must change nothing: no header, no summary,
Hypothesis' own profiles, and no rewriting of its command line.
"""

from __future__ import annotations

import json

import pytest

OK = pytest.ExitCode.OK

UNRELATED = """
    import json
    import os

    from hypothesis import given, settings, strategies as st


    def test_hypothesis_keeps_its_own_settings():
        with open(os.environ["SETTINGS_DUMP"], "w") as f:
            json.dump({"profile": settings.get_current_profile_name(), "default": repr(settings.default)}, f)


    @given(st.integers())
    def test_an_ordinary_property(x):
        assert isinstance(x, int)
"""


def conformance_lines(result) -> list[str]:
    return [line for line in result.stdout.lines
            if line.startswith("conformance ") or "batchnorm conformance" in line]


def test_an_unrelated_hypothesis_suite_keeps_the_default_profile_and_shows_nothing(pytester, run_conformance):
    pytester.makepyfile(test_unrelated="""
        from hypothesis import given, settings, strategies as st


        def test_the_default_profile():
            assert settings.get_current_profile_name() == "default"
            assert settings.default.max_examples == 100
            assert settings.default.derandomize is False


        @given(st.integers())
        def test_an_ordinary_property(x):
            assert isinstance(x, int)
    """)
    result = run_conformance()
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=2)
    assert "batchnorm-conformance" in result.text  # the plugin was loaded ("plugins: ...")
    assert conformance_lines(result) == [], result.text
    assert "generated xml file" not in result.text
    assert not (pytester.path / "reports").exists(), "the conformance reports were written for an unrelated suite"


@pytest.mark.parametrize("env", [
    {},
    {"CI": "true"},
], ids=["local", "CI=true"])
def test_hypothesis_settings_are_the_same_with_and_without_the_plugin(pytester, plugin_env, run_conformance, env):
    """Hypothesis' default settings as an unrelated suite sees them: the plugin must not change them."""
    for name, value in env.items():
        plugin_env.setenv(name, value)
    pytester.makepyfile(test_unrelated=UNRELATED)
    seen = {}
    for label, extra in (("without", ["-p", "no:batchnorm_conformance"]), ("with", [])):
        plugin_env.setenv("SETTINGS_DUMP", str(pytester.path / f"settings_{label}.json"))
        result = run_conformance(*extra)
        assert result.ret == OK, result.text
        seen[label] = json.loads((pytester.path / f"settings_{label}.json").read_text())
    assert seen["with"] == seen["without"]


def test_the_conformance_profile_does_not_leak_into_other_tests_of_the_same_session(pytester, run_conformance):
    pytester.makepyfile(test_unrelated="""
        from hypothesis import settings


        def test_the_default_profile():
            assert settings.default.max_examples == 100
            assert settings.get_current_profile_name() == "default"
    """)
    result = run_conformance("conformance", "test_unrelated.py", "--impl=numpy", "--max-examples", "3",
                             "-k", "train_output_matches_the_oracle or test_the_default_profile")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=3)


def test_an_option_value_conformance_is_not_rewritten(pytester, run_conformance):
    pytester.makeini("[pytest]\nmarkers =\n    conformance: tests of our API's conformance\n")
    pytester.makepyfile(test_api="""
        import pytest


        @pytest.mark.conformance
        def test_conformance_of_the_api():
            pass


        def test_something_else():
            pass
    """)
    result = run_conformance("-m", "conformance")
    assert result.ret == OK, result.text
    result.assert_outcomes(passed=1)


def test_an_unrelated_file_named_conformance_gets_no_header(pytester, run_conformance):
    pytester.makepyfile(test_conformance_api="def test_it():\n    pass\n")
    result = run_conformance("test_conformance_api.py")
    assert result.ret == OK, result.text
    assert conformance_lines(result) == [], result.text
