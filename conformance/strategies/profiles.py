"""Hypothesis profiles, applied to the conformance properties only.

dev       fast feedback while writing a candidate (30 examples, example database on)
ci        derandomized and reproducible, 100 examples, no database, no explain phase; the default when CI is set
thorough  1000 examples, for a release

The plugin chooses one (``--hypothesis-profile``, else ``ci`` under CI=true, else ``dev``)
and derives from it for ``--max-examples`` and ``--hypothesis-seed``. The choice never
touches ``settings.default``, so other Hypothesis tests in the same session keep theirs.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import InvalidArgument

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                       HealthCheck.filter_too_much], print_blob=True)
# Registered under private names: Hypothesis has a built-in "ci" profile, which it loads itself under
# CI; registering ours as "ci" would replace the settings of every test suite in the environment.
_PRIVATE = "batchnorm-conformance:"
# Parent: Hypothesis' own defaults, not whatever profile is loaded (under CI Hypothesis loads its "ci").
_base = settings.get_profile("default")
settings.register_profile(_PRIVATE + "dev", _base, max_examples=30, **_common)
# ci leaves out Hypothesis' explain phase: for these properties the lines it lists are the suite's
# own assertion helpers and the one argument is st.data(), and it delays the first failure.
settings.register_profile(_PRIVATE + "ci", _base, max_examples=100, derandomize=True, database=None,
                          phases=[p for p in _base.phases if p is not Phase.explain], **_common)
settings.register_profile(_PRIVATE + "thorough", _base, max_examples=1000, **_common)

PROFILES = ("dev", "ci", "thorough")

# Hypothesis' own plugin loads --hypothesis-profile=NAME: make dev and thorough loadable where nobody
# has registered them (never replacing a profile someone else registered, nor Hypothesis' "ci").
for _name in ("dev", "thorough"):
    try:
        settings.get_profile(_name)
    except InvalidArgument:
        settings.register_profile(_name, settings.get_profile(_PRIVATE + _name))

_active: dict = {"name": None, "base": None, "settings": None}


def default_profile_name() -> str:
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev"


def choose(profile: str | None = None, *, max_examples: int | None = None, seed: int | None = None) -> str:
    """Pick the profile the properties run under; returns its (possibly derived) name."""
    name = profile or default_profile_name()
    base_name = name
    base = settings.get_profile(_PRIVATE + name if name in PROFILES else name)
    changes: dict[str, Any] = {}
    if max_examples is not None:
        changes["max_examples"] = max_examples
    if seed is not None and base.derandomize:
        changes["derandomize"] = False  # a derandomized run ignores seeds; an explicit seed wins
    if changes:
        name = name + "".join(f"-{k}={v}" for k, v in changes.items())
        base = settings(parent=base, **changes)  # not registered: nobody loads it by name
    _active["name"], _active["base"], _active["settings"] = name, base_name, base
    return name


def active() -> settings:
    if _active["settings"] is None:
        choose()
    return _active["settings"]


def active_name() -> str:
    active()
    return _active["name"]


def active_base_name() -> str:
    """The profile as chosen (``--hypothesis-profile`` or the default), before --max-examples/--hypothesis-seed."""
    active()
    return _active["base"]


def conformance_settings(test):
    """Decorator for every property: run it under the chosen profile."""
    return settings(active())(test)
