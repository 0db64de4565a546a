"""The ``torch-compile`` implementation (impls/torch_compile.py): where inductor cannot compile,
it is skipped with the reason; where it can, an instance is torch's module, compiled."""

from __future__ import annotations

import pytest

from conformance.candidates import registry
from conformance.impls import flax_bn, keras_bn, torch_compile

torch = pytest.importorskip("torch")


def test_where_inductor_cannot_compile_the_implementation_is_skipped_with_the_reason(monkeypatch):
    def no_compiler(self, *args, **kwargs):
        raise RuntimeError("simulated: no working C++ compiler\nmore detail")

    monkeypatch.setattr(torch_compile, "_CHECKED", {})
    monkeypatch.setattr(torch.nn.Module, "compile", no_compiler)
    impl = registry.resolve("torch-compile")  # the registry turns it into a skip reason, not an error
    assert impl.unavailable == ("torch-compile: torch.compile cannot compile on this machine: RuntimeError: "
                                "simulated: no working C++ compiler"), impl.unavailable


def test_the_module_is_torchs_compiled_and_the_pool_is_declared_where_shapes_recompile():
    module = torch_compile.make(3, eps=0.5)
    assert type(module) is torch.nn.BatchNorm1d and module.eps == 0.5
    assert module._compiled_call_impl is not None
    for factory in (flax_bn.make, flax_bn.make_nnx, keras_bn.make):
        assert factory.conformance_compiles_per_shape is True
    assert registry.resolve("flax-nnx").compiles_per_shape and not registry.resolve("numpy").compiles_per_shape
