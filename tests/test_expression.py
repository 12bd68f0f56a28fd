"""The safe expression language (oracles.expression): what it accepts, what it refuses and how
it says so, that nothing else can come out of it, and that programs survive a round trip.

- accepted expressions (every op of OPS) are checked by running the parsed program with the
  numpy interpreter against a numpy expression written here, and a few against the exact
  program expected;
- refused texts (every class of the spec, escape attempts included) pin the exact message;
- Hypothesis feeds the parser random text and token soup: it only ever returns a Program or
  raises ExpressionError, quickly;
- generated valid expressions survive ``parse(unparse(p)) == p`` and compute what they say;
- the module's own source never calls eval/exec/compile (read with ast).
"""

from __future__ import annotations

import ast
import contextlib
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracles import expression
from oracles.expression import MAX_DEPTH, MAX_LENGTH, ExpressionError, names, parse, unparse
from oracles.interpret import run_numpy
from oracles.ops import OPS
from oracles.program import Input, Op, Program, Ref

Array = npt.NDArray[np.float64]
Values = dict[str, Array]

SHAPES: dict[str, tuple[int, ...]] = {"a": (3,), "b": (3,), "x": (2, 3), "y": (2, 3), "m": (3, 4), "s": (3, 3)}
_rng = np.random.default_rng(7)
VALUES: Values = {
    "a": _rng.uniform(0.5, 2.0, 3),
    "b": _rng.uniform(0.5, 2.0, 3),
    "x": _rng.uniform(-1.5, 1.5, (2, 3)),
    "y": _rng.uniform(-1.5, 1.5, (2, 3)),
    "m": _rng.uniform(-1.5, 1.5, (3, 4)),
    "s": _rng.uniform(-1.5, 1.5, (3, 3)),
}


def _softmax(v: Array, axis: int) -> Array:
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


# --- the seed and exact programs -------------------------------------------------------------


def test_seed_expression_parses_to_the_expected_ops() -> None:
    program = parse("3*a**3 - b**2", {"a": (2,), "b": (2,)})
    assert program == Program(
        (Input("a", (2,)), Input("b", (2,))),
        (
            Op("pow", (Ref(0), 3.0)),
            Op("mul", (3.0, Ref(2))),
            Op("pow", (Ref(1), 2.0)),
            Op("sub", (Ref(3), Ref(4))),
        ),
    )
    assert program.source == "3*a**3 - b**2"
    assert all(type(arg) is float for op in program.ops for arg in op.args if not isinstance(arg, Ref))
    out = run_numpy(program, {"a": np.array([2.0, 3.0]), "b": np.array([6.0, 4.0])})
    np.testing.assert_array_equal(out, [3 * 8 - 36, 3 * 27 - 16])
    assert unparse(program) == "3 * a ** 3 - b ** 2"


EXACT: list[tuple[str, tuple[Input, ...], tuple[Op, ...]]] = [
    (
        "sum(a * b, dim=0)",
        (Input("a", (3,)), Input("b", (3,))),
        (Op("mul", (Ref(0), Ref(1))), Op("sum", (Ref(2),), (("dim", 0),))),
    ),
    ("clamp(x, min=0, max=1)", (Input("x", (2, 3)),), (Op("clamp", (Ref(0),), (("min", 0), ("max", 1))),)),
    # positional attributes become keywords, in the order of the forward's signature
    ("clamp(x, -0.5, 0.5)", (Input("x", (2, 3)),), (Op("clamp", (Ref(0),), (("min", -0.5), ("max", 0.5))),)),
    (
        "sum(x, keepdim=True, dim=(0, 1))",
        (Input("x", (2, 3)),),
        (Op("sum", (Ref(0),), (("dim", (0, 1)), ("keepdim", True))),),
    ),
    ("sum(x, dim=[1])", (Input("x", (2, 3)),), (Op("sum", (Ref(0),), (("dim", (1,)),)),)),
    ("sum(x, dim=None)", (Input("x", (2, 3)),), (Op("sum", (Ref(0),), (("dim", None),)),)),
    (
        "where(gt(x, 0), x, 0)",
        (Input("x", (2, 3)),),
        (Op("gt", (Ref(0), 0.0)), Op("where", (Ref(1), Ref(0), 0.0))),
    ),
    # a number on the left of a comparison moves to the right
    (
        "where(0 < x, x, -1)",
        (Input("x", (2, 3)),),
        (Op("gt", (Ref(0), 0.0)), Op("where", (Ref(1), Ref(0), -1.0))),
    ),
    (
        "where(le(1, x), x, y)",
        (Input("x", (2, 3)), Input("y", (2, 3))),
        (Op("ge", (Ref(0), 1.0)), Op("where", (Ref(2), Ref(0), Ref(1)))),
    ),
    # inputs in order of first appearance, not in the order of SHAPES
    ("cat([b, a], dim=0)", (Input("b", (3,)), Input("a", (3,))), (Op("cat", (Ref(0), Ref(1)), (("dim", 0),)),)),
    ("b * a + a", (Input("b", (3,)), Input("a", (3,))), (Op("mul", (Ref(0), Ref(1))), Op("add", (Ref(2), Ref(1))))),
    # numbers alone are folded; unary minus of a value is neg; unary plus is nothing
    ("-a * 2 ** 0.5", (Input("a", (3,)),), (Op("neg", (Ref(0),)), Op("mul", (Ref(1), 2**0.5)))),
    ("+a * (1 / 4)", (Input("a", (3,)),), (Op("mul", (Ref(0), 0.25)),)),
    ("a - -2", (Input("a", (3,)),), (Op("sub", (Ref(0), -2.0)),)),
    ("--a", (Input("a", (3,)),), (Op("neg", (Ref(0),)), Op("neg", (Ref(1),)))),
    ("add(2, a)", (Input("a", (3,)),), (Op("add", (2.0, Ref(0))),)),
    ("a * 1e-3 + 0x10", (Input("a", (3,)),), (Op("mul", (Ref(0), 0.001)), Op("add", (Ref(1), 16.0)))),
    (
        "m @ transpose(m, 0, 1)",
        (Input("m", (3, 4)),),
        (Op("transpose", (Ref(0),), (("dim0", 0), ("dim1", 1))), Op("matmul", (Ref(0), Ref(1)))),
    ),
]


