"""The symbolic gradient oracle (oracles.symbolic): its table covers every op, its gradients
and second derivatives agree with PyTorch's (computed with torch directly), its convention
table at kinks is PyTorch's exactly, and a wrong derivative is caught."""

from __future__ import annotations

import importlib
import importlib.util
import math
import random
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import pytest
import sympy  # type: ignore[import-untyped]

from oracles import symbolic as S
from oracles.interpret import run_numpy
from oracles.ops import OPS, POSITIVE
from oracles.program import Arg, AttrValue, Input, Op, Program, Ref

FloatArray = npt.NDArray[np.float64]
torch: Any = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

NAMES = ("a", "b", "c")


def op(name: str, *args: Arg | int, **attrs: AttrValue) -> Op:
    return Op(name, tuple(Ref(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in args), tuple(attrs.items()))


def program(shapes: Sequence[tuple[int, ...]], *ops: Op) -> Program:
    """Inputs a, b, c (values 0, 1, 2) of ``shapes``; integer arguments of ``op`` are Refs."""
    return Program(tuple(Input(NAMES[i], s) for i, s in enumerate(shapes)), ops)


@dataclass(frozen=True)
class Case:
    label: str
    shapes: tuple[tuple[int, ...], ...]
    ops: tuple[Op, ...]
    torch_fn: Callable[..., Any]
    """``torch_fn(torch, *input tensors)``: the same computation written with torch."""
    domain: tuple[float, float] | None = None

    @property
    def program(self) -> Program:
        return program(self.shapes, *self.ops)

    def draw(self, seed: int) -> dict[str, FloatArray]:
        low, high = self.domain or OPS[self.ops[0].name].domain
        rng = np.random.default_rng(zlib.crc32(self.label.encode()) + seed)
        return {NAMES[i]: rng.uniform(low, high, size=s) for i, s in enumerate(self.shapes)}


M23, V3 = (2, 3), (3,)


def unary(name: str, method: str | None = None) -> Case:
    return Case(name, (M23,), (op(name, 0),), lambda t, a: getattr(a, method or name)())


CASES: list[Case] = [
    Case("add", (M23, V3), (op("add", 0, 1),), lambda t, a, b: a + b),
    Case("add number", (M23,), (op("add", 0, 1.5),), lambda t, a: a + 1.5),
    Case("sub", (M23, (2, 1)), (op("sub", 0, 1),), lambda t, a, b: a - b),
    Case("sub number", (M23,), (op("sub", 2.0, 0),), lambda t, a: 2.0 - a),
    Case("mul", (M23, V3), (op("mul", 0, 1),), lambda t, a, b: a * b),
    Case("mul same", (M23,), (op("mul", 0, 0),), lambda t, a: a * a),
    Case("div", (M23, V3), (op("div", 0, 1),), lambda t, a, b: a / b),
    Case("div number", (M23,), (op("div", 1.0, 0),), lambda t, a: 1.0 / a),
    Case("div same", (M23,), (op("div", 0, 0),), lambda t, a: a / a),
    Case("pow", (M23, M23), (op("pow", 0, 1),), lambda t, a, b: t.pow(a, b)),
    Case("pow number exponent", (M23,), (op("pow", 0, 3.0),), lambda t, a: a**3.0, (-2.0, 2.0)),
    Case("pow half", (M23,), (op("pow", 0, 0.5),), lambda t, a: a**0.5),
    Case("pow number base", (M23,), (op("pow", 2.0, 0),), lambda t, a: t.pow(2.0, a)),
    Case("neg", (M23,), (op("neg", 0),), lambda t, a: -a),
    Case("matmul", (M23, (3, 4)), (op("matmul", 0, 1),), lambda t, a, b: a @ b),
    Case("matmul vector", (V3, (3, 2)), (op("matmul", 0, 1),), lambda t, a, b: a @ b),
    Case("matmul matrix vector", (M23, V3), (op("matmul", 0, 1),), lambda t, a, b: a @ b),
    Case("matmul batched", ((2, 2, 3), (3, 2)), (op("matmul", 0, 1),), lambda t, a, b: a @ b),
    Case("matmul dot", (V3, V3), (op("matmul", 0, 1),), lambda t, a, b: a @ b),
    unary("exp"),
    unary("expm1"),
    unary("log"),
    unary("log1p"),
    unary("sqrt"),
    unary("rsqrt"),
    unary("reciprocal"),
    unary("sin"),
    unary("cos"),
    unary("tan"),
    unary("tanh"),
    unary("sigmoid"),
    unary("relu"),
    unary("abs"),
    unary("sign"),
    unary("square"),
    Case("clamp", (M23,), (op("clamp", 0, min=-0.5, max=0.7),), lambda t, a: a.clamp(-0.5, 0.7)),
    Case("clamp min only", (M23,), (op("clamp", 0, min=-0.5),), lambda t, a: a.clamp(min=-0.5)),
    Case("clamp_min", (M23,), (op("clamp_min", 0, min=0.2),), lambda t, a: a.clamp_min(0.2)),
    Case("clamp_max", (M23,), (op("clamp_max", 0, max=0.2),), lambda t, a: a.clamp_max(0.2)),
    Case("maximum", (M23, V3), (op("maximum", 0, 1),), lambda t, a, b: t.maximum(a, b)),
    Case("minimum", (M23, V3), (op("minimum", 0, 1),), lambda t, a, b: t.minimum(a, b)),
    Case(
        "where gt",
        (M23, V3),
        (op("gt", 0, 1), op("mul", 1, 3.0), op("where", 2, 0, 3)),
        lambda t, a, b: t.where(a > b, a, b * 3.0),
    ),
    Case("where lt", (M23, V3), (op("lt", 0, 1), op("where", 2, 0, 1)), lambda t, a, b: t.where(a < b, a, b)),
    Case("where ge number", (M23,), (op("ge", 0, 0.25), op("where", 1, 0, 0.0)), lambda t, a: t.where(a >= 0.25, a, 0.0)),
    Case("where le", (M23, M23), (op("le", 0, 1), op("sin", 0), op("where", 2, 3, 1)), lambda t, a, b: t.where(a <= b, a.sin(), b)),
    Case("sum", (M23,), (op("sum", 0),), lambda t, a: a.sum()),
    Case("sum dim", (M23,), (op("sum", 0, dim=1),), lambda t, a: a.sum(dim=1)),
    Case("mean keepdim", (M23,), (op("mean", 0, dim=0, keepdim=True),), lambda t, a: a.mean(dim=0, keepdim=True)),
    Case("amax dim", (M23,), (op("amax", 0, dim=1),), lambda t, a: a.amax(dim=1)),
    Case("amin", (M23,), (op("amin", 0),), lambda t, a: a.amin()),
    Case("prod dim", (M23,), (op("prod", 0, dim=1),), lambda t, a: a.prod(dim=1)),
    Case("prod", (M23,), (op("prod", 0),), lambda t, a: a.prod()),
    Case("var dim", (M23,), (op("var", 0, dim=1),), lambda t, a: a.var(dim=1)),
    Case("std", (M23,), (op("std", 0),), lambda t, a: a.std()),
    Case("std correction 0", (M23,), (op("std", 0, dim=0, correction=0),), lambda t, a: a.std(dim=0, correction=0)),
    Case("logsumexp", (M23,), (op("logsumexp", 0, dim=1),), lambda t, a: a.logsumexp(dim=1)),
    Case("softmax", (M23,), (op("softmax", 0, dim=1),), lambda t, a: a.softmax(dim=1)),
    Case("log_softmax", (M23,), (op("log_softmax", 0, dim=0),), lambda t, a: a.log_softmax(dim=0)),
    Case("norm", (M23,), (op("norm", 0),), lambda t, a: a.norm()),
    Case("norm p=3 dim", (M23,), (op("norm", 0, p=3.0, dim=1),), lambda t, a: a.norm(p=3.0, dim=1)),
    Case("norm p=1", (M23,), (op("norm", 0, p=1.0),), lambda t, a: a.norm(p=1.0)),
    Case("norm p=0.5", (M23,), (op("norm", 0, p=0.5, dim=0),), lambda t, a: a.norm(p=0.5, dim=0)),
    Case("norm p=inf", (M23,), (op("norm", 0, p=math.inf),), lambda t, a: a.norm(p=math.inf)),
    Case("reshape", (M23,), (op("reshape", 0, shape=(3, 2)), op("sin", 1)), lambda t, a: a.reshape(3, 2).sin()),
    Case("transpose", (M23,), (op("transpose", 0, dim0=0, dim1=1), op("exp", 1)), lambda t, a: a.transpose(0, 1).exp()),
    Case("permute", ((2, 3, 2),), (op("permute", 0, dims=(1, 0, 2)), op("sin", 1)), lambda t, a: a.permute(1, 0, 2).sin()),
    Case("t", (M23,), (op("t", 0), op("matmul", 0, 1)), lambda t, a: a @ a.t()),
    Case("mm", (M23, (3, 4)), (op("mm", 0, 1),), lambda t, a, b: t.mm(a, b)),
    Case("mv", (M23, V3), (op("mv", 0, 1),), lambda t, a, b: t.mv(a, b)),
    Case("bmm", ((2, 2, 3), (2, 3, 2)), (op("bmm", 0, 1),), lambda t, a, b: t.bmm(a, b)),
    Case("dot", (V3, V3), (op("dot", 0, 1),), lambda t, a, b: t.dot(a, b)),
    Case("outer", (V3, (2,)), (op("outer", 0, 1), op("sin", 2)), lambda t, a, b: t.outer(a, b).sin()),
    Case("clone", (M23,), (op("clone", 0), op("mul", 1, 0)), lambda t, a: a.clone() * a),
    Case("flatten", ((2, 3, 2),), (op("flatten", 0, start_dim=1), op("tanh", 1)), lambda t, a: a.flatten(1).tanh()),
    Case("unsqueeze", (M23,), (op("unsqueeze", 0, dim=1), op("mul", 1, 0)), lambda t, a: a.unsqueeze(1) * a),
    Case("squeeze dim", ((2, 1, 3),), (op("squeeze", 0, dim=1), op("sin", 1)), lambda t, a: a.squeeze(1).sin()),
    Case("squeeze", ((2, 1, 3),), (op("squeeze", 0), op("cos", 1)), lambda t, a: a.squeeze().cos()),
    Case("expand", (V3,), (op("expand", 0, size=(2, 3)), op("mul", 1, 1)), lambda t, a: a.expand(2, 3) * a.expand(2, 3)),
    Case("flip", (M23,), (op("flip", 0, dims=(1,)), op("mul", 1, 0)), lambda t, a: a.flip(dims=(1,)) * a),
    Case("select", (M23,), (op("select", 0, dim=1, index=-1), op("sin", 1)), lambda t, a: a.select(1, -1).sin()),
    Case("narrow", (M23,), (op("narrow", 0, dim=1, start=1, length=2), op("exp", 1)), lambda t, a: a.narrow(1, 1, 2).exp()),
    Case("cat", (M23, (2, 2)), (op("cat", 0, 1, dim=1), op("sin", 2)), lambda t, a, b: t.cat([a, b], dim=1).sin()),
    Case("stack", (M23, M23), (op("stack", 0, 1, dim=1), op("tanh", 2)), lambda t, a, b: t.stack([a, b], dim=1).tanh()),
]


def torch_gradients(
    case_fn: Callable[..., Any], values: Sequence[FloatArray], grad_output: FloatArray, vector: Sequence[FloatArray] | None = None
) -> list[FloatArray]:
    """Gradients (or, with ``vector``, Hessian-vector products) computed with torch itself."""
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out = case_fn(torch, *tensors)
    g = torch.tensor(grad_output, dtype=torch.float64)
    grads = torch.autograd.grad(out, tensors, grad_outputs=g, allow_unused=True, create_graph=vector is not None)
    if vector is not None:
        dot = sum(((gr * torch.tensor(v)).sum() for gr, v in zip(grads, vector) if gr is not None), torch.tensor(0.0, dtype=torch.float64))
        grads = torch.autograd.grad(dot, tensors, allow_unused=True) if dot.requires_grad else [None] * len(tensors)
    return [np.zeros(v.shape) if gr is None else gr.detach().numpy() for gr, v in zip(grads, values)]


def output_shape(p: Program, values: dict[str, FloatArray]) -> tuple[int, ...]:
    return S.forward(p, values).shape


# ---------------------------------------------------------------------------------------------


def test_table_covers_every_op() -> None:
    assert set(S.SYMBOLIC) == set(OPS)


def test_cases_cover_every_op() -> None:
    assert {o.name for case in CASES for o in case.ops} == set(OPS)


def test_seed_program_exact() -> None:
    seed = program(
        [(2,), (2,)],
        op("pow", 0, 3.0),
        op("mul", 3.0, 2),
        op("pow", 1, 2.0),
        op("sub", 3, 4),
    )
    values = {"a": np.array([2.0, 3.0]), "b": np.array([6.0, 4.0])}
    grads = S.gradient(seed, values, np.ones(2))
    assert grads["a"].tolist() == [36.0, 81.0]
    assert grads["b"].tolist() == [-12.0, -8.0]
    assert S.forward(seed, values).tolist() == [3 * 8 - 36, 3 * 27 - 16]
    assert str(S.expressions(seed)[0]) == "3*x0_0**3 - x1_0**2"


@needs_torch
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_gradient_agrees_with_torch(case: Case, seed: int) -> None:
    p = case.program
    values = case.draw(seed)
    ordered = [values[n] for n in p.input_names]
    expected_out = case.torch_fn(torch, *[torch.tensor(v) for v in ordered]).detach().numpy()
    forward = S.forward(p, values)
    np.testing.assert_allclose(forward, expected_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(forward, run_numpy(p, values), rtol=1e-12, atol=1e-14)
    grad_output = np.random.default_rng(seed).normal(size=forward.shape)
    expected = torch_gradients(case.torch_fn, ordered, grad_output)
    got = S.gradient(p, values, grad_output)
    for name, want in zip(p.input_names, expected):
        np.testing.assert_allclose(got[name], want, rtol=1e-10, atol=1e-12, err_msg=f"{case.label}: d/d{name}")


NAN = math.nan

KINKS: list[tuple[str, Case, list[FloatArray]]] = [
    ("relu at 0 and nan", unary("relu"), [np.array([-1.0, 0.0, 1.0, NAN])]),
    ("abs at 0 and nan", unary("abs"), [np.array([-1.0, 0.0, 1.0, NAN])]),
    ("sign", unary("sign"), [np.array([-1.0, 0.0, 1.0])]),
    ("clamp boundaries", Case("", (), (op("clamp", 0, min=0.0, max=1.0),), lambda t, a: a.clamp(0.0, 1.0)), [np.array([-0.5, 0, 0.5, 1, 1.5, NAN])]),
    ("clamp min > max", Case("", (), (op("clamp", 0, min=1.0, max=0.0),), lambda t, a: a.clamp(1.0, 0.0)), [np.array([-1.0, 0.5, 2.0])]),
    ("clamp_min boundary", Case("", (), (op("clamp_min", 0, min=0.0),), lambda t, a: a.clamp_min(0.0)), [np.array([-1.0, 0.0, 1.0])]),
    ("clamp_max boundary", Case("", (), (op("clamp_max", 0, max=0.0),), lambda t, a: a.clamp_max(0.0)), [np.array([-1.0, 0.0, 1.0])]),
    (
        "maximum ties",
        Case("", (), (op("maximum", 0, 1),), lambda t, a, b: t.maximum(a, b)),
        [np.array([1.0, 2.0, 3.0, NAN]), np.array([1.0, 0.0, 5.0, 1.0])],
    ),
    (
        "minimum ties",
        Case("", (), (op("minimum", 0, 1),), lambda t, a, b: t.minimum(a, b)),
        [np.array([1.0, 2.0, 3.0, NAN]), np.array([1.0, 0.0, 5.0, 1.0])],
    ),
    ("amax 3-way tie", Case("", (), (op("amax", 0),), lambda t, a: a.amax()), [np.array([1.0, 3.0, 3.0, 3.0])]),
    ("amin 3-way tie", Case("", (), (op("amin", 0),), lambda t, a: a.amin()), [np.array([2.0, 1.0, 1.0, 1.0])]),
    (
        "amax dim ties",
        Case("", (), (op("amax", 0, dim=1),), lambda t, a: a.amax(dim=1)),
        [np.array([[1.0, 1.0, 0.0], [2.0, 5.0, 5.0], [7.0, 7.0, 7.0]])],
    ),
    ("amax with nan", Case("", (), (op("amax", 0),), lambda t, a: a.amax()), [np.array([1.0, NAN, 3.0])]),
    ("x**0 at 0", Case("", (), (op("pow", 0, 0.0),), lambda t, a: a**0.0), [np.array([0.0, 1.0, -2.0])]),
    ("x**2 at 0", Case("", (), (op("pow", 0, 2.0),), lambda t, a: a**2.0), [np.array([0.0])]),
    ("x**0.5 at 0", Case("", (), (op("pow", 0, 0.5),), lambda t, a: a**0.5), [np.array([0.0, -1.0])]),
    (
        "tensor pow at zeros",
        Case("", (), (op("pow", 0, 1),), lambda t, a, b: t.pow(a, b)),
        [np.array([0.0, 2.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0, -1.0])],
    ),
    ("number base pow at 0", Case("", (), (op("pow", 0.0, 0),), lambda t, a: t.pow(0.0, a)), [np.array([0.0, 1.0, -1.0])]),
    ("sqrt at 0", unary("sqrt"), [np.array([0.0, 4.0])]),
    ("log at 0", unary("log"), [np.array([0.0, -1.0])]),
    ("reciprocal at 0", unary("reciprocal"), [np.array([0.0])]),
    ("div by 0", Case("", (), (op("div", 0, 1),), lambda t, a, b: a / b), [np.array([1.0, 0.0]), np.array([0.0, 0.0])]),
    ("div by number 0", Case("", (), (op("div", 0, 0.0),), lambda t, a: a / 0.0), [np.array([1.0, -1.0])]),
    ("x / x at 0", Case("", (), (op("div", 0, 0),), lambda t, a: a / a), [np.array([0.0, 2.0])]),
    ("std of equal elements", Case("", (), (op("std", 0),), lambda t, a: a.std()), [np.array([2.0, 2.0, 2.0])]),
    ("var of one element", Case("", (), (op("var", 0),), lambda t, a: a.var()), [np.array([2.0])]),
    ("norm at 0", Case("", (), (op("norm", 0),), lambda t, a: a.norm()), [np.array([0.0, 0.0])]),
    ("norm p=3 with a 0", Case("", (), (op("norm", 0, p=3.0),), lambda t, a: a.norm(p=3.0)), [np.array([0.0, 2.0])]),
    ("norm p=0.5 with a 0", Case("", (), (op("norm", 0, p=0.5),), lambda t, a: a.norm(p=0.5)), [np.array([0.0, 1.0])]),
    ("norm p=inf ties", Case("", (), (op("norm", 0, p=math.inf),), lambda t, a: a.norm(p=math.inf)), [np.array([-2.0, 2.0, 1.0])]),
    ("norm p=0", Case("", (), (op("norm", 0, p=0.0),), lambda t, a: a.norm(p=0.0)), [np.array([0.0, 2.0])]),
    (
        "where nan trap",
        Case("", (), (op("gt", 0, 0.0), op("sqrt", 0), op("where", 1, 2, 0.0)), lambda t, a: t.where(a > 0, a.sqrt(), 0.0)),
        [np.array([-1.0, 0.0, 4.0])],
    ),
    (
        "exp of log below 0",
        Case("", (), (op("log", 0), op("exp", 1)), lambda t, a: a.log().exp()),
        [np.array([-1.0, 2.0])],
    ),
]


@needs_torch
@pytest.mark.filterwarnings("ignore:var\\(\\)")
@pytest.mark.parametrize("case,values", [(c, v) for _, c, v in KINKS], ids=[label for label, _, _ in KINKS])
def test_conventions_match_torch_exactly(case: Case, values: list[FloatArray]) -> None:
    p = program([v.shape for v in values], *case.ops)
    named = dict(zip(p.input_names, values))
    grad_output = np.ones(output_shape(p, named))
    expected = torch_gradients(case.torch_fn, values, grad_output)
    got = S.gradient(p, named, grad_output)
    for name, want in zip(p.input_names, expected):
        np.testing.assert_array_equal(got[name], want, err_msg=f"d/d{name}")


def test_documented_convention_values() -> None:
    """The convention table's values, stated without torch."""
    x = np.array([-0.5, 0.0, 0.5, 1.0, 1.5])
    assert S.gradient(program([(5,)], op("clamp", 0, min=0.0, max=1.0)), {"a": x}, np.ones(5))["a"].tolist() == [0, 1, 1, 1, 0]
    assert S.gradient(program([(3,)], op("relu", 0)), {"a": np.array([-1.0, 0.0, 1.0])}, np.ones(3))["a"].tolist() == [0, 0, 1]
    assert S.gradient(program([(3,)], op("abs", 0)), {"a": np.array([-1.0, 0.0, 1.0])}, np.ones(3))["a"].tolist() == [-1, 0, 1]
    ties = S.gradient(program([(3,)], op("amax", 0)), {"a": np.array([1.0, 3.0, 3.0])}, np.array(1.0))["a"]
    assert ties.tolist() == [0, 0.5, 0.5]
    split = S.gradient(program([(1,), (1,)], op("maximum", 0, 1)), {"a": np.ones(1), "b": np.ones(1)}, np.ones(1))
    assert split["a"].tolist() == split["b"].tolist() == [0.5]
    assert S.gradient(program([(1,)], op("pow", 0, 0.0)), {"a": np.zeros(1)}, np.ones(1))["a"].tolist() == [0]
    assert S.gradient(program([(1,)], op("sqrt", 0)), {"a": np.zeros(1)}, np.ones(1))["a"].tolist() == [math.inf]
    assert {c.op for c in S.CONVENTIONS} >= {"relu", "abs", "sign", "clamp", "amax/amin", "sqrt", "where"}


# ---------------------------------------------------------------------------------------------
# Second derivatives

HESSIAN_CASES = [
    Case(
        "trig and powers",
        (M23, V3),
        (op("sin", 0), op("pow", 1, 2.0), op("mul", 2, 3), op("exp", 0), op("div", 4, 5)),
        lambda t, a, b: a.sin() * b**2.0 / a.exp(),
        (-1.0, 1.0),
    ),
    Case(
        "matmul tanh softmax",
        ((2, 3), (3, 4)),
        (op("matmul", 0, 1), op("tanh", 2), op("softmax", 3, dim=1), op("log", 4)),
        lambda t, a, b: (a @ b).tanh().softmax(dim=1).log(),
        (-1.0, 1.0),
    ),
    Case(
        "std logsumexp",
        ((3, 4),),
        (op("std", 0, dim=1), op("logsumexp", 0, dim=1), op("mul", 1, 2)),
        lambda t, a: a.std(dim=1) * a.logsumexp(dim=1),
    ),
    Case(
        "tensor pow and norm",
        (M23, M23),
        (op("pow", 0, 1), op("norm", 2, p=3.0, dim=0), op("sigmoid", 3)),
        lambda t, a, b: t.pow(a, b).norm(p=3.0, dim=0).sigmoid(),
        POSITIVE,
    ),
    Case(
        "kinked pieces",
        (M23, M23),
        (op("relu", 0), op("abs", 1), op("mul", 2, 3), op("maximum", 4, 1), op("square", 5), op("clamp", 6, min=-1.0, max=0.5)),
        lambda t, a, b: (t.maximum(a.relu() * b.abs(), b) ** 2).clamp(-1.0, 0.5),
    ),
    Case(
        "var log_softmax expm1",
        ((2, 4),),
        (op("var", 0, dim=1, keepdim=True), op("log_softmax", 0, dim=1), op("mul", 1, 2), op("expm1", 3)),
        lambda t, a: (a.var(dim=1, keepdim=True) * a.log_softmax(dim=1)).expm1(),
    ),
]


@needs_torch
@pytest.mark.parametrize("case", HESSIAN_CASES, ids=[c.label for c in HESSIAN_CASES])
def test_hessian_vector_agrees_with_torch_double_backward(case: Case) -> None:
    p = case.program
    values = case.draw(0)
    ordered = [values[n] for n in p.input_names]
    rng = np.random.default_rng(1)
    grad_output = rng.normal(size=output_shape(p, values))
    vector = [rng.normal(size=v.shape) for v in ordered]
    expected = torch_gradients(case.torch_fn, ordered, grad_output, vector)
    got = S.hessian_vector(p, values, grad_output, dict(zip(p.input_names, vector)))
    for name, want in zip(p.input_names, expected):
        np.testing.assert_allclose(got[name], want, rtol=1e-10, atol=1e-12, err_msg=f"{case.label}: d/d{name}")


HESSIAN_KINKS: list[tuple[str, tuple[Op, ...], Callable[..., Any], list[FloatArray]]] = [
    ("relu", (op("relu", 0), op("square", 1)), lambda t, a: a.relu().square(), [np.array([-1.0, 0.0, 2.0])]),
    ("abs", (op("abs", 0), op("pow", 1, 3.0)), lambda t, a: a.abs() ** 3.0, [np.array([-1.0, 0.0, 2.0])]),
    (
        "clamp",
        (op("clamp", 0, min=0.0, max=1.0), op("square", 1)),
        lambda t, a: a.clamp(0.0, 1.0).square(),
        [np.array([-0.5, 0.0, 0.5, 1.0, 1.5])],
    ),
    (
        "maximum",
        (op("maximum", 0, 1), op("square", 2)),
        lambda t, a, b: t.maximum(a, b).square(),
        [np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])],
    ),
    ("amax", (op("amax", 0), op("square", 1)), lambda t, a: a.amax().square(), [np.array([1.0, 3.0, 3.0, 3.0])]),
    ("std of equal elements", (op("std", 0), op("square", 1)), lambda t, a: a.std().square(), [np.array([2.0, 2.0, 2.0])]),
    ("sqrt at 0", (op("sqrt", 0),), lambda t, a: a.sqrt(), [np.array([0.0, 1.0])]),
    (
        "where nan trap",
        (op("gt", 0, 0.0), op("sqrt", 0), op("where", 1, 2, 0.0)),
        lambda t, a: t.where(a > 0, a.sqrt(), 0.0),
        [np.array([-1.0, 0.0, 4.0])],
    ),
]


