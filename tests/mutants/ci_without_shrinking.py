"""A pytest plugin for the mutant runs: the suite's ``ci`` profile without the shrink phase.

Loaded with ``-p tests.mutants.ci_without_shrinking --hypothesis-profile=ci-without-shrinking``.
It registers that profile as the suite's ``ci`` profile (derandomized, 100 examples) with
the shrink and explain phases removed. The examples generated are the same and so is
every verdict: a property fails on the first failing example whether or not it is shrunk
afterwards. Only the counterexample reported is not minimised; shrinking it is what made
a caught mutant cost seconds, up to minutes, per property instead of a fraction of one.
"""

from hypothesis import Phase, settings

from conformance.strategies import profiles

NAME = "ci-without-shrinking"

profiles.choose("ci")  # the suite's ci settings; the plugin chooses again, by NAME, when it configures
settings.register_profile(NAME, parent=profiles.active(),
                          phases=[p for p in profiles.active().phases if p not in (Phase.shrink, Phase.explain)])
