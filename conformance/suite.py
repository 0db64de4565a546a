"""What the property modules share: the property decorator, ``needs`` and ``NotApplicable``.

A property reads::

    @needs("backward")
    @conformance_property
    def test_input_gradient_matches_finite_differences_in_float64(subject, data):
        if subject.dtype != "float64":
            raise NotApplicable("finite differences are checked in float64")
        case = data.draw(cst.cases(subject.dtype, values=cst.ordinary_inputs), label="case")
        ...
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.candidates import forms
from conformance.strategies.profiles import conformance_settings


def conformance_property(test=None, /, **strategies):
    """Decorator for every property: run it under the chosen profile, given ``data`` (``st.data()``)
    to draw from, or given ``strategies`` by name instead (``@example`` below it keeps working)::

        @conformance_property(name=st.sampled_from(NAMES))
        @example(name="2d_3x2")
        def test_named(subject, name): ...
    """
    if test is None:
        return functools.partial(conformance_property, **strategies)
    return conformance_settings(given(**(strategies or {"data": st.data()}))(test))


def needs(*capabilities: str):
    """Mark a property as meaningful only for candidate forms that have ``capabilities``."""
    unknown = set(capabilities) - set(forms.REASONS)
    if unknown:
        raise ValueError(f"unknown capabilities {sorted(unknown)}; known: {sorted(forms.REASONS)}")
    return pytest.mark.conformance_needs(*capabilities)


class NotApplicable(pytest.skip.Exception):  # type: ignore[name-defined]  # pytest types skip.Exception loosely
    """Raised by a property that does not apply to what was drawn or to this candidate (a dtype, a
    missing backward pass): pytest skips it, and the report counts it as not applicable."""

    # Printed as pytest's own Skipped is, whose "Skipped: " pytest and the report strip: the reason reads as given.
    __module__, __qualname__ = "builtins", "Skipped"

    def __init__(self, reason: str):
        super().__init__(f"not applicable: {reason}")
