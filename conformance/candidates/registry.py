"""From an ``--impl`` spec to an ``Implementation``.

A spec is a registered name (entry-point group ``batchnorm_conformance.impls``, where
this project registers numpy, torch, torch-cuda and mine), ``package.module:factory``
or ``path/to/file.py:factory``. Anything that cannot be loaded raises
``ImplementationError`` with one message naming what was tried.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from conformance.candidates import forms
from conformance.candidates.adapter import (
    FunctionalInstance,
    NumpyArrays,
    NumpyInstance,
    PureInstance,
    TorchArrays,
    TorchInstance,
    is_torch_module,
)
from conformance.candidates.errors import CandidateError, ImplementationError, Unavailable, candidate_raised, raised
from conformance.candidates.forms import FORMS
from conformance.candidates.instance import Instance
from conformance.spec import dtypes as dt
from conformance.spec.cases import Config

__all__ = ["GROUP", "Implementation", "ImplementationError", "Subject", "Unavailable", "registered", "resolve"]

GROUP = "batchnorm_conformance.impls"
DTYPES = dt.CORE
FUNCTIONAL_PARAMS = ("running_mean", "running_var")


def registered() -> dict[str, str]:
    """Registered names and the ``module:attr`` they point to."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


@dataclass
class Implementation:
    """A loaded factory: builds instances of the candidate in a given dtype."""

    name: str
    spec: str
    target: str  # what the spec resolved to (module:attr)
    factory: Any  # the callable (or init/apply pair) the spec names
    form: str = "module"
    dtypes: tuple[str, ...] = DTYPES
    unavailable: str | None = None  # a reason to skip, when the factory says it cannot run here
    lacks: tuple[str, ...] = ()  # capabilities of its form that it declares it does not have
    framework: str = ""  # the version of what it runs, in words
    device: str | None = None  # where its arrays live, once an instance has been built
    compiles_per_shape: bool = False  # declared: each new input shape compiles (the run then draws from a pool)

    @property
    def capabilities(self) -> frozenset[str]:
        return forms.capabilities(self.form, self.lacks)

    def make(self, config: Config, dtype) -> Instance:
        """Construct with every argument given explicitly."""
        return self._built(self._build(config, dtype, config.kwargs()))

    def make_default(self, num_features: int, dtype) -> Instance:
        """Construct as ``factory(C)``: the defaults are the candidate's own."""
        if "constructor" not in self.capabilities:
            raise CandidateError(f"{self.name}: the {self.form} form has no constructor defaults")
        return self._built(self._build(Config(num_features), dtype, {}))

    def _built(self, inst: Instance) -> Instance:
        self.device = inst.device
        return inst

    def _build(self, config: Config, dtype, kwargs: dict) -> Instance:
        dtype = np.dtype(dtype)
        if self.form == "pure":
            return PureInstance(self.name, dtype, config, self.factory)
        if self.form.startswith("functional"):
            arrays = TorchArrays() if self.form == "functional-torch" else NumpyArrays()
            return FunctionalInstance(self.name, dtype, config, self.factory, arrays)
        try:
            if self.form == "numpy":
                obj = self.factory(config.num_features, dtype=dtype.type, **kwargs)
            else:
                obj = self.factory(config.num_features, **kwargs)
        except BaseException as e:
            if not candidate_raised(e):
                raise
            raise CandidateError(
                f"{self.name}: factory({config.num_features}, {_kw(kwargs)}) raised {raised(e)}") from e
        if self.form == "module":
            if not is_torch_module(obj):
                raise CandidateError(f"{self.name}: factory returned {type(obj).__name__}, not a torch.nn.Module")
            return TorchInstance(self.name, dtype, config, obj)
        return NumpyInstance(self.name, dtype, config, obj)

    def notes(self) -> list[str]:
        """What this run learnt about it that the report should say (a tightened call timeout, say)."""
        return []

    def describe(self) -> str:
        return f"{self.name} ({self.target}, {self.form} form, {', '.join(self.dtypes)})"


