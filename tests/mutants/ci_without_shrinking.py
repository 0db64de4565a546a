"""A pytest plugin for the mutant runs: the suite's ``ci`` profile without the shrink phase.

Loaded with ``-p tests.mutants.ci_without_shrinking`` next to ``--hypothesis-profile=ci``.
The examples are the same (derandomized, 100 per property) and so is every verdict: a
property fails on the first failing example whether or not it is shrunk afterwards.
Only the counterexample reported is not minimised; shrinking it is what made a caught
mutant cost seconds per property instead of a fraction of one.
"""

from hypothesis import Phase, settings

import conformance.profiles  # noqa: F401 - registers "ci"; redefined below, before the plugin chooses it

settings.register_profile(
    "ci", parent=settings.get_profile("ci"),
    phases=[p for p in settings.get_profile("ci").phases if p not in (Phase.shrink, Phase.explain)],
)
