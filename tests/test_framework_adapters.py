"""The framework adapters (impls/keras_bn.py, impls/onnxruntime_bn.py, impls/flax_bn.py): skipped
with their reason where the framework is missing, conventions mapped, differences kept.

The mapping tests run where the framework is installed (keras and onnxruntime are in the dev
extra; flax is optional) and compare with torch.nn.BatchNorm1d on small fixed inputs.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conformance.candidates import registry
from conformance.candidates.errors import Unavailable
from conformance.impls import flax_bn, keras_bn, onnxruntime_bn
from conformance.impls.framework_shell import decay
from conformance.spec.cases import Config

torch = pytest.importorskip("torch")

ADAPTERS = {  # registered name: (factory, the modules it needs, the extra that installs them)
    "keras": (keras_bn.make, ("keras",), "keras"),
    "onnxruntime": (onnxruntime_bn.make, ("onnx", "onnxruntime"), "onnxruntime"),
    "flax": (flax_bn.make, ("jax", "flax"), "flax"),
    "flax-nnx": (flax_bn.make_nnx, ("jax", "flax"), "flax"),
}


def installed(name: str):
    """The factory of ``name``, or a skip when its framework is not installed here."""
    factory, modules, _ = ADAPTERS[name]
    for m in modules:
        pytest.importorskip(m)
    return factory


def x_ncl(seed=0, shape=(4, 3, 5), dtype=np.float32):
    """(N, C, L) with C != L and a different offset per channel, so a wrong axis shows."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + np.array([1.0, -2.0, 0.5]).reshape(1, 3, 1)).astype(dtype)


def torch_bn(momentum=0.25, eps=1e-3, **kw):
    return torch.nn.BatchNorm1d(3, eps=eps, momentum=momentum, **kw)


# --- a framework that is not installed ------------------------------------------------------------


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_a_missing_framework_makes_the_factory_unavailable_with_the_extra_to_install(name, monkeypatch):
    factory, modules, extra = ADAPTERS[name]
    monkeypatch.setenv("JAX_ENABLE_X64", "1")  # flax_bn sets it when absent: keep the session's environment
    monkeypatch.setitem(sys.modules, modules[0], None)  # `import X` now fails as if X were not installed
    installs = rf"pip install 'batchnorm-conformance\[{extra}\]'"
    with pytest.raises(Unavailable, match=rf"^{extra} is not installed: {installs}"):
        factory(2, dtype=np.float32)
    impl = registry.resolve(name)  # the registry turns it into a skip reason, not an error
    assert impl.unavailable.startswith(f"{extra} is not installed"), impl


