"""A pytest plugin for benchmarks/speed.py --order: run the properties broadest and cheapest first.

A prototype of an ordering for conformance/plugin.py (which the benchmark may not change): with
-x, or when watching a run, the first failure comes sooner when the properties that most bugs
fail, and that cost least, run first. pytest otherwise runs the modules alphabetically
(test_defaults first, test_running_stats last), and a bug in the running stats is reported
after nearly the whole suite.

The order: the tutorial's worked examples (two fixed inputs, fails for a third of the mutant
set), the fresh module's mode, then the oracle comparisons of the train output, the running
stats and the eval output, then the cheap checks (defaults, errors, state and dtype hygiene),
the gradients, the forms; every other property after these, in its usual order. Each
property's implementation x dtype tests stay together, in their usual order. The ranking is a
list of property ids; a property missing from it (a new one) runs after the listed ones.
"""

from __future__ import annotations

import pytest

PRIORITY = (
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
_RANK = {p: i for i, p in enumerate(PRIORITY)}


def conformance_order(items):
    """The items, properties ranked by PRIORITY (stable: ties keep pytest's order)."""
    def key(pair):
        i, item = pair
        if "subject" not in getattr(getattr(item, "callspec", None), "params", {}):
            return (len(PRIORITY) + 1, i)  # not a conformance property: after them, in order
        prop = getattr(item, "originalname", item.name).removeprefix("test_")
        return (_RANK.get(prop, len(PRIORITY)), i)

    return [item for _, item in sorted(enumerate(items), key=key)]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    items[:] = conformance_order(items)