@pytest.mark.parametrize(("text", "inputs", "ops"), EXACT, ids=[case[0] for case in EXACT])
def test_expression_parses_to_the_exact_program(text: str, inputs: tuple[Input, ...], ops: tuple[Op, ...]) -> None:
    program = parse(text, SHAPES)
    assert program == Program(inputs, ops)
    assert names(text) == [i.name for i in inputs]
    assert parse(unparse(program), SHAPES) == program


# --- accepted expressions, every op family, checked by running them ----------------------------

Reference = Callable[[Values], Any]

ACCEPTED: list[tuple[str, Reference]] = [
    # operators
    ("a + b", lambda v: v["a"] + v["b"]),
    ("a - 2", lambda v: v["a"] - 2),
    ("2 - a", lambda v: 2 - v["a"]),
    ("a * b", lambda v: v["a"] * v["b"]),
    ("a / b", lambda v: v["a"] / v["b"]),
    ("1 / a", lambda v: 1 / v["a"]),
    ("a ** 2", lambda v: v["a"] ** 2),
    ("2 ** a", lambda v: 2 ** v["a"]),
    ("a ** b", lambda v: v["a"] ** v["b"]),
    ("-a", lambda v: -v["a"]),
    ("-a ** 2", lambda v: -(v["a"] ** 2)),
    ("(-a) ** 2", lambda v: (-v["a"]) ** 2),
    ("a ** -1.5", lambda v: v["a"] ** -1.5),
    ("a ** 2 ** 0.5", lambda v: v["a"] ** (2**0.5)),
    ("x @ m", lambda v: v["x"] @ v["m"]),
    ("s @ s @ a", lambda v: v["s"] @ v["s"] @ v["a"]),
    ("x * a - y / 3", lambda v: v["x"] * v["a"] - v["y"] / 3),
    ("(a + b) * (a - b)", lambda v: (v["a"] + v["b"]) * (v["a"] - v["b"])),
    ("a - (b - a)", lambda v: v["a"] - (v["b"] - v["a"])),
    ("a / (b * a)", lambda v: v["a"] / (v["b"] * v["a"])),
    ("3*a**3 - b**2", lambda v: 3 * v["a"] ** 3 - v["b"] ** 2),
    (
        "sub(a, b) + mul(a, 2) + div(1, b) + pow(a, 3) + neg(b)",
        lambda v: (v["a"] - v["b"]) + v["a"] * 2 + 1 / v["b"] + v["a"] ** 3 - v["b"],
    ),
    ("matmul(x, m)", lambda v: v["x"] @ v["m"]),
    ("add(a, b)", lambda v: v["a"] + v["b"]),
    # pointwise
    ("exp(x)", lambda v: np.exp(v["x"])),
    ("expm1(x)", lambda v: np.expm1(v["x"])),
    ("log(a)", lambda v: np.log(v["a"])),
    ("log1p(a)", lambda v: np.log1p(v["a"])),
    ("sqrt(a)", lambda v: np.sqrt(v["a"])),
    ("rsqrt(a)", lambda v: 1 / np.sqrt(v["a"])),
    ("reciprocal(a)", lambda v: 1 / v["a"]),
    ("sin(x)", lambda v: np.sin(v["x"])),
    ("cos(x)", lambda v: np.cos(v["x"])),
    ("tan(x * 0.5)", lambda v: np.tan(v["x"] * 0.5)),
    ("tanh(x)", lambda v: np.tanh(v["x"])),
    ("sigmoid(x)", lambda v: 1 / (1 + np.exp(-v["x"]))),
    ("relu(x)", lambda v: np.maximum(v["x"], 0)),
    ("abs(x)", lambda v: np.abs(v["x"])),
    ("sign(x)", lambda v: np.sign(v["x"])),
    ("square(x)", lambda v: v["x"] ** 2),
    ("sin(a) * cos(b) + exp(-a * b)", lambda v: np.sin(v["a"]) * np.cos(v["b"]) + np.exp(-v["a"] * v["b"])),
    # clamps and extrema
    ("clamp(x, min=-0.5, max=0.5)", lambda v: np.clip(v["x"], -0.5, 0.5)),
    ("clamp(x, -0.5, 0.5)", lambda v: np.clip(v["x"], -0.5, 0.5)),
    ("clamp(x, max=0)", lambda v: np.minimum(v["x"], 0)),
    ("clamp_min(x, 0)", lambda v: np.maximum(v["x"], 0)),
    ("clamp_max(x, max=0.25)", lambda v: np.minimum(v["x"], 0.25)),
    ("maximum(x, y)", lambda v: np.maximum(v["x"], v["y"])),
    ("minimum(x, y * 2)", lambda v: np.minimum(v["x"], v["y"] * 2)),
    # where and comparisons
    ("where(x > 0, x, 0)", lambda v: np.where(v["x"] > 0, v["x"], 0)),
    ("where(gt(x, 0), x, 0)", lambda v: np.where(v["x"] > 0, v["x"], 0)),
    ("where(0 < x, x, -1)", lambda v: np.where(v["x"] > 0, v["x"], -1)),
    ("where(x <= y, x, y)", lambda v: np.where(v["x"] <= v["y"], v["x"], v["y"])),
    ("where(x >= 0.5, 1, 0) * x", lambda v: np.where(v["x"] >= 0.5, 1.0, 0.0) * v["x"]),
    ("where(lt(x, y), x * 2, y)", lambda v: np.where(v["x"] < v["y"], v["x"] * 2, v["y"])),
    ("where(le(0, x), x, 0)", lambda v: np.where(v["x"] >= 0, v["x"], 0)),
    ("where(ge(x, y), x, y)", lambda v: np.where(v["x"] >= v["y"], v["x"], v["y"])),
    ("where(x + y > 1, x, y)", lambda v: np.where(v["x"] + v["y"] > 1, v["x"], v["y"])),
    # reductions
    ("sum(x)", lambda v: np.sum(v["x"])),
    ("sum(x * y, dim=1)", lambda v: np.sum(v["x"] * v["y"], axis=1)),
    ("sum(x, (0, 1))", lambda v: np.sum(v["x"])),
    ("sum(x, dim=[0, 1])", lambda v: np.sum(v["x"])),
    ("sum(x, 1, True)", lambda v: np.sum(v["x"], axis=1, keepdims=True)),
    ("sum(x, dim=-1)", lambda v: np.sum(v["x"], axis=-1)),
    ("mean(x, dim=0, keepdim=True)", lambda v: np.mean(v["x"], axis=0, keepdims=True)),
    ("amax(x, dim=1)", lambda v: np.max(v["x"], axis=1)),
    ("amin(x)", lambda v: np.min(v["x"])),
    ("prod(a)", lambda v: np.prod(v["a"])),
    ("prod(x, dim=1)", lambda v: np.prod(v["x"], axis=1)),
    ("var(x, dim=1)", lambda v: np.var(v["x"], axis=1, ddof=1)),
    ("std(x, dim=1, correction=0)", lambda v: np.std(v["x"], axis=1)),
    ("logsumexp(x, dim=1)", lambda v: np.log(np.sum(np.exp(v["x"]), axis=1))),
    ("softmax(x, dim=-1)", lambda v: _softmax(v["x"], -1)),
    ("log_softmax(x, 1)", lambda v: np.log(_softmax(v["x"], 1))),
    ("norm(x)", lambda v: np.sqrt(np.sum(v["x"] ** 2))),
    ("norm(x, p=1, dim=1)", lambda v: np.sum(np.abs(v["x"]), axis=1)),
    (
        "sum(softmax(x, dim=1) * log(y * y + 1), dim=1)",
        lambda v: np.sum(_softmax(v["x"], 1) * np.log(v["y"] ** 2 + 1), axis=1),
    ),
    # shapes
    ("reshape(x, (3, 2))", lambda v: v["x"].reshape(3, 2)),
    ("reshape(x, shape=[6])", lambda v: v["x"].reshape(6)),
    ("transpose(x, 0, 1)", lambda v: v["x"].T),
    ("permute(x, dims=(1, 0))", lambda v: v["x"].T),
    ("t(x)", lambda v: v["x"].T),
    ("unsqueeze(a, 0)", lambda v: v["a"][None, :]),
    ("squeeze(unsqueeze(a, 0))", lambda v: v["a"]),
    ("expand(a, (2, 3))", lambda v: np.broadcast_to(v["a"], (2, 3))),
    ("flip(x, dims=(1,))", lambda v: v["x"][:, ::-1]),
    ("select(x, 1, -1)", lambda v: v["x"][:, -1]),
    ("narrow(x, dim=1, start=1, length=2)", lambda v: v["x"][:, 1:3]),
    ("cat([x, y], dim=0)", lambda v: np.concatenate([v["x"], v["y"]], axis=0)),
    ("cat([x, y, x], 1)", lambda v: np.concatenate([v["x"], v["y"], v["x"]], axis=1)),
    ("cat([a])", lambda v: v["a"]),
    ("stack([a, b])", lambda v: np.stack([v["a"], v["b"]])),
    ("mm(x, m)", lambda v: v["x"] @ v["m"]),
    ("mv(x, a)", lambda v: v["x"] @ v["a"]),
    ("bmm(stack([s, s]), stack([s, s]))", lambda v: np.stack([v["s"] @ v["s"]] * 2)),
    ("dot(a, b)", lambda v: np.dot(v["a"], v["b"])),
    ("outer(a, b)", lambda v: np.multiply.outer(v["a"], v["b"])),
    ("clone(x) * 2", lambda v: v["x"] * 2),
    ("flatten(x)", lambda v: v["x"].reshape(-1)),
    ("flatten(stack([x, y]), 1)", lambda v: np.stack([v["x"], v["y"]]).reshape(2, -1)),
    ("stack([a, b * 2], dim=1)", lambda v: np.stack([v["a"], v["b"] * 2], axis=1)),
    # layout: leading blanks, newlines inside brackets, comments, unicode-free spacing
    ("   a + b", lambda v: v["a"] + v["b"]),
    ("(a +\n b)", lambda v: v["a"] + v["b"]),
    ("a + b  # a comment", lambda v: v["a"] + v["b"]),
    ("sum(\n  x,\n  dim=1,\n)", lambda v: np.sum(v["x"], axis=1)),
]


