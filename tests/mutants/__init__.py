"""The mutant set: BatchNorm1d implementations with one realistic bug each, and what must catch them.

Every mutant is a small subclass of a correct implementation that overrides one step
(``base.Reference`` for the NumPy form; torch.nn.BatchNorm1d or
``tests.correct_impls.ShiftedSumsBatchNorm1d`` for the module form), and the class is its
factory; ``forms`` wraps classes into the functional and pure forms.

``tests/test_mutants.py`` runs the suite on each, restricted to the properties it
``fails``, and checks that every one of them catches it in the mutant's ``dtype``: fails
with a failure that shows the bug (a ``mismatch`` or an ``assertion``, not a ``crash`` or
an ``error``; ``tests/mutants/catches.py``); it also checks that together the mutants
fail every property the suite has.

``fails`` lists the properties that fail *because of* the bug, not every property that
happens to fail with it: a bug in the running stats also shows in later eval outputs,
and a mutant's crash on some input fails properties that are not about its bug. And it
lists only properties that catch the bug surely: under every one of 10 random seeds of
``benchmarks/catch_rate.py``. The ``ci`` run checked here is one derandomized draw, and
which examples it draws changes with any edit to the suite (Hypothesis mixes constants
from the source of local modules into its draws, see docs/design.md): a property that catches
the mutant under 8 seeds in 10 is lost by some edits that change nothing about it.

``weak`` lists the properties that catch the bug, but not under every seed: they are
measured with the others and reported (``tests/mutants/catch_rates.json``, the per-seed
data; ``tests/test_mutants.py`` fails when a property in ``fails`` is weak there), and
not required to fail in the ``ci`` run.

To watch one mutant fail, from the repository root (``python -m`` puts the root on
``sys.path``, so the ``tests.mutants`` specs import):

    python -m pytest --pyargs conformance --impl=tests.mutants.statistics:PerPositionStatistics
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One buggy implementation, the properties that must catch it, and those that catch it only sometimes."""

    name: str
    spec: str  # an --impl spec
    bug: str
    fails: frozenset[str]  # property ids (test names without test_) that catch the bug under every seed
    dtype: str = "float64"  # the dtype in which they must fail
    form: str = "numpy"
    weak: frozenset[str] = frozenset()  # property ids that catch the bug under some seeds only: measured, reported


