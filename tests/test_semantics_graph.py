"""Reference section 1: leaves, grad_fn, next_functions (items 1-5).

Every test runs on refgrad and on torch (the ``engine`` fixture); the expected
values are those of the reference, /work/shared/reference/pytorch-autograd-semantics.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import as_array

NONLEAF_PREFIX = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor."
)


@dataclass(frozen=True)
class Operands:
    """Fresh leaves that require grad (a, b, v: shape [3]; m: [2, 3]; k: [3, 2]; r: [1, 3])."""

    a: Any
    b: Any
    v: Any
    m: Any
    k: Any
    r: Any


def make_operands(engine: ModuleType) -> Operands:
    return Operands(
        a=engine.tensor([1.0, 2.0, 3.0], requires_grad=True),
        b=engine.tensor([0.5, 2.5, 1.5], requires_grad=True),
        v=engine.tensor([1.0, -1.0, 2.0], requires_grad=True),
        m=engine.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True),
        k=engine.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True),
        r=engine.tensor([[1.0, 2.0, 3.0]], requires_grad=True),
    )


Builder = Callable[[ModuleType, Operands], Any]


def grad_fn_name(t: Any) -> str:
    name: str = type(t.grad_fn).__name__
    return name


def edges(node: Any) -> list[tuple[str | None, int]]:
    """``node.next_functions`` as (class name or None, index) pairs."""
    return [(None if fn is None else type(fn).__name__, index) for fn, index in node.next_functions]


# ---------------------------------------------------------------------------
# Item 1: leaves


def test_user_created_tensor_requiring_grad_is_leaf_without_grad_fn(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.requires_grad is True
    assert x.is_leaf is True
    assert x.grad_fn is None


@pytest.mark.parametrize("explicit", [False, True], ids=["default", "requires_grad=False"])
def test_tensor_without_grad_is_leaf(engine: ModuleType, explicit: bool) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=False) if explicit else engine.tensor([1.0, 2.0])
    assert x.requires_grad is False
    assert x.is_leaf is True
    assert x.grad_fn is None


PLAIN_OPS: list[tuple[str, Callable[[ModuleType, Any, Any], Any]]] = [
    ("p*2", lambda e, p, q: p * 2),
    ("p+q", lambda e, p, q: p + q),
    ("p*q", lambda e, p, q: p * q),
    ("exp(p)", lambda e, p, q: e.exp(p)),
    ("p.sum()", lambda e, p, q: p.sum()),
    ("p[0]", lambda e, p, q: p[0]),
    ("p.view(3,1)", lambda e, p, q: p.view(3, 1)),
    ("cat", lambda e, p, q: e.cat([p, q])),
    ("p@q", lambda e, p, q: p @ q),
    ("chain", lambda e, p, q: ((p * q).exp() + 1.0).sum()),
]


@pytest.mark.parametrize("build", [b for _, b in PLAIN_OPS], ids=[i for i, _ in PLAIN_OPS])
def test_results_of_ops_on_plain_tensors_are_leaves(
    engine: ModuleType, build: Callable[[ModuleType, Any, Any], Any]
) -> None:
    p = engine.tensor([1.0, 2.0, 3.0])
    q = engine.tensor([0.5, -1.0, 4.0])
    out = build(engine, p, q)
    assert out.requires_grad is False
    assert out.is_leaf is True
    assert out.grad_fn is None


# ---------------------------------------------------------------------------
# Item 2: which outputs require grad


@pytest.mark.parametrize("op", ["mul", "add", "cat"])
@pytest.mark.parametrize(("left_rg", "right_rg"), [(False, False), (True, False), (False, True), (True, True)])
def test_output_requires_grad_iff_some_input_does(
    engine: ModuleType, op: str, left_rg: bool, right_rg: bool
) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=left_rg)
    y = engine.tensor([3.0, 4.0], requires_grad=right_rg)
    out = {"mul": lambda: x * y, "add": lambda: x + y, "cat": lambda: engine.cat([x, y])}[op]()
    expected = left_rg or right_rg
    assert out.requires_grad is expected
    assert out.is_leaf is (not expected)
    assert (out.grad_fn is not None) is expected


def test_output_does_not_require_grad_when_grad_mode_is_off(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = engine.tensor([3.0, 4.0], requires_grad=True)
    with engine.no_grad():
        out = (x * y).exp()
    assert out.requires_grad is False
    assert out.is_leaf is True
    assert out.grad_fn is None
    tracked = (x * y).exp()
    assert tracked.requires_grad is True
    assert tracked.is_leaf is False


NON_DIFFERENTIABLE: list[tuple[str, Builder]] = [
    ("a>0", lambda e, o: o.a > 0),
    ("a<b", lambda e, o: o.a < o.b),
    ("a>=b", lambda e, o: o.a >= o.b),
    ("a<=2", lambda e, o: o.a <= 2.0),
    ("a==b", lambda e, o: o.a == o.b),
    ("a!=b", lambda e, o: o.a != o.b),
    ("a.argmax()", lambda e, o: o.a.argmax()),
    ("argmax(m,1)", lambda e, o: e.argmax(o.m, 1)),
    ("max(dim).indices", lambda e, o: o.m.max(1).indices),
    ("a.long()", lambda e, o: o.a.long()),
    ("a.int()", lambda e, o: o.a.int()),
    ("a.to(int64)", lambda e, o: o.a.to(e.int64)),
    ("(a*b).long()", lambda e, o: (o.a * o.b).long()),
]


@pytest.mark.parametrize("build", [b for _, b in NON_DIFFERENTIABLE], ids=[i for i, _ in NON_DIFFERENTIABLE])
def test_comparisons_argmax_and_integer_casts_do_not_require_grad(engine: ModuleType, build: Builder) -> None:
    out = build(engine, make_operands(engine))
    assert out.requires_grad is False
    assert out.is_leaf is True
    assert out.grad_fn is None


# ---------------------------------------------------------------------------
# Item 3: grad_fn class names

_UNARY = ["exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "sqrt", "reciprocal", "rsqrt"]


def _unary_function(name: str) -> Builder:
    return lambda e, o: getattr(e, name)(o.a)


def _unary_method(name: str) -> Builder:
    return lambda e, o: getattr(o.a, name)()


GRAD_FN_NAMES: list[tuple[str, Builder, str]] = [
    ("a+b", lambda e, o: o.a + o.b, "AddBackward0"),
    ("a+2", lambda e, o: o.a + 2, "AddBackward0"),
    ("2+a", lambda e, o: 2 + o.a, "AddBackward0"),
    ("a-b", lambda e, o: o.a - o.b, "SubBackward0"),
    ("a-2", lambda e, o: o.a - 2, "SubBackward0"),
    ("2-a", lambda e, o: 2 - o.a, "RsubBackward1"),
    ("a*b", lambda e, o: o.a * o.b, "MulBackward0"),
    ("3*a", lambda e, o: 3 * o.a, "MulBackward0"),
    ("a*3", lambda e, o: o.a * 3, "MulBackward0"),
    ("a/b", lambda e, o: o.a / o.b, "DivBackward0"),
    ("a/2", lambda e, o: o.a / 2, "DivBackward0"),
    ("2/a", lambda e, o: 2 / o.a, "MulBackward0"),
    ("a**3", lambda e, o: o.a**3, "PowBackward0"),
    ("a**0.5", lambda e, o: o.a**0.5, "PowBackward0"),
    ("a**b", lambda e, o: o.a**o.b, "PowBackward1"),
    ("2**a", lambda e, o: 2**o.a, "PowBackward2"),
    ("-a", lambda e, o: -o.a, "NegBackward0"),
    *[(f"{n}(a)", _unary_function(n), f"{n.capitalize()}Backward0") for n in _UNARY],
    *[(f"a.{n}()", _unary_method(n), f"{n.capitalize()}Backward0") for n in _UNARY],
    ("a.sum()", lambda e, o: o.a.sum(), "SumBackward0"),
    ("sum(a)", lambda e, o: e.sum(o.a), "SumBackward0"),
    ("m.sum(1)", lambda e, o: o.m.sum(1), "SumBackward1"),
    ("m.sum(dim=0,keepdim)", lambda e, o: o.m.sum(dim=0, keepdim=True), "SumBackward1"),
    ("a.mean()", lambda e, o: o.a.mean(), "MeanBackward0"),
    ("m.mean(1)", lambda e, o: o.m.mean(1), "MeanBackward1"),
    ("m@k", lambda e, o: o.m @ o.k, "MmBackward0"),
    ("m@v", lambda e, o: o.m @ o.v, "MvBackward0"),
    ("v@a", lambda e, o: o.v @ o.a, "DotBackward0"),
    ("m.t()", lambda e, o: o.m.t(), "TBackward0"),
    ("m.T", lambda e, o: o.m.T, "PermuteBackward0"),
    ("m.permute(1,0)", lambda e, o: o.m.permute(1, 0), "PermuteBackward0"),
    ("m.transpose(0,1)", lambda e, o: o.m.transpose(0, 1), "TransposeBackward0"),
    ("m.view(6)", lambda e, o: o.m.view(6), "ViewBackward0"),
    ("m.reshape(3,2)", lambda e, o: o.m.reshape(3, 2), "ViewBackward0"),
    ("m.flatten()", lambda e, o: o.m.flatten(), "ViewBackward0"),
    ("a.unsqueeze(0)", lambda e, o: o.a.unsqueeze(0), "UnsqueezeBackward0"),
    ("a[None]", lambda e, o: o.a[None], "UnsqueezeBackward0"),
    ("r.squeeze(0)", lambda e, o: o.r.squeeze(0), "SqueezeBackward1"),
    ("r.squeeze()", lambda e, o: o.r.squeeze(), "SqueezeBackward0"),
    ("a[0]", lambda e, o: o.a[0], "SelectBackward0"),
    ("a[1:]", lambda e, o: o.a[1:], "SliceBackward0"),
    ("a[[0,2]]", lambda e, o: o.a[[0, 2]], "IndexBackward0"),
    ("a[mask]", lambda e, o: o.a[e.tensor([True, False, True])], "IndexBackward0"),
    ("a.expand(2,3)", lambda e, o: o.a.expand(2, 3), "ExpandBackward0"),
    ("broadcast_to", lambda e, o: e.broadcast_to(o.a, (2, 3)), "ExpandBackward0"),
    ("m+a (implicit broadcast)", lambda e, o: o.m + o.a, "AddBackward0"),
    ("cat", lambda e, o: e.cat([o.a, o.b]), "CatBackward0"),
    ("stack", lambda e, o: e.stack([o.a, o.b]), "StackBackward0"),
    ("a.max()", lambda e, o: o.a.max(), "MaxBackward1"),
    ("a.min()", lambda e, o: o.a.min(), "MinBackward1"),
    ("m.max(1).values", lambda e, o: o.m.max(1).values, "MaxBackward0"),
    ("m.max(dim=1)[0]", lambda e, o: o.m.max(dim=1)[0], "MaxBackward0"),
    ("m.min(1).values", lambda e, o: o.m.min(1).values, "MinBackward0"),
    ("m.amax(1)", lambda e, o: o.m.amax(1), "AmaxBackward0"),
    ("m.amin(1)", lambda e, o: o.m.amin(1), "AminBackward0"),
    ("maximum", lambda e, o: e.maximum(o.a, o.b), "MaximumBackward0"),
    ("minimum", lambda e, o: e.minimum(o.a, o.b), "MinimumBackward0"),
    ("where", lambda e, o: e.where(o.a > o.b, o.a, o.b), "WhereBackward0"),
    ("a.clamp(0,2)", lambda e, o: o.a.clamp(0.0, 2.0), "ClampBackward1"),
    ("clamp(a,min=,max=)", lambda e, o: e.clamp(o.a, min=0.5, max=2.5), "ClampBackward1"),
    ("a.clamp_min(1)", lambda e, o: o.a.clamp_min(1.0), "ClampMinBackward0"),
    ("a.clamp_max(1)", lambda e, o: o.a.clamp_max(1.0), "ClampMaxBackward0"),
    ("softmax", lambda e, o: e.softmax(o.a, 0), "SoftmaxBackward0"),
    ("log_softmax", lambda e, o: e.log_softmax(o.a, 0), "LogSoftmaxBackward0"),
    ("logsumexp", lambda e, o: e.logsumexp(o.a, 0), "LogsumexpBackward0"),
    ("a.clone()", lambda e, o: o.a.clone(), "CloneBackward0"),
]


@pytest.mark.parametrize(
    ("build", "expected"),
    [(b, n) for _, b, n in GRAD_FN_NAMES],
    ids=[i for i, _, _ in GRAD_FN_NAMES],
)
def test_grad_fn_class_name(engine: ModuleType, build: Builder, expected: str) -> None:
    out = build(engine, make_operands(engine))
    assert out.requires_grad is True
    assert out.is_leaf is False
    assert grad_fn_name(out) == expected


# ---------------------------------------------------------------------------
# Item 4: next_functions and name()


def test_next_functions_of_two_leaves_are_their_accumulate_grad_nodes(engine: ModuleType) -> None:
    o = make_operands(engine)
    node = (o.a * o.b).grad_fn
    nf = node.next_functions
    assert isinstance(nf, tuple)
    assert len(nf) == 2
    for pair in nf:
        assert isinstance(pair, tuple)
        assert len(pair) == 2
    assert edges(node) == [("AccumulateGrad", 0), ("AccumulateGrad", 0)]
    assert nf[0][0].variable is o.a
    assert nf[1][0].variable is o.b


def test_a_leaf_used_twice_has_one_accumulate_grad_node(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    nf = (a + a).grad_fn.next_functions
    assert nf[0][0] is nf[1][0]
    assert nf[0][0].variable is a


def test_accumulate_grad_variable_of_2d_leaf(engine: ModuleType) -> None:
    o = make_operands(engine)
    nf = (o.m @ o.k).grad_fn.next_functions
    assert edges((o.m @ o.k).grad_fn) == [("AccumulateGrad", 0), ("AccumulateGrad", 0)]
    assert nf[0][0].variable is o.m
    assert nf[1][0].variable is o.k


# (builder, expected edges, position of the leaf's AccumulateGrad node)
CONSTANT_OPERAND: list[tuple[str, Callable[[ModuleType, Any, Any], Any], list[tuple[str | None, int]], int]] = [
    ("a+2", lambda e, a, p: a + 2, [("AccumulateGrad", 0), (None, 0)], 0),
    ("2+a", lambda e, a, p: 2 + a, [("AccumulateGrad", 0), (None, 0)], 0),
    ("a-2", lambda e, a, p: a - 2, [("AccumulateGrad", 0), (None, 0)], 0),
    ("a*3", lambda e, a, p: a * 3, [("AccumulateGrad", 0), (None, 0)], 0),
    ("3*a", lambda e, a, p: 3 * a, [("AccumulateGrad", 0), (None, 0)], 0),
    ("a/2", lambda e, a, p: a / 2, [("AccumulateGrad", 0), (None, 0)], 0),
    ("a*plain", lambda e, a, p: a * p, [("AccumulateGrad", 0), (None, 0)], 0),
    ("plain*a", lambda e, a, p: p * a, [(None, 0), ("AccumulateGrad", 0)], 1),
    ("plain+a", lambda e, a, p: p + a, [(None, 0), ("AccumulateGrad", 0)], 1),
    ("a-plain", lambda e, a, p: a - p, [("AccumulateGrad", 0), (None, 0)], 0),
    ("where(c,a,plain)", lambda e, a, p: e.where(a > 1.5, a, p), [("AccumulateGrad", 0), (None, 0)], 0),
    ("cat([plain,a])", lambda e, a, p: e.cat([p, a]), [(None, 0), ("AccumulateGrad", 0)], 1),
]


@pytest.mark.parametrize(
    ("build", "expected", "leaf_at"),
    [(b, x, i) for _, b, x, i in CONSTANT_OPERAND],
    ids=[n for n, _, _, _ in CONSTANT_OPERAND],
)
def test_plain_tensor_or_python_scalar_operand_is_none_edge(
    engine: ModuleType,
    build: Callable[[ModuleType, Any, Any], Any],
    expected: list[tuple[str | None, int]],
    leaf_at: int,
) -> None:
    a = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    plain = engine.tensor([4.0, 5.0, 6.0])
    node = build(engine, a, plain).grad_fn
    assert edges(node) == expected
    assert node.next_functions[leaf_at][0].variable is a


SINGLE_EDGE: list[tuple[str, Callable[[ModuleType, Any], Any]]] = [
    ("a**3", lambda e, a: a**3),
    ("2-a", lambda e, a: 2 - a),
    ("2**a", lambda e, a: 2**a),
    ("-a", lambda e, a: -a),
    ("exp(a)", lambda e, a: e.exp(a)),
    ("a.sum()", lambda e, a: a.sum()),
    ("a[0]", lambda e, a: a[0]),
    ("a.clamp(0,2)", lambda e, a: a.clamp(0.0, 2.0)),
]


@pytest.mark.parametrize("build", [b for _, b in SINGLE_EDGE], ids=[i for i, _ in SINGLE_EDGE])
def test_ops_with_one_tensor_input_have_one_edge(engine: ModuleType, build: Callable[[ModuleType, Any], Any]) -> None:
    """One entry per *tensor* input: here the number (exponent, 2 in 2-a, clamp bounds) is no edge."""
    a = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    node = build(engine, a).grad_fn
    assert edges(node) == [("AccumulateGrad", 0)]
    assert node.next_functions[0][0].variable is a


def test_scalar_divided_by_tensor_goes_through_reciprocal(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0, 4.0], requires_grad=True)
    node = (2 / a).grad_fn
    assert type(node).__name__ == "MulBackward0"
    assert edges(node) == [("ReciprocalBackward0", 0), (None, 0)]
    reciprocal = node.next_functions[0][0]
    assert edges(reciprocal) == [("AccumulateGrad", 0)]
    assert reciprocal.next_functions[0][0].variable is a


def test_next_functions_link_to_the_inputs_grad_fn(engine: ModuleType) -> None:
    o = make_operands(engine)
    product = o.a * o.b
    total = product.exp().sum()
    exp_node = total.grad_fn.next_functions[0][0]
    assert type(exp_node).__name__ == "ExpBackward0"
    assert exp_node.next_functions[0][0] is product.grad_fn
    assert edges(product.grad_fn) == [("AccumulateGrad", 0), ("AccumulateGrad", 0)]


def test_next_functions_of_a_nested_expression(engine: ModuleType) -> None:
    o = make_operands(engine)
    out = (o.a * o.b + o.a.exp()).sum()
    assert grad_fn_name(out) == "SumBackward0"
    add = out.grad_fn.next_functions[0][0]
    assert edges(out.grad_fn) == [("AddBackward0", 0)]
    assert edges(add) == [("MulBackward0", 0), ("ExpBackward0", 0)]
    mul, exp = add.next_functions[0][0], add.next_functions[1][0]
    assert mul.next_functions[0][0].variable is o.a
    assert mul.next_functions[1][0].variable is o.b
    assert exp.next_functions[0][0].variable is o.a


NAMED: list[tuple[str, Builder, str]] = [
    ("a+b", lambda e, o: o.a + o.b, "AddBackward0"),
    ("2-a", lambda e, o: 2 - o.a, "RsubBackward1"),
    ("a**b", lambda e, o: o.a**o.b, "PowBackward1"),
    ("m@k", lambda e, o: o.m @ o.k, "MmBackward0"),
    ("a.sum()", lambda e, o: o.a.sum(), "SumBackward0"),
    ("a[1:]", lambda e, o: o.a[1:], "SliceBackward0"),
    ("a.max()", lambda e, o: o.a.max(), "MaxBackward1"),
]


@pytest.mark.parametrize(("build", "expected"), [(b, n) for _, b, n in NAMED], ids=[i for i, _, _ in NAMED])
def test_grad_fn_name_returns_the_class_name(engine: ModuleType, build: Builder, expected: str) -> None:
    node = build(engine, make_operands(engine)).grad_fn
    assert node.name() == expected
    assert node.name() == type(node).__name__


# ---------------------------------------------------------------------------
# Item 5: float() / double() / to()


def test_float_on_float32_returns_the_same_tensor(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    assert a.dtype == engine.float32
    assert a.float() is a
    assert a.to(engine.float32) is a
    assert a.is_leaf is True


@pytest.mark.parametrize("how", ["double", "to"])
def test_double_is_a_differentiable_copy(engine: ModuleType, how: str) -> None:
    a = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = a.double() if how == "double" else a.to(engine.float64)
    assert d is not a
    assert d.dtype == engine.float64
    assert d.requires_grad is True
    assert d.is_leaf is False
    assert d.grad_fn is not None
    (d * d).sum().backward()
    assert a.grad.dtype == engine.float32
    np.testing.assert_allclose(as_array(a.grad), [2.0, 4.0, 6.0])


def test_grad_is_none_after_to_trap(engine: ModuleType) -> None:
    """The classic trap: the leaf is the float32 tensor; the converted copy gets no .grad."""
    w = engine.tensor([1.0, 2.0], requires_grad=True).to(engine.float64)
    assert w.is_leaf is False
    (w * 3.0).sum().backward()
    with pytest.warns(UserWarning, match="^" + re.escape(NONLEAF_PREFIX)):
        assert w.grad is None


def test_split_pieces_come_from_one_split_node(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    first, second = x.split(2)
    assert first.grad_fn.name() == "SplitBackward0"
    assert first.grad_fn is second.grad_fn



# --- Deliberate deviations (strict xfail on refgrad, must pass on torch) -----------------------


def test_vector_matrix_product_node_name(engine: ModuleType) -> None:
    """1-D @ 2-D is unsqueeze, mm, then an in-place squeeze_ of the product: not a view, and
    its version is 1."""
    v = engine.tensor([1.0, 2.0], requires_grad=True)
    m = engine.ones(2, 3, requires_grad=True)
    product = v @ m
    assert product.grad_fn.name() == "SqueezeBackward4"
    assert product._base is None and product._version == 1
    with engine.no_grad():
        assert (v @ m)._version == 1


def test_batched_matrix_product_node_name(engine: ModuleType) -> None:
    a = engine.ones(2, 2, 3, requires_grad=True)
    m = engine.ones(3, 4, requires_grad=True)
    assert (a @ m).grad_fn.name() == "UnsafeViewBackward0"
    assert (a @ engine.ones(2, 3, 4)).grad_fn.name() == "UnsafeViewBackward0"


def test_a_reshape_that_copies_clones_then_views(engine: ModuleType) -> None:
    """reshape of a transposed tensor cannot be a view: PyTorch clones, then _unsafe_view."""
    x = engine.ones(2, 3, requires_grad=True)
    y = x.t().reshape(6)
    assert y.grad_fn.name() == "UnsafeViewBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "CloneBackward0"
    assert x.reshape(6).grad_fn.name() == "ViewBackward0"  # contiguous: a view
    y.backward(engine.arange(6.0))
    assert x.grad.tolist() == [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]


def test_accumulate_grad_name(engine: ModuleType) -> None:
    """The nodes written by hand in PyTorch's C++ answer ``name()`` with their qualified name;
    their class name is the plain one."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    accumulate = (x * 2).grad_fn.next_functions[0][0]
    assert (accumulate.name(), type(accumulate).__name__) == ("torch::autograd::AccumulateGrad", "AccumulateGrad")
    sliced = x * 1
    sliced[0] = 5.0
    copied = (x * 1).copy_(engine.ones(2))
    assert sliced.grad_fn.name() == "torch::autograd::CopySlices" and type(sliced.grad_fn).__name__ == "CopySlices"
    assert copied.grad_fn.name() == "torch::autograd::CopyBackwards" and type(copied.grad_fn).__name__ == "CopyBackwards"
    assert repr(sliced).endswith("grad_fn=<CopySlices>)") and repr(copied).endswith("grad_fn=<CopyBackwards>)")


@pytest.mark.parametrize("how", ["split", "split_sizes", "chunk"])
def test_split_pieces_are_outputs_of_one_node(engine: ModuleType, how: str) -> None:
    x = engine.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    pieces = {"split": lambda: x.split(2), "split_sizes": lambda: x.split([2, 3]), "chunk": lambda: x.chunk(2)}[how]()
    names = {"split": "SplitBackward0", "split_sizes": "SplitWithSizesBackward0", "chunk": "SplitBackward0"}
    assert pieces[0].grad_fn.name() == names[how]
    assert all(p.grad_fn is pieces[0].grad_fn for p in pieces)
    assert [p._version for p in pieces] == [0] * len(pieces)
    (pieces[-1] * 3).sum().backward()  # only the last piece is used: the others get zeros
    last = len(pieces[-1])
    assert x.grad.tolist() == [0.0] * (5 - last) + [3.0] * last