@pytest.mark.parametrize(("text", "reference"), ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_accepted_expression_computes_what_it_says(text: str, reference: Reference) -> None:
    program = parse(text, SHAPES)
    expected = np.asarray(reference(VALUES), dtype=np.float64)
    actual = run_numpy(program, VALUES)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)
    assert parse(unparse(program), SHAPES) == program


def test_the_accepted_table_uses_every_op() -> None:
    used = set().union(*(parse(text, SHAPES).op_names() for text, _ in ACCEPTED))
    assert used == set(OPS), f"ops without an accepted expression: {sorted(set(OPS) - used)}"


# --- refused texts ----------------------------------------------------------------------------

CONSTANT = "must be a constant: a number, True, False, None, or a tuple of integers"
INPUTS = "the inputs are: a, b, x, y, m, s"
BOOLEANS = "a comparison gives booleans; it is only allowed as the condition of where(...)"
NOT_A_NUMBER = "needs a tensor (an expression of the inputs) here, not a number"
SUM_USAGE = "sum(x, dim=None, keepdim=False)"
TOO_LONG = f"column {MAX_LENGTH + 1}: the expression is {MAX_LENGTH + 1} characters long; the limit is {MAX_LENGTH}"
TOO_DEEP = f"the expression is nested more than {MAX_DEPTH} levels deep"

