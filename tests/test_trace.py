"""Tracing Python functions written with refgrad into programs for the oracles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import refgrad as rg
from oracles.compare import compare
from oracles.interpret import run_numpy
from oracles.trace import TraceError, trace


def seed(a: Any, b: Any) -> Any:
    return 3 * a**3 - b**2


def with_control_flow(a: Any, b: Any) -> Any:
    q = 3 * a**3 - b**2
    if q.sum() > 0:  # data decides: a constant tensor joins on this path
        q = q * rg.tensor([1.0, 2.0])
    steps = 0
    while (q * q).sum() < 50.0 and steps < 5:
        q = q.tanh() * 2.0 + a.exp()
        steps += 1
    return rg.softmax(q, 0).sum(0, keepdim=True) + q.reshape(1, 2).mean()


def test_the_seed_traces_to_the_seed_program() -> None:
    traced = trace(seed, {"a": [2.0, 3.0], "b": [6.0, 4.0]})
    assert [op.name for op in traced.program.ops] == ["pow", "mul", "pow", "sub"]
    report = compare(traced.program, traced.values)
    assert report.verdict == "agree"
    assert report.inputs[0].engine.tolist() == [36.0, 81.0]


@pytest.mark.parametrize("point", [[0.9, 1.2], [0.2, 0.1], [-0.4, 0.3]])
def test_control_flow_takes_one_path_per_point(point: list[float]) -> None:
    inputs = {"a": point, "b": [0.5, 0.25]}
    traced = trace(with_control_flow, inputs)
    # the program computes what the function computed on this path
    np.testing.assert_allclose(run_numpy(traced.program, traced.values), traced.output.detach().numpy(), rtol=1e-14)
    assert compare(traced.program, traced.values).verdict == "agree"


def test_a_constant_made_inside_becomes_a_constant_input() -> None:
    traced = trace(with_control_flow, {"a": [0.9, 1.2], "b": [0.5, 0.25]})
    assert traced.constants == ("_c0",)
    assert traced.values["_c0"].tolist() == [1.0, 2.0]


def test_the_branch_decision_stays_in_the_program() -> None:
    """Near the boundary of an ``if``, the numeric oracle's stencil would take the other
    path: the recorded comparison makes it say so (not smooth), never a mismatch."""

    def branchy(a: Any) -> Any:
        if a.sum() > 0:
            return (a * 2).sum()
        return (a * 3).sum()

    traced = trace(branchy, {"a": [1e-9, 0.0]})
    assert "gt" in traced.program.op_names()
    report = compare(traced.program, traced.values)
    assert report.verdict == "agree"  # the symbolic oracle decides on the path taken
    assert not report.inputs[0].smooth.any()  # every stencil crossed the branch


def test_an_op_outside_the_vocabulary_is_refused() -> None:
    def uses_max(a: Any) -> Any:
        return (a.max() * 2).sum()  # max() returns values only: amax is the oracles' op

    with pytest.raises(TraceError, match="without coming from a recorded operation"):
        trace(uses_max, {"a": [1.0, 2.0]})


def test_tracing_leaves_refgrad_as_it_was() -> None:
    before = (rg.sin, rg.Tensor.__add__, rg.Tensor.sum)
    trace(seed, {"a": [2.0, 3.0], "b": [6.0, 4.0]})
    assert (rg.sin, rg.Tensor.__add__, rg.Tensor.sum) == before


def test_a_wrong_engine_rule_is_caught_through_a_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from refgrad import _pointwise

    def wrong_tanh(self: Any, grad: Any, result: Any) -> Any:
        return (grad * (1 - result),)

    monkeypatch.setattr(_pointwise.TanhBackward0, "vjp", wrong_tanh)
    traced = trace(with_control_flow, {"a": [0.2, 0.1], "b": [0.5, 0.25]})
    assert compare(traced.program, traced.values).verdict == "mismatch"


def test_positional_attributes_of_variadic_ops_are_kept() -> None:
    """cat([x, y], 1) passes dim positionally: dropping it would trace a cat along dim 0."""
    traced = trace(lambda a: rg.cat([a, a.flip((1,))], 1).sin().sum(), {"a": [[1.0, 2.0], [3.0, 4.0]]})
    assert traced.program.ops[1].name == "cat" and dict(traced.program.ops[1].attrs) == {"dim": 1}
    assert compare(traced.program, traced.values).verdict == "agree"