def _mutant(where: str, bug: str, fails: str, dtype: str = "float64", form: str = "numpy", weak: str = "") -> Mutant:
    """``where`` is ``module:Class`` (or ``module:object``) in this package; the name is its snake_case."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", where.partition(":")[2]).lower()
    return Mutant(name, f"tests.mutants.{where}", bug, frozenset(fails.split()), dtype, form, frozenset(weak.split()))


CATALOG: tuple[Mutant, ...] = (
    # --- which values pool, and the batch statistics ---------------------------------------
    _mutant("statistics:PerPositionStatistics",
            "each (channel, position) normalised separately over N (the tutorial misreading)",
            "statistics_pool_batch_and_length_together train_output_matches_the_oracle the_tutorial_worked_examples",
            weak="running_stats_after_one_train_step_match_the_closed_form"),
    _mutant("statistics:GlobalStatistics", "one mean and variance over all channels together",
            "channels_are_independent train_output_has_zero_mean_per_channel train_output_matches_the_oracle "
            "running_stats_after_one_train_step_match_the_closed_form "
            "one_value_per_channel_raises_value_error_when_batch_statistics_are_used"),
    _mutant("statistics:ReshapeWithoutTranspose", "(N, C, L) flattened with x.reshape(-1, C): channels mix",
            "permuting_positions_permutes_the_output_and_keeps_the_running_stats "
            "statistics_pool_batch_and_length_together channels_are_independent train_output_matches_the_oracle "
            "the_tutorial_worked_examples"),
    _mutant("statistics:UnbiasedNormalisation", "the normalisation divides the variance by m - 1",
            "train_output_has_biased_variance_var_over_var_plus_eps train_output_matches_the_oracle "
            "the_tutorial_worked_examples"),
    _mutant("statistics:VarianceAboutZero", "variance computed as E[x^2], not about the mean",
            "train_output_is_invariant_to_a_per_channel_shift train_output_matches_the_oracle "
            "train_output_has_biased_variance_var_over_var_plus_eps "
            "running_stats_after_one_train_step_match_the_closed_form"),
    _mutant("statistics:OnePassVarianceInModuleDtype",
            "E[x^2] - E[x]^2 in float32: cancels catastrophically on a large offset",
            "train_output_matches_the_oracle train_output_has_biased_variance_var_over_var_plus_eps "
            "running_stats_after_one_train_step_match_the_closed_form "
            "constant_channels_give_finite_output_equal_to_the_bias", dtype="float32"),
    _mutant("statistics:WelfordWrongUpdate", "Welford's update with M2 += delta * delta: order-dependent variance",
            "permuting_samples_permutes_the_output_and_keeps_the_running_stats "
            "permuting_positions_permutes_the_output_and_keeps_the_running_stats train_output_matches_the_oracle "
            "running_stats_after_one_train_step_match_the_closed_form the_tutorial_worked_examples"),
    # --- the normalisation formula and the affine transform --------------------------------
    _mutant("normalisation:EpsOutsideSqrt", "(x - mean) / (sqrt(var) + eps)",
            "scaling_the_input_by_s_equals_scaling_eps_by_one_over_s_squared train_output_matches_the_oracle "
            "eval_output_uses_the_running_stats the_tutorial_worked_examples"),
    _mutant("normalisation:EpsIgnored", "(x - mean) / sqrt(var): NaN for a constant channel",
            "constant_channels_give_finite_output_equal_to_the_bias train_output_matches_the_oracle "
            "eval_output_uses_the_running_stats"),
    _mutant("normalisation:BiasBeforeWeight", "y = weight * (xhat + bias)",
            "affine_output_is_weight_times_normalised_plus_bias negating_the_input_reflects_the_output_about_the_bias "
            "train_output_matches_the_oracle eval_output_uses_the_running_stats"),
    _mutant("normalisation:WeightIgnored", "y = xhat + bias: the weight is never applied",
            "affine_output_is_weight_times_normalised_plus_bias train_output_matches_the_oracle "
            "eval_output_uses_the_running_stats"),
    # --- running statistics and the counter ---------------------------------------------
    _mutant("running:BiasedRunningVar", "running_var accumulates the biased batch variance",
            "running_stats_after_one_train_step_match_the_closed_form "
            "running_stats_after_k_train_steps_match_the_closed_form momentum_one_stores_the_last_batch_statistics "
            "a_fresh_module_updates_running_stats_with_momentum_0_1 the_tutorial_worked_examples "
            "eval_after_train_calls_uses_the_updated_running_stats"),
    _mutant("running:MomentumReversed", "r = m * r + (1 - m) * batch (the Keras/Flax convention)",
            "running_stats_after_one_train_step_match_the_closed_form "
            "running_stats_after_k_train_steps_match_the_closed_form momentum_zero_freezes_the_running_stats "
            "momentum_one_stores_the_last_batch_statistics a_fresh_module_updates_running_stats_with_momentum_0_1 "
            "the_tutorial_worked_examples"),
    _mutant("running:MomentumNoneAsDefault", "momentum=None treated as 0.1",
            "momentum_none_is_the_cumulative_average running_stats_after_one_train_step_match_the_closed_form "
            "running_stats_after_k_train_steps_match_the_closed_form"),
    _mutant("running:CumulativeAverageOffByOne", "momentum=None weighs the new batch by 1 / (t + 1)",
            "momentum_none_is_the_cumulative_average running_stats_after_one_train_step_match_the_closed_form "
            "running_stats_after_k_train_steps_match_the_closed_form"),
    _mutant("running:MomentumZeroAsNone", "`if not momentum`: momentum=0 becomes the cumulative average",
            "momentum_zero_freezes_the_running_stats running_stats_after_one_train_step_match_the_closed_form "
            "running_stats_after_k_train_steps_match_the_closed_form"),
    _mutant("running:EvalUpdatesRunningStats", "eval calls update the running stats and the counter",
            "eval_changes_no_state eval_after_train_calls_uses_the_updated_running_stats "
            "num_batches_tracked_counts_train_calls_only eval_output_does_not_depend_on_the_rest_of_the_batch"),
    _mutant("running:CounterCountsEvalCalls", "num_batches_tracked incremented in eval calls too",
            "num_batches_tracked_counts_train_calls_only eval_changes_no_state",
            weak="eval_after_train_calls_uses_the_updated_running_stats"),
    _mutant("running:UntrackedHasBuffers", "the running-stat buffers exist with track_running_stats=False",
            "without_tracking_there_are_no_running_stats eval_changes_no_state"),
    # --- train versus eval, and the defaults ------------------------------------------------
    _mutant("modes:EvalUsesBatchStatistics", "eval normalises with the batch statistics",
            "eval_output_uses_the_running_stats eval_output_does_not_depend_on_the_rest_of_the_batch "
            "eval_after_train_calls_uses_the_updated_running_stats "
            "a_fresh_module_has_zero_mean_unit_variance_running_stats "
            "eval_gradients_use_the_running_stats_and_reach_no_buffer"),
    _mutant("modes:UntrackedEvalUsesInitialStats",
            "without tracking, eval normalises with (0, 1) instead of the batch statistics",
            "eval_without_tracking_uses_batch_statistics "
            "one_value_per_channel_raises_value_error_when_batch_statistics_are_used"),
    _mutant("modes:StartsInEvalMode", "a fresh module has training=False",
            "a_fresh_module_is_in_training_mode a_fresh_module_normalises_with_eps_1e_5_and_identity_affine "
            "a_fresh_module_updates_running_stats_with_momentum_0_1"),
    _mutant("modes:RunningVarStartsAtZero", "running_var initialised to zeros",
            "a_fresh_module_has_zero_mean_unit_variance_running_stats "
            "a_fresh_module_updates_running_stats_with_momentum_0_1 the_tutorial_worked_examples"),
    _mutant("modes:DefaultEps1e3", "default eps 1e-3 (Keras')",
            "a_fresh_module_normalises_with_eps_1e_5_and_identity_affine "
            "a_fresh_module_has_zero_mean_unit_variance_running_stats"),
    _mutant("modes:DefaultMomentum0_9", "default momentum 0.9 (ONNX's, not converted)",
            "a_fresh_module_updates_running_stats_with_momentum_0_1"),
    _mutant("modes:DefaultNotAffine", "default affine=False: factory(C) has no weight and bias",
            "a_fresh_module_normalises_with_eps_1e_5_and_identity_affine"),
    # --- refusing bad input ---------------------------------------------------------------
    _mutant("checks:AnyRankAccepted", "no rank check: 4D normalised, 1D an IndexError",
            "input_of_rank_other_than_2_or_3_raises_value_error"),
    _mutant("checks:NoChannelCheck", "no channel-count check (broadcasting accepts a size-1 side)",
            "a_channel_count_other_than_num_features_raises"),
    _mutant("checks:DeclaresNoCounterButKeepsOne", "declares it lacks a batch counter, yet keeps one",
            "a_candidate_that_declares_no_batch_counter_keeps_none"),
    _mutant("checks:NoSingleValueCheck", "no ValueError for one value per channel",
            "one_value_per_channel_raises_value_error_when_batch_statistics_are_used"),
    # --- memory, copies and dtypes -------------------------------------------------------------
    _mutant("memory:WorksInPlaceOnTheInput", "np.asarray instead of a copy: a float64 input is overwritten",
            "the_input_is_never_modified"),
    _mutant("memory:ReadsMemoryOrder", "x.ravel(order='K').reshape(x.shape): scrambles a Fortran-ordered input",
            "train_output_matches_the_oracle channels_are_independent statistics_pool_batch_and_length_together "
            "running_stats_after_one_train_step_match_the_closed_form"),
    _mutant("memory:OutputInFloat64", "the float64 result returned without casting to the input's dtype",
            "the_output_has_the_input_shape_and_dtype", dtype="float32"),
    _mutant("memory:RunningStatsRebound", "running stats rebound to float64 arrays instead of updated in place",
            "the_state_keeps_the_module_dtype", dtype="float32"),
    # --- gradients --------------------------------------------------------------------
    _mutant("gradients:BackwardFromTheOutput", "backward uses the output y in place of xhat",
            "train_input_gradient_does_not_depend_on_the_bias train_gradients_match_the_closed_form "
            "eval_gradients_use_the_running_stats_and_reach_no_buffer "
            "input_gradient_matches_finite_differences_in_float64"),
    # --- the module form ---------------------------------------------------------------
    _mutant("torch_modules:PerPositionLoop", "torch.nn.BatchNorm1d called on each position x[:, :, l] in turn",
            "statistics_pool_batch_and_length_together train_output_matches_the_oracle the_tutorial_worked_examples",
            form="module",
            # one sample per position raises in training: where such an input comes first, the run sees a crash
            weak="running_stats_after_one_train_step_match_the_closed_form "
                 "num_batches_tracked_counts_train_calls_only"),
    _mutant("torch_modules:AssumesContiguous", "the input's storage read as if C-contiguous",
            "train_output_matches_the_oracle eval_output_uses_the_running_stats channels_are_independent "
            "running_stats_after_one_train_step_match_the_closed_form", form="module"),
    _mutant("torch_modules:DetachedStatistics", "batch mean and variance detached: backward treats them as constants",
            "train_gradients_match_the_closed_form train_input_gradient_sums_to_zero_per_channel "
            "train_input_gradient_ignores_a_per_channel_constant_added_to_grad_output "
            "input_gradient_matches_finite_differences_in_float64", form="module"),
    _mutant("torch_modules:RunningStatsAsParameters", "running stats registered as nn.Parameter: gradients reach them",
            "eval_gradients_use_the_running_stats_and_reach_no_buffer", form="module"),
    _mutant("gradients:GradBiasAsMean", "grad_bias is the mean of grad_output, not its sum",
            "train_gradients_match_the_closed_form eval_gradients_use_the_running_stats_and_reach_no_buffer"),
    _mutant("gradients:MissingGradTerm", "grad_input leaves out the term through the variance",
            "train_gradients_match_the_closed_form input_gradient_matches_finite_differences_in_float64"),
    _mutant("gradients:NoAffineGradients", "backward returns no weight or bias gradient with affine=True",
            "train_gradients_match_the_closed_form eval_gradients_use_the_running_stats_and_reach_no_buffer"),
    # --- float32-native kernels (float32 arithmetic throughout, float32 only) ------------------------
    _mutant("float32:OnePassVarianceFloat32", "E[x^2] - E[x]^2 computed in float32 arithmetic",
            "train_output_matches_the_oracle train_output_has_biased_variance_var_over_var_plus_eps "
            "running_stats_after_one_train_step_match_the_closed_form "
            "constant_channels_give_finite_output_equal_to_the_bias",
            dtype="float32"),
    # The properties that draw a big shape in one example of eight see these only where that example is
    # well conditioned; the property that draws only big, well-conditioned shapes sees them every time.
    _mutant("float32:BlockMergeWithoutBetweenTerm",
            "above 1024 values, block statistics merged without Chan's between-block term",
            "the_output_for_thousands_of_values_per_channel_matches_the_oracle train_output_matches_the_oracle "
            "running_stats_after_one_train_step_match_the_closed_form", dtype="float32",
            weak="train_output_has_biased_variance_var_over_var_plus_eps"),
    _mutant("float32:LargeBatchUnbiasedVariance", "above 1024 values, the normalisation uses the unbiased variance",
            "the_output_for_thousands_of_values_per_channel_matches_the_oracle", dtype="float32",
            weak="train_output_has_biased_variance_var_over_var_plus_eps train_output_matches_the_oracle"),
    _mutant("float32:TailTileNotWritten", "channels past the last full tile of 8 are never written (zeros)",
            "train_output_matches_the_oracle eval_output_uses_the_running_stats "
            "affine_output_is_weight_times_normalised_plus_bias eval_after_train_calls_uses_the_updated_running_stats",
            dtype="float32"),
    _mutant("float32:ApproximateRsqrt", "the inverse standard deviation from a 12-bit approximate rsqrt",
            "train_output_matches_the_oracle eval_output_uses_the_running_stats "
            "train_output_has_biased_variance_var_over_var_plus_eps", dtype="float32"),
    _mutant("float32:MeanSubtractedInHalf", "the mean rounded to float16 before it is subtracted",
            "train_output_matches_the_oracle train_output_is_invariant_to_a_per_channel_shift "
            "train_output_has_zero_mean_per_channel", dtype="float32"),
    # --- half precision (half input into a float32 module) -----------------------------------
    _mutant("memory:HalfAccumulation", "statistics of float16 input accumulated in float16",
            "train_output_matches_the_oracle running_stats_after_one_train_step_match_the_closed_form",
            dtype="float16"),
    _mutant("memory:RunningStatsStoredInHalf", "running stats rounded to float16 before they are stored",
            "running_stats_after_one_train_step_match_the_closed_form", dtype="float16"),
    # --- the functional and pure forms -------------------------------------------------------
    _mutant("forms:functional_output_in_float64", "functional form: a float16 input gives a float64 output",
            "functional_form_takes_half_input_with_running_stats_of_the_module_dtype "
            "the_output_has_the_input_shape_and_dtype", dtype="float32", form="functional-numpy"),
    _mutant("forms:functional_half_input_skips_the_update",
            "functional form: a float16 input leaves the running stats as they were",
            "functional_form_takes_half_input_with_running_stats_of_the_module_dtype", dtype="float32",
            form="functional-numpy"),
    _mutant("forms:pure_init_running_var_zero", "pure form: init gives running_var zeros",
            "pure_init_gives_a_fresh_state the_tutorial_worked_examples", form="pure"),
    _mutant("forms:pure_apply_modifies_the_state", "pure form: apply updates the running stats passed in",
            "pure_apply_leaves_the_state_passed_in_unchanged", form="pure"),
)
