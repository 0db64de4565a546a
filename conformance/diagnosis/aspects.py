"""The aspects of BatchNorm1d's semantics that the diagnosis judges one by one, and which failing
properties each can explain.

An aspect is judged on probes of its own (``probes.PROBES`` with its name, or the gradient probes)
or on side checks, with every earlier aspect's named entries folded into the prediction (``after``:
the aspects its probes also exercise). A failing property is explained when an aspect that can
produce it is named; one that no named aspect can produce is listed as unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Aspect:
    name: str
    title: str
    after: tuple[str, ...] = ()  # aspects whose behaviour its probes also show
    resets: tuple[str, ...] = ()  # Semantics fields judged afresh here (the cumulative average's convention)


ASPECTS: tuple[Aspect, ...] = (
    Aspect("precision", "precision (float32 arithmetic, eps in float32, narrow state, cancellation)"),
    Aspect("normalising_variance", "the normalising variance", ("precision",)),
    Aspect("eps", "eps placement", ("precision", "normalising_variance")),
    Aspect("affine", "the affine transform", ("precision", "normalising_variance", "eps")),
    Aspect("running_update", "the running update with a numeric momentum", ("precision", "normalising_variance")),
    Aspect("cumulative_average", "momentum=None's cumulative average",
           ("precision", "normalising_variance", "running_update"), resets=("momentum",)),
    Aspect("pooling", "the pooling axes and channels", ("precision", "normalising_variance", "eps", "running_update")),
    Aspect("eval", "the eval statistics", ("precision", "normalising_variance", "eps", "running_update", "pooling")),
    Aspect("counter", "num_batches_tracked and the tracked state", ("eval",)),
    Aspect("defaults", "factory(C)'s defaults",
           ("precision", "normalising_variance", "eps", "affine", "running_update", "eval", "counter", "pooling")),
    Aspect("input_errors", "the rank, channel-count and one-value errors"),
    Aspect("data_handling", "the input, its layout and the dtypes kept"),
    Aspect("gradients", "the gradients", ("precision", "normalising_variance", "eps", "affine", "pooling", "eval")),
)
BY_ASPECT = {a.name: a for a in ASPECTS}

_STATS = ("normalising_variance", "pooling", "precision", "data_handling")  # the batch statistics, the values read
_OUT = _STATS + ("eps", "affine")  # a train output
_RUN = _STATS + ("running_update", "cumulative_average", "counter")  # the running statistics

# Property id -> the aspects whose deviations can make it fail.
PROPERTY_ASPECTS: dict[str, tuple[str, ...]] = {
    "a_candidate_that_declares_no_batch_counter_keeps_none": ("counter",),
    "a_channel_count_other_than_num_features_raises": ("input_errors",),
    "a_fresh_module_has_zero_mean_unit_variance_running_stats": ("defaults", "eval"),
    "a_fresh_module_is_in_training_mode": ("defaults",),
    "a_fresh_module_normalises_with_eps_1e_5_and_identity_affine": ("defaults",) + _OUT,
    "a_fresh_module_updates_running_stats_with_momentum_0_1": ("defaults",) + _RUN,
    "affine_output_is_weight_times_normalised_plus_bias": _OUT,
    "channels_are_independent": _STATS + ("data_handling",),
    "constant_channels_give_finite_output_equal_to_the_bias": _OUT,
    "eval_after_train_calls_uses_the_updated_running_stats": _RUN + ("eval", "eps", "affine"),
    "eval_changes_no_state": ("eval", "counter", "data_handling", "precision"),
    "eval_gradients_use_the_running_stats_and_reach_no_buffer": ("gradients", "eval"),
    "eval_output_does_not_depend_on_the_rest_of_the_batch": ("eval",),
    "eval_output_uses_the_running_stats": ("eval",) + _OUT,
    "eval_without_tracking_uses_batch_statistics": ("eval",) + _OUT,
    "functional_form_takes_half_input_with_running_stats_of_the_module_dtype": ("data_handling", "precision"),
    "input_gradient_matches_finite_differences_in_float64": ("gradients",) + _OUT,
    "input_of_rank_other_than_2_or_3_raises_value_error": ("input_errors",),
    "momentum_none_is_the_cumulative_average": ("cumulative_average",) + _STATS,
    "momentum_one_stores_the_last_batch_statistics": _RUN,
    "momentum_zero_freezes_the_running_stats": ("running_update",),
    "negating_the_input_reflects_the_output_about_the_bias": _OUT,
    "num_batches_tracked_counts_train_calls_only": ("counter", "eval"),
    "one_value_per_channel_raises_value_error_when_batch_statistics_are_used": ("input_errors", "pooling", "eval"),
    "permuting_positions_permutes_the_output_and_keeps_the_running_stats": _STATS + ("data_handling",),
    "permuting_samples_permutes_the_output_and_keeps_the_running_stats": _STATS + ("data_handling",),
    "pure_apply_leaves_the_state_passed_in_unchanged": ("data_handling",),
    "pure_init_gives_a_fresh_state": ("defaults",),
    "running_stats_after_k_train_steps_match_the_closed_form": _RUN,
    "running_stats_after_one_train_step_match_the_closed_form": _RUN + ("data_handling",),
    "scaling_the_input_by_s_equals_scaling_eps_by_one_over_s_squared": _OUT,
    "statistics_pool_batch_and_length_together": _STATS + ("data_handling",),
    "the_input_is_never_modified": ("data_handling",),
    "the_output_for_thousands_of_values_per_channel_matches_the_oracle": _OUT,
    "the_output_has_the_input_shape_and_dtype": ("data_handling", "precision"),
    "the_state_keeps_the_module_dtype": ("data_handling", "precision"),
    "the_tutorial_worked_examples": _OUT + _RUN + ("defaults",),
    "train_gradients_match_the_closed_form": ("gradients",) + _OUT,
    "train_input_gradient_does_not_depend_on_the_bias": ("gradients",),
    "train_input_gradient_ignores_a_per_channel_constant_added_to_grad_output": ("gradients",),
    "train_input_gradient_sums_to_zero_per_channel": ("gradients",),
    "train_output_has_biased_variance_var_over_var_plus_eps": _OUT,
    "train_output_has_zero_mean_per_channel": _OUT,
    "train_output_is_invariant_to_a_per_channel_shift": _OUT,
    "train_output_matches_the_oracle": _OUT + ("data_handling",),
    "without_tracking_there_are_no_running_stats": ("counter",),
}
