"""Random programs with data-dependent control flow: refgrad's gradients agree with the
oracles on the path each run takes, and with PyTorch on the very same script."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, note

import refgrad as rg
from oracles.compare import compare
from oracles.trace import trace
from properties.programs import Script, features, inputs, run, scripts


def _traced(script: Script, a: list[list[float]], b: list[list[float]]) -> Any:
    def program(a: Any, b: Any) -> Any:
        return run(script, rg, {"a": a, "b": b})

    return trace(program, {"a": a, "b": b})


@given(script=scripts(), a=inputs, b=inputs)
def test_gradients_agree_with_the_oracles(script: Script, a: list[list[float]], b: list[list[float]]) -> None:
    note(script.source())
    for feature in features(script):
        event(feature)
    traced = _traced(script, a, b)
    report = compare(traced.program, traced.values)
    if report.verdict == "mismatch":
        expected = {i.name: (i.symbolic if i.symbolic is not None else i.numeric).tolist() for i in report.inputs}
        reproducer = script.reproducer({"a": a, "b": b}, expected)
        pytest.fail(f"refgrad disagrees with the oracles; standalone reproducer:\n\n{reproducer}\n{report.to_text()}")


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


def test_a_reproducer_runs_on_its_own_and_fails_only_with_a_wrong_rule(tmp_path: Path) -> None:
    import subprocess
    import sys

    from properties.programs import Assign, Loop

    script = Script(
        ("a", "b"),
        (Loop("a", (0.0,), (Assign("v1", "sin", ("a",)),)), Assign("v2", "tanh", ("a",)), Assign("v3", "mul", ("v2", "b"))),
        "v3",
    )
    a, b = [[0.5, -1.0, 0.25], [1.5, 0.0, -0.75]], [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]
    traced = _traced(script, a, b)
    report = compare(traced.program, traced.values)
    expected = {i.name: i.symbolic.tolist() for i in report.inputs if i.symbolic is not None}
    reproducer = script.reproducer({"a": a, "b": b}, expected)
    wrong_rule = "from refgrad import _pointwise\n_pointwise.TanhBackward0.vjp = lambda self, grad, result: (grad * (1 - result),)\n"
    outcomes: list[int] = []
    for prefix in ("", wrong_rule):
        path = tmp_path / f"reproducer{len(outcomes)}.py"
        path.write_text(prefix + reproducer)
        outcomes.append(subprocess.run([sys.executable, str(path)], capture_output=True).returncode)
    assert outcomes[0] == 0 and outcomes[1] != 0
