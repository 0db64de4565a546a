"""The diagnosis names the known deviation of a buggy implementation, says "not in the catalog"
for a bug it does not know, and never raises. In process: a diagnosis is a few calls per probe.
"""

from __future__ import annotations

import numpy as np
import pytest

from conformance import diagnosis
from conformance.candidates import registry, replay
from conformance.diagnosis import CATALOG, PROBES, Semantics, predict, variant
from tests.conftest import CANDIDATES
from tests.mutants import normalisation, running

MUTANTS = "tests.mutants."


@pytest.mark.parametrize("spec, entry", [
    (MUTANTS + "statistics:PerPositionStatistics", "per_position_pooling"),
    (MUTANTS + "statistics:UnbiasedNormalisation", "unbiased_normalisation"),
    (MUTANTS + "statistics:GlobalStatistics", "pooled_over_channels"),
    (MUTANTS + "running:BiasedRunningVar", "biased_running_var"),
    (MUTANTS + "running:MomentumReversed", "momentum_reversed"),
    (MUTANTS + "running:CumulativeAverageOffByOne", "cumulative_average_off_by_one"),
    (MUTANTS + "running:MomentumZeroAsNone", "momentum_zero_as_none"),
    (MUTANTS + "running:EvalUpdatesRunningStats", "eval_updates_running_stats"),
    (MUTANTS + "normalisation:EpsOutsideSqrt", "eps_outside_sqrt"),
    (MUTANTS + "modes:EvalUsesBatchStatistics", "eval_uses_batch_statistics"),
    (MUTANTS + "modes:DefaultEps1e3", "default_eps_1e_3"),
    (MUTANTS + "memory:WorksInPlaceOnTheInput", "modifies_its_input"),
    (MUTANTS + "torch_modules:PerPositionLoop", "per_position_calls"),
    (f"{CANDIDATES / 'eps_outside_sqrt.py'}:make", "eps_outside_sqrt"),
    (f"{CANDIDATES / 'per_position.py'}:make", "per_position_pooling"),
    (f"{CANDIDATES / 'unbiased_variance.py'}:make", "unbiased_normalisation"),
])
def test_a_known_deviation_is_named(spec, entry):
    if "torch_modules" in spec:
        pytest.importorskip("torch")
    d = diagnosis.diagnose(registry.resolve(spec), "float64")
    assert d.status == "matched", d
    names = [x["name"] for x in d.deviations]
    assert names[0] == entry, d
    # anything else named is a side finding that is also true (unbiased_variance.py has no channel check)
    assert all(diagnosis.BY_NAME[n].check for n in names[1:]), d
    assert d.verdict.startswith(diagnosis.BY_NAME[entry].verdict)


def test_the_verdict_says_what_the_implementation_does_and_what_torch_does():
    d = diagnosis.diagnose(registry.resolve(MUTANTS + "running:BiasedRunningVar"), "float32")
    assert d.verdict.startswith("running_var matches the biased variance: your implementation stores sigma^2, "
                                "torch stores sigma^2 * m/(m-1)"), d.verdict


class EpsOutsideAndBiasedRunningVar(normalisation.EpsOutsideSqrt, running.BiasedRunningVar):
    pass


def test_two_deviations_at_once_are_both_named():
    impl = registry.Implementation("two-bugs", "two-bugs", "two-bugs", EpsOutsideAndBiasedRunningVar,
                                  form="numpy")
    d = diagnosis.diagnose(impl, "float32")
    assert d.status == "matched", d
    assert {x["name"] for x in d.deviations} == {"eps_outside_sqrt", "biased_running_var"}


@pytest.mark.parametrize("spec", [f"{CANDIDATES / 'bias_twice.py'}:make",
                                  MUTANTS + "statistics:WelfordWrongUpdate"])
