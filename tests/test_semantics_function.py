"""Reference section 10: custom autograd Functions (items 44-45).

Every test runs on refgrad and on torch (the ``engine`` fixture). The Function subclasses
are built per test by ``function_class`` because their base class, ``engine.autograd.Function``,
is only known at run time. Expected values are computed by hand, never read back from the engine.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import NOGRAD, TWICE, as_array, raises_exactly

VERSION_1_EXPECTED_0 = "is at version 1; expected version 0 instead"
ONCE_DIFFERENTIABLE = "trying to differentiate twice a function that was marked with @once_differentiable"


def function_class(
    engine: ModuleType,
    name: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any],
) -> Any:
    """``class <name>(engine.autograd.Function)`` with the given static forward and backward.

    ``types.new_class`` runs the base class's metaclass exactly as a class statement does.
    """
    namespace = {"forward": staticmethod(forward), "backward": staticmethod(backward), "__module__": __name__}

    def body(ns: dict[str, Any]) -> None:
        ns.update(namespace)

    return types.new_class(name, (engine.autograd.Function,), exec_body=body)


def square_function(engine: ModuleType, name: str = "Sq") -> Any:
    """x -> x*x, saving x; backward 2*x*g is written with differentiable ops."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x * grad

    return function_class(engine, name, forward, backward)