def _kw(kwargs):
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _load_attr(spec: str):
    """Import ``module:attr`` or ``path/file.py:attr``."""
    where, _, attr = spec.rpartition(":")
    if not where or not attr:
        raise ImplementationError(f"--impl={spec}: expected package.module:factory or path/to/file.py:factory")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ImplementationError(f"--impl={spec}: no such file {str(path)!r}")
        modname = f"_conformance_candidate_{path.stem}"
        try:
            mod_spec = importlib.util.spec_from_file_location(modname, path)
            if mod_spec is None or mod_spec.loader is None:
                raise ImportError(f"no loader for {str(path)!r}")
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[modname] = module
            mod_spec.loader.exec_module(module)
        except BaseException as e:
            if not candidate_raised(e):
                raise
            raise ImplementationError(f"--impl={spec}: importing {str(path)!r} raised {raised(e)}") from e
    else:
        try:
            module = importlib.import_module(where)
        except BaseException as e:
            if not candidate_raised(e):
                raise
            raise ImplementationError(f"--impl={spec}: cannot import module {where!r}: {raised(e)}") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImplementationError(f"--impl={spec}: module {where!r} has no attribute {attr!r}") from None


def _form_of(spec: str, factory, declared: str | None) -> str:
    """The candidate's form, declared or read from its signature, never guessed from an exception.

    In order: a ``@form`` suffix on the spec; a ``conformance_form`` attribute; an object
    with ``init`` and ``apply`` (pure); a signature whose 2nd and 3rd parameters are
    running_mean and running_var (functional-torch); a required ``dtype`` parameter
    (numpy); else what ``factory(2)`` returns (module or numpy object)."""
    declared = declared or getattr(factory, "conformance_form", None)
    if declared is not None:
        if declared not in FORMS:
            raise ImplementationError(f"--impl={spec}: form {declared!r} is not one of: {', '.join(FORMS)}")
        if declared == "numpy":
            _check_builds(spec, factory, dtype=np.float32)
        elif declared == "module":
            _check_builds(spec, factory)
        elif declared == "pure":
            _check_inits(spec, factory)
        return declared
    if callable(getattr(factory, "init", None)) and callable(getattr(factory, "apply", None)):
        _check_inits(spec, factory)
        return "pure"
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if tuple(params)[1:3] == FUNCTIONAL_PARAMS:
        return "functional-torch"
    p = params.get("dtype")
    if p is not None and p.default is inspect.Parameter.empty:
        _check_builds(spec, factory, dtype=np.float32)
        return "numpy"
    try:
        probe = factory(2)
    except Unavailable:
        raise
    except BaseException as e:
        if not candidate_raised(e):
            raise
        raise ImplementationError(f"--impl={spec}: factory(2) raised {raised(e)}") from e
    if is_torch_module(probe):
        return "module"
    if callable(probe) and hasattr(probe, "train") and hasattr(probe, "eval"):
        return "numpy"
    raise ImplementationError(
        f"--impl={spec}: factory(2) returned {type(probe).__name__}, which matches no candidate form. The forms: "
        "a factory returning a torch.nn.Module or a NumPy object (__call__, train, eval, state attributes); "
        "a function with torch.nn.functional.batch_norm's signature (functional-torch, functional-numpy); "
        "an object with init and apply (pure). Declare one with a suffix, e.g. --impl=pkg.mod:fn@functional-numpy"
    )


def _check_builds(spec: str, factory, **kwargs) -> None:
    """Build one instance now, so that a factory that cannot build is one usage error, not a failure
    per property, and one that raises Unavailable is skipped."""
    _probe(spec, "factory", factory, **kwargs)


def _check_inits(spec: str, pure) -> None:
    """The pure form's ``init``, probed as ``_check_builds`` probes a factory."""
    _probe(spec, "init", pure.init, affine=True, track_running_stats=True, dtype=np.float32)


