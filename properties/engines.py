"""The engine under test, shared by tests/ and properties/: refgrad always, torch when it can
be imported. A deliberate refgrad deviation is marked ``@pytest.mark.deviation("reason")``:
it must then fail on refgrad (strict xfail) and pass on torch."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

ENGINES = ["refgrad"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> ModuleType:
    name: str = request.param
    deviation = request.node.get_closest_marker("deviation")
    if deviation is not None and name == "refgrad":
        request.applymarker(pytest.mark.xfail(reason=str(deviation.args[0]), strict=True))
    return importlib.import_module(name)


@pytest.fixture(autouse=True)
def _grad_modes_left_as_found() -> Iterator[None]:
    """Fails a test that leaves grad mode off or inference mode on in an engine (and turns
    grad mode back on, so that one leak does not fail the tests after it)."""
    yield
    leaked = []
    for name in ENGINES:
        module = sys.modules.get(name)
        if module is not None and (not module.is_grad_enabled() or module.is_inference_mode_enabled()):
            leaked.append(name)
            module.set_grad_enabled(True)
    assert not leaked, f"the test left grad mode changed in {leaked}"
