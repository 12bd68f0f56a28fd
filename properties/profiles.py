"""Hypothesis profiles, a pytest plugin (loaded by pyproject's addopts before any test module,
so that every ``settings(...)`` in tests/ and properties/ inherits the profile):

- ``dev``: quick and random, the default on a developer's machine;
- ``ci``: bounded and derandomized (the same examples on every run of the same code), so that
  CI judges the change and not the draw; random exploration is what ``dev``, ``thorough``
  and ``refgrad fuzz`` are for;
- ``thorough``: long random campaigns.

The environment variable REFGRAD_HYPOTHESIS_PROFILE chooses (default: ``ci`` under CI, else ``dev``)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


# The engine fixture only hands over a module, so sharing it across examples is safe.
_SUPPRESS = [HealthCheck.function_scoped_fixture]
for _name, _examples in (("dev", 25), ("ci", 100), ("thorough", 2000)):
    settings.register_profile(
        _name, max_examples=_examples, deadline=None, print_blob=True, suppress_health_check=_SUPPRESS, derandomize=_name == "ci"
    )
settings.load_profile(os.environ.get("REFGRAD_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
