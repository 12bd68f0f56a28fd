"""The engine under test is a parameter: every semantics test runs on refgrad and,
when it can be imported, on PyTorch itself (the reference for what the semantics are).

A test that states a PyTorch semantic takes the ``engine`` fixture (the module, used
as ``engine.tensor(...)``, ``engine.no_grad()``...), or the ``adapter`` fixture when it
needs how the engine names its types in messages. A deliberate refgrad deviation is
marked ``@pytest.mark.deviation("reason")``: it must then fail on refgrad (strict xfail)
and pass on torch. The fixtures come from the plugin properties/engines.py (loaded by
pyproject's addopts), shared with the property tests; ``pytest --engine NAME`` picks the engine.
"""

from collections.abc import Iterator

import pytest

import refgrad as rg


@pytest.fixture
def restore_refgrad_state() -> Iterator[None]:
    """For code that may change refgrad's default dtype or grad mode (doc pages, user-style
    typing examples): the tests after it must not see that."""
    dtype, grad_enabled = rg.get_default_dtype(), rg.is_grad_enabled()
    try:
        yield
    finally:
        rg.set_default_dtype(dtype)
        rg.set_grad_enabled(grad_enabled)
