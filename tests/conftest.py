"""The engine under test is a parameter: every semantics test runs on refgrad and,
when it can be imported, on PyTorch itself (the reference for what the semantics are).

A test that states a PyTorch semantic takes the ``engine`` fixture (the module, used
as ``engine.tensor(...)``, ``engine.no_grad()``...). A deliberate refgrad deviation is
marked ``@pytest.mark.deviation("reason")``: it must then fail on refgrad (strict xfail)
and pass on torch. The fixtures live in properties/engines.py, shared with the property tests.
"""

from properties.engines import _grad_modes_left_as_found, engine  # noqa: F401  (fixtures)
