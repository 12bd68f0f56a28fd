"""The oracles and the property strategies in user code. See typing_tensor.py for how
expected errors are marked."""

from __future__ import annotations

from typing import Literal, assert_type

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

import refgrad as rg
from oracles import expression, numeric, symbolic
from oracles.compare import InputReport, Report, Verdict, compare
from oracles.gradcheck import GradcheckError, gradcheck, gradgradcheck
from oracles.program import Program
from oracles.trace import Traced, trace
from properties.programs import Script, scripts

# compare: a typed report with a verdict from a closed set.
report = compare("3*a**3 - b**2", {"a": [2.0, 3.0], "b": [6.0, 4.0]})
assert_type(report, Report)
assert_type(report.verdict, Verdict)
assert_type(report.verdict, Literal["agree", "mismatch", "not-smooth", "non-finite", "unsupported"])
first: InputReport = report.inputs[0]
assert_type(first.engine, npt.NDArray[np.float64])
assert_type(first.symbolic, npt.NDArray[np.float64] | None)
assert_type(first.verdicts, list[Verdict])
assert_type(report.to_text(), str)
assert_type(report.dumps(), str)
if report.verdict == "mismatch":
    print(report.to_text())

# gradcheck / gradgradcheck: a bool, or GradcheckError.
x = rg.tensor([0.5, 1.5], dtype=rg.float64, requires_grad=True)


def cube(t: rg.Tensor) -> rg.Tensor:
    return t**3


assert_type(gradcheck(cube, (x,)), bool)
assert_type(gradgradcheck(cube, (x,), raise_exception=False), bool)
try:
    gradcheck(cube, (x,), fast_mode=True)
except GradcheckError as error:
    assert_type(error, GradcheckError)

# The program representation and the oracles on it.
program = expression.parse("sin(a) * b", {"a": (2,), "b": (2,)})
assert_type(program, Program)
assert_type(expression.names("sin(a) * b"), list[str])
assert_type(expression.unparse(program), str)
values = {"a": np.array([0.1, 0.2]), "b": np.array([1.0, 2.0])}
assert_type(symbolic.gradient(program, values, np.ones(2)), dict[str, npt.NDArray[np.float64]])
assert_type(symbolic.forward(program, values), npt.NDArray[np.float64])


def f(v: dict[str, npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    return np.sin(v["a"]) * v["b"]


numeric_gradient = numeric.central_gradient(f, values)
assert_type(numeric_gradient, numeric.NumericGradient)
assert_type(numeric_gradient.value, dict[str, npt.NDArray[np.float64]])
taylor = numeric.taylor_test(f, values, None, {"a": np.cos([0.1, 0.2]) * [1.0, 2.0], "b": np.sin([0.1, 0.2])})
assert_type(taylor.verdict, Literal["correct", "wrong", "inconclusive"])


def traced_function(a: rg.Tensor) -> rg.Tensor:
    return (a * a).sum()


traced = trace(traced_function, {"a": [1.0, 2.0]})
assert_type(traced, Traced)
assert_type(traced.program, Program)

# The random-program strategy.
assert_type(scripts(), st.SearchStrategy[Script])
assert_type(scripts(max_statements=3, max_depth=1), st.SearchStrategy[Script])


def reproduce(script: Script) -> str:
    return script.source()


def rejected(r: Report) -> None:
    r.verdict = "agree"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    compare("a", {"a": [1.0]}, dtype=64)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    expression.parse("a", {"a": 2})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]
    scripts(max_depth="2")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
