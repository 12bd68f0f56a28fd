"""Random programs with data-dependent control flow: refgrad's gradients agree with the
oracles on the path each run takes, and with PyTorch on the very same script."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note

import refgrad as rg
from oracles.compare import compare
from oracles.trace import trace
from properties.programs import Script, inputs, run, scripts


def _traced(script: Script, a: list[list[float]], b: list[list[float]]) -> Any:
    def program(a: Any, b: Any) -> Any:
        return run(script, rg, {"a": a, "b": b})

    return trace(program, {"a": a, "b": b})


@given(script=scripts(), a=inputs, b=inputs)
def test_gradients_agree_with_the_oracles(script: Script, a: list[list[float]], b: list[list[float]]) -> None:
    note(script.source())
    traced = _traced(script, a, b)
    report = compare(traced.program, traced.values)
    assert report.verdict != "mismatch", f"{script.source()}\n\n{report.to_text()}"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@given(script=scripts(), a=inputs, b=inputs)
def test_values_and_gradients_equal_pytorchs(script: Script, a: list[list[float]], b: list[list[float]]) -> None:
    import torch

    note(script.source())
    results = []
    for engine in (rg, torch):
        x = engine.tensor(a, dtype=engine.float64, requires_grad=True)
        y = engine.tensor(b, dtype=engine.float64, requires_grad=True)
        out = run(script, engine, {"a": x, "b": y})
        out.backward()
        grads = [np.zeros((2, 3)) if t.grad is None else t.grad.numpy() for t in (x, y)]
        results.append((out.item(), grads, type(out.grad_fn).__name__))
    (value, grads, name), (torch_value, torch_grads, torch_name) = results
    np.testing.assert_allclose(value, torch_value, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(grads, torch_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert name == torch_name
