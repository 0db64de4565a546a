"""The diagnosis by aspect: each mutant's bug is named under its aspect, two bugs on two aspects are
both named, correct implementations get nothing named, and a failing property that no named aspect
can produce makes the verdict "partially explained". In process: a diagnosis is a few calls per probe.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import conformance
from conformance import diagnosis
from conformance.candidates import registry
from conformance.diagnosis.search import NAMED
from tests.mutants import CATALOG as MUTANTS
from tests.mutants import checks, gradients, running
from tests.sound import SOUND

# The aspect each mutant's bug belongs to.
ASPECT = {
    "per_position_statistics": "pooling", "global_statistics": "pooling", "reshape_without_transpose": "pooling",
    "unbiased_normalisation": "normalising_variance", "variance_about_zero": "normalising_variance",
    "one_pass_variance_in_module_dtype": "precision", "welford_wrong_update": "normalising_variance",
    "eps_outside_sqrt": "eps", "eps_ignored": "eps", "bias_before_weight": "affine", "weight_ignored": "affine",
    "biased_running_var": "running_update", "momentum_reversed": "running_update",
    "momentum_none_as_default": "cumulative_average", "cumulative_average_off_by_one": "cumulative_average",
    "momentum_zero_as_none": "running_update", "eval_updates_running_stats": "eval",
    "counter_counts_eval_calls": "counter", "untracked_has_buffers": "counter", "eval_uses_batch_statistics": "eval",
    "untracked_eval_uses_initial_stats": "eval", "starts_in_eval_mode": "defaults",
    "running_var_starts_at_zero": "defaults", "default_eps1e3": "defaults", "default_momentum0_9": "defaults",
    "default_not_affine": "defaults", "any_rank_accepted": "input_errors", "no_channel_check": "input_errors",
    "declares_no_counter_but_keeps_one": "counter", "no_single_value_check": "input_errors",
    "works_in_place_on_the_input": "data_handling", "reads_memory_order": "data_handling",
    "output_in_float64": "data_handling", "running_stats_rebound": "data_handling",
    "backward_from_the_output": "gradients", "per_position_loop": "pooling", "assumes_contiguous": "data_handling",
    "detached_statistics": "gradients", "running_stats_as_parameters": "gradients", "grad_bias_as_mean": "gradients",
    "missing_grad_term": "gradients", "no_affine_gradients": "gradients", "one_pass_variance_float32": "precision",
    "block_merge_without_between_term": "normalising_variance",
    "large_batch_unbiased_variance": "normalising_variance", "tail_tile_not_written": "pooling",
    "approximate_rsqrt": "normalising_variance", "mean_subtracted_in_half": "normalising_variance",
    "functional_output_in_float64": "data_handling", "functional_half_input_skips_the_update": "data_handling",
    "pure_init_running_var_zero": "defaults", "pure_apply_modifies_the_state": "data_handling",
    "half_accumulation": "precision", "running_stats_stored_in_half": "precision",
}


def named(d) -> dict[str, dict]:
    return {a["aspect"]: a for a in d.aspects if a["status"] in NAMED}


def test_every_mutant_has_an_aspect():
    assert set(ASPECT) == {m.name for m in MUTANTS}
    assert set(ASPECT.values()) <= {a.name for a in diagnosis.ASPECTS}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_single_deviation_mutant_gets_its_aspect_named(mutant):
    if mutant.form == "module":
        pytest.importorskip("torch")
    d = diagnosis.diagnose(registry.resolve(mutant.spec), mutant.dtype, sorted(mutant.fails))
    assert ASPECT[mutant.name] in named(d), d
    assert d.status != "probe_crashed", d


class MomentumReversedCumulativeRight(running.MomentumReversed):
    """Keras' convention for a numeric momentum, torch's cumulative average for momentum=None."""

    def blend(self, running, batch, f):
        if self.momentum is None:
            return (1.0 - f) * running + f * batch  # torch's cumulative average
        return super().blend(running, batch, f)


def test_the_momentum_convention_and_the_cumulative_average_are_judged_apart():
    impl = registry.Implementation("reversed-cumulative-right", "r", "r", MomentumReversedCumulativeRight,
                                   form="numpy")
    d = diagnosis.diagnose(impl, "float64")
    by = {a["aspect"]: a for a in d.aspects}
    assert by["running_update"]["entries"] == ["momentum_reversed"], d
    assert by["cumulative_average"]["status"] == "matches_torch", d


class BiasedRunningVarAndNoRankCheck(running.BiasedRunningVar, checks.AnyRankAccepted):
    pass


def test_two_deviations_on_different_aspects_are_both_named():
    impl = registry.Implementation("two", "two", "two", BiasedRunningVarAndNoRankCheck, form="numpy")
    d = diagnosis.diagnose(impl, "float32")
    assert d.status == "matched", d
    assert named(d).keys() == {"running_update", "input_errors"}, d
    assert {x["name"] for x in d.deviations} == {"biased_running_var", "accepts_other_ranks"}, d


@pytest.mark.parametrize("sound", SOUND, ids=lambda s: s.name)
def test_the_sound_set_gets_nothing_named(sound):
    impl = registry.resolve(sound.spec)
    for dtype in sound.dtypes:
        d = diagnosis.diagnose(impl, dtype, ["some_property"])
        assert not named(d) and d.deviations == [], (dtype, d)


@pytest.mark.parametrize("spec", ["numpy", "mine", "numpy-functional", "numpy-pure", "torch", "torch-functional"])
def test_the_references_get_nothing_named(spec):
    if spec.startswith("torch"):
        pytest.importorskip("torch")
    impl = registry.resolve(spec)
    for dtype in impl.dtypes:  # half input too, where declared
        d = diagnosis.diagnose(impl, dtype)
        assert not named(d) and d.status == "not_in_catalog", (dtype, d)


def test_later_aspects_are_not_judged_against_rounding_the_predictions_do_not_model():
    """Statistics of float16 input computed in float16: named under precision, and the probes of the running
    update and the pooling, which carry that rounding, are not blamed on those aspects."""
    mutant = next(m for m in MUTANTS if m.name == "half_accumulation")
    d = diagnosis.diagnose(registry.resolve(mutant.spec), "float16", sorted(mutant.fails))
    by = {a["aspect"]: a for a in d.aspects}
    assert by["precision"]["entries"] == ["statistics_in_half"] and d.status == "matched", d
    assert not set(named(d)) - {"precision"}, d
    assert any(a["status"] == "not_judged" and "statistics_in_half" not in a["verdict"]
               and "half precision" in a["verdict"] for a in d.aspects), d


class GradientBugWithoutOneValueCheck(gradients.MissingGradTerm, checks.NoSingleValueCheck):
    pass


def test_a_gradient_bug_beside_a_side_check_is_partially_explained():
    impl = registry.Implementation("forcing", "forcing", "forcing", GradientBugWithoutOneValueCheck, form="numpy")
    failing = ["train_gradients_match_the_closed_form", "input_gradient_matches_finite_differences_in_float64",
               "one_value_per_channel_raises_value_error_when_batch_statistics_are_used"]
    d = diagnosis.diagnose(impl, "float64", failing)
    assert d.status == "partially_explained" and d.verdict.startswith("Partially explained:"), d
    assert named(d)["input_errors"]["entries"] == ["accepts_one_value_per_channel"], d
    assert named(d)["gradients"]["status"] == "deviates", d  # the gradient bug is not forced into the side entry


def test_a_failing_property_no_named_aspect_produces_is_listed_as_unexplained():
    impl = registry.Implementation("one", "one", "one", checks.NoSingleValueCheck, form="numpy")
    d = diagnosis.diagnose(impl, "float64", ["one_value_per_channel_raises_value_error_when_batch_statistics_are_used",
                                             "train_gradients_match_the_closed_form"])
    assert d.status == "partially_explained" and d.unexplained == ["train_gradients_match_the_closed_form"], d


def test_every_property_maps_to_aspects():
    modules = Path(conformance.__file__).parent.glob("test_*.py")
    ids = {n.name[len("test_"):] for m in modules for n in ast.parse(m.read_text()).body
           if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    assert ids == set(diagnosis.PROPERTY_ASPECTS)
    assert {a for v in diagnosis.PROPERTY_ASPECTS.values() for a in v} <= {a.name for a in diagnosis.ASPECTS}