REJECTED: list[tuple[str, str]] = [
    # escapes and attribute access
    ("a.sum()", "column 3: attribute access (.sum) is not allowed"),
    ('__import__("os").system("x")', "column 18: attribute access (.system) is not allowed"),
    ("a.__class__", "column 3: attribute access (.__class__) is not allowed"),
    ("().__class__.__bases__", "column 14: attribute access (.__bases__) is not allowed"),
    ("sum.__globals__", "column 5: attribute access (.__globals__) is not allowed"),
    ("sin(a).real", "column 8: attribute access (.real) is not allowed"),
    ('__import__("os")', "column 1: unknown function '__import__'"),
    ('eval("1")', "column 1: unknown function 'eval'"),
    ('exec("x")', "column 1: unknown function 'exec'; did you mean select?"),
    ('open("f")', "column 1: unknown function 'open'"),
    ('getattr(a, "x")', "column 1: unknown function 'getattr'"),
    # subscripts
    ("a[0]", "column 2: subscripts ([...]) are not allowed"),
    ("x[0, 1] * 2", "column 2: subscripts ([...]) are not allowed"),
    ("sum[0](a)", "column 4: subscripts ([...]) are not allowed"),
    ("x [1:2]", "column 3: subscripts ([...]) are not allowed"),
    # lambdas and comprehensions
    ("(lambda: 1)()", "column 2: lambda expressions are not allowed"),
    ("lambda a: a", "column 1: lambda expressions are not allowed"),
    ("[x for x in y]", "column 1: comprehensions are not allowed"),
    ("sum(a for a in b)", "column 4: comprehensions are not allowed"),
    ("{k: 1 for k in a}", "column 1: comprehensions are not allowed"),
    # starred arguments
    ("sin(*a)", "column 5: starred arguments (*x) are not allowed"),
    ("sum(a, **k)", "column 8: **keyword arguments are not allowed"),
    ("cat([*a])", "column 6: starred arguments (*x) are not allowed"),
    # strings, bytes, f-strings
    ('f"{a}"', "column 1: f-strings are not allowed"),
    ('"x"', "column 1: strings are not allowed"),
    ("a + 'b'", "column 5: strings are not allowed"),
    ('b"x" * a', "column 1: bytes are not allowed"),
    ('sum(a, dim="0")', "column 12: strings are not allowed"),
    # walrus, conditional expressions, boolean operators
    ("(y := a) * 2", "column 2: the walrus operator (:=) is not allowed"),
    ("a if b else x", "column 1: conditional expressions (x if c else y) are not allowed; use where(condition, x, y)"),
    ("1if a else 2", "column 1: conditional expressions (x if c else y) are not allowed; use where(condition, x, y)"),
    ("a and b", "column 1: boolean operators (and, or) are not allowed"),
    ("a or b", "column 1: boolean operators (and, or) are not allowed"),
    ("not a", "column 1: the operator 'not' is not allowed"),
    # comparisons
    ("where(0 < a < 1, a, 0)", "column 7: chained comparisons (a < b < c) are not allowed"),
    ("where(a == b, a, b)", "column 9: the comparison '==' is not allowed (use <, <=, > or >=)"),
    ("where(a is b, a, b)", "column 9: the comparison 'is' is not allowed (use <, <=, > or >=)"),
    ("a > 0", f"column 1: {BOOLEANS}"),
    ("sin(a > 0)", f"column 5: {BOOLEANS}"),
    ("gt(a, b) * a", f"column 1: {BOOLEANS}"),
    ("where(a, a, b)", "column 7: the condition of where must be a comparison (<, <=, >, >=, or gt, lt, ge, le)"),
    ("where(1 < 2, a, b)", "column 7: a comparison of two numbers is not allowed"),
    ("where(gt(0, 1), a, b)", "column 7: a comparison of two numbers is not allowed"),
    # calls of anything but ops
    ("sine(a)", "column 1: unknown function 'sine'; did you mean sin, sign?"),
    ("Sum(a)", "column 1: unknown function 'Sum'; did you mean sum?"),
    ("print(a)", "column 1: unknown function 'print'"),
    ("(a + b)(x)", "column 2: only the ops of oracles.ops.OPS can be called, not an expression"),
    ("2(a)", "column 1: only the ops of oracles.ops.OPS can be called, not an expression"),
    ("a(b)", "column 1: 'a' is an input, not a function"),
    # keywords: not constants, unknown, repeated
    ("sum(a, dim=b)", f"column 12: the value of 'dim' {CONSTANT}"),
    ("clamp(x, min=a)", f"column 14: the value of 'min' {CONSTANT}"),
    ("sum(a, dim=1+1)", f"column 12: the value of 'dim' {CONSTANT}"),
    ("sum(a, dim=(b, 1))", f"column 13: the value of 'dim' {CONSTANT}"),
    ("sum(a, keepdim=not 1)", f"column 16: the value of 'keepdim' {CONSTANT}"),
    ("sum(a, dim=(0.5,))", "column 13: the tuple given for 'dim' may hold only integers"),
    ("sum(a, axis=0)", f"column 8: sum has no keyword 'axis'; usage: {SUM_USAGE}"),
    ("exp(x, out=x)", "column 8: exp takes no keyword arguments; usage: exp(x)"),
    ("clamp(x, lo=0)", "column 10: clamp has no keyword 'lo'; usage: clamp(x, min=None, max=None)"),
    ("cat([a, b], axis=0)", "column 13: cat has no keyword 'axis'; usage: cat([x, ...], dim=0)"),
    ("sum(a, 1, dim=2)", "column 11: sum got two values for 'dim'"),
    ("sum(a, dim=1, dim=2)", "column 15: sum got two values for 'dim'"),
    # positional arity
    ("sin(a, b)", "column 8: sin takes 1 argument (2 given); usage: sin(x)"),
    ("sin()", "column 1: sin takes 1 argument (0 given); usage: sin(x)"),
    ("maximum(a)", "column 1: maximum takes 2 arguments (1 given); usage: maximum(x, y)"),
    ("where(a > 0, a)", "column 1: where takes 3 arguments (2 given); usage: where(condition, x, y)"),
    ("sum(a, 0, False, 3)", f"column 18: sum takes at most 3 positional arguments (4 given); usage: {SUM_USAGE}"),
    ("softmax(x)", "column 1: softmax is missing the argument 'dim'; usage: softmax(x, dim)"),
    ("transpose(x, 0)", "column 1: transpose is missing the argument 'dim1'; usage: transpose(x, dim0, dim1)"),
    # lists, tuples, sets, dicts
    ("[a, b]", "column 1: a list is only allowed as the first argument of cat or stack"),
    ("sum([a, b])", "column 5: a list is only allowed as the first argument of cat or stack"),
    ("(a, b)", "column 1: a tuple is only allowed as a constant argument, like dim=(0, 1)"),
    ("cat(a, b)", "column 5: cat takes a list of tensors first: cat([a, b], dim=0)"),
    ("cat((a, b))", "column 5: cat takes a list of tensors first: cat([a, b], dim=0)"),
    ("cat([])", "column 5: cat needs at least one tensor in its list"),
    ("cat([a, 1])", "column 9: cat takes tensors (expressions of the inputs), not numbers"),
    ("{a}", "column 1: set literals are not allowed"),
    ("{}", "column 1: dict literals are not allowed"),
    # numbers where tensors are needed
    ("sin(2)", f"column 5: sin {NOT_A_NUMBER}"),
    ("maximum(a, 0)", f"column 12: maximum {NOT_A_NUMBER}"),
    ("a @ 2", "column 3: @ needs a tensor on both sides, not a number"),
    ("matmul(a, 2)", "column 1: matmul needs tensors, not numbers"),
    ("add(2, 3)", "column 1: add needs a tensor (an expression of the inputs) among its arguments"),
    # unknown variables
    ("a + c", f"column 5: unknown variable 'c'; {INPUTS}"),
    ("nan * a", f"column 1: unknown variable 'nan'; {INPUTS}"),
    ("inf * a", f"column 1: unknown variable 'inf'; {INPUTS}"),
    ("sum + a", f"column 1: unknown variable 'sum' (sum is a function: call it as sum(...)); {INPUTS}"),
    ("__builtins__ * a", f"column 1: unknown variable '__builtins__'; {INPUTS}"),
    # nothing to compute
    ("", "column 1: the expression is empty"),
    ("   ", "column 1: the expression is empty"),
    ("\n", "line 1, column 1: the expression is empty"),
    ("2 * 3", "column 1: the expression uses no input (its value is the constant 6.0)"),
    ("a", "column 1: the expression is just the input 'a'; it needs at least one operation"),
    ("(a)", "column 1: the expression is just the input 'a'; it needs at least one operation"),
    ("+a", "column 1: the expression is just the input 'a'; it needs at least one operation"),
    # syntax errors, with positions
    ("a +", "column 4: syntax error: invalid syntax (the expression ends too early)"),
    ("  a +", "column 6: syntax error: invalid syntax (the expression ends too early)"),
    ("3a", "column 1: syntax error: invalid decimal literal"),
    ("sin(a", "column 4: syntax error: '(' was never closed"),
    ("é + (", "column 5: syntax error: '(' was never closed"),
    ("a b", "column 3: syntax error: invalid syntax"),
    ("a = 1", "column 3: syntax error: invalid syntax"),
    ("import os", "column 1: syntax error: invalid syntax"),
    ("a;b", "column 2: syntax error: invalid syntax"),
    ("*a", "column 1: syntax error: invalid syntax"),
    ("await a", "column 1: await is not allowed"),
    ("(yield a)", "column 2: yield is not allowed"),
    # integers too large, non-finite and non-real numbers, other constants
    ("9007199254740993 * a", "column 1: integer too large: the limit is 2**53 (write a float such as 1e20)"),
    ("a * " + "1" * 5000, "column 5: integer too large (more than 4300 digits)"),
    ("sum(a, dim=9007199254740993)", "column 12: integer too large: the limit is 2**53 (write a float such as 1e20)"),
    ("1e999 * a", "column 1: number too large: it overflows to inf"),
    ("clamp(a, max=-1e999)", "column 15: number too large: it overflows to inf"),
    ("1j * a", "column 1: complex numbers are not allowed"),
    ("... * a", "column 1: Ellipsis is not allowed; numbers only"),
    ("a * True", "column 5: True is only allowed as a keyword value, not as an operand"),
    ("a + None", "column 5: None is only allowed as a keyword value, not as an operand"),
    ("1/0 * a", "column 1: the constant 1/0 divides by zero"),
    ("a * 10.0 ** 400", "column 5: the constant 10.0 ** 400 overflows"),
    ("a * 1e308 * 10", "column 1: unknown variable 'a'; the inputs are: none were given"),
    ("(-8) ** 0.5 * a", "column 1: the constant (-8) ** 0.5 is not a real number"),
    # operators outside the language
    ("a % 2", "column 3: the operator '%' is not allowed (use + - * / ** @)"),
    ("a // 2", "column 3: the operator '//' is not allowed (use + - * / ** @)"),
    ("(a) & b", "column 5: the operator '&' is not allowed (use + - * / ** @)"),
    ("a << 1", "column 3: the operator '<<' is not allowed (use + - * / ** @)"),
    ("~a", "column 1: the operator '~' is not allowed"),
    # characters
    ("a\x00", "column 2: the null character is not allowed"),
    ("a + \ud800", "column 5: invalid character '\\ud800' (a lone surrogate)"),
    # positions: several lines, non-ASCII text, leading blanks
    ("(a +\n b.c)", "line 2, column 4: attribute access (.c) is not allowed"),
    ("(a +\r\n b.c)", "line 2, column 4: attribute access (.c) is not allowed"),
    ("é.x * a", "column 3: attribute access (.x) is not allowed"),
    ("   a.b", "column 6: attribute access (.b) is not allowed"),
    # very long and deeply nested input
    ("a" * (MAX_LENGTH + 1), TOO_LONG),
    ("-" * MAX_DEPTH + "a", f"column {MAX_DEPTH + 1}: {TOO_DEEP}"),
    ("a+" * MAX_DEPTH + "a", f"column 1: {TOO_DEEP}"),
    ("sin(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH, f"column 397: {TOO_DEEP}"),
    ("-" * 9999 + "a", "column 1: the expression is nested too deeply to parse (the limit is 100 levels)"),
    ("a" + "**a" * 3000, "column 1: the expression is nested too deeply to parse (the limit is 100 levels)"),
    ("(" * 201 + "a" + ")" * 201, "column 201: syntax error: too many nested parentheses"),
]
#: the one case above that is about the inputs given, not the text
NO_INPUTS = "a * 1e308 * 10"


@pytest.mark.parametrize(("text", "message"), REJECTED, ids=[repr(case[0][:40]) for case in REJECTED])
def test_rejected_text_gets_the_exact_message(text: str, message: str) -> None:
    shapes = {} if text == NO_INPUTS else SHAPES
    with pytest.raises(ExpressionError) as info:
        parse(text, shapes)
    assert str(info.value) == message


def test_a_constant_overflowing_to_inf_is_refused() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("a * (1e308 * 10)", SHAPES)
    assert str(info.value) == "column 6: the constant 1e308 * 10 overflows"


def test_names_refuses_what_parse_refuses_except_unknown_variables() -> None:
    for text, message in REJECTED:
        if "unknown variable" in message or "is an input, not a function" in message:
            continue
        with pytest.raises(ExpressionError) as info:
            names(text)
        assert str(info.value) == message, text
    assert names("a + c") == ["a", "c"]
    with pytest.raises(ExpressionError, match="unknown function 'a'"):
        names("a(b)")


def test_refusal_happens_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    attempts = [
        f'__import__("os").system("touch {marker}")',
        f'(lambda: __import__("os").system("touch {marker}"))()',
        f'[__import__("os").system("touch {marker}") for _ in (1,)]',
        f'sum(a, dim=__import__("os").system("touch {marker}"))',
        f'where(a > 0, a, open("{marker}", "w"))',
    ]
    for text in attempts:
        with pytest.raises(ExpressionError):
            parse(text, SHAPES)
    assert not marker.exists()


def test_expression_error_is_a_value_error_with_its_parts() -> None:
    with pytest.raises(ValueError) as info:
        parse("(a +\n b.c)", SHAPES)
    error = info.value
    assert isinstance(error, ExpressionError)
    assert (error.problem, error.line, error.column) == ("attribute access (.c) is not allowed", 2, 4)
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, ExpressionError) and str(copy) == str(error) and copy.column == 4


