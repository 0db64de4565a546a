"""The order the properties run in: broadest and cheapest first.

With ``-x``, or while watching a run, the first failure comes sooner when the properties
that most bugs fail, and that cost least, run first; pytest's own order is alphabetical by
module (test_defaults first, test_running_stats last). First the tutorial's worked examples
(two fixed inputs), the fresh module's mode, then the oracle comparisons of the train output,
the running stats and the eval output, the defaults, errors, hygiene, gradients and forms;
every property not listed after these, in pytest's order. Each property's implementation x
dtype tests stay together. The order is fixed: pytest-xdist workers collect the same list.
(Measured with benchmarks/speed.py: time to the first failure on the mutant set.)
"""

from __future__ import annotations

FIRST = (
    "the_tutorial_worked_examples",
    "a_fresh_module_is_in_training_mode",
    "train_output_matches_the_oracle",
    "running_stats_after_one_train_step_match_the_closed_form",
    "eval_output_uses_the_running_stats",
    "a_fresh_module_normalises_with_eps_1e_5_and_identity_affine",
    "a_fresh_module_updates_running_stats_with_momentum_0_1",
    "input_of_rank_other_than_2_or_3_raises_value_error",
    "a_channel_count_other_than_num_features_raises",
    "one_value_per_channel_raises_value_error_when_batch_statistics_are_used",
    "eval_changes_no_state",
    "pure_init_gives_a_fresh_state",
    "pure_apply_leaves_the_state_passed_in_unchanged",
    "functional_form_takes_half_input_with_running_stats_of_the_module_dtype",
    "the_output_has_the_input_shape_and_dtype",
    "the_state_keeps_the_module_dtype",
    "the_input_is_never_modified",
    "train_gradients_match_the_closed_form",
    "eval_gradients_use_the_running_stats_and_reach_no_buffer",
)
_RANK = {p: i for i, p in enumerate(FIRST)}


def reorder(items: list, is_property, property_id) -> None:
    """Sort the conformance properties in ``items`` in place, among the places they hold;
    other tests keep theirs."""
    places = [i for i, it in enumerate(items) if is_property(it)]
    ours = sorted((items[i] for i in places), key=lambda it: _RANK.get(property_id(it), len(FIRST)))  # stable
    for i, it in zip(places, ours):
        items[i] = it
