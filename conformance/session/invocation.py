"""What the command line asks for: the suite's own paths, whether this run is aimed at it, and the candidates."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conformance.candidates import registry
from conformance.candidates.registry import Implementation, ImplementationError
from conformance.isolation import proxy

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DEFAULT_IMPL = "numpy"
_IMPLS = pytest.StashKey[list[Implementation]]()


def rewrite_positional_args(config: pytest.Config) -> None:
    """``pytest conformance`` where no ./conformance exists runs the installed suite.

    Only the positional arguments (config.args, what pytest collects) are rewritten: option
    values such as ``-k conformance`` or ``-m conformance`` are left alone."""
    if not config.option.pyargs:
        config.args[:] = [_installed_path(a) for a in config.args]


def _installed_path(arg: str) -> str:
    head, sep, rest = arg.partition("::")
    parts = Path(head).parts
    if parts and parts[0] == "conformance" and not Path(head).exists():
        return str(PACKAGE_DIR.joinpath(*parts[1:])) + sep + rest
    return arg


def all_property_ids() -> set[str]:
    """Every property id of the suite, whatever part of it a run collects."""
    ids = set()
    for path in PACKAGE_DIR.glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                ids.add(node.name.removeprefix("test_"))
    return ids


def runs_the_suite(config: pytest.Config) -> bool:
    """Whether this session runs the conformance properties (decides the header)."""
    if config.getoption("conformance_impls"):
        return True
    for arg in config.args:
        head = arg.split("::")[0]
        if config.option.pyargs:
            if head == "conformance" or head.startswith("conformance."):
                return True
            continue
        path = Path(config.invocation_params.dir, head).resolve()
        if path == PACKAGE_DIR or PACKAGE_DIR in path.parents:
            return True
    return False


def load(spec: str, config: pytest.Config, isolate: bool = False) -> Implementation:
    """An implementation, in a child process of its own unless ``--isolation=none`` (and not ``isolate``)."""
    if config.getoption("conformance_isolation", "process") == "none" and not isolate:
        return registry.resolve(spec)
    timeout, limit = config.getoption("conformance_call_timeout"), config.getoption("conformance_memory_limit")
    for name, value in (("--call-timeout", timeout), ("--memory-limit", limit)):
        if value < 0 or (name == "--call-timeout" and value == 0):
            raise pytest.UsageError(f"{name}={value:g}: must be positive")
    return proxy.resolve(spec, proxy.Limits(timeout, int(limit * (1 << 30)) or None))


def load_requested(config: pytest.Config) -> None:
    """Load every ``--impl`` given on the command line (each once); a bad one is a usage error."""
    specs = config.getoption("conformance_impls")
    if not specs:
        return
    try:
        config.stash[_IMPLS] = [load(spec, config) for spec in dict.fromkeys(specs)]
    except ImplementationError as e:
        raise pytest.UsageError(str(e)) from None


def implementations(config: pytest.Config) -> list[Implementation]:
    """The implementations of this run: ``--impl``, else the ``conformance_impl`` ini option, else numpy."""
    if _IMPLS not in config.stash:
        specs = config.getini("conformance_impl") or [DEFAULT_IMPL]
        try:
            config.stash[_IMPLS] = [load(s, config) for s in specs]
        except ImplementationError as e:
            raise pytest.UsageError(f"{e} (from the conformance_impl ini option)") from None
    return config.stash[_IMPLS]


def shape_pool(config: pytest.Config) -> str | None:
    """Why this run draws its shapes from the fixed pool (``--shapes``), or None where it does not."""
    shapes = config.getoption("conformance_shapes", "auto")
    if shapes == "pool":
        return "--shapes=pool"
    compiling = [impl.name for impl in implementations(config) if impl.compiles_per_shape and not impl.unavailable]
    if shapes == "auto" and compiling:
        return f"{', '.join(compiling)} compile{'s' * (len(compiling) == 1)} per input shape"
    return None


def loaded(config: pytest.Config) -> bool:
    return _IMPLS in config.stash
