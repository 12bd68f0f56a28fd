"""The engine under test: a pytest plugin shared by tests/ and properties/ (loaded by
``-p properties.engines`` in pyproject's addopts).

An engine is described by an :class:`EngineAdapter`: the module with the PyTorch-like API,
plus what the suite cannot learn from that module. The engines of a run are chosen by
``pytest --engine NAME`` (repeatable), else by the environment variable ``REFGRAD_ENGINE``
(comma-separated names), else they are refgrad and, when it can be imported, torch. A NAME
is ``refgrad``, ``torch``, or the dotted path of an importable module that either defines
``ENGINE`` (an adapter) or is itself the PyTorch-like API.

Every test that takes the ``engine`` fixture (the module) or the ``adapter`` fixture runs
once per engine; those tests are the conformance suite. A test an engine fails on purpose is
a deviation, a strict xfail with its reason: refgrad's are marked on the test,
``@pytest.mark.deviation("reason")``; another engine lists its own in ``adapter.deviations``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol, runtime_checkable

import pytest

ENV_VAR = "REFGRAD_ENGINE"


@runtime_checkable
class EngineAdapter(Protocol):
    """What the conformance suite needs to know about an engine.

    Errors are not adapted: an engine raises the Python exception types PyTorch raises
    (RuntimeError, TypeError, ...) or subclasses of them, since user code catches those."""

    @property
    def name(self) -> str:
        """The engine's name in test ids and reports (``refgrad``, ``torch``)."""
        ...

    @property
    def module(self) -> ModuleType:
        """The PyTorch-like API: ``tensor``, ``no_grad``, ``autograd.grad``, ..."""
        ...

    @property
    def type_prefix(self) -> str:
        """How the engine's messages name its types: ``torch`` in ``torch.Size([2])``."""
        ...

    @property
    def deviations(self) -> Mapping[str, str]:
        """Tests the engine fails on purpose, by id without parameters
        (``tests/test_semantics_graph.py::test_accumulate_grad_name``), with the reason."""
        ...


@dataclass(frozen=True)
class ModuleAdapter:
    """An engine that is an importable module, imported when first used."""

    name: str
    module_name: str
    type_prefix: str = ""  # empty: the module's name
    deviations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.type_prefix:
            object.__setattr__(self, "type_prefix", self.module_name)

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)

    def is_imported(self) -> bool:
        return self.module_name in sys.modules


BUILTIN: dict[str, EngineAdapter] = {name: ModuleAdapter(name, name) for name in ("refgrad", "torch")}


class EngineError(Exception):
    """An engine name that does not give an engine (the message says why)."""


def load_engine(spec: str) -> EngineAdapter:
    """The adapter named by ``spec``: ``refgrad``, ``torch``, or a module path whose module
    defines ``ENGINE`` or is itself the API (it then has at least ``tensor`` and ``autograd``)."""
    if spec in BUILTIN:
        if importlib.util.find_spec(spec) is None:
            raise EngineError(f"engine {spec!r} is not installed")
        return BUILTIN[spec]
    try:
        module = importlib.import_module(spec)
    except ImportError as error:
        raise EngineError(f"cannot import engine module {spec!r}: {error}") from error
    adapter = getattr(module, "ENGINE", None)
    if adapter is None:
        missing = [name for name in ("tensor", "autograd") if not hasattr(module, name)]
        if missing:
            raise EngineError(f"module {spec!r} has no ENGINE adapter and is not a PyTorch-like API (no {', '.join(missing)})")
        return ModuleAdapter(spec, spec)
    if not isinstance(adapter, EngineAdapter):
        missing = [name for name in ("name", "module", "type_prefix", "deviations") if not hasattr(adapter, name)]
        raise EngineError(f"{spec}.ENGINE is not an EngineAdapter (it has no {', '.join(missing)})")
    return adapter


def engine_names(option: list[str] | None, environment: Mapping[str, str]) -> list[str]:
    """The engines asked for: the ``--engine`` options, else ``REFGRAD_ENGINE``, else the default."""
    if option:
        return [n for value in option for n in value.split(",") if n]
    if names := [n.strip() for n in environment.get(ENV_VAR, "").split(",") if n.strip()]:
        return names
    return ["refgrad"] + (["torch"] if importlib.util.find_spec("torch") else [])


def base_id(nodeid: str) -> str:
    """A test's id without its parameters: ``tests/test_x.py::test_y[torch-2]`` -> ``tests/test_x.py::test_y``."""
    return nodeid.split("[", 1)[0]


def deviation_reason(item: pytest.Item, adapter: EngineAdapter) -> str | None:
    """Why ``adapter`` fails ``item`` on purpose: its ``deviation`` marker (refgrad's, unless
    the marker names another engine with ``engine=``), else the adapter's own list."""
    marker = item.get_closest_marker("deviation")
    if marker is not None and marker.kwargs.get("engine", "refgrad") == adapter.name:
        return str(marker.args[0])
    return adapter.deviations.get(base_id(item.nodeid))


_ENGINES = pytest.StashKey[list[EngineAdapter]]()


def engines_of(config: pytest.Config) -> list[EngineAdapter]:
    """The engines of this run, in order."""
    return config.stash[_ENGINES]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("conformance").addoption(
        "--engine",
        action="append",
        metavar="NAME",
        help=f"run the conformance tests on this engine only (repeatable; refgrad, torch or a module path; default: ${ENV_VAR}, else refgrad and torch)",
    )


def pytest_configure(config: pytest.Config) -> None:
    names = engine_names(config.getoption("engine"), os.environ)
    try:
        engines = [load_engine(name) for name in names]
    except EngineError as error:
        raise pytest.UsageError(str(error)) from None
    if len({e.name for e in engines}) < len(engines):
        raise pytest.UsageError(f"an engine is named twice: {names}")
    config.stash[_ENGINES] = engines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "adapter" in metafunc.fixturenames:
        engines = engines_of(metafunc.config)
        metafunc.parametrize("adapter", engines, ids=[e.name for e in engines])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        adapter = None if callspec is None else callspec.params.get("adapter")
        if isinstance(adapter, EngineAdapter) and (reason := deviation_reason(item, adapter)) is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture
def engine(adapter: EngineAdapter) -> ModuleType:
    """The engine's PyTorch-like module (one test per engine of the run)."""
    return adapter.module


def _imported_modules(engines: list[EngineAdapter]) -> Iterator[ModuleType]:
    """The engines' modules that are already imported (a check must not import torch)."""
    for adapter in engines:
        if not isinstance(adapter, ModuleAdapter) or adapter.is_imported():
            yield adapter.module


@pytest.fixture(autouse=True)
def _grad_modes_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that leaves grad mode off or inference mode on in an engine (and turns
    grad mode back on, so that one leak does not fail the tests after it)."""
    yield
    leaked = []
    for module in _imported_modules(engines_of(request.config)):
        if not module.is_grad_enabled() or module.is_inference_mode_enabled():
            leaked.append(module.__name__)
            module.set_grad_enabled(True)
    assert not leaked, f"the test left grad mode changed in {leaked}"
