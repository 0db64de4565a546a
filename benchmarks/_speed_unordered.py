"""A pytest plugin for benchmarks/speed.py --compare-order: undo conformance/ordering.py.

Loaded with ``-p _speed_unordered`` (benchmarks/ on PYTHONPATH): the tests run in pytest's own
collection order (modules alphabetically, test_defaults first), as before the suite ordered its
properties, so that the time to the first failure can be compared with and without the ordering.
"""

from __future__ import annotations

import pytest

_COLLECTED: dict[int, int] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Before any plugin reorders: note pytest's own order."""
    _COLLECTED.clear()
    _COLLECTED.update({id(it): i for i, it in enumerate(items)})


class _Restore:
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        """After every other plugin: back to pytest's own order."""
        items.sort(key=lambda it: _COLLECTED.get(id(it), len(_COLLECTED)))


def pytest_configure(config):
    config.pluginmanager.register(_Restore(), "speed-unordered-restore")