def test_the_answer_does_not_depend_on_warning_filters() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ExpressionError, match="conditional expressions"):
            parse("1if a else 2", SHAPES)
        with pytest.raises(ExpressionError, match="strings are not allowed"):
            parse(r'a + "\d"', SHAPES)


# --- limits -----------------------------------------------------------------------------------


def test_the_limits_themselves_are_accepted() -> None:
    term = "sin(a) * b + "
    text = term * ((MAX_LENGTH - 1) // len(term))
    text = text + "a" + " " * (MAX_LENGTH - len(text) - 1)
    assert len(text) == MAX_LENGTH
    with pytest.raises(ExpressionError, match="nested more than"):
        parse(text, SHAPES)  # long chains are deep: a flat sum of many terms is refused
    wide = "sum(" + "cat([" + ", ".join(["a"] * 2000) + "])" + ")"
    assert len(wide) < MAX_LENGTH
    assert len(parse(wide, SHAPES).ops) == 2
    long_text = "a * 1." + "0" * (MAX_LENGTH - 6)
    assert len(long_text) == MAX_LENGTH
    assert parse(long_text, SHAPES).ops == (Op("mul", (Ref(0), 1.0)),)
    assert len(parse("-" * (MAX_DEPTH - 1) + "a", SHAPES).ops) == MAX_DEPTH - 1
    assert len(parse("a+" * (MAX_DEPTH - 1) + "a", SHAPES).ops) == MAX_DEPTH - 1
    assert parse(f"{2**53} * a", SHAPES).ops[0].args[0] == 2.0**53
    assert parse(f"{-(2**53)} * a", SHAPES).ops[0].args[0] == -(2.0**53)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fails (instead of hanging) when the block runs longer than ``seconds`` (main thread,
    Unix; elsewhere the block just runs)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"parse ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_or_refuse(text: str) -> Program | None:
    """parse(text), which must give a Program or ExpressionError (anything else fails the
    test); None when refused. ``names`` must agree with it."""
    with time_limit(10.0):
        try:
            program = parse(text, SHAPES)
        except ExpressionError as error:
            assert str(error).startswith(("column ", "line ")), str(error)
            assert "\n" not in str(error)
            return None
        assert isinstance(program, Program)
        assert names(text) == list(program.input_names)
        return program


HOSTILE = [
    "-" * 9999 + "a",
    "~" * 9999 + "a",
    "not " * 2499 + "a",
    "a**" * 3333 + "a",
    "a+" * 4999 + "a",
    "(" * 4999 + "a" + ")" * 4999,
    "sin(" * 2499 + "a" + ")" * 2499,
    "[" * 4999 + "]" * 4999,
    "a" + ".b" * 4999,
    "a" + "[0]" * 3333,
    "lambda:" * 1400 + "1",
    "a if b else " * 900 + "a",
    "a<" * 4999 + "a",
    "1" * 9999,
    "f(" + "a," * 4990 + ")",
    "sum(a, " + "dim=1, " * 1420 + ")",
    'f"{' * 50 + "a" + '}"' * 50,
    "{" * 4999 + "}" * 4999,
    "-(" * 3333 + "a" + ")" * 3333,
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(text[:12]) for text in HOSTILE])
def test_hostile_input_is_refused_quickly(text: str) -> None:
    assert parse_or_refuse(text) is None


