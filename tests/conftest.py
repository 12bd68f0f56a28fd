"""The engine under test is a parameter: every semantics test runs on refgrad and,
when it can be imported, on PyTorch itself (the reference for what the semantics are).

A test that states a PyTorch semantic takes the ``engine`` fixture (the module, used
as ``engine.tensor(...)``, ``engine.no_grad()``...), or the ``adapter`` fixture when it
needs how the engine names its types in messages. A deliberate refgrad deviation is
marked ``@pytest.mark.deviation("reason")``: it must then fail on refgrad (strict xfail)
and pass on torch. The fixtures come from the plugin properties/engines.py (loaded by
pyproject's addopts), shared with the property tests; ``pytest --engine NAME`` picks the engine.
"""
