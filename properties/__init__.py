"""Hypothesis property tests for refgrad: grad-mode isolation, accumulation semantics and (to
come) random programs with Python control flow checked against the oracles."""