def test_wide_input_is_accepted_quickly() -> None:
    program = parse_or_refuse("cat([" + "a, " * 3300 + "])")
    assert program is not None and len(program.ops[0].args) == 3300


# --- Hypothesis: random text only ever gives a Program or ExpressionError -----------------------

TOKENS = [
    *["a", "b", "x", "y", "m", "s", "c", "nan", "inf", "_", "é", "True", "False", "None"],
    *sorted(OPS)[:: max(1, len(OPS) // 12)],
    *["sin", "sum", "where", "cat", "stack", "clamp", "gt", "reshape", "__import__", "eval", "os", "system"],
    *["lambda", "for", "in", "if", "else", "and", "or", "not", "is", "await", "yield", "import"],
    *["0", "1", "2.5", "1e-3", "1e999", "9" * 20, "0x1f", "1_0", "1j", "...", "-1", ".5", "1.", "2**53"],
    *["+", "-", "*", "/", "**", "@", "%", "//", "<", "<=", ">", ">=", "==", "!=", ":=", "~", "&", "|", "^", "<<"],
    *["(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "=", "dim=", "min=", "keepdim=", "*", "**", "->"],
    *["'", '"', "'x'", 'f"{a}"', "b''", "\\", "#", "\n", "\r", "\t", " ", "  ", "$", "?", "!", "`"],
    *["\x00", "\ud800", "\u2028"],
]

token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).flatmap(
    lambda tokens: st.sampled_from(["", " "]).map(lambda glue: glue.join(tokens))
)
repeated = st.builds(
    lambda prefix, middle, suffix, count: prefix * count + middle + suffix * count,
    st.sampled_from(["(", "-", "sin(", "[", "a+", "a**", "~", "-(", "{", "cat([", "f(", "where(a>0,", "not "]),
    st.sampled_from(["a", "1", "", "a.b", "x[0]"]),
    st.sampled_from([")", "", "])", "]", ",0)", "}", ", 1)"]),
    st.integers(0, 3000),
)
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),  # generous for a loaded machine; a hang is caught by time_limit
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(st.text(max_size=200))
def test_random_text_gives_a_program_or_expression_error(text: str) -> None:
    parse_or_refuse(text)


@FUZZ
@given(token_soup)
def test_token_soup_gives_a_program_or_expression_error(text: str) -> None:
    parse_or_refuse(text)


@FUZZ
@given(repeated)
def test_repeated_patterns_give_a_program_or_expression_error(text: str) -> None:
    parse_or_refuse(text)


# --- Hypothesis: generated valid expressions round-trip and compute what they say -------------------

Node = tuple[str, Callable[[Values], Any]]
"""An expression's text (fully parenthesized) and its numpy meaning."""

numbers = st.one_of(
    st.integers(-5, 5).map(float),
    st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1e-3, 2.5e10, -0.0]),
)


