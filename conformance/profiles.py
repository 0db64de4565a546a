"""Hypothesis profiles, applied to the conformance properties only.

dev       fast feedback while writing a candidate (30 examples, example database on)
ci        derandomized and reproducible, 100 examples, no database; the default when CI is set
thorough  1000 examples, for a release

The plugin chooses one (``--hypothesis-profile``, else ``ci`` under CI=true, else ``dev``)
and derives from it for ``--max-examples`` and ``--hypothesis-seed``. The choice never
touches ``settings.default``, so other Hypothesis tests in the same session keep theirs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                       HealthCheck.filter_too_much], print_blob=True)
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("ci", max_examples=100, derandomize=True, database=None, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)

PROFILES = ("dev", "ci", "thorough")

_active: dict = {"name": None, "settings": None}


def default_profile_name() -> str:
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev"


def choose(profile: str | None = None, *, max_examples: int | None = None, seed: int | None = None) -> str:
    """Pick the profile the properties run under; returns its (possibly derived) name."""
    name = profile or default_profile_name()
    base = settings.get_profile(name)
    changes = {}
    if max_examples is not None:
        changes["max_examples"] = max_examples
    if seed is not None and base.derandomize:
        changes["derandomize"] = False  # a derandomized run ignores seeds; an explicit seed wins
    if changes:
        derived = name + "".join(f"-{k}={v}" for k, v in changes.items())
        settings.register_profile(derived, parent=base, **changes)
        name = derived
    _active["name"], _active["settings"] = name, settings.get_profile(name)
    return name


def active() -> settings:
    if _active["settings"] is None:
        choose()
    return _active["settings"]


def active_name() -> str:
    active()
    return _active["name"]


def conformance_settings(test):
    """Decorator for every property: run it under the chosen profile."""
    return settings(active())(test)
