"""Random programs with data-dependent control flow: refgrad's gradients agree with the
oracles on the path each run takes, and with PyTorch on the very same script."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

import refgrad as rg
from refgrad import _pointwise
from properties.campaign import FAILING, Values, check
from properties.programs import Assign, Decision, Loop, Script, cases, features, run


@given(case=cases())
def test_gradients_agree_with_the_oracles(case: tuple[Script, Values]) -> None:
    script, values = case
    note(script.source())
    for feature in features(script):
        event(feature)
    event(f"b of shape {script.shapes[1]}")
    checked = check(script, values)
    if checked.outcome in FAILING:
        pytest.fail(f"refgrad disagrees with the oracles ({checked.outcome}); standalone reproducer:\n\n{checked.reproducer}")


@settings(max_examples=max(5, settings().max_examples // 4))  # a symbolic Hessian costs more
@given(case=cases(max_statements=4))
def test_second_derivatives_agree_with_the_oracles(case: tuple[Script, Values]) -> None:
    script, values = case
    note(script.source())
    checked = check(script, values, order=2)
    if checked.outcome in FAILING:
        pytest.fail(f"refgrad's second derivatives disagree with the oracles ({checked.outcome}); reproducer:\n\n{checked.reproducer}")


def graph_names(output: Any) -> list[str]:
    """The class names of every node of the graph behind ``output``, sorted (a multiset)."""
    names, seen, stack = [], set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return sorted(names)


SOFTMAX_TIE = (
    Script(
        inputs=("a", "b"),
        body=(
            Assign(target="v1", op="softmax", args=("a",), dim=0),
            Loop(variable="v1", thresholds=(0.5,), body=(Assign(target="v1", op="sin", args=("a",), dim=None),), bound=1),
        ),
        outputs=("v1",),
        shapes=((2, 3),),
    ),
    {"a": [[0.0, 1.2656, 0.0], [1.0, 0.0, 0.0]], "b": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]},
)
"""Found by CI: the mean of a softmax over 2 rows is 1/2 up to rounding, and refgrad and
PyTorch round it to different sides of the loop's threshold 0.5."""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@given(case=cases(), dtype=st.sampled_from(["float64", "float32"]))
@example(case=SOFTMAX_TIE, dtype="float64")
def test_values_gradients_and_graphs_equal_pytorchs(case: tuple[Script, Values], dtype: str) -> None:
    import torch

    script, values = case
    note(script.source())
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-4, 1e-5)  # float32: summation orders differ
    results, paths = [], []
    for engine in (rg, torch):
        x = engine.tensor(values["a"], dtype=getattr(engine, dtype), requires_grad=True)
        y = engine.tensor(values["b"], dtype=getattr(engine, dtype), requires_grad=True)
        decisions: list[Decision] = []
        out = run(script, engine, {"a": x, "b": y}, decisions=decisions)
        out.backward()
        assert all(t.grad is None or str(t.grad.dtype).endswith(dtype) for t in (x, y))
        grads = [np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy() for t in (x, y)]
        results.append((out.item(), grads, graph_names(out)))
        paths.append(decisions)
    ours, theirs = paths
    parting = next((i for i, (d, e) in enumerate(zip(ours, theirs)) if d[0] != e[0]), None)
    if parting is not None:
        # Rounding decides a tie (a softmax's mean is exactly 1/n in exact arithmetic) either
        # way, so the engines may take different paths: at a tie, and nowhere else.
        tie = 1e-9 if dtype == "float64" else 1e-4
        assert abs(ours[parting][1]) <= tie and abs(theirs[parting][1]) <= tie, (ours, theirs)
        event("the engines part at a tie")
        return
    assert len(ours) == len(theirs)
    (value, grads, names), (torch_value, torch_grads, torch_names) = results
    np.testing.assert_allclose(value, torch_value, rtol=rtol, atol=atol)
    for ours_grad, torch_grad in zip(grads, torch_grads):
        np.testing.assert_allclose(ours_grad, torch_grad, rtol=rtol, atol=atol)
    assert names == torch_names


WRONG_TANH = "from refgrad import _pointwise\n_pointwise.TanhBackward0.vjp = lambda self, grad, result: (grad * (1 - result),)\n"
"""A deliberately wrong rule (1 - tanh instead of 1 - tanh²), as source for a reproducer."""


def test_a_wrong_rule_fails_the_property_with_a_shrunk_reproducer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject the wrong tanh rule: the property fails, Hypothesis shrinks the program to a
    few statements, and the printed reproducer fails on its own with the wrong rule and
    passes with the right one."""
    monkeypatch.setattr(_pointwise.TanhBackward0, "vjp", lambda self, grad, result: (grad * (1 - result),))
    property_test = settings(max_examples=300, database=None, derandomize=True, suppress_health_check=list(HealthCheck))(
        test_gradients_agree_with_the_oracles
    )
    with pytest.raises(pytest.fail.Exception) as failure:
        property_test()
    monkeypatch.undo()
    reproducer = str(failure.value).split("standalone reproducer:\n\n", 1)[1]
    program = reproducer[reproducer.index("def program") : reproducer.index("    return")]
    # shrunk: a few straight-line statements around the tanh (unshrunk scripts nest and run to 6)
    assert program.count(" = ") <= 3 and "rg.tanh(" in program and "if " not in program, program
    outcomes: list[int] = []
    for prefix in ("", WRONG_TANH):
        path = tmp_path / f"reproducer{len(outcomes)}.py"
        path.write_text(prefix + reproducer)
        outcomes.append(subprocess.run([sys.executable, str(path)], capture_output=True).returncode)
    assert outcomes[0] == 0 and outcomes[1] != 0
