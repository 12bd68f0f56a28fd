"""The three-way comparison, and the calibration of the oracles: every deliberately wrong
engine rule is flagged (by the symbolic oracle, the numeric oracle and the Taylor test), and
correct rules raise no false alarm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from oracles.compare import Report, compare
from oracles.ops import OPS
from refgrad import _engine, _linalg, _pointwise, _shape
from refgrad._tensor import Tensor
from test_interpret import EXAMPLES

SEED = {"a": [2.0, 3.0], "b": [6.0, 4.0]}


def test_seed_agrees_on_all_three() -> None:
    report = compare("3*a**3 - b**2", SEED)
    assert report.verdict == "agree"
    a, b = report.inputs
    for values, expected in ((a, [36.0, 81.0]), (b, [-12.0, -8.0])):
        assert values.engine.tolist() == expected
        assert values.symbolic is not None and values.symbolic.tolist() == expected
        np.testing.assert_allclose(values.numeric, expected, rtol=1e-8)
        assert values.verdicts == ["agree", "agree"]
    assert report.taylor is not None and report.taylor.verdict == "correct"


def test_report_is_json_and_text() -> None:
    report = compare("sum(sqrt(a) * b)", {"a": [0.0, 4.0], "b": [1.0, 2.0]})
    encoded = json.loads(json.dumps(report.to_json()))
    assert encoded["inputs"][0]["engine"][0] == "inf"  # d sqrt(x)/dx at 0, written as a string
    assert "verdict:" in report.to_text()


def test_a_kink_is_not_a_mismatch() -> None:
    """relu at 0: the numeric stencil straddles the kink; the symbolic convention (0, as
    PyTorch) decides, so the element agrees."""
    report = compare("relu(a) * 3", {"a": [0.0, 1.0]})
    assert report.verdict == "agree"
    assert report.inputs[0].smooth.tolist() == [False, True]


# ----------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class Mutant:
    name: str
    expression: str
    inputs: dict[str, Any]
    target: Any
    attribute: str
    replacement: Any


def _wrong_pow(self: Any, grad: Tensor, input: Tensor) -> Any:
    return (grad * input ** (self.exponent - 1),)  # missing factor p


def _slightly_wrong_pow(self: Any, grad: Tensor, input: Tensor) -> Any:
    return (grad * (self.exponent * 1.0005) * input ** (self.exponent - 1),)  # 2.001 for 2


def _sign_flipped_exp(self: Any, grad: Tensor, result: Tensor) -> Any:
    return (-(grad * result),)


def _tanh_at_the_wrong_point(self: Any, grad: Tensor, result: Tensor) -> Any:
    return (grad * (1 - result),)  # 1 - tanh instead of 1 - tanh²


def _transposed_mm(self: Any, grad: Tensor, a: Tensor | None, b: Tensor | None) -> Any:
    return (None if b is None else _linalg.mm(grad, b), None if a is None else _linalg.mm(a.t(), grad))


def _dropped_path_mul(self: Any, grad: Tensor, input: Tensor | None, other: Any) -> Any:
    return (None if other is None else grad * other, None)  # one path of a*a never arrives


def _mean_instead_of_sum(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    summed = _shape.sum_to(grad, shape)
    return summed / (grad.numel() / max(summed.numel(), 1))  # a wrong broadcast reduction


MUTANTS = [
    Mutant("missing factor", "sum(a ** 3)", {"a": [0.5, 1.5]}, _pointwise.PowBackward0, "vjp", _wrong_pow),
    Mutant("2.001 for 2", "sum(a ** 2)", {"a": [0.5, 1.5]}, _pointwise.PowBackward0, "vjp", _slightly_wrong_pow),
    Mutant("sign flip", "sum(exp(a))", {"a": [0.5, -1.0]}, _pointwise.ExpBackward0, "vjp", _sign_flipped_exp),
    Mutant("wrong point", "sum(tanh(a))", {"a": [0.5, -1.0]}, _pointwise.TanhBackward0, "vjp", _tanh_at_the_wrong_point),
    Mutant(
        "transposed matmul",
        "sum(sin(a @ b))",
        {"a": [[0.1, 0.2], [0.3, 0.4]], "b": [[0.5, -0.6], [0.7, 0.8]]},
        _linalg.MmBackward0,
        "vjp",
        _transposed_mm,
    ),
    Mutant("dropped accumulation", "sum(a * a)", {"a": [0.5, 1.5]}, _pointwise.MulBackward0, "vjp", _dropped_path_mul),
    Mutant(
        "wrong broadcast reduction",
        "sum(sin(a * b))",
        {"a": [[0.1, 0.2], [0.3, 0.4]], "b": [0.5, -0.6]},
        _engine,
        "sum_to",
        _mean_instead_of_sum,
    ),
]


@pytest.fixture(scope="module")
def kill_table() -> Iterator[dict[str, dict[str, bool]]]:
    table: dict[str, dict[str, bool]] = {}
    yield table
    caught = sum(all(row.values()) for row in table.values())
    print(f"\ncalibration: {caught}/{len(table)} wrong rules flagged by all three checks")
    for name, row in table.items():
        print(f"  {name:<28}" + "  ".join(f"{check}={'yes' if hit else 'NO'}" for check, hit in row.items()))


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_wrong_rule_is_flagged(
    mutant: Mutant, monkeypatch: pytest.MonkeyPatch, kill_table: dict[str, dict[str, bool]]
) -> None:
    assert compare(mutant.expression, mutant.inputs).verdict == "agree"  # the correct rule passes
    monkeypatch.setattr(mutant.target, mutant.attribute, mutant.replacement)
    report = compare(mutant.expression, mutant.inputs)
    symbolic_flags = any(
        i.symbolic is not None and bool(np.any(np.abs(i.engine - i.symbolic) > i.tolerance_symbolic)) for i in report.inputs
    )
    numeric_flags = any(bool(np.any(i.smooth & (np.abs(i.engine - i.numeric) > i.tolerance_numeric))) for i in report.inputs)
    taylor_flags = report.taylor is not None and report.taylor.verdict == "wrong"
    kill_table[mutant.name] = {"symbolic": symbolic_flags, "numeric": numeric_flags, "taylor": taylor_flags}
    assert report.verdict == "mismatch"
    assert symbolic_flags and numeric_flags and taylor_flags


def _domain_values(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    low, high = OPS[name].domain
    return {spec.name: rng.uniform(low, high, spec.shape) for spec in EXAMPLES[name].inputs}


def test_no_false_alarms_on_correct_rules() -> None:
    """Every op, random points in its domain: nothing is called a mismatch; points where the
    numeric stencil was not smooth are counted."""
    rng = np.random.default_rng(20261126)
    verdicts: dict[str, int] = {}
    not_smooth = covered = checked = 0
    failures = []
    for name in sorted(EXAMPLES):
        for _ in range(3):
            report: Report = compare(EXAMPLES[name], _domain_values(name, rng))
            verdicts[report.verdict] = verdicts.get(report.verdict, 0) + 1
            not_smooth += sum(int((~i.smooth).sum()) for i in report.inputs)
            for i in report.inputs:  # does the numeric error estimate cover the exact (symbolic) error?
                assert i.symbolic is not None
                usable = i.smooth & np.isfinite(i.symbolic)
                checked += int(usable.sum())
                covered += int((usable & (np.abs(i.numeric - i.symbolic) <= i.numeric_error)).sum())
            if report.verdict == "mismatch":
                failures.append((name, report.to_text()))
    print(f"\nfalse-alarm run: {verdicts}; elements with a non-smooth stencil: {not_smooth}")
    print(f"numeric error estimate covers the exact error on {covered}/{checked} elements")
    assert failures == []
    assert covered >= 0.99 * checked


@pytest.mark.parametrize(
    ("expression", "inputs"),
    [
        ("sin(a)", {"a": []}),  # no elements (the Taylor direction once looped forever)
        ("sum(a, dim=0)", {"a": np.zeros((0, 3))}),  # a zero-size dimension keeps its shape
        ("sin(a)", {"a": [np.nan, 1.0]}),  # a nan in the output: the other elements still count
        ("softmax(a, dim=0)", {"a": [[-456.4, 0.003, 4.7], [-0.05, 2.19, -11.5]]}),  # cancelling terms ~1
        ("cos(square(a))", {"a": [79.995199695039]}),  # ill-conditioned: rounding of a² moves the gradient
        ("log_softmax(a, dim=0)", {"a": [[-2.0, 0.0, 2.0]]}),  # an exact 0 vs the symbolic 1e-41
        ("norm(a)", {"a": [1e-9]}),  # the stencil crosses |a|'s kink
        ("a @ sigmoid(a)", {"a": [1e-9, 0.0, -1e-9]}),  # the forward cancels inside the product
    ],
)
def test_correct_gradients_found_by_the_review_are_not_called_mismatches(expression: str, inputs: dict[str, Any]) -> None:
    assert compare(expression, inputs).verdict != "mismatch"


# ----------------------------------------------------------------------------- second order
def test_second_derivatives_of_the_seed() -> None:
    """d/dx <vᵀJ, u> with v = u = ones: 18a for 3a³ and -2 for -b²."""
    report = compare("3*a**3 - b**2", SEED, order=2)
    assert report.verdict == "agree" and report.order == 2
    a, b = report.inputs
    assert a.engine.tolist() == [36.0, 54.0] and b.engine.tolist() == [-2.0, -2.0]
    assert a.symbolic is not None and a.symbolic.tolist() == [36.0, 54.0]
    np.testing.assert_allclose(b.numeric, [-2.0, -2.0], rtol=1e-7)


def test_a_rule_right_at_first_order_but_not_differentiable_is_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sin rule computing cos(x) outside the graph gives exact first derivatives and a zero
    second derivative: order 1 agrees, order 2 is a mismatch (symbolic and numeric both)."""
    expression, inputs = "sum(sin(a) * b)", {"a": [0.5, -1.0], "b": [2.0, 3.0]}
    direction = {"a": [1.0, -0.5], "b": [0.25, 1.0]}
    assert compare(expression, inputs, order=2, direction=direction).verdict == "agree"
    monkeypatch.setattr(_pointwise.SinBackward0, "vjp", lambda self, grad, x: (grad * _pointwise.cos(x.detach()),))
    assert compare(expression, inputs).verdict == "agree"
    report = compare(expression, inputs, order=2, direction=direction)
    assert report.verdict == "mismatch"
    a = report.inputs[0]
    assert a.symbolic is not None and a.verdicts == ["mismatch", "mismatch"]
    assert bool(np.all(np.abs(a.engine - a.numeric) > a.tolerance_numeric))


def test_tolerance_options_widen_the_tolerance() -> None:
    tight = compare("sum(exp(a))", {"a": [0.5, -1.0]})
    loose = compare("sum(exp(a))", {"a": [0.5, -1.0]}, rounding_factor=64, atol=1e-3)
    for t, l in zip(tight.inputs, loose.inputs):
        assert bool(np.all(l.tolerance_symbolic - t.tolerance_symbolic >= 1e-3))