def test_importing_the_adapters_imports_no_framework():
    import subprocess

    code = ("import sys, conformance.impls.keras_bn, conformance.impls.onnxruntime_bn, conformance.impls.flax_bn; "
            "print(sorted(m for m in ('keras', 'onnxruntime', 'onnx', 'jax', 'flax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_framework_skips_the_suite_with_its_reason(pytester, run_conformance, report_section):
    """End to end: a keras that cannot be imported (shadowed in the scratch directory)."""
    pytester.makepyfile(keras="raise ImportError('simulated: no keras here')")
    result = run_conformance("--pyargs", "conformance", "--impl=keras", "-k", "train_output_matches_the_oracle", "-rs")
    assert result.ret == pytest.ExitCode.OK, result.text
    result.assert_outcomes(skipped=2)
    assert "keras is not installed: pip install 'batchnorm-conformance[keras]'" in result.text
    assert any("keras-float32: NOT CHECKED" in line for line in report_section(result.text, "batchnorm conformance"))


# --- declarations --------------------------------------------------------------------------------------


def test_the_declarations():
    for factory in (keras_bn.make, onnxruntime_bn.make, flax_bn.make, flax_bn.make_nnx):
        assert factory.conformance_form == "numpy"
        assert factory.conformance_dtypes == ("float32", "float64")
        assert {"counter", "rank_check", "backward"} <= set(factory.conformance_lacks)
        assert callable(factory.conformance_framework)
    assert "constructor" in flax_bn.make.conformance_lacks  # linen has no default mode
    assert "constructor" not in flax_bn.make_nnx.conformance_lacks


def test_momentum_is_converted_to_the_decay_of_the_old_value():
    assert decay(0.1) == pytest.approx(0.9) and decay(0.0) == 1.0 and decay(1.0) == 0.0
    with pytest.raises(ValueError, match="no counterpart"):
        decay(None)


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_the_registry_declares_what_the_adapter_lacks(name):
    installed(name)
    impl = registry.resolve(name)
    assert impl.form == "numpy" and impl.unavailable is None
    assert "counter" not in impl.capabilities and "rank_check" not in impl.capabilities


# --- conventions mapped ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_train_output_and_running_mean_match_torch_on_n_c_l_input(name):
    """Channel axis 1 on (N, C, L), momentum 0.25 converted, eps passed: the output and the
    running mean (which has no bias question) are torch's."""
    bn = installed(name)(3, eps=1e-3, momentum=0.25, affine=True, track_running_stats=True, dtype=np.float32)
    ref = torch_bn()
    x = x_ncl()
    bn.train()
    y = bn(x)
    want = ref(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean, ref.running_mean.numpy(), rtol=0, atol=1e-6)
    assert bn.num_batches_tracked == 0  # the suite's value, held: the frameworks keep no counter


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_eval_uses_the_running_stats_that_were_set(name):
    bn = installed(name)(3, eps=1e-3, momentum=0.25, affine=True, track_running_stats=True, dtype=np.float64)
    ref = torch_bn().double().eval()
    state = {"weight": [1.5, -0.5, 0.0], "bias": [0.25, 1.0, -2.0], "running_mean": [0.5, -1.0, 2.0],
             "running_var": [2.0, 0.5, 1.0]}
    with torch.no_grad():
        for k, v in state.items():
            getattr(ref, k).copy_(torch.tensor(v))
            setattr(bn, k, np.array(v, dtype=np.asarray(getattr(bn, k)).dtype))
    bn.eval()
    x = x_ncl(dtype=np.float64)
    np.testing.assert_allclose(bn(x), ref(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(bn.running_mean, np.array(state["running_mean"], bn.running_mean.dtype))


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_without_tracking_and_affine_there_is_no_state_and_batch_statistics_are_used(name):
    bn = installed(name)(3, eps=1e-3, momentum=0.25, affine=False, track_running_stats=False, dtype=np.float32)
    assert bn.weight is bn.bias is bn.running_mean is bn.running_var is bn.num_batches_tracked is None
    x = x_ncl(1)
    want = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None, training=True, eps=1e-3).numpy()
    for mode in (True, False):
        bn.train(mode)
        np.testing.assert_allclose(bn(x), want, rtol=0, atol=1e-5)
        assert bn.running_mean is None


# --- differences kept, not corrected -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_the_biased_running_variance_of_the_framework_is_kept(name):
    bn = installed(name)(3, eps=1e-3, momentum=0.25, affine=True, track_running_stats=True, dtype=np.float64)
    x = x_ncl(2, dtype=np.float64)
    bn.train()
    bn(x)
    per_channel = x.transpose(1, 0, 2).reshape(3, -1)
    np.testing.assert_allclose(bn.running_var, 0.75 + 0.25 * per_channel.var(axis=1), rtol=1e-5)  # not ddof=1


def test_keras_defaults_are_keras_own(monkeypatch):
    installed("keras")
    bn = keras_bn.make(3, dtype=np.float32)
    layer = bn._layer(2)
    assert (layer.momentum, layer.epsilon, layer.axis) == (0.99, 1e-3, 1)
    assert bn.training is False  # a direct call of a Keras layer runs inference
    explicit = keras_bn.make(3, eps=1e-5, momentum=0.1, dtype=np.float32)._layer(3)
    assert explicit.momentum == pytest.approx(0.9) and explicit.epsilon == 1e-5


def test_onnx_defaults_leave_the_attributes_unset():
    installed("onnxruntime")
    node = onnxruntime_bn.model("float32").graph.node[0]
    assert node.op_type == "BatchNormalization" and node.attribute == []  # ONNX's epsilon 1e-5, momentum 0.9
    trained = onnxruntime_bn.model("float64", 1e-3, 0.75, training=True).graph.node[0]
    assert {a.name: a for a in trained.attribute}["training_mode"].i == 1
    assert list(trained.output) == ["Y", "running_mean", "running_var"]
    assert onnxruntime_bn.make(3, dtype=np.float32).training is False


def test_keras_float64_is_computed_in_float32_and_the_adapter_leaves_it():
    """Keras 3 promotes float64 to float32 outside TensorFlow: a real difference, reported."""
    installed("keras")
    x = x_ncl(3, dtype=np.float64)
    bn = keras_bn.make(3, eps=1e-3, momentum=0.25, dtype=np.float64).train()
    y = bn(x)
    want = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None, training=True, eps=1e-3).numpy()
    assert y.dtype == np.float64
    assert 1e-9 < np.abs(y - want).max() < 1e-5


def test_a_framework_deviation_is_reported_end_to_end(run_conformance, report_section):
    """Through the plugin: ONNX Runtime's biased running_var fails the property and the diagnosis
    names it; the batch-counter property is not applicable, with the declared reason."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    result = run_conformance("--pyargs", "conformance", "--impl=onnxruntime", "--dtype=float32", "-rs",
                             "-k", "running_stats_after_one_train_step or num_batches_tracked_counts",
                             "--max-examples", "20", "--hypothesis-seed", "1")  # a few random examples can all miss it
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.text
    result.assert_outcomes(failed=1, skipped=1)
    assert "it declares conformance_lacks" in result.text
    summary = "\n".join(report_section(result.text, "batchnorm conformance"))
    assert "onnxruntime-float32: DOES NOT CONFORM" in summary
    assert "fails: running_stats_after_one_train_step_match_the_closed_form" in summary
    assert "running_var matches the biased variance" in result.text  # the diagnosis, in words


def test_every_probe_of_the_diagnosis_runs_on_each_adapter():
    """The diagnosis names what each installed framework does (no crash, nothing left unnamed)."""
    from conformance import diagnosis

    for name, (_, modules, _) in ADAPTERS.items():
        if not all(_importable(m) for m in modules):
            continue
        d = diagnosis.diagnose(registry.resolve(name), "float32")
        assert d.status == "matched", (name, d)
        assert "biased_running_var" in [x["name"] for x in d.deviations], (name, d)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_the_instance_interface_reads_and_sets_the_adapter_state():
    installed("onnxruntime")
    impl = registry.resolve("onnxruntime")
    inst = impl.make(Config(3, eps=1e-3, momentum=0.25), "float32")
    state = inst.get_state()
    assert state.num_batches_tracked == 0 and list(state.running_var) == [1.0, 1.0, 1.0]
    inst.train(True)
    inst.forward(x_ncl())
    assert inst.get_state().num_batches_tracked == 0
