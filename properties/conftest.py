"""Hypothesis profiles (``dev`` fast, ``ci`` bounded, ``thorough`` long campaigns), chosen by
the environment variable REFGRAD_HYPOTHESIS_PROFILE (default: ``ci`` under CI, else ``dev``).
The engine fixtures come from the plugin properties/engines.py, shared with tests/."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


# The engine fixture only hands over a module, so sharing it across examples is safe.
_SUPPRESS = [HealthCheck.function_scoped_fixture]
for _name, _examples in (("dev", 25), ("ci", 100), ("thorough", 2000)):
    settings.register_profile(_name, max_examples=_examples, deadline=None, print_blob=True, suppress_health_check=_SUPPRESS)
settings.load_profile(os.environ.get("REFGRAD_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