def test_a_bug_outside_the_catalog_is_reported_as_such(spec):
    d = diagnosis.diagnose(registry.resolve(spec), "float64", ["train_output_matches_the_oracle"])
    assert d.status == "not_in_catalog", d
    assert d.verdict.startswith("Not in the catalog:"), d.verdict
    assert d.deviations == [] and d.details, d  # no entry forced on it; what differs is listed


@pytest.mark.parametrize("spec", ["numpy", "mine", "numpy-functional", "numpy-pure", "torch", "torch-functional"])
def test_correct_implementations_show_no_deviation(spec):
    if spec.startswith("torch"):
        pytest.importorskip("torch")
    for dtype in ("float32", "float64"):
        d = diagnosis.diagnose(registry.resolve(spec), dtype, ["some_property"])
        assert d.deviations == [] and d.details == [], d
        assert "not in the catalog" in d.verdict.lower() and "some_property" in d.verdict


def test_a_candidate_that_crashes_while_probed_gets_probe_crashed():
    d = diagnosis.diagnose(registry.resolve(f"{CANDIDATES / 'hostile_crash.py'}:make"), "float32")
    assert d.status == "probe_crashed"
    assert d.verdict.startswith("probe crashed: ") and "RuntimeError" in d.verdict


def test_the_diagnosis_never_raises():
    def factory(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
        raise ZeroDivisionError("in the factory")

    impl = registry.Implementation("broken", "broken", "broken", factory, form="numpy")
    d = diagnosis.diagnose(impl, "float64")
    assert d.status == "probe_crashed" and "ZeroDivisionError" in d.verdict


# --- the catalog itself ------------------------------------------------------------------------------


def test_the_reference_semantics_is_the_oracle():
    """predict(Semantics()) reproduces replay.run_oracle on every probe."""
    for probe in PROBES:
        exp = replay.run_oracle(probe.case("float64"))
        seen = predict(Semantics(), probe)
        outputs = [o.value for o in seen if o.kind == "output"]
        for got, want, bound in zip(outputs, exp.outputs, exp.output_bounds):
            np.testing.assert_allclose(got, want, rtol=0, atol=float(np.max(bound)))
        rv = [o.value for o in seen if o.kind == "running_var" and o.label.startswith("call")]
        for got, want in zip(rv, exp.states):
            assert (got is None) == (want.running_var is None), probe.name
            if got is not None:
                np.testing.assert_allclose(got, want.running_var, rtol=1e-12)


@pytest.mark.parametrize("entry", [e for e in CATALOG if e.changes and e.aspect != "gradients"], ids=lambda e: e.name)
def test_every_variant_is_visible_on_the_probes(entry):
    """An entry the probes cannot tell from torch could never be named."""
    reference, changed = Semantics(), variant(entry)
    differs = False
    for probe in PROBES:
        for a, b in zip(predict(reference, probe), predict(changed, probe)):
            if a.value is None or b.value is None:
                differs = differs or (a.value is None) != (b.value is None)
            elif not np.allclose(np.asarray(a.value, float), np.asarray(b.value, float),
                                                       rtol=1e-3, atol=1e-6):
                differs = True
    assert differs


def test_every_entry_has_a_verdict_that_contrasts_with_torch():
    for e in CATALOG:
        assert ("torch" in e.verdict) and e.title and (bool(e.changes) != bool(e.check)), e


def test_a_candidate_that_rejects_one_configuration_still_gets_its_other_deviations_named():
    d = diagnosis.diagnose(registry.resolve(f"{CANDIDATES / 'biased_no_momentum_none.py'}:make"), "float64")
    assert d.status == "matched", d
    assert [x["name"] for x in d.deviations][0] == "biased_running_var", d
    assert "Not probed, the candidate could not run:" in d.verdict and "NotImplementedError" in d.verdict, d
    by = {a["aspect"]: a for a in d.aspects}
    assert by["cumulative_average"]["status"] == "unsupported" and by["running_update"]["status"] == "matched", d