def _number(value: float) -> Node:
    return f"({value!r})", lambda v: value


def _binary(symbol: str, function: Callable[[Any, Any], Any]) -> Callable[[Node, Node], Node]:
    def build(left: Node, right: Node) -> Node:
        return f"({left[0]} {symbol} {right[0]})", lambda v: function(left[1](v), right[1](v))

    return build


UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "exp": np.exp,
    "abs": np.abs,
    "square": np.square,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "**": np.power,
}
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def _extend(tensors: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    operand = st.one_of(tensors, numbers.map(_number))
    binary = st.sampled_from(sorted(BINARY)).flatmap(
        lambda symbol: st.one_of(
            st.tuples(tensors, operand), st.tuples(operand, tensors)
        ).map(lambda pair: _binary(symbol, BINARY[symbol])(*pair))
    )
    unary = st.builds(
        lambda name, arg: (f"{name}({arg[0]})", lambda v: UNARY[name](arg[1](v))),
        st.sampled_from(sorted(UNARY)),
        tensors,
    )
    negation = tensors.map(lambda arg: (f"(-{arg[0]})", lambda v: -arg[1](v)))
    where = st.builds(
        lambda symbol, left, right, then, other: (
            f"where({left[0]} {symbol} {right[0]}, {then[0]}, {other[0]})",
            lambda v: np.where(COMPARE[symbol](left[1](v), right[1](v)), then[1](v), other[1](v)),
        ),
        st.sampled_from(sorted(COMPARE)),
        tensors,
        operand,
        operand,
        operand,
    )
    clamp = st.builds(
        lambda arg, low, high: (f"clamp({arg[0]}, min={low!r}, max={high!r})", lambda v: np.clip(arg[1](v), low, high)),
        tensors,
        st.floats(-2, 0),
        st.floats(0, 2),
    )
    reduce = st.builds(
        lambda name, arg, keep: (
            f"{name}({arg[0]}, keepdim={keep})",
            lambda v: getattr(np, name)(arg[1](v), keepdims=keep),
        ),
        st.sampled_from(["sum", "mean"]),
        tensors,
        st.booleans(),
    )
    extrema = st.builds(
        lambda name, left, right: (
            f"{name}({left[0]}, {right[0]})",
            lambda v: getattr(np, name)(left[1](v), right[1](v)),
        ),
        st.sampled_from(["maximum", "minimum"]),
        tensors,
        tensors,
    )
    return st.one_of(binary, unary, negation, where, clamp, reduce, extrema)


LEAVES: list[Node] = [("a", lambda v: v["a"]), ("b", lambda v: v["b"])]
expressions = st.recursive(st.sampled_from(LEAVES), _extend, max_leaves=12).filter(
    lambda node: node[0] not in ("a", "b")  # a bare input is refused
)


def _mutate(text: str, position: int, token: str, how: int) -> str:
    at = position % (len(text) + 1)
    inserted, deleted, replaced, cut = (
        text[:at] + token + text[at:],
        text[:at] + text[at + 1 :],
        text[:at] + token + text[at + 1 :],
        text[:at],
    )
    return [inserted, deleted, replaced, cut][how]


@FUZZ
@given(expressions, st.integers(0, 10**6), st.sampled_from(TOKENS), st.integers(0, 3))
def test_mutated_valid_expressions_give_a_program_or_expression_error(
    node: Node, position: int, token: str, how: int
) -> None:
    """Near-valid text (a valid expression with a token inserted, deleted, replaced or the
    rest cut off) reaches the translation's checks, not just the syntax error."""
    parse_or_refuse(_mutate(node[0], position, token, how))


@settings(max_examples=300, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_generated_expressions_round_trip_and_compute_what_they_say(node: Node) -> None:
    text, reference = node
    program = parse(text, SHAPES)
    again = parse(unparse(program), SHAPES)
    assert again == program
    assert len(unparse(program)) <= len(text)
    with np.errstate(all="ignore"):
        expected = np.asarray(reference(VALUES), dtype=np.float64)
        actual = run_numpy(program, VALUES)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-300, equal_nan=True)


def test_unparse_writes_minimal_parentheses() -> None:
    cases = {
        "(a + b) * (a - b)": "(a + b) * (a - b)",
        "a - (b - a)": "a - (b - a)",
        "(a - b) - a": "a - b - a",
        "a ** (b ** a)": "a ** b ** a",
        "(a ** b) ** a": "(a ** b) ** a",
        "(-a) ** 2": "(-a) ** 2",
        "-(a ** 2)": "-a ** 2",
        "(-2) ** a": "(-2) ** a",
        "-(2 ** a)": "-2 ** a",
        "a * (-2)": "a * -2",
        "a ** (-b)": "a ** -b",
        "-(a * b)": "-(a * b)",
        "-(-a)": "--a",
        "where((a + b) > 1, a, -0.0)": "where(a + b > 1, a, -0.0)",
        "a * 0.1 + 1e-05 * b + 3e20 * a": "a * 0.1 + 1e-05 * b + 3e+20 * a",
        "sum(a, dim=0, keepdim=True) / b": "sum(a, dim=0, keepdim=True) / b",
        "cat([a, b], dim=-1) * 2": "cat([a, b], dim=-1) * 2",
        "sum(x, dim=[1])": "sum(x, dim=(1,))",
    }
    for text, written in cases.items():
        program = parse(text, SHAPES)
        assert unparse(program) == written, text
        assert parse(written, SHAPES) == program


def test_unparse_of_a_program_from_elsewhere() -> None:
    a = Input("a", (3,))
    # a value used twice is written out twice: the same output, not the same program
    shared = Program((a,), (Op("sin", (Ref(0),)), Op("mul", (Ref(1), Ref(1)))))
    assert unparse(shared) == "sin(a) * sin(a)"
    np.testing.assert_allclose(run_numpy(parse(unparse(shared), SHAPES), VALUES), run_numpy(shared, VALUES))
    # neg of a number is written as a call (-2 would read as the number -2)
    assert unparse(Program((a,), (Op("neg", (2.0,)), Op("mul", (Ref(1), Ref(0)))))) == "neg(2) * a"
    # unused values are not written
    assert unparse(Program((a,), (Op("exp", (Ref(0),)), Op("cos", (Ref(0),))))) == "cos(a)"
    # squaring 40 times would write 2**40 copies: refused before it is built
    doubling = Program((a,), tuple(Op("mul", (Ref(i), Ref(i))) for i in range(40)))
    with pytest.raises(ValueError, match="longer than 10000 characters"):
        unparse(doubling)
    for bad in (Op("mul", (Ref(0), float("nan"))), Op("norm", (Ref(0),), (("p", "fro"),)), Op("erf", (Ref(0),))):
        with pytest.raises(ValueError, match="unparse"):
            unparse(Program((a,), (bad,)))


def test_names_in_order_of_first_appearance() -> None:
    assert names("3*a**3 - b**2") == ["a", "b"]
    assert names("where(y > x, b * a, sum(b))") == ["y", "x", "b", "a"]
    assert names("cat([s, m, s])") == ["s", "m"]
    assert names("unknown + other") == ["unknown", "other"]


def test_input_names_are_normalized_like_python() -> None:
    program = parse("ﬁ * 2", {"ﬁ": (2,)})  # the ligature reads as "fi" in Python
    assert program.input_names == ("ﬁ",)
    np.testing.assert_array_equal(run_numpy(program, {"ﬁ": np.array([1.0, 2.0])}), [2.0, 4.0])


# --- the module's own source ----------------------------------------------------------------------

FORBIDDEN_CALLS = frozenset({"eval", "exec", "compile", "__import__", "literal_eval", "import_module"})


def dangerous_uses(source: str) -> list[str]:
    """Every use (call or reference) of eval, exec, compile, __import__... in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name in FORBIDDEN_CALLS:
            found.append(f"line {getattr(node, 'lineno', 0)}: {name}")
    return found


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_the_module_never_calls_eval_exec_or_compile() -> None:
    source = Path(expression.__file__).read_text(encoding="utf-8")
    assert dangerous_uses(source) == []
    assert dangerous_uses("import builtins\nf = builtins.eval\nexec('1')\n") == ["line 2: eval", "line 3: exec"]


def test_the_module_imports_only_the_standard_library_and_the_oracles() -> None:
    source = Path(expression.__file__).read_text(encoding="utf-8")
    others = {name for name in imported_modules(source) if name not in sys.stdlib_module_names and name != "__future__"}
    assert others == {"oracles"}
    assert imported_modules("import numpy as np\nfrom oracles.ops import OPS\n") == {"numpy", "oracles"}
