"""The diagnosis entries the framework adapters needed, each named on a small NumPy candidate
that has the deviation (built on the mutant set's correct base), without the frameworks.
"""

from __future__ import annotations

import numpy as np
import pytest

from conformance import diagnosis
from conformance.candidates import registry
from tests.mutants.base import Reference
from tests.mutants.running import BiasedRunningVar


class ComputesInFloat32(Reference):
    """A float64 module that works in float32, as Keras 3 does outside TensorFlow."""

    def working_copy(self, x):
        return np.array(x, dtype=np.float32).astype(np.float64)

    def normalise(self, work, mean, var):
        return super().normalise(work, mean, var).astype(np.float32).astype(np.float64)


class EpsRoundedToFloat32(Reference):
    """eps stored as a 32-bit float, as an ONNX attribute is."""

    def __init__(self, num_features, eps=1e-5, *args, **kwargs):
        super().__init__(num_features, float(np.float32(eps)), *args, **kwargs)


class RunningStatsInFloat32(Reference):
    """float32 running statistics in a float64 module, as Flax's batch_stats are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.running_mean is not None:
            self.running_mean, self.running_var = (v.astype(np.float32) for v in (self.running_mean, self.running_var))


class KerasLike(BiasedRunningVar):
    """Keras' defaults in torch's convention (eps 1e-3, momentum 0.01, inference first) and its
    biased moving variance: four catalogued deviations at once."""

    initially_training = False

    def __init__(self, num_features, eps=1e-3, momentum=0.01, **kwargs):
        super().__init__(num_features, eps, momentum, **kwargs)


def names(cls, dtype):
    impl = registry.Implementation(cls.__name__, cls.__name__, cls.__name__, cls, form="numpy")
    d = diagnosis.diagnose(impl, dtype)
    assert d.status == "matched", d
    return [x["name"] for x in d.deviations]


@pytest.mark.parametrize("cls, entry", [(ComputesInFloat32, "computes_in_float32"),
                                        (EpsRoundedToFloat32, "eps_rounded_to_float32"),
                                        (RunningStatsInFloat32, "state_in_a_narrower_dtype")])
def test_a_float64_precision_deviation_is_named_and_float32_is_left_alone(cls, entry):
    assert names(cls, "float64") == [entry]
    impl = registry.Implementation(cls.__name__, cls.__name__, cls.__name__, cls, form="numpy")
    assert entry not in [x["name"] for x in diagnosis.diagnose(impl, "float32").deviations]


def test_several_defaults_are_named_alongside_a_behaviour_deviation():
    assert names(KerasLike, "float32") == ["biased_running_var", "default_eps_1e_3", "default_momentum_0_01",
                                          "starts_in_eval_mode"]


def test_a_candidate_that_declares_no_counter_is_not_probed_with_momentum_none():
    """The probes that need a capability the candidate lacks are not played (they would crash it)."""

    class NoCounter(BiasedRunningVar):
        def __init__(self, num_features, eps=1e-5, momentum=0.1, **kwargs):
            if momentum is None:
                raise ValueError("momentum=None has no counterpart here")
            super().__init__(num_features, eps, momentum, **kwargs)

    impl = registry.Implementation("nocounter", "nocounter", "nocounter", NoCounter, form="numpy",
                                   lacks=("counter",))
    d = diagnosis.diagnose(impl, "float32")
    # it keeps the Reference's counter: the declaration is checked, and found wrong
    assert d.status == "matched", d
    assert [x["name"] for x in d.deviations] == ["biased_running_var", "keeps_a_counter_it_declares_missing"], d
