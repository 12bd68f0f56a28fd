"""Reference section 4: higher-order gradients (items 22-24), derivatives up to the third
order of every differentiable op compared with SymPy, and autograd.functional.

Every test runs on refgrad and on torch (the ``engine`` fixture). Expected values come from
SymPy (exact arithmetic, evaluated to 30 digits) or from hand-written formulas, never from
the engine.

The SymPy table ``CASES`` has one row per op: ``(id, engine function, sympy function,
domain, shapes, objectives)``. For a row, the test draws float64 inputs in the domain,
random weights ``w`` (of the output's shape) and random directions ``v``, ``u`` (of the
inputs' shapes), and builds the scalar objective ``L = sum(w * out**power)``. Then

- order 1: ``g = grad(L, xs, create_graph=True)``, compared with SymPy's gradient;
- order 2: ``h = grad(sum(g * v), xs, create_graph=True)``, the Hessian-vector product
  ``H v``, compared with SymPy's Hessian times ``v``;
- order 3: ``t = grad(sum(h * u), xs)``, the third-derivative tensor contracted with ``v``
  and ``u``.

Objectives: the smooth ops run with power 1 ("plain": for an elementwise op f, the three
results are w f', w f'' v and w f''' v u, element by element) and with power 2
("squared": the upstream gradient reaching the op then depends on the inputs, so the
op's backward is differentiated through its gradient argument too). Compositions run
with power 1 only (their inner ops already get such an upstream gradient). Linear,
piecewise linear and quadratic ops run with power 3 ("cubed") only: with power 1 their
``h`` is a constant, and differentiating it again raises NOGRAD (item 22).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import pytest
import sympy as sp  # type: ignore[import-untyped]

from properties.engines import EngineAdapter

from helpers import FloatArray, NOGRAD, as_array, raises_exactly, size_text

CREATE_GRAPH_WARNING = "ignore:Using backward\\(\\) with create_graph=True"

RTOL = 1e-8

Shape = tuple[int, ...]
Fn = Callable[..., Any]

# ---------------------------------------------------------------------------
# SymPy side: the only place with untyped values (Any)


class _Sym:
    """Elementwise SymPy functions over numpy object arrays of SymPy expressions."""

    def __init__(self) -> None:
        for name in ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "Abs", "sign"):
            setattr(self, name, np.frompyfunc(getattr(sp, name), 1, 1))
        self.Max = np.frompyfunc(sp.Max, 2, 1)
        self.Min = np.frompyfunc(sp.Min, 2, 1)

    exp: Any
    log: Any
    sqrt: Any
    sin: Any
    cos: Any
    tan: Any
    tanh: Any
    Abs: Any
    sign: Any
    Max: Any
    Min: Any


Z = _Sym()


def q(value: float) -> Any:
    """The exact SymPy rational of a float (binary fractions are exact)."""
    return sp.Rational(value)


def sym_const(values: Any) -> Any:
    """A numpy object array of exact SymPy rationals."""
    return np.frompyfunc(q, 1, 1)(np.asarray(values, dtype=np.float64))


def sym_where(cond: Callable[[Any, Any], Any], a: Any, b: Any, x: Any, y: Any) -> Any:
    """Elementwise Piecewise((a, cond), (b, True)) over flat object arrays."""
    return [
        sp.Piecewise((ai, cond(xi, yi)), (bi, True))
        for ai, bi, xi, yi in zip(np.ravel(a), np.ravel(b), np.ravel(x), np.ravel(y))
    ]


def sym_var(x: Any) -> Any:
    flat = list(np.ravel(x))
    mean = sp.Add(*flat) / len(flat)
    return sp.Add(*[(v - mean) ** 2 for v in flat]) / (len(flat) - 1)


def sym_softmax(x: Any) -> list[Any]:
    flat = list(np.ravel(x))
    total = sp.Add(*[sp.exp(v) for v in flat])
    return [sp.exp(v) / total for v in flat]


def sym_logsumexp(x: Any) -> Any:
    return sp.log(sp.Add(*[sp.exp(v) for v in np.ravel(x)]))


class Derivatives(NamedTuple):
    """Per input: gradient, Hessian times v, third derivative contracted with v and u."""

    first: list[FloatArray]
    second: list[FloatArray]
    third: list[FloatArray]


def sympy_derivatives(
    sympy_fn: Fn,
    xs: Sequence[FloatArray],
    w: FloatArray,
    v: Sequence[FloatArray],
    u: Sequence[FloatArray],
    power: int,
) -> Derivatives:
    """The oracle: differentiate the objective symbolically, evaluate exactly at xs."""
    symbols: list[Any] = []
    arrays: list[Any] = []
    for k, x in enumerate(xs):
        syms = [sp.Symbol(f"x{k}_{i}", real=True) for i in range(x.size)]
        symbols.append(syms)
        arr = np.empty(x.size, dtype=object)
        arr[:] = syms
        arrays.append(arr.reshape(x.shape))
    outputs = list(np.ravel(np.asarray(sympy_fn(*arrays), dtype=object)))
    assert len(outputs) == w.size, f"sympy function gives {len(outputs)} outputs, engine {w.size}"
    objective = sp.Add(*[q(wi) * o**power for wi, o in zip(np.ravel(w), outputs)])
    values = {s: q(float(val)) for syms, x in zip(symbols, xs) for s, val in zip(syms, np.ravel(x))}

    def gradient(expr: Any) -> list[list[Any]]:
        return [[sp.diff(expr, s) for s in syms] for syms in symbols]

    def contract(grads: list[list[Any]], direction: Sequence[FloatArray]) -> Any:
        return sp.Add(*[q(di) * gi for gk, dk in zip(grads, direction) for gi, di in zip(gk, np.ravel(dk))])

    def evaluate(grads: list[list[Any]]) -> list[FloatArray]:
        return [
            np.array([float(sp.N(g.xreplace(values), 30)) for g in gk], dtype=np.float64).reshape(x.shape)
            for gk, x in zip(grads, xs)
        ]

    first = gradient(objective)
    second = gradient(contract(first, v))
    third = gradient(contract(second, u))
    return Derivatives(evaluate(first), evaluate(second), evaluate(third))


# ---------------------------------------------------------------------------
# The table


class Case(NamedTuple):
    id: str
    engine_fn: Fn  # (engine, *leaves) -> tensor
    sympy_fn: Fn  # (*object arrays of symbols) -> array-like of expressions, in C order
    domain: str | tuple[str, ...]  # one domain for all inputs, or one per input
    shapes: tuple[Shape, ...] = ((3,),)
    objectives: tuple[str, ...] = ("plain", "squared")


# linear, piecewise linear and quadratic ops: their second derivative is constant
CUBED = ("cubed",)
# compositions: their inner ops already receive an upstream gradient that depends on the
# inputs, and the squared objective would only make the (costly) SymPy side larger
COMPOSED = ("plain",)
VV3 = ((3,), (3,))
HALF = sp.Rational(1, 2)
A_CONST = [[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]]
B_CONST = [[2.0, 1.0, -0.5], [0.0, 1.5, 1.0], [-1.0, 0.5, 0.75]]


def _c(engine: ModuleType, data: Any) -> Any:
    return engine.tensor(data, dtype=engine.float64)


def _clamp(x: Any) -> Any:
    return Z.Min(Z.Max(x, -HALF), HALF)


CASES: list[Case] = [
    # elementwise, smooth
    Case("exp", lambda E, x: E.exp(x), lambda x: Z.exp(x), "real"),
    Case("log", lambda E, x: E.log(x), lambda x: Z.log(x), "pos"),
    Case("log1p", lambda E, x: E.log1p(x), lambda x: Z.log(1 + x), "unit"),
    Case("expm1", lambda E, x: E.expm1(x), lambda x: Z.exp(x) - 1, "real"),
    Case("sqrt", lambda E, x: E.sqrt(x), lambda x: Z.sqrt(x), "pos"),
    Case("rsqrt", lambda E, x: E.rsqrt(x), lambda x: 1 / Z.sqrt(x), "pos"),
    Case("reciprocal", lambda E, x: E.reciprocal(x), lambda x: 1 / x, "nonzero"),
    Case("sin", lambda E, x: E.sin(x), lambda x: Z.sin(x), "real"),
    Case("cos", lambda E, x: E.cos(x), lambda x: Z.cos(x), "real"),
    Case("tan", lambda E, x: E.tan(x), lambda x: Z.tan(x), "unit"),
    Case("tanh", lambda E, x: E.tanh(x), lambda x: Z.tanh(x), "real"),
    Case("sigmoid", lambda E, x: E.sigmoid(x), lambda x: 1 / (1 + Z.exp(-x)), "real"),
    Case("pow_3", lambda E, x: x**3, lambda x: x**3, "real"),
    Case("pow_fn_2.5", lambda E, x: E.pow(x, 2.5), lambda x: x ** sp.Rational(5, 2), "pos"),
    Case("rpow_2", lambda E, x: 2.0**x, lambda x: 2**x, "real"),
    Case("pow_tensor", lambda E, x, y: x**y, lambda x, y: x**y, ("pos", "real"), VV3),
    Case("div", lambda E, x, y: x / y, lambda x, y: x / y, ("real", "nonzero"), VV3),
    Case("div_fn", lambda E, x, y: E.div(x, y), lambda x, y: x / y, ("real", "nonzero"), VV3),
    # elementwise, piecewise linear or polynomial of degree <= 2
    Case("relu", lambda E, x: E.relu(x), lambda x: Z.Max(0, x), "real", objectives=CUBED),
    Case("abs", lambda E, x: E.abs(x), lambda x: Z.Abs(x), "real", objectives=CUBED),
    Case("square", lambda E, x: E.square(x), lambda x: x**2, "real", objectives=CUBED),
    Case("neg", lambda E, x: -x, lambda x: -x, "real", objectives=CUBED),
    Case("neg_fn", lambda E, x: E.neg(x), lambda x: -x, "real", objectives=CUBED),
    Case("clamp_inside", lambda E, x: E.clamp(x, -0.5, 0.5), _clamp, "inner", objectives=CUBED),
    Case("clamp_outside", lambda E, x: E.clamp(x, -0.5, 0.5), _clamp, "outer", objectives=CUBED),
    Case("clamp_mixed", lambda E, x: E.clamp(x, -0.5, 0.5), _clamp, "real", objectives=CUBED),
    Case("add", lambda E, x, y: x + y, lambda x, y: x + y, "real", VV3, CUBED),
    Case("add_fn", lambda E, x, y: E.add(x, y), lambda x, y: x + y, "real", VV3, CUBED),
    Case("sub", lambda E, x, y: x - y, lambda x, y: x - y, "real", VV3, CUBED),
    Case("sub_fn", lambda E, x, y: E.sub(x, y), lambda x, y: x - y, "real", VV3, CUBED),
    Case("mul", lambda E, x, y: x * y, lambda x, y: x * y, "real", VV3, CUBED),
    Case("mul_fn", lambda E, x, y: E.mul(x, y), lambda x, y: x * y, "real", VV3, CUBED),
    Case("maximum", lambda E, x, y: E.maximum(x, y), lambda x, y: Z.Max(x, y), "real", VV3, CUBED),
    Case("minimum", lambda E, x, y: E.minimum(x, y), lambda x, y: Z.Min(x, y), "real", VV3, CUBED),
    Case(
        "where", lambda E, x, y: E.where(x > 0, x, y), lambda x, y: sym_where(lambda a, b: a > 0, x, y, x, y),
        "real", VV3, CUBED,
    ),
    # piecewise ops around smooth branches
    Case(
        "relu_of_sin", lambda E, x: E.relu(E.sin(x)) * x, lambda x: Z.Max(0, Z.sin(x)) * x, "real",
        objectives=COMPOSED,
    ),
    Case(
        "abs_of_sin", lambda E, x: E.abs(E.sin(x)) * x, lambda x: Z.Abs(Z.sin(x)) * x, "real", objectives=COMPOSED,
    ),
    Case(
        "maximum_smooth", lambda E, x, y: E.maximum(E.sin(x), E.cos(y)), lambda x, y: Z.Max(Z.sin(x), Z.cos(y)),
        "real", VV3, COMPOSED,
    ),
    Case(
        "minimum_smooth", lambda E, x, y: E.minimum(E.exp(x), y * y), lambda x, y: Z.Min(Z.exp(x), y**2),
        "real", VV3, COMPOSED,
    ),
    Case(
        "where_smooth",
        lambda E, x, y: E.where(x > y, E.sin(x) * y, E.exp(y) * x),
        lambda x, y: sym_where(lambda a, b: a > b, Z.sin(x) * y, Z.exp(y) * x, x, y),
        "real", VV3, COMPOSED,
    ),
    Case(
        "clamp_of_tanh", lambda E, x: E.clamp(E.tanh(x), -0.5, 0.5) * E.exp(x),
        lambda x: _clamp(Z.tanh(x)) * Z.exp(x), "real", objectives=COMPOSED,
    ),
    # mixed partials
    Case("x_y_sin_x", lambda E, x, y: x * y * E.sin(x), lambda x, y: x * y * Z.sin(x), "real", VV3, COMPOSED),
    Case("exp_xy", lambda E, x, y: E.exp(x * y), lambda x, y: Z.exp(x * y), "real", VV3, COMPOSED),
    Case(
        "sin_x_cos_y_plus", lambda E, x, y: E.sin(x) * E.cos(y) + x * x * y - y / (x * x + 1.0),
        lambda x, y: Z.sin(x) * Z.cos(y) + x**2 * y - y / (x**2 + 1), "real", VV3, COMPOSED,
    ),
    Case(
        "sub_then_exp", lambda E, x, y: E.exp(x - 2.0 * y) + x * y, lambda x, y: Z.exp(x - 2 * y) + x * y,
        "real", VV3, COMPOSED,
    ),
    # reductions
    Case("sum", lambda E, x: E.sum(x), lambda x: np.sum(x), "real", objectives=CUBED),
    Case(
        "sum_of_sin", lambda E, x: E.sin(x).sum() * x.sum(), lambda x: np.sum(Z.sin(x)) * np.sum(x), "real",
        objectives=COMPOSED,
    ),
    Case("mean", lambda E, x: E.mean(x), lambda x: np.sum(x) / 3, "real", objectives=CUBED),
    Case("mean_of_exp", lambda E, x: x.exp().mean(), lambda x: np.sum(Z.exp(x)) / 3, "real", objectives=COMPOSED),
    Case("prod", lambda E, x: E.prod(x), lambda x: sp.Mul(*x), "nonzero"),
    Case("var", lambda E, x: E.var(x), lambda x: sym_var(x), "real", objectives=CUBED),
    Case("std", lambda E, x: E.std(x), lambda x: sp.sqrt(sym_var(x)), "real"),
    Case("logsumexp", lambda E, x: E.logsumexp(x, dim=0), lambda x: sym_logsumexp(x), "real"),
    Case("softmax", lambda E, x: E.softmax(x, dim=0), lambda x: sym_softmax(x), "real"),
    Case("log_softmax", lambda E, x: E.log_softmax(x, dim=0), lambda x: [sp.log(s) for s in sym_softmax(x)], "real"),
    Case("norm", lambda E, x: E.norm(x, p=2), lambda x: sp.sqrt(np.sum(x**2)), "real"),
    Case("amax", lambda E, x: E.amax(x), lambda x: sp.Max(*x), "real", objectives=CUBED),
    Case("max", lambda E, x: E.max(x), lambda x: sp.Max(*x), "real", objectives=CUBED),
    Case(
        "max_method_of_exp", lambda E, x: (x.exp() * x).max(), lambda x: sp.Max(*(Z.exp(x) * x)), "real",
        objectives=COMPOSED,
    ),
    Case(
        "softmax_dim1", lambda E, x: E.softmax(x, dim=1), lambda x: [sym_softmax(row) for row in x], "real",
        ((2, 3),), COMPOSED,
    ),
    Case(
        "logsumexp_dim1", lambda E, x: E.logsumexp(x, dim=1), lambda x: [sym_logsumexp(row) for row in x], "real",
        ((2, 3),), COMPOSED,
    ),
    Case(
        "var_dim1", lambda E, x: E.var(x, dim=1), lambda x: [sym_var(row) for row in x], "real", ((2, 3),), CUBED,
    ),
    # matmul chains
    Case(
        "sum_sq_A_x", lambda E, x: ((_c(E, A_CONST) @ x) ** 2).sum(), lambda x: np.sum((sym_const(A_CONST) @ x) ** 2),
        "real", objectives=CUBED,
    ),
    Case(
        "quadratic_form", lambda E, x: x @ (_c(E, B_CONST) @ x), lambda x: x @ (sym_const(B_CONST) @ x),
        "real", objectives=CUBED,
    ),
    Case(
        "exp_A_x", lambda E, x: E.exp(_c(E, A_CONST) @ x), lambda x: Z.exp(sym_const(A_CONST) @ x), "real",
        objectives=COMPOSED,
    ),
    Case("tanh_W_x", lambda E, w, x: E.tanh(w @ x), lambda w, x: Z.tanh(w @ x), "real", ((2, 3), (3,)), COMPOSED),
    Case("sin_mm", lambda E, a, b: E.sin(E.mm(a, b)), lambda a, b: Z.sin(a @ b), "unit", ((2, 2), (2, 2)), COMPOSED),
    Case("dot", lambda E, x, y: E.dot(x, y), lambda x, y: x @ y, "real", VV3, CUBED),
    Case(
        "dot_of_exp", lambda E, x, y: E.dot(E.exp(x), y * y), lambda x, y: Z.exp(x) @ (y * y), "real", VV3,
        COMPOSED,
    ),
    Case("mv_sq", lambda E, w, x: E.mv(w, x) ** 2, lambda w, x: (w @ x) ** 2, "real", ((2, 3), (3,)), CUBED),
]

# ---------------------------------------------------------------------------
# Inputs


# Candidate values: a grid of step 0.05 in (-2, 2) offset by 0.025, so every value is at
# least 0.025 away from the kinks used above (0, +-0.5, +-1) and from every other candidate.
# A case draws without replacement across all its inputs (no ties for max/maximum/where).
_GRID: FloatArray = np.arange(-2.0 + 0.025, 2.0, 0.05)
_DOMAINS: dict[str, FloatArray] = {
    "real": _GRID,
    "pos": _GRID[_GRID > 0.5],
    "nonzero": _GRID[np.abs(_GRID) > 0.5],
    "unit": _GRID[np.abs(_GRID) < 1.0],
    "inner": _GRID[np.abs(_GRID) < 0.5],
    "outer": _GRID[np.abs(_GRID) > 0.5],
}


class Draw(NamedTuple):
    xs: list[FloatArray]
    w: FloatArray  # flat, one weight per output element
    v: list[FloatArray]
    u: list[FloatArray]


def _signed(rng: np.random.Generator, shape: Shape) -> FloatArray:
    """Entries of both signs with magnitude in [0.25, 1.5)."""
    values = rng.uniform(0.25, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return np.asarray(values, dtype=np.float64)


def draw(case: Case, objective: str, n_outputs: int) -> Draw:
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{objective}".encode()))
    kinds = (case.domain,) * len(case.shapes) if isinstance(case.domain, str) else case.domain
    assert len(kinds) == len(case.shapes)
    used: set[float] = set()
    xs: list[FloatArray] = []
    for shape, kind in zip(case.shapes, kinds):
        pool = np.array([c for c in _DOMAINS[kind] if float(c) not in used])
        n = math.prod(shape)
        chosen = rng.choice(pool, size=n, replace=False)
        used.update(float(c) for c in chosen)
        jitter = rng.uniform(-0.005, 0.005, size=n)
        xs.append(np.asarray(chosen + jitter, dtype=np.float64).reshape(shape))
    w = _signed(rng, (n_outputs,))
    v = [_signed(rng, x.shape) for x in xs]
    u = [_signed(rng, x.shape) for x in xs]
    return Draw(xs, w, v, u)


CASES_BY_ID = {case.id: case for case in CASES}
# the objective L = sum(w * out**power)
POWERS = {"plain": 1, "squared": 2, "cubed": 3}
PARAMS = [
    pytest.param(case.id, objective, id=f"{case.id}-{objective}")
    for case in CASES
    for objective in case.objectives
]


def _n_outputs(case: Case) -> int:
    """The number of output elements, from the SymPy function on placeholder symbols."""
    arrays = []
    for k, shape in enumerate(case.shapes):
        arr = np.empty(math.prod(shape), dtype=object)
        arr[:] = [sp.Symbol(f"p{k}_{i}", real=True) for i in range(arr.size)]
        arrays.append(arr.reshape(shape))
    return len(np.ravel(np.asarray(case.sympy_fn(*arrays), dtype=object)))


@functools.cache
def oracle(case_id: str, objective: str) -> tuple[Draw, Derivatives]:
    """Inputs and SymPy derivatives, computed once per (case, objective) for both engines."""
    case = CASES_BY_ID[case_id]
    d = draw(case, objective, _n_outputs(case))
    return d, sympy_derivatives(case.sympy_fn, d.xs, d.w, d.v, d.u, POWERS[objective])


def test_case_ids_are_unique() -> None:
    assert len(CASES_BY_ID) == len(CASES)


def test_every_case_has_a_domain_for_each_input() -> None:
    for case in CASES:
        assert case.objectives and all(objective in POWERS for objective in case.objectives), case.id
        kinds = (case.domain,) if isinstance(case.domain, str) else case.domain
        assert all(kind in _DOMAINS for kind in kinds), case.id
        assert isinstance(case.domain, str) or len(case.domain) == len(case.shapes), case.id


def _as_grads(engine: ModuleType, grads: Sequence[Any], xs: Sequence[FloatArray]) -> list[FloatArray]:
    """Engine gradients as arrays; None (an input the derivative does not reach) is zero."""
    result: list[FloatArray] = []
    for g, x in zip(grads, xs):
        if g is None:
            result.append(np.zeros_like(x))
        else:
            assert tuple(g.shape) == x.shape
            assert g.dtype == engine.float64
            result.append(as_array(g))
    return result


def _contract(engine: ModuleType, grads: Sequence[Any], directions: Sequence[FloatArray]) -> Any:
    terms = [(g * _c(engine, d.tolist())).sum() for g, d in zip(grads, directions) if g is not None]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _check(actual: list[FloatArray], expected: list[FloatArray], order: int) -> None:
    scale = max(1.0, *(float(np.max(np.abs(e))) for e in expected))
    for k, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=RTOL * scale, err_msg=f"order {order}, input {k}")


@pytest.mark.parametrize(("case_id", "objective"), PARAMS)
def test_derivatives_match_sympy(engine: ModuleType, case_id: str, objective: str) -> None:
    case = CASES_BY_ID[case_id]
    d, expected = oracle(case_id, objective)
    leaves = [engine.tensor(x.tolist(), dtype=engine.float64, requires_grad=True) for x in d.xs]
    out = case.engine_fn(engine, *leaves)
    w = _c(engine, d.w.reshape(tuple(out.shape)).tolist())
    power = POWERS[objective]
    objective_value = (w * (out if power == 1 else out**power)).sum()

    first = engine.autograd.grad(objective_value, leaves, create_graph=True)
    _check(_as_grads(engine, first, d.xs), expected.first, 1)
    second = engine.autograd.grad(_contract(engine, first, d.v), leaves, create_graph=True, allow_unused=True)
    _check(_as_grads(engine, second, d.xs), expected.second, 2)
    third = engine.autograd.grad(_contract(engine, second, d.u), leaves, allow_unused=True)
    _check(_as_grads(engine, third, d.xs), expected.third, 3)
    for leaf in leaves:
        assert leaf.grad is None


def test_the_table_exercises_non_zero_derivatives() -> None:
    """Guards the table: apart from clamp outside its range, each row has a non-zero third
    derivative for at least one of its objectives (sqrt squared is x: a zero is right there)."""
    for case in CASES:
        if case.id == "clamp_outside":
            continue
        thirds = [t for objective in case.objectives for t in oracle(case.id, objective)[1].third]
        assert any(np.any(np.abs(t) > 1e-3) for t in thirds), case.id


def test_clamp_outside_has_zero_derivatives() -> None:
    _, expected = oracle("clamp_outside", "cubed")
    for order in expected:
        for arr in order:
            assert not np.any(arr)


# ---------------------------------------------------------------------------
# Item 22: create_graph, and which gradients require grad


def leaf(engine: ModuleType, values: list[float]) -> Any:
    return engine.tensor(values, dtype=engine.float64, requires_grad=True)


def test_create_graph_makes_gradients_differentiable(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad is True
    assert g.grad_fn is not None
    np.testing.assert_array_equal(as_array(g), [3.0, 12.0, 27.0])
    (g2,) = engine.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(as_array(g2), [6.0, 12.0, 18.0])


def test_without_create_graph_the_gradient_cannot_be_differentiated(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x**3).sum(), x)
    assert g.requires_grad is False
    with raises_exactly(RuntimeError, NOGRAD):
        engine.autograd.grad(g.sum(), x)


# d/dx of these does not involve any tensor that requires grad
CONSTANT_GRADIENTS: list[tuple[str, Callable[[ModuleType, Any, Any], Any], list[float]]] = [
    ("sum(2x)", lambda E, x, y: (2.0 * x).sum(), [2.0, 2.0, 2.0]),
    ("sum(x*2)", lambda E, x, y: (x * 2.0).sum(), [2.0, 2.0, 2.0]),
    ("sum(x+y)", lambda E, x, y: (x + y).sum(), [1.0, 1.0, 1.0]),
    ("sum(x-y)", lambda E, x, y: (x - y).sum(), [1.0, 1.0, 1.0]),
    ("sum(-x)", lambda E, x, y: (-x).sum(), [-1.0, -1.0, -1.0]),
    ("sum(x/2)", lambda E, x, y: (x / 2.0).sum(), [0.5, 0.5, 0.5]),
    ("sum(x*plain)", lambda E, x, y: (x * _c(E, [1.0, -1.0, 3.0])).sum(), [1.0, -1.0, 3.0]),
    ("sum(x)", lambda E, x, y: x.sum(), [1.0, 1.0, 1.0]),
]

# d/dx of these involves x or y, which require grad
VARIABLE_GRADIENTS: list[tuple[str, Callable[[ModuleType, Any, Any], Any], list[float]]] = [
    ("sum(x**3)", lambda E, x, y: (x**3).sum(), [3.0, 12.0, 27.0]),
    ("sum(x*x)", lambda E, x, y: (x * x).sum(), [2.0, 4.0, 6.0]),
    ("sum(x*y)", lambda E, x, y: (x * y).sum(), [4.0, 5.0, 6.0]),
    ("sum(y/x)", lambda E, x, y: (y / x).sum(), [-4.0, -1.25, -6.0 / 9.0]),
    ("sum(exp(x))", lambda E, x, y: x.exp().sum(), list(np.exp([1.0, 2.0, 3.0]))),
]


@pytest.mark.parametrize(
    ("build", "expected"), [(b, e) for _, b, e in CONSTANT_GRADIENTS], ids=[i for i, _, _ in CONSTANT_GRADIENTS]
)
def test_constant_gradient_does_not_require_grad(
    engine: ModuleType, build: Callable[[ModuleType, Any, Any], Any], expected: list[float]
) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = leaf(engine, [4.0, 5.0, 6.0])
    (g,) = engine.autograd.grad(build(engine, x, y), x, create_graph=True)
    assert g.requires_grad is False
    assert g.grad_fn is None
    np.testing.assert_allclose(as_array(g), expected, rtol=1e-15)
    with raises_exactly(RuntimeError, NOGRAD):
        engine.autograd.grad(g.sum(), x)


@pytest.mark.parametrize(
    ("build", "expected"), [(b, e) for _, b, e in VARIABLE_GRADIENTS], ids=[i for i, _, _ in VARIABLE_GRADIENTS]
)
def test_variable_gradient_requires_grad(
    engine: ModuleType, build: Callable[[ModuleType, Any, Any], Any], expected: list[float]
) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = leaf(engine, [4.0, 5.0, 6.0])
    (g,) = engine.autograd.grad(build(engine, x, y), x, create_graph=True)
    assert g.requires_grad is True
    assert g.is_leaf is False
    np.testing.assert_allclose(as_array(g), expected, rtol=1e-15)


def test_gradient_through_y_only_requires_grad_for_y(engine: ModuleType) -> None:
    """d/dx sum(x*y) = y: differentiating it w.r.t. x finds x unused; w.r.t. y gives ones."""
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = leaf(engine, [4.0, 5.0, 6.0])
    (g,) = engine.autograd.grad((x * y).sum(), x, create_graph=True)
    gx, gy = engine.autograd.grad(g.sum(), [x, y], allow_unused=True, retain_graph=True)
    assert gx is None
    np.testing.assert_array_equal(as_array(gy), [1.0, 1.0, 1.0])
    with raises_exactly(
        RuntimeError,
        "The differentiated Tensor at index 0 appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior.",
    ):
        engine.autograd.grad(g.sum(), [x, y])


# ---------------------------------------------------------------------------
# Item 23: the numbers


def test_x_cubed_first_second_third(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x**3).sum(), x, create_graph=True)
    (g2,) = engine.autograd.grad(g.sum(), x, create_graph=True)
    (g3,) = engine.autograd.grad(g2.sum(), x)
    np.testing.assert_array_equal(as_array(g), [3.0, 12.0, 27.0])
    np.testing.assert_array_equal(as_array(g2), [6.0, 12.0, 18.0])
    np.testing.assert_array_equal(as_array(g3), [6.0, 6.0, 6.0])


def test_backward_through_a_gradient_made_with_create_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x**3).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [6.0, 12.0, 18.0])


@pytest.mark.parametrize(
    ("name", "at", "d1", "d2", "rounded"),
    [
        ("sin", 0.5, math.cos(0.5), -math.sin(0.5), (0.8776, -0.4794)),
        ("tanh", 0.3, 1 - math.tanh(0.3) ** 2, -2 * math.tanh(0.3) * (1 - math.tanh(0.3) ** 2), (0.9151, -0.5332)),
    ],
    ids=["sin", "tanh"],
)
def test_first_and_second_derivative_at_a_point(
    engine: ModuleType, name: str, at: float, d1: float, d2: float, rounded: tuple[float, float]
) -> None:
    assert (round(d1, 4), round(d2, 4)) == rounded  # the reference's numbers
    a = engine.tensor(at, dtype=engine.float64, requires_grad=True)
    (g,) = engine.autograd.grad(getattr(engine, name)(a), a, create_graph=True)
    (g2,) = engine.autograd.grad(g, a)
    assert tuple(g.shape) == ()
    assert float(as_array(g)) == pytest.approx(d1, rel=1e-14)
    assert float(as_array(g2)) == pytest.approx(d2, rel=1e-14)


def test_sin_derivatives_cycle(engine: ModuleType) -> None:
    a = engine.tensor([0.5, -1.25], dtype=engine.float64, requires_grad=True)
    expected: list[Callable[[FloatArray], FloatArray]] = [
        lambda t: np.cos(t),
        lambda t: -np.sin(t),
        lambda t: -np.cos(t),
        lambda t: np.sin(t),
    ]
    current = engine.sin(a).sum()
    for order, formula in enumerate(expected, start=1):
        (g,) = engine.autograd.grad(current, a, create_graph=True)
        np.testing.assert_allclose(as_array(g), formula(np.array([0.5, -1.25])), rtol=1e-14, err_msg=f"order {order}")
        current = g.sum()


# ---------------------------------------------------------------------------
# Item 24: grad modes


def test_grad_with_create_graph_inside_no_grad_builds_a_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x**3).sum()
    with engine.no_grad():
        (g,) = engine.autograd.grad(y, x, create_graph=True)
        assert engine.is_grad_enabled() is False
    assert g.requires_grad is True
    assert g.grad_fn is not None
    (g2,) = engine.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(as_array(g2), [6.0, 12.0, 18.0])


def test_grad_without_create_graph_inside_enable_grad_builds_no_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x**3).sum()
    with engine.enable_grad():
        (g,) = engine.autograd.grad(y, x)
    assert g.requires_grad is False


def test_backward_inside_no_grad_on_a_graph_built_outside(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x.exp()).sum()
    with engine.no_grad():
        y.backward()
        assert engine.is_grad_enabled() is False
    np.testing.assert_allclose(as_array(x.grad), (1.0 + np.array([1.0, 2.0, 3.0])) * np.exp([1.0, 2.0, 3.0]), rtol=1e-14)
    assert x.grad.requires_grad is False


@pytest.mark.filterwarnings(CREATE_GRAPH_WARNING)
def test_backward_with_create_graph_inside_no_grad(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x**3).sum()
    with engine.no_grad():
        y.backward(create_graph=True)
    assert x.grad.requires_grad is True
    np.testing.assert_array_equal(as_array(x.grad), [3.0, 12.0, 27.0])


@pytest.mark.filterwarnings(CREATE_GRAPH_WARNING)
@pytest.mark.parametrize("create_graph", [True, False])
@pytest.mark.parametrize("outer", ["grad mode", "no_grad"])
@pytest.mark.parametrize("call", ["autograd.grad", "backward"])
def test_grad_mode_inside_hooks_equals_create_graph(engine: ModuleType, create_graph: bool, outer: str, call: str) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = x**3
    seen: list[bool] = []

    def hook(grad: Any) -> None:
        seen.append(engine.is_grad_enabled())

    y.register_hook(hook)
    x.register_hook(hook)
    total = y.sum()
    context = engine.no_grad() if outer == "no_grad" else engine.enable_grad()
    with context:
        if call == "backward":
            total.backward(create_graph=create_graph)
        else:
            engine.autograd.grad(total, x, create_graph=create_graph)
    assert seen == [create_graph, create_graph]
    assert engine.is_grad_enabled() is True


# ---------------------------------------------------------------------------
# Hand-computed mixed partials and Hessians


def test_mixed_partials_of_x_y_sin_x(engine: ModuleType) -> None:
    x0, y0 = 0.7, -1.3
    x = engine.tensor(x0, dtype=engine.float64, requires_grad=True)
    y = engine.tensor(y0, dtype=engine.float64, requires_grad=True)
    f = x * y * engine.sin(x)
    fx, fy = engine.autograd.grad(f, [x, y], create_graph=True)
    assert float(as_array(fx)) == pytest.approx(y0 * (math.sin(x0) + x0 * math.cos(x0)), rel=1e-14)
    assert float(as_array(fy)) == pytest.approx(x0 * math.sin(x0), rel=1e-14)
    fxx, fxy = engine.autograd.grad(fx, [x, y], create_graph=True)
    fyx, fyy = engine.autograd.grad(fy, [x, y], create_graph=True, allow_unused=True)
    assert float(as_array(fxx)) == pytest.approx(y0 * (2 * math.cos(x0) - x0 * math.sin(x0)), rel=1e-14)
    assert float(as_array(fxy)) == pytest.approx(math.sin(x0) + x0 * math.cos(x0), rel=1e-14)
    assert float(as_array(fyx)) == pytest.approx(math.sin(x0) + x0 * math.cos(x0), rel=1e-14)
    assert fyy is None  # f is linear in y: fy does not depend on y
    (fxxy,) = engine.autograd.grad(fxx, y)
    assert float(as_array(fxxy)) == pytest.approx(2 * math.cos(x0) - x0 * math.sin(x0), rel=1e-14)


def _hessian_rows(engine: ModuleType, f: Any, x: Any, n: int) -> FloatArray:
    (g,) = engine.autograd.grad(f, x, create_graph=True)
    rows = []
    for i in range(n):
        (row,) = engine.autograd.grad(g[i], x, retain_graph=True)
        rows.append(as_array(row))
    return np.stack(rows)


def test_hessian_of_sum_of_squares_of_A_x(engine: ModuleType) -> None:
    A = np.array(A_CONST)
    x = leaf(engine, [0.3, -1.1, 2.0])
    f = ((_c(engine, A_CONST) @ x) ** 2).sum()
    np.testing.assert_allclose(_hessian_rows(engine, f, x, 3), 2 * A.T @ A, rtol=1e-14)


def test_hessian_of_quadratic_form(engine: ModuleType) -> None:
    B = np.array(B_CONST)
    x = leaf(engine, [0.3, -1.1, 2.0])
    f = x @ (_c(engine, B_CONST) @ x)
    np.testing.assert_allclose(_hessian_rows(engine, f, x, 3), B + B.T, rtol=1e-14)


def test_hessian_of_matmul_chain_with_nonlinearity(engine: ModuleType) -> None:
    """f = sum(exp(A x)): H = A^T diag(exp(A x)) A."""
    A = np.array(A_CONST)
    x0 = np.array([0.3, -0.4, 0.2])
    x = leaf(engine, x0.tolist())
    f = engine.exp(_c(engine, A_CONST) @ x).sum()
    expected = A.T @ np.diag(np.exp(A @ x0)) @ A
    np.testing.assert_allclose(_hessian_rows(engine, f, x, 3), expected, rtol=1e-13)


# ---------------------------------------------------------------------------
# autograd.functional


def fn_ns(engine: ModuleType) -> Any:
    return engine.autograd.functional


def arr(engine: ModuleType, values: Any) -> Any:
    return engine.tensor(values, dtype=engine.float64)


def test_jacobian_single_input_is_a_tensor(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    J = fn_ns(engine).jacobian(lambda t: 3.0 * t**2, a)
    assert isinstance(J, engine.Tensor)
    assert tuple(J.shape) == (2, 2)
    np.testing.assert_array_equal(as_array(J), [[6.0, 0.0], [0.0, 12.0]])
    assert J.requires_grad is False


def test_jacobian_shape_is_output_shape_plus_input_shape(engine: ModuleType) -> None:
    m0 = np.arange(6.0).reshape(2, 3)
    m = arr(engine, m0.tolist())
    J = fn_ns(engine).jacobian(lambda t: t.t() * 2.0, m)
    assert tuple(J.shape) == (3, 2, 2, 3)
    expected = np.zeros((3, 2, 2, 3))
    for i in range(3):
        for j in range(2):
            expected[i, j, j, i] = 2.0
    np.testing.assert_array_equal(as_array(J), expected)


def test_jacobian_of_a_scalar_output(engine: ModuleType) -> None:
    a = arr(engine, [1.0, -2.0, 0.5])
    J = fn_ns(engine).jacobian(lambda t: (t**2).sum(), a)
    assert tuple(J.shape) == (3,)
    np.testing.assert_array_equal(as_array(J), [2.0, -4.0, 1.0])


def test_jacobian_of_a_scalar_input(engine: ModuleType) -> None:
    s = arr(engine, 2.0)
    J = fn_ns(engine).jacobian(lambda t: t * arr(engine, [1.0, 2.0, 3.0]), s)
    assert tuple(J.shape) == (3,)
    np.testing.assert_array_equal(as_array(J), [1.0, 2.0, 3.0])
    J0 = fn_ns(engine).jacobian(lambda t: t**3, s)
    assert tuple(J0.shape) == ()
    assert float(as_array(J0)) == 12.0


def test_jacobian_with_a_tuple_of_inputs_is_a_tuple(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    b = arr(engine, [3.0, -1.0])
    J = fn_ns(engine).jacobian(lambda s, t: s * t * t, (a, b))
    assert type(J) is tuple
    assert len(J) == 2
    np.testing.assert_array_equal(as_array(J[0]), [[9.0, 0.0], [0.0, 1.0]])  # diag(b**2)
    np.testing.assert_array_equal(as_array(J[1]), [[6.0, 0.0], [0.0, -4.0]])  # diag(2ab)


def test_jacobian_with_a_one_tuple_input_is_a_tuple(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    J = fn_ns(engine).jacobian(lambda t: t * 2.0, (a,))
    assert type(J) is tuple
    assert len(J) == 1
    np.testing.assert_array_equal(as_array(J[0]), [[2.0, 0.0], [0.0, 2.0]])


def test_jacobian_with_tuple_outputs(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    b = arr(engine, [3.0, -1.0])
    J1 = fn_ns(engine).jacobian(lambda t: (t * 2.0, t.sum()), a)
    assert type(J1) is tuple and len(J1) == 2
    np.testing.assert_array_equal(as_array(J1[0]), [[2.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(as_array(J1[1]), [1.0, 1.0])
    J2 = fn_ns(engine).jacobian(lambda s, t: (s * t, s + t), (a, b))
    assert type(J2) is tuple and len(J2) == 2
    assert all(type(row) is tuple and len(row) == 2 for row in J2)
    np.testing.assert_array_equal(as_array(J2[0][0]), [[3.0, 0.0], [0.0, -1.0]])
    np.testing.assert_array_equal(as_array(J2[0][1]), [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(as_array(J2[1][0]), np.eye(2))
    np.testing.assert_array_equal(as_array(J2[1][1]), np.eye(2))


def test_jacobian_of_an_independent_output_is_zero(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    J = fn_ns(engine).jacobian(lambda t: arr(engine, [1.0, 2.0, 3.0]), a)
    assert tuple(J.shape) == (3, 2)
    np.testing.assert_array_equal(as_array(J), np.zeros((3, 2)))


def test_jacobian_create_graph(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], dtype=engine.float64, requires_grad=True)
    J = fn_ns(engine).jacobian(lambda t: t**3, a, create_graph=True)
    assert J.requires_grad is True
    (g,) = engine.autograd.grad(J.sum(), a)  # d/da sum(diag(3a**2)) = 6a
    np.testing.assert_array_equal(as_array(g), [6.0, 12.0])


def test_jacobian_leaves_grad_of_its_input_alone(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], dtype=engine.float64, requires_grad=True)
    J = fn_ns(engine).jacobian(lambda t: t**2, a)
    np.testing.assert_array_equal(as_array(J), [[2.0, 0.0], [0.0, 4.0]])
    assert a.grad is None


def test_jacobian_matches_sympy(engine: ModuleType) -> None:
    x0 = np.array([0.4, -1.2, 0.9])

    def f(t: Any) -> Any:
        return engine.stack([t[0] * engine.sin(t[1]), engine.exp(t[2]) * t[0], t[1] ** 2 / (1.0 + t[2] ** 2)])

    expected = sympy_jacobian(lambda s: [s[0] * sp.sin(s[1]), sp.exp(s[2]) * s[0], s[1] ** 2 / (1 + s[2] ** 2)], x0)
    J = fn_ns(engine).jacobian(f, arr(engine, x0.tolist()))
    np.testing.assert_allclose(as_array(J), expected, rtol=1e-14, atol=1e-15)


def test_hessian_of_a_scalar_function(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    H = fn_ns(engine).hessian(lambda t: (t**3).sum(), a)
    assert isinstance(H, engine.Tensor)
    np.testing.assert_array_equal(as_array(H), [[6.0, 0.0], [0.0, 12.0]])


def test_hessian_shape_for_a_matrix_input(engine: ModuleType) -> None:
    m = arr(engine, [[1.0, 2.0], [3.0, 4.0]])
    H = fn_ns(engine).hessian(lambda t: (t**3).sum(), m)
    assert tuple(H.shape) == (2, 2, 2, 2)
    expected = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            expected[i, j, i, j] = 6.0 * (2 * i + j + 1)
    np.testing.assert_array_equal(as_array(H), expected)


def test_hessian_matches_sympy(engine: ModuleType) -> None:
    x0 = np.array([0.4, -1.2, 0.9])

    def f(t: Any) -> Any:
        return t[0] * t[1] * engine.sin(t[2]) + engine.exp(t[0] * t[2]) + engine.log(t[1] ** 2 + 1.0)

    expected = sympy_hessian(lambda s: s[0] * s[1] * sp.sin(s[2]) + sp.exp(s[0] * s[2]) + sp.log(s[1] ** 2 + 1), x0)
    H = fn_ns(engine).hessian(f, arr(engine, x0.tolist()))
    np.testing.assert_allclose(as_array(H), expected, rtol=1e-13, atol=1e-14)


def test_hessian_with_a_tuple_of_inputs_is_a_tuple_of_tuples(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    b = arr(engine, [3.0, -1.0])
    H = fn_ns(engine).hessian(lambda s, t: (s * s * t).sum(), (a, b))
    assert type(H) is tuple and len(H) == 2
    assert all(type(row) is tuple and len(row) == 2 for row in H)
    np.testing.assert_array_equal(as_array(H[0][0]), np.diag([6.0, -2.0]))  # 2b
    np.testing.assert_array_equal(as_array(H[0][1]), np.diag([2.0, 4.0]))  # 2a
    np.testing.assert_array_equal(as_array(H[1][0]), np.diag([2.0, 4.0]))
    np.testing.assert_array_equal(as_array(H[1][1]), np.zeros((2, 2)))


def test_hessian_of_a_non_scalar_function(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, "The Tensor returned by the function given to hessian should contain a single element"):
        fn_ns(engine).hessian(lambda t: t * 2.0, arr(engine, [1.0, 2.0]))


def test_vjp_returns_output_and_vjp(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    result = fn_ns(engine).vjp(lambda t: 3.0 * t**2, a, arr(engine, [1.0, -1.0]))
    assert type(result) is tuple and len(result) == 2
    out, vjp = result
    np.testing.assert_array_equal(as_array(out), [3.0, 12.0])
    np.testing.assert_array_equal(as_array(vjp), [6.0, -12.0])  # v * 6a
    assert out.requires_grad is False
    assert vjp.requires_grad is False


def test_vjp_of_a_scalar_function_without_v(engine: ModuleType) -> None:
    out, vjp = fn_ns(engine).vjp(lambda t: (t * t).sum(), arr(engine, [1.0, 2.0]))
    assert float(as_array(out)) == 5.0
    np.testing.assert_array_equal(as_array(vjp), [2.0, 4.0])


def test_vjp_with_a_tuple_of_inputs(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    b = arr(engine, [3.0, -1.0])
    out, vjp = fn_ns(engine).vjp(lambda s, t: s * t, (a, b), arr(engine, [1.0, 1.0]))
    np.testing.assert_array_equal(as_array(out), [3.0, -2.0])
    assert type(vjp) is tuple and len(vjp) == 2
    np.testing.assert_array_equal(as_array(vjp[0]), [3.0, -1.0])
    np.testing.assert_array_equal(as_array(vjp[1]), [1.0, 2.0])


def test_vjp_without_v_for_a_non_scalar_output(engine: ModuleType) -> None:
    with raises_exactly(
        RuntimeError,
        "The vector v can only be None if the user-provided function returns a single Tensor with a single element.",
    ):
        fn_ns(engine).vjp(lambda t: t * 2.0, arr(engine, [1.0, 2.0]))


def test_vjp_with_v_of_the_wrong_size(engine: ModuleType, adapter: EngineAdapter) -> None:
    message = f"v has invalid size: should be {size_text(adapter, [2])} but got {size_text(adapter, [3])}."
    with raises_exactly(RuntimeError, message):
        fn_ns(engine).vjp(lambda t: t * 2.0, arr(engine, [1.0, 2.0]), arr(engine, [1.0, 1.0, 1.0]))


def test_jvp_returns_output_and_jvp(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    result = fn_ns(engine).jvp(lambda t: 3.0 * t**2, a, arr(engine, [1.0, 0.5]))
    assert type(result) is tuple and len(result) == 2
    out, jvp = result
    np.testing.assert_array_equal(as_array(out), [3.0, 12.0])
    np.testing.assert_array_equal(as_array(jvp), [6.0, 6.0])  # 6a * v
    assert out.requires_grad is False
    assert jvp.requires_grad is False


def test_jvp_with_a_tuple_of_inputs(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    b = arr(engine, [3.0, -1.0])
    out, jvp = fn_ns(engine).jvp(lambda s, t: s * t, (a, b), (arr(engine, [1.0, -1.0]), arr(engine, [1.0, 1.0])))
    np.testing.assert_array_equal(as_array(out), [3.0, -2.0])
    assert isinstance(jvp, engine.Tensor)
    np.testing.assert_array_equal(as_array(jvp), [4.0, 3.0])  # b*va + a*vb


def test_jvp_of_a_scalar_input_without_v(engine: ModuleType) -> None:
    s = arr(engine, 2.0)
    out, jvp = fn_ns(engine).jvp(lambda t: t * arr(engine, [1.0, 2.0]), s)
    np.testing.assert_array_equal(as_array(out), [2.0, 4.0])
    np.testing.assert_array_equal(as_array(jvp), [1.0, 2.0])


def test_jvp_without_v_for_a_non_scalar_input(engine: ModuleType) -> None:
    with raises_exactly(
        RuntimeError,
        "The vector v can only be None if the input to the user-provided function is a single Tensor with a single element.",
    ):
        fn_ns(engine).jvp(lambda t: t * 2.0, arr(engine, [1.0, 2.0]))


def test_jvp_matches_sympy_jacobian_times_v(engine: ModuleType) -> None:
    x0 = np.array([0.4, -1.2, 0.9])
    v = np.array([0.5, -1.0, 2.0])

    def f(t: Any) -> Any:
        return engine.stack([engine.tanh(t[0] * t[1]), t[2] ** 3 - t[0]])

    expected = sympy_jacobian(lambda s: [sp.tanh(s[0] * s[1]), s[2] ** 3 - s[0]], x0) @ v
    _, jvp = fn_ns(engine).jvp(f, arr(engine, x0.tolist()), arr(engine, v.tolist()))
    np.testing.assert_allclose(as_array(jvp), expected, rtol=1e-14)


def test_hvp_returns_output_and_hvp(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    result = fn_ns(engine).hvp(lambda t: (t**3).sum(), a, arr(engine, [1.0, -0.5]))
    assert type(result) is tuple and len(result) == 2
    out, hvp = result
    assert float(as_array(out)) == 9.0
    assert isinstance(hvp, engine.Tensor)
    np.testing.assert_array_equal(as_array(hvp), [6.0, -6.0])  # 6a * v
    assert out.requires_grad is False
    assert hvp.requires_grad is False


def test_hvp_with_a_tuple_of_inputs(engine: ModuleType) -> None:
    a = arr(engine, [1.0, 2.0])
    b = arr(engine, [3.0, -1.0])
    out, hvp = fn_ns(engine).hvp(lambda s, t: (s * s * t).sum(), (a, b), (arr(engine, [1.0, 1.0]), arr(engine, [0.0, 0.0])))
    assert float(as_array(out)) == -1.0
    assert type(hvp) is tuple and len(hvp) == 2
    np.testing.assert_array_equal(as_array(hvp[0]), [6.0, -2.0])  # 2b * va
    np.testing.assert_array_equal(as_array(hvp[1]), [2.0, 4.0])  # 2a * va


def test_hvp_matches_sympy_hessian_times_v(engine: ModuleType) -> None:
    x0 = np.array([0.4, -1.2, 0.9])
    v = np.array([0.5, -1.0, 2.0])

    def f(t: Any) -> Any:
        return engine.logsumexp(t * t, dim=0) + t[0] * t[1] * t[2]

    expected = sympy_hessian(lambda s: sp.log(sp.Add(*[sp.exp(c**2) for c in s])) + s[0] * s[1] * s[2], x0) @ v
    _, hvp = fn_ns(engine).hvp(f, arr(engine, x0.tolist()), arr(engine, v.tolist()))
    np.testing.assert_allclose(as_array(hvp), expected, rtol=1e-13)


def test_hvp_of_a_non_scalar_function(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, "The Tensor returned by the function given to hvp should contain a single element"):
        fn_ns(engine).hvp(lambda t: t * 2.0, arr(engine, [1.0, 2.0]), arr(engine, [1.0, 1.0]))


# SymPy Jacobian / Hessian of a function of one vector, evaluated exactly at x0


def _sympy_point(x0: FloatArray) -> tuple[list[Any], dict[Any, Any]]:
    syms = [sp.Symbol(f"s{i}", real=True) for i in range(x0.size)]
    return syms, {s: q(float(v)) for s, v in zip(syms, x0)}


def sympy_jacobian(f: Callable[[list[Any]], list[Any]], x0: FloatArray) -> FloatArray:
    syms, values = _sympy_point(x0)
    J = sp.Matrix(f(syms)).jacobian(syms)
    return np.array([[float(sp.N(J[i, j].xreplace(values), 30)) for j in range(J.cols)] for i in range(J.rows)])


def sympy_hessian(f: Callable[[list[Any]], Any], x0: FloatArray) -> FloatArray:
    syms, values = _sympy_point(x0)
    H = sp.hessian(f(syms), syms)
    return np.array([[float(sp.N(H[i, j].xreplace(values), 30)) for j in range(H.cols)] for i in range(H.rows)])