def cube_function(engine: ModuleType) -> Any:
    """x -> x**3, saving x; backward 3*x*x*g is written with differentiable ops."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 3 * x * x * grad

    return function_class(engine, "Cube", forward, backward)


def leaf(engine: ModuleType, values: list[float] | None = None) -> Any:
    return engine.tensor([1.0, 2.0, 3.0] if values is None else values, requires_grad=True)


def node_name(t: Any) -> str:
    return type(t.grad_fn).__name__


# ---------------------------------------------------------------------------
# Item 44: apply, the node, ctx


def test_apply_computes_forward_and_records_a_named_node(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    y = Sq.apply(x)
    np.testing.assert_array_equal(as_array(y), [1.0, 4.0, 9.0])
    assert y.requires_grad is True
    assert y.is_leaf is False
    assert node_name(y) == "SqBackward"
    assert y.grad_fn.name() == "SqBackward"
    ((node, index),) = y.grad_fn.next_functions
    assert index == 0
    assert type(node).__name__ == "AccumulateGrad"
    assert node.variable is x


def test_node_name_follows_the_class_name(engine: ModuleType) -> None:
    Square = square_function(engine, "MySquare")
    assert node_name(Square.apply(leaf(engine))) == "MySquareBackward"


def test_backward_through_apply(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    (Sq.apply(x) * engine.tensor([5.0, 6.0, 7.0])).sum().backward()
    # d/dx sum(c * x**2) = 2 c x
    np.testing.assert_array_equal(as_array(x.grad), [10.0, 24.0, 42.0])


def test_backward_receives_the_upstream_gradient(engine: ModuleType) -> None:
    received: list[Any] = []

    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    def backward(ctx: Any, grad: Any) -> Any:
        received.append(grad.detach().clone())
        return grad * 2

    Double = function_class(engine, "Double", forward, backward)
    x = leaf(engine)
    (Double.apply(x) * engine.tensor([5.0, 6.0, 7.0])).sum().backward()
    assert len(received) == 1
    np.testing.assert_array_equal(as_array(received[0]), [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(as_array(x.grad), [10.0, 12.0, 14.0])


def test_saved_tensors_is_a_tuple_of_what_was_saved(engine: ModuleType) -> None:
    seen: dict[str, Any] = {}

    def forward(ctx: Any, x: Any, y: Any) -> Any:
        ctx.save_for_backward(x, None, y)
        return x * y

    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        saved = ctx.saved_tensors
        seen["type"] = type(saved)
        seen["none"] = saved[1]
        x, _, y = saved
        seen["x"] = as_array(x)
        seen["y"] = as_array(y)
        return grad * y, grad * x

    Mul = function_class(engine, "Mul", forward, backward)
    x = leaf(engine)
    y = engine.tensor([4.0, 5.0, 6.0], requires_grad=True)
    Mul.apply(x, y).sum().backward()
    assert seen["type"] is tuple
    assert seen["none"] is None
    np.testing.assert_array_equal(seen["x"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seen["y"], [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(as_array(y.grad), [1.0, 2.0, 3.0])


def test_needs_input_grad_has_one_flag_per_forward_input(engine: ModuleType) -> None:
    seen: dict[str, tuple[bool, ...]] = {}

    def forward(ctx: Any, a: Any, k: float, b: Any, flag: bool) -> Any:
        seen["forward"] = tuple(ctx.needs_input_grad)
        return a * k + b

    def backward(ctx: Any, grad: Any) -> tuple[Any, None, Any, None]:
        seen["backward"] = tuple(ctx.needs_input_grad)
        return grad * 2.0, None, grad, None

    AxpB = function_class(engine, "AxpB", forward, backward)
    a = leaf(engine, [1.0, 2.0])
    b = engine.tensor([3.0, 4.0])
    out = AxpB.apply(a, 2.0, b, True)
    assert seen["forward"] == (True, False, False, False)
    assert all(type(flag) is bool for flag in seen["forward"])
    # One edge per tensor input; the plain tensor b is (None, 0).
    edges = out.grad_fn.next_functions
    assert len(edges) == 2
    assert edges[0][0].variable is a
    assert edges[1] == (None, 0)
    out.sum().backward()
    assert seen["backward"] == (True, False, False, False)
    np.testing.assert_array_equal(as_array(a.grad), [2.0, 2.0])
    assert b.grad is None

    b2 = engine.tensor([3.0, 4.0], requires_grad=True)
    AxpB.apply(a, 2.0, b2, False)
    assert seen["forward"] == (True, False, True, False)


def test_no_input_requires_grad_gives_an_untracked_leaf(engine: ModuleType) -> None:
    Sq = square_function(engine)
    y = Sq.apply(engine.tensor([1.0, 2.0]))
    assert (y.requires_grad, y.is_leaf, y.grad_fn) == (False, True, None)
    np.testing.assert_array_equal(as_array(y), [1.0, 4.0])


def test_apply_under_no_grad_is_untracked(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    with engine.no_grad():
        y = Sq.apply(x)
    assert (y.requires_grad, y.is_leaf, y.grad_fn) == (False, True, None)
    np.testing.assert_array_equal(as_array(y), [1.0, 4.0, 9.0])


def test_forward_runs_with_grad_disabled(engine: ModuleType) -> None:
    seen: dict[str, bool] = {}

    def forward(ctx: Any, x: Any) -> Any:
        seen["enabled"] = engine.is_grad_enabled()
        inner = x * x
        seen["inner_requires_grad"] = inner.requires_grad
        return inner

    def backward(ctx: Any, grad: Any) -> Any:
        return grad

    Probe = function_class(engine, "Probe", forward, backward)
    y = Probe.apply(leaf(engine))
    assert seen == {"enabled": False, "inner_requires_grad": False}
    assert engine.is_grad_enabled() is True
    assert y.requires_grad is True
    assert node_name(y) == "ProbeBackward"


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_runs_with_grad_mode_equal_to_create_graph(engine: ModuleType, create_graph: bool) -> None:
    seen: list[bool] = []

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        seen.append(engine.is_grad_enabled())
        (x,) = ctx.saved_tensors
        return 2 * x * grad

    Sq = function_class(engine, "Sq", forward, backward)
    x = leaf(engine)
    (g,) = engine.autograd.grad(Sq.apply(x).sum(), x, create_graph=create_graph)
    assert seen == [create_graph]
    assert g.requires_grad is create_graph
    np.testing.assert_array_equal(as_array(g), [2.0, 4.0, 6.0])

    seen.clear()
    Sq.apply(x).sum().backward()  # create_graph defaults to False
    assert seen == [False]


def test_non_tensor_argument_gets_none(engine: ModuleType) -> None:
    def forward(ctx: Any, x: Any, k: float) -> Any:
        ctx.k = k
        return x * k

    def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
        return grad * ctx.k, None

    Scale = function_class(engine, "Scale", forward, backward)
    x = leaf(engine)
    y = Scale.apply(x, 3.0)
    np.testing.assert_array_equal(as_array(y), [3.0, 6.0, 9.0])
    y.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [3.0, 3.0, 3.0])


@pytest.mark.parametrize("returns_other", [True, False], ids=["returns-both", "returns-None"])
def test_two_tensor_inputs_only_one_requires_grad(engine: ModuleType, returns_other: bool) -> None:
    seen: dict[str, tuple[bool, ...]] = {}

    def forward(ctx: Any, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return a * b

    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        seen["needs"] = tuple(ctx.needs_input_grad)
        a, b = ctx.saved_tensors
        return grad * b, (grad * a if returns_other else None)

    Mul = function_class(engine, "Mul", forward, backward)
    a = leaf(engine, [1.0, 2.0])
    b = engine.tensor([3.0, 5.0])
    y = Mul.apply(a, b)
    assert y.grad_fn.next_functions[1] == (None, 0)
    (y * engine.tensor([2.0, 3.0])).sum().backward()
    assert seen["needs"] == (True, False)
    np.testing.assert_array_equal(as_array(a.grad), [6.0, 15.0])  # c * b
    assert b.grad is None
    assert b.requires_grad is False


def two_outputs_function(engine: ModuleType, received: list[tuple[Any, Any]], materialize: bool | None) -> Any:
    """x -> (2x, x*x); backward records the two incoming gradients (None stays None)."""

    def forward(ctx: Any, x: Any) -> tuple[Any, Any]:
        if materialize is not None:
            ctx.set_materialize_grads(materialize)
        ctx.save_for_backward(x)
        return x * 2, x * x

    def backward(ctx: Any, g_double: Any, g_square: Any) -> Any:
        received.append(
            (
                None if g_double is None else as_array(g_double),
                None if g_square is None else as_array(g_square),
            )
        )
        (x,) = ctx.saved_tensors
        total = engine.zeros_like(x)
        if g_double is not None:
            total = total + 2 * g_double
        if g_square is not None:
            total = total + 2 * x * g_square
        return total

    return function_class(engine, "Split", forward, backward)


def test_two_outputs_share_one_node_and_both_gradients_arrive(engine: ModuleType) -> None:
    received: list[tuple[Any, Any]] = []
    Split = two_outputs_function(engine, received, materialize=None)
    x = leaf(engine)
    d, s = Split.apply(x)
    np.testing.assert_array_equal(as_array(d), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(as_array(s), [1.0, 4.0, 9.0])
    assert node_name(d) == node_name(s) == "SplitBackward"
    assert d.grad_fn is s.grad_fn
    (d * engine.tensor([1.0, 2.0, 3.0]) + s * engine.tensor([4.0, 5.0, 6.0])).sum().backward()
    assert len(received) == 1
    np.testing.assert_array_equal(received[0][0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(received[0][1], [4.0, 5.0, 6.0])
    # 2 * c1 + 2x * c2
    np.testing.assert_array_equal(as_array(x.grad), [10.0, 24.0, 42.0])


@pytest.mark.parametrize("materialize", [None, True], ids=["default", "set-True"])
def test_unused_output_gets_a_zero_gradient_by_default(engine: ModuleType, materialize: bool | None) -> None:
    received: list[tuple[Any, Any]] = []
    Split = two_outputs_function(engine, received, materialize=materialize)
    x = leaf(engine)
    d, _ = Split.apply(x)
    d.sum().backward()
    assert len(received) == 1
    g_double, g_square = received[0]
    np.testing.assert_array_equal(g_double, [1.0, 1.0, 1.0])
    assert g_square is not None
    assert g_square.shape == (3,)
    np.testing.assert_array_equal(g_square, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0, 2.0])


def test_set_materialize_grads_false_passes_none_for_unused_outputs(engine: ModuleType) -> None:
    received: list[tuple[Any, Any]] = []
    Split = two_outputs_function(engine, received, materialize=False)
    x = leaf(engine)
    _, s = Split.apply(x)
    s.sum().backward()
    assert len(received) == 1
    g_double, g_square = received[0]
    assert g_double is None
    np.testing.assert_array_equal(g_square, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])  # 2x


def test_mark_non_differentiable(engine: ModuleType) -> None:
    received: list[Any] = []

    def forward(ctx: Any, x: Any) -> tuple[Any, Any]:
        doubled = x * 2
        shifted = x + 1
        ctx.mark_non_differentiable(shifted)
        return doubled, shifted

    def backward(ctx: Any, g_doubled: Any, g_shifted: Any) -> Any:
        received.append(g_shifted)
        return g_doubled * 2

    Pair = function_class(engine, "Pair", forward, backward)
    x = leaf(engine, [1.0, 2.0])
    doubled, shifted = Pair.apply(x)
    assert doubled.requires_grad is True
    assert node_name(doubled) == "PairBackward"
    assert (shifted.requires_grad, shifted.is_leaf, shifted.grad_fn) == (False, True, None)
    np.testing.assert_array_equal(as_array(shifted), [2.0, 3.0])
    doubled.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0])
    assert len(received) == 1
    np.testing.assert_array_equal(as_array(received[0]), [0.0, 0.0])

    _, shifted_again = Pair.apply(x)
    with raises_exactly(RuntimeError, NOGRAD):
        shifted_again.sum().backward()


def test_function_used_several_times_in_one_graph(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    y = Sq.apply(Sq.apply(x)) + Sq.apply(x)
    y.sum().backward()
    # d/dx (x**4 + x**2) = 4 x**3 + 2 x
    np.testing.assert_array_equal(as_array(x.grad), [6.0, 36.0, 114.0])

    z = leaf(engine)
    (Sq.apply(z) * Sq.apply(z)).sum().backward()
    # d/dz z**4 = 4 z**3
    np.testing.assert_array_equal(as_array(z.grad), [4.0, 32.0, 108.0])


def test_function_between_ordinary_ops(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    y = (Sq.apply(x * 3.0 + 1.0) * 0.5).sum()
    y.backward()
    # d/dx 0.5 (3x + 1)**2 = 3 (3x + 1)
    np.testing.assert_array_equal(as_array(x.grad), [12.0, 21.0, 30.0])


def test_double_backward_through_a_differentiable_backward(engine: ModuleType) -> None:
    Cube = cube_function(engine)
    x = leaf(engine)
    (g,) = engine.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert g.requires_grad is True
    np.testing.assert_array_equal(as_array(g), [3.0, 12.0, 27.0])  # 3x**2
    (g2,) = engine.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_array_equal(as_array(g2), [6.0, 12.0, 18.0])  # 6x
    (g3,) = engine.autograd.grad(g2.sum(), x)
    np.testing.assert_array_equal(as_array(g3), [6.0, 6.0, 6.0])


def test_backward_twice_frees_saved_tensors(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    y = Sq.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 8.0, 12.0])  # 2 * 2x
    with raises_exactly(RuntimeError, TWICE):
        y.backward()


# ---------------------------------------------------------------------------
# once_differentiable


def once_square_function(engine: ModuleType, seen: list[bool]) -> Any:
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        seen.append(engine.is_grad_enabled())
        (x,) = ctx.saved_tensors
        return 2 * x * grad

    once = engine.autograd.function.once_differentiable(backward)
    return function_class(engine, "OnceSq", forward, once)


def test_once_differentiable_first_order_works(engine: ModuleType) -> None:
    seen: list[bool] = []
    OnceSq = once_square_function(engine, seen)
    x = leaf(engine)
    (OnceSq.apply(x) * engine.tensor([5.0, 6.0, 7.0])).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [10.0, 24.0, 42.0])
    assert seen == [False]


def test_once_differentiable_double_backward_raises(engine: ModuleType) -> None:
    seen: list[bool] = []
    OnceSq = once_square_function(engine, seen)
    x = leaf(engine)
    y = OnceSq.apply(x)
    # The incoming gradient 2y requires grad (create_graph), so the result is tracked...
    (g,) = engine.autograd.grad((y * y).sum(), x, create_graph=True)
    # ...but the decorated backward itself ran with grad disabled.
    assert seen == [False]
    assert g.requires_grad is True
    np.testing.assert_array_equal(as_array(g), [4.0, 32.0, 108.0])  # 4 x**3
    with raises_exactly(RuntimeError, ONCE_DIFFERENTIABLE):
        g.sum().backward()


# ---------------------------------------------------------------------------
# Item 45: errors


def test_wrong_number_of_gradients(engine: ModuleType) -> None:
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        return grad, grad

    Sq = function_class(engine, "Sq", forward, backward)
    with raises_exactly(
        RuntimeError, "function SqBackward returned an incorrect number of gradients (expected 1, got 2)"
    ):
        Sq.apply(leaf(engine, [1.0, 2.0])).sum().backward()


def test_too_few_gradients_counts_non_tensor_inputs(engine: ModuleType) -> None:
    def forward(ctx: Any, x: Any, k: float) -> Any:
        return x * k

    def backward(ctx: Any, grad: Any) -> Any:
        return grad * 2.0

    Scale = function_class(engine, "Scale", forward, backward)
    with raises_exactly(
        RuntimeError, "function ScaleBackward returned an incorrect number of gradients (expected 2, got 1)"
    ):
        Scale.apply(leaf(engine, [1.0, 2.0]), 2.0).sum().backward()


def test_wrong_gradient_shape(engine: ModuleType) -> None:
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    def backward(ctx: Any, grad: Any) -> Any:
        return engine.ones(3)

    Sq = function_class(engine, "Sq", forward, backward)
    with raises_exactly(
        RuntimeError,
        "Function SqBackward returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]",
    ):
        Sq.apply(leaf(engine, [1.0, 2.0])).sum().backward()


@pytest.mark.parametrize(
    ("saved", "message"),
    [
        ((3,), "save_for_backward can only save variables, but argument 0 is of type int"),
        (("x", 2.5), "save_for_backward can only save variables, but argument 1 is of type float"),
    ],
    ids=["int", "float-second"],
)
def test_save_for_backward_of_a_non_tensor(engine: ModuleType, saved: tuple[Any, ...], message: str) -> None:
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(*[x if item == "x" else item for item in saved])
        return x * 2

    def backward(ctx: Any, grad: Any) -> Any:
        return grad * 2

    Bad = function_class(engine, "Bad", forward, backward)
    with raises_exactly(TypeError, message):
        Bad.apply(leaf(engine, [1.0, 2.0]))


@pytest.mark.parametrize(
    ("gradient", "type_name"),
    [(1.0, "float"), (2, "int"), ([1.0, 2.0], "list")],
    ids=["float", "int", "list"],
)
def test_non_tensor_gradient(engine: ModuleType, gradient: object, type_name: str) -> None:
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    def backward(ctx: Any, grad: Any) -> object:
        return gradient

    Bad = function_class(engine, "Bad", forward, backward)
    with raises_exactly(RuntimeError, f"expected Variable or None (got {type_name})"):
        Bad.apply(leaf(engine, [1.0, 2.0])).sum().backward()


def test_gradient_for_a_non_tensor_input(engine: ModuleType) -> None:
    def forward(ctx: Any, x: Any, k: float) -> Any:
        return x * k

    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        return grad * 2.0, engine.ones(())

    Scale = function_class(engine, "Scale", forward, backward)
    with raises_exactly(
        RuntimeError,
        "function ScaleBackward returned a gradient different than None at position 2, "
        "but the corresponding forward input was not a Variable",
    ):
        Scale.apply(leaf(engine, [1.0, 2.0]), 2.0).sum().backward()


def test_saved_input_modified_in_place_before_backward(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    z = x * 1.0
    y = Sq.apply(z)
    z.add_(1.0)  # allowed now; the error comes at backward time
    with pytest.raises(RuntimeError, match=re.escape(VERSION_1_EXPECTED_0)):
        y.sum().backward()


def test_saved_leaf_modified_under_no_grad_before_backward(engine: ModuleType) -> None:
    Sq = square_function(engine)
    x = leaf(engine)
    y = Sq.apply(x)
    with engine.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match=re.escape(VERSION_1_EXPECTED_0)):
        y.sum().backward()


def test_saved_output_modified_in_place_before_backward(engine: ModuleType) -> None:
    def forward(ctx: Any, x: Any) -> Any:
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    def backward(ctx: Any, grad: Any) -> Any:
        (result,) = ctx.saved_tensors
        return grad * result  # d/dx exp = exp

    Exp = function_class(engine, "Exp", forward, backward)
    x = leaf(engine, [0.0, 1.0])
    y = Exp.apply(x)
    y.add_(1.0)
    with pytest.raises(RuntimeError, match=re.escape(VERSION_1_EXPECTED_0)):
        y.sum().backward()


def test_unmodified_saved_tensors_give_no_version_error(engine: ModuleType) -> None:
    """The control for the three tests above: an in-place op on a tensor nothing saved is fine."""
    Sq = square_function(engine)
    x = leaf(engine)
    unrelated = x * 1.0
    y = Sq.apply(x)
    unrelated.add_(1.0)
    y.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])