def _probe(spec: str, called: str, fn, **kwargs) -> None:
    try:
        fn(2, **kwargs)
    except Unavailable:
        raise
    except BaseException as e:
        if not candidate_raised(e):
            raise
        shown = "".join(f", {k}={getattr(v, '__name__', v)}" for k, v in kwargs.items())
        raise ImplementationError(f"--impl={spec}: {called}(2{shown}) raised {raised(e)}") from e


def resolve(spec: str) -> Implementation:
    full = spec
    head, sep, tail = spec.rpartition("@")  # an optional form declaration: pkg.mod:fn@functional-numpy
    declared = tail if sep and tail in FORMS else None
    spec = head if declared else spec
    names = registered()
    if spec in names:
        name, target = spec, names[spec]
    elif ":" in spec:
        name, target = spec, spec
    else:
        listed = ", ".join(sorted(names)) or "(none)"
        raise ImplementationError(
            f"--impl={spec}: unknown implementation. Registered names: {listed}; "
            "or give package.module:factory or path/to/file.py:factory"
        )
    factory = _load_attr(target) if target is spec else _load_registered(spec, target)
    is_pure = hasattr(factory, "init") and hasattr(factory, "apply")
    if not callable(factory) and not is_pure:
        raise ImplementationError(f"--impl={spec}: {target} is a {type(factory).__name__}, not a callable factory")
    dtypes = tuple(getattr(factory, "conformance_dtypes", DTYPES))
    lacks = tuple(getattr(factory, "conformance_lacks", ()))
    compiles = bool(getattr(factory, "conformance_compiles_per_shape", False))
    name = full if declared else name
    try:
        form = _form_of(spec, factory, declared)
    except Unavailable as e:
        return Implementation(name, full, target, factory, dtypes=dtypes, unavailable=str(e),
                              framework=framework_of(target, factory), compiles_per_shape=compiles)
    try:
        forms.capabilities(form, lacks)
    except ValueError as e:
        raise ImplementationError(f"--impl={spec}: {e}") from None
    return Implementation(name, full, target, factory, form=form, dtypes=dtypes, lacks=lacks,
                          framework=framework_of(target, factory), compiles_per_shape=compiles)


def framework_of(target: str, factory) -> str:
    """The version of what a factory runs, in words: its ``conformance_framework`` (a callable
    returning a description, or distribution names), else the distribution holding its module."""
    described = getattr(factory, "conformance_framework", None)
    if callable(described):
        try:
            return str(described())
        except Exception:  # noqa: BLE001 - e.g. Unavailable: the framework is not installed
            return "not installed"
    module = target.partition(":")[0]
    names = list(described or metadata.packages_distributions().get(module.split(".")[0], [])[:1])
    return ", ".join(_version(n) for n in names)


def _version(distribution: str) -> str:
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return f"{distribution} (not installed)"


def _load_registered(spec, target):
    try:
        return _load_attr(target)
    except ImplementationError as e:
        raise ImplementationError(f"{e} (registered name {spec!r} -> {target})") from e


@dataclass(frozen=True)
class Subject:
    """One implementation in one dtype: what a property test receives."""

    impl: Implementation
    dtype: str

    @property
    def state_dtype(self) -> str:
        """The module's dtype: float32 for half input (mixed precision), else the input's."""
        return dt.state_dtype(self.dtype)

    def make(self, config: Config) -> Instance:
        """Build the candidate for ``config``; a configuration its form cannot express
        (momentum=None without a batch counter) is not applicable: Hypothesis discards it."""
        if config.momentum is None and "counter" not in self.impl.capabilities:
            from hypothesis import reject

            reject()
        return self.impl.make(config, self.state_dtype)

    def make_default(self, num_features: int) -> Instance:
        return self.impl.make_default(num_features, self.state_dtype)

    @property
    def id(self) -> str:
        return f"{self.impl.name}-{self.dtype}"

    def __repr__(self) -> str:
        return self.id

    def _repr_pretty_(self, p, cycle):  # how Hypothesis prints the falsifying example
        p.text(self.id)
