"""A pytest plugin (load with ``-p fast_profile``) registering the Hypothesis profile ``plugin_tests``.

It is the conformance ``dev`` profile without the explain phase, which alone takes
seconds per failing property; the plugin's tests use it where a failing property is
expected but its explanation is not what they check. It is also a user's own profile,
which the plugin must honour.
"""

from hypothesis import Phase, settings

from conformance.strategies import profiles  # noqa: F401  registers "dev"

settings.register_profile(
    "plugin_tests",
    parent=settings.get_profile("dev"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