@needs_torch
@pytest.mark.parametrize("ops,torch_fn,values", [k[1:] for k in HESSIAN_KINKS], ids=[k[0] for k in HESSIAN_KINKS])
def test_second_derivatives_at_kinks_match_torch(ops: tuple[Op, ...], torch_fn: Callable[..., Any], values: list[FloatArray]) -> None:
    p = program([v.shape for v in values], *ops)
    named = dict(zip(p.input_names, values))
    grad_output = np.ones(output_shape(p, named))
    vector = [np.ones(v.shape) for v in values]
    expected = torch_gradients(torch_fn, values, grad_output, vector)
    got = S.hessian_vector(p, named, grad_output, dict(zip(p.input_names, vector)))
    for name, want in zip(p.input_names, expected):
        np.testing.assert_allclose(got[name], want, rtol=1e-15, atol=0, err_msg=f"d/d{name}")


def test_hessian_of_seed_program() -> None:
    seed = program([(2,), (2,)], op("pow", 0, 3.0), op("mul", 3.0, 2), op("pow", 1, 2.0), op("sub", 3, 4))
    values = {"a": np.array([2.0, 3.0]), "b": np.array([6.0, 4.0])}
    hv = S.hessian_vector(seed, values, np.ones(2), {"a": np.array([1.0, 2.0]), "b": np.array([1.0, -1.0])})
    assert hv["a"].tolist() == [18 * 2 * 1, 18 * 3 * 2]
    assert hv["b"].tolist() == [-2.0, 2.0]


# ---------------------------------------------------------------------------------------------
# The oracle can fail, and it is the gradient of the forward expressions


class WrongSin(S.NumericFunction):
    """sin with a wrong derivative (-cos): a mutant of the table."""

    numeric = staticmethod(lambda x: mpmath.sin(x))

    def fdiff(self, argindex: int = 1) -> Any:
        return -sympy.cos(self.args[0])


def test_wrong_derivative_is_detected() -> None:
    mutant = dict(S.SYMBOLIC)
    mutant["sin"] = lambda x: S.elementwise(WrongSin, x)
    p = program([(4,)], op("sin", 0), op("mul", 1, 0))
    values = {"a": np.array([0.3, -1.2, 2.0, 0.7])}
    grad_output = np.ones(4)
    np.testing.assert_array_equal(S.forward(p, values, table=mutant), S.forward(p, values))
    right = S.gradient(p, values, grad_output)["a"]
    wrong = S.gradient(p, values, grad_output, table=mutant)["a"]
    x = values["a"]
    np.testing.assert_allclose(right, np.cos(x) * x + np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(wrong, -np.cos(x) * x + np.sin(x), rtol=1e-14)
    assert np.all(np.abs(right - wrong) > 1e-3)


def test_chain_rule_matches_whole_expression_diff() -> None:
    """The element-graph accumulation equals ``sympy.diff`` of the whole output expression."""
    p = program(
        [(3,), (3,)],
        op("tanh", 0),
        op("exp", 1),
        op("mul", 2, 3),
        op("log_softmax", 4, dim=0),
        op("matmul", 5, 0),
        op("sin", 6),
    )
    values = {"a": np.array([0.3, -0.7, 1.1]), "b": np.array([-0.2, 0.5, 0.9])}
    out = S.expressions(p)
    symbols = S.input_symbols(p)
    subs = {symbols[n][i]: sympy.Float(float(values[n][i]), 30) for n in p.input_names for i in range(3)}
    got = S.gradient(p, values, np.array(1.0))
    for name in p.input_names:
        for i in range(3):
            want = float(sympy.diff(out[()], symbols[name][i]).evalf(30, subs=subs))
            assert got[name][i] == pytest.approx(want, rel=1e-14, abs=1e-300)


def test_precision_beyond_float64() -> None:
    """A catastrophic cancellation in float64 (log(1 + 1e-17) = 0) is exact at DPS digits."""
    p = program([(1,)], op("add", 0, 1.0), op("log", 1), op("mul", 2, 1e16))
    x = np.array([1e-17])
    assert S.forward(p, {"a": x})[0] == pytest.approx(0.1, rel=1e-15)
    assert S.gradient(p, {"a": x}, np.ones(1))["a"][0] == pytest.approx(1e16, rel=1e-15)


# ---------------------------------------------------------------------------------------------
# Errors


def test_unknown_op_is_unsupported() -> None:
    with pytest.raises(S.SymbolicUnsupported, match="no meaning for op 'erf'"):
        S.gradient(program([(2,)], op("erf", 0)), {"a": np.ones(2)}, np.ones(2))


def test_boolean_output_has_no_gradient() -> None:
    p = program([(2,)], op("gt", 0, 0.0))
    assert S.forward(p, {"a": np.array([-1.0, 1.0])}).tolist() == [0.0, 1.0]
    with pytest.raises(S.SymbolicUnsupported, match="boolean"):
        S.gradient(p, {"a": np.ones(2)}, np.ones(2))


def test_bad_attributes_are_unsupported() -> None:
    with pytest.raises(S.SymbolicUnsupported, match="clamp needs"):
        S.forward(program([(2,)], op("clamp", 0)), {"a": np.ones(2)})
    with pytest.raises(S.SymbolicUnsupported, match="norm with p='nuc'"):
        S.forward(program([(2, 2)], op("norm", 0, p="nuc")), {"a": np.ones((2, 2))})
    with pytest.raises(S.SymbolicUnsupported, match="matmul"):
        S.forward(program([(2, 3), (2, 3)], op("matmul", 0, 1)), {"a": np.ones((2, 3)), "b": np.ones((2, 3))})
    with pytest.raises(ValueError, match="grad_output has shape"):
        S.gradient(program([(2,)], op("sin", 0)), {"a": np.ones(2)}, np.ones(3))


# ---------------------------------------------------------------------------------------------
# Performance: a 100-op program of 16 scalar inputs, differentiation included


def chain_program(seed: int, n_inputs: int = 16, n_ops: int = 100) -> Program:
    """Every op uses the previous result (so the output depends on all of them) and one
    earlier value; smooth ops only, so every input has a nonzero gradient."""
    rng = random.Random(seed)
    unary_ops = ["sin", "cos", "tanh", "sigmoid", "square", "neg", "exp"]
    binary_ops = ["add", "sub", "mul", "maximum"]
    ops = []
    for i in range(n_ops):
        last = n_inputs + i - 1
        if i < n_inputs - 1:
            ops.append(op(rng.choice(["add", "sub", "mul"]), last if i else 0, i + 1))
        elif rng.random() < 0.4:
            ops.append(op(rng.choice(unary_ops), last))
        else:
            ops.append(op(rng.choice(binary_ops), last, rng.randrange(0, last)))
    return Program(tuple(Input(f"x{i}", ()) for i in range(n_inputs)), tuple(ops))


def test_hundred_op_program_under_two_seconds() -> None:
    p = chain_program(7)
    values = {f"x{i}": np.array(0.05 * i - 0.4) for i in range(16)}
    start = time.perf_counter()
    grads = S.gradient(p, values, np.array(1.0))
    elapsed = time.perf_counter() - start
    print(f"\nsymbolic gradient, 100 ops / 16 scalar inputs, cold (differentiation included): {elapsed:.3f} s")
    assert len(grads) == 16 and all(np.isfinite(g) for g in grads.values())
    assert elapsed < 2.0
    if torch is not None:
        want = torch_program_gradient(p, values)
        for name in values:
            assert float(grads[name]) == pytest.approx(want[name], rel=1e-10, abs=1e-12)


def torch_program_gradient(p: Program, values: dict[str, FloatArray]) -> dict[str, float]:
    tensors = {n: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for n, v in values.items()}
    env: list[Any] = [tensors[i.name] for i in p.inputs]
    functions: dict[str, Callable[..., Any]] = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "maximum": torch.maximum,
        "sin": torch.sin,
        "cos": torch.cos,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "square": torch.square,
        "neg": torch.neg,
        "exp": torch.exp,
    }
    for o in p.ops:
        env.append(functions[o.name](*[env[a.index] for a in o.args if isinstance(a, Ref)]))
    grads = torch.autograd.grad(env[-1], list(tensors.values()), allow_unused=True)
    return {n: 0.0 if g is None else float(g) for n, g in zip(tensors, grads)}
