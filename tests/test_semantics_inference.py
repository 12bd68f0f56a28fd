"""Reference section 5, item 30: inference_mode and inference tensors.

Every test runs on refgrad and on torch (the ``engine`` fixture). Inference mode is only
switched with context managers and decorators, which restore it on exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pytest

from helpers import as_array, as_decorator, raises_exactly, raises_prefix

F = TypeVar("F", bound=Callable[..., Any])

INFSAVE_PREFIX = "Inference tensors cannot be saved for backward."
SET_REQUIRES_GRAD = "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."
INPLACE_PREFIX = "Inplace update to inference tensor outside InferenceMode is not allowed."


def leaf(engine: ModuleType) -> Any:
    return engine.tensor([1.0, 2.0, 3.0], requires_grad=True)


def inference_tensor(engine: ModuleType, values: list[float] | None = None) -> Any:
    with engine.inference_mode():
        return engine.tensor([4.0, 5.0, 6.0] if values is None else values)


def assert_inference_result(t: Any) -> None:
    assert t.is_inference() is True
    assert t.requires_grad is False
    assert t.grad_fn is None
    assert t.is_leaf is True


def assert_modes(engine: ModuleType, *, inference: bool, grad: bool) -> None:
    assert engine.is_inference_mode_enabled() is inference
    assert engine.is_grad_enabled() is grad


# ---------------------------------------------------------------------------
# The mode itself


def test_modes_inside_and_after(engine: ModuleType) -> None:
    assert_modes(engine, inference=False, grad=True)
    with engine.inference_mode():
        assert_modes(engine, inference=True, grad=False)
    assert_modes(engine, inference=False, grad=True)


def test_ordinary_tensors_are_not_inference_tensors(engine: ModuleType) -> None:
    x = leaf(engine)
    assert x.is_inference() is False
    assert (x * 2.0).is_inference() is False
    with engine.no_grad():
        assert (x * 2.0).is_inference() is False


RESULTS_INSIDE: list[tuple[str, Callable[[ModuleType, Any], Any], list[float]]] = [
    ("x*2", lambda e, x: x * 2.0, [2.0, 4.0, 6.0]),
    ("x*x", lambda e, x: x * x, [1.0, 4.0, 9.0]),
    ("x+x", lambda e, x: x + x, [2.0, 4.0, 6.0]),
    ("exp(log)", lambda e, x: e.exp(e.log(x)), [1.0, 2.0, 3.0]),
    ("sum", lambda e, x: x.sum().reshape(1), [6.0]),
    ("x[[0,2]]", lambda e, x: x[[0, 2]], [1.0, 3.0]),
    ("clone", lambda e, x: x.clone(), [1.0, 2.0, 3.0]),
    ("cat", lambda e, x: e.cat([x, x[:1]]), [1.0, 2.0, 3.0, 1.0]),
    ("tensor()", lambda e, x: e.tensor([7.0, 8.0]), [7.0, 8.0]),
    ("zeros", lambda e, x: e.zeros(2), [0.0, 0.0]),
]


@pytest.mark.parametrize(
    ("build", "expected"), [(b, v) for _, b, v in RESULTS_INSIDE], ids=[i for i, _, _ in RESULTS_INSIDE]
)
def test_results_inside_are_inference_tensors(
    engine: ModuleType, build: Callable[[ModuleType, Any], Any], expected: list[float]
) -> None:
    x = leaf(engine)
    with engine.inference_mode():
        out = build(engine, x)
    assert_inference_result(out)
    np.testing.assert_allclose(as_array(out), expected, rtol=1e-6)
    # The input is untouched: still a normal leaf that tracks outside.
    assert x.is_inference() is False
    y = x * x
    assert y.requires_grad is True
    y.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])


def test_nested_inference_mode_false_restores_tracking(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.inference_mode():
        with engine.inference_mode(False):
            assert_modes(engine, inference=False, grad=True)
            z = x * x
            made = engine.tensor([1.0, 2.0])
        assert_modes(engine, inference=True, grad=False)
        inner = x * x
    assert_modes(engine, inference=False, grad=True)
    assert_inference_result(inner)
    assert made.is_inference() is False
    assert z.is_inference() is False
    assert z.requires_grad is True
    assert z.is_leaf is False
    assert type(z.grad_fn).__name__ == "MulBackward0"
    z.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])


def test_inference_mode_false_turns_grad_on_even_inside_no_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.no_grad():
        with engine.inference_mode(False):
            assert_modes(engine, inference=False, grad=True)
            z = x * 2.0
        assert_modes(engine, inference=False, grad=False)
    assert z.requires_grad is True
    assert z.is_inference() is False


def test_inference_mode_restores_after_an_exception(engine: ModuleType) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with engine.inference_mode():
            assert_modes(engine, inference=True, grad=False)
            raise Boom()
    assert_modes(engine, inference=False, grad=True)


@pytest.mark.parametrize("form", ["inference_mode()", "inference_mode"])
def test_inference_mode_as_decorator(engine: ModuleType, form: str) -> None:
    x = leaf(engine)
    decorator = engine.inference_mode() if form == "inference_mode()" else engine.inference_mode

    @as_decorator(decorator)
    def double(t: Any) -> tuple[Any, bool, bool]:
        return t * 2.0, engine.is_inference_mode_enabled(), engine.is_grad_enabled()

    out, inference_inside, grad_inside = double(x)
    assert (inference_inside, grad_inside) == (True, False)
    assert_inference_result(out)
    np.testing.assert_array_equal(as_array(out), [2.0, 4.0, 6.0])
    assert_modes(engine, inference=False, grad=True)


def test_inference_mode_false_as_decorator_inside_inference_mode(engine: ModuleType) -> None:
    x = leaf(engine)

    @as_decorator(engine.inference_mode(False))
    def square(t: Any) -> tuple[Any, bool, bool]:
        return t * t, engine.is_inference_mode_enabled(), engine.is_grad_enabled()

    with engine.inference_mode():
        out, inference_inside, grad_inside = square(x)
        assert_modes(engine, inference=True, grad=False)
    assert (inference_inside, grad_inside) == (False, True)
    assert out.is_inference() is False
    assert out.requires_grad is True
    out.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])


def test_inference_mode_decorator_on_generator_function(engine: ModuleType) -> None:
    x = leaf(engine)

    @as_decorator(engine.inference_mode())
    def multiples(t: Any) -> Iterator[tuple[Any, bool]]:
        for k in (1.0, 2.0):
            yield t * k, engine.is_inference_mode_enabled()

    seen = []
    for out, inference_inside in multiples(x):
        assert inference_inside is True
        assert_inference_result(out)
        # Between two steps the caller runs in its own mode.
        assert_modes(engine, inference=False, grad=True)
        seen.append(as_array(out))
    np.testing.assert_array_equal(np.stack(seen), [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])


def test_outer_no_grad_does_not_change_inference_tensors(engine: ModuleType) -> None:
    with engine.no_grad():
        with engine.inference_mode():
            assert_modes(engine, inference=True, grad=False)
            made = engine.ones(2)
        assert_modes(engine, inference=False, grad=False)
        assert made.is_inference() is True
    assert_modes(engine, inference=False, grad=True)
    assert made.is_inference() is True
    with raises_exactly(RuntimeError, SET_REQUIRES_GRAD):
        made.requires_grad_()


# ---------------------------------------------------------------------------
# Inference tensors used outside inference mode


SAVING_OPS: list[tuple[str, Callable[[ModuleType, Any, Any], Any]]] = [
    ("x*y", lambda e, x, y: x * y),
    ("y*x", lambda e, x, y: y * x),
    ("dot", lambda e, x, y: e.dot(x, y)),
    ("x/y", lambda e, x, y: x / y),
]


@pytest.mark.parametrize("op", [o for _, o in SAVING_OPS], ids=[i for i, _ in SAVING_OPS])
def test_inference_tensor_saved_for_backward_raises(
    engine: ModuleType, op: Callable[[ModuleType, Any, Any], Any]
) -> None:
    x = leaf(engine)
    y = inference_tensor(engine)
    with raises_prefix(RuntimeError, INFSAVE_PREFIX):
        op(engine, x, y)


def test_inference_tensor_saved_inside_inference_mode_false_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.inference_mode():
        y = engine.tensor([4.0, 5.0, 6.0])
        with engine.inference_mode(False):
            with raises_prefix(RuntimeError, INFSAVE_PREFIX):
                x * y


def test_inference_tensor_without_grad_partner_is_not_saved(engine: ModuleType) -> None:
    """With no input requiring grad nothing is saved: ops on inference tensors work and give
    normal (non-inference) tensors outside inference mode."""
    y = inference_tensor(engine)
    for out, expected in [
        (y * 2.0, [8.0, 10.0, 12.0]),
        (y * y, [16.0, 25.0, 36.0]),
        (y.sum().reshape(1), [15.0]),
    ]:
        assert out.is_inference() is False
        assert out.requires_grad is False
        np.testing.assert_allclose(as_array(out), expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("op", "x_grad"),
    [
        (lambda x, y: x + y, [1.0, 1.0, 1.0]),
        (lambda x, y: y + x, [1.0, 1.0, 1.0]),
        (lambda x, y: x - y, [1.0, 1.0, 1.0]),
        (lambda x, y: y - x, [-1.0, -1.0, -1.0]),
        (lambda x, y: x * 3.0 + y, [3.0, 3.0, 3.0]),
    ],
    ids=["x+y", "y+x", "x-y", "y-x", "3x+y"],
)
def test_op_that_saves_nothing_works_with_an_inference_tensor(
    engine: ModuleType, op: Callable[[Any, Any], Any], x_grad: list[float]
) -> None:
    x = leaf(engine)
    y = inference_tensor(engine)
    out = op(x, y)
    assert out.requires_grad is True
    assert out.is_inference() is False
    out.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), x_grad)
    assert y.grad is None


def test_result_computed_from_an_inference_tensor_can_be_saved(engine: ModuleType) -> None:
    """exp(y) computed outside inference mode is a normal tensor, so x * exp(y) may save it."""
    x = leaf(engine)
    y = inference_tensor(engine, [0.0, 1.0, 2.0])
    (x * engine.exp(y)).sum().backward()
    np.testing.assert_allclose(as_array(x.grad), np.exp([0.0, 1.0, 2.0]), rtol=1e-6)


def test_requires_grad_on_inference_tensor_outside(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    with raises_exactly(RuntimeError, SET_REQUIRES_GRAD):
        y.requires_grad_()
    with raises_exactly(RuntimeError, SET_REQUIRES_GRAD):
        y.requires_grad_(True)
    assert y.requires_grad is False
    assert y.requires_grad_(False) is y


def test_requires_grad_on_inference_tensor_inside_inference_mode_is_allowed(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    with engine.inference_mode():
        assert y.requires_grad_() is y
    assert y.requires_grad is True
    assert y.is_inference() is True


INPLACE_OPS: list[tuple[str, Callable[[Any], Any]]] = [
    ("add_", lambda t: t.add_(1.0)),
    ("mul_", lambda t: t.mul_(2.0)),
    ("zero_", lambda t: t.zero_()),
    ("+=", lambda t: t.__iadd__(1.0)),
    ("setitem", lambda t: t.__setitem__(0, 9.0)),
]


@pytest.mark.parametrize("inplace", [o for _, o in INPLACE_OPS], ids=[i for i, _ in INPLACE_OPS])
def test_in_place_on_inference_tensor_outside_raises(engine: ModuleType, inplace: Callable[[Any], Any]) -> None:
    y = inference_tensor(engine)
    with raises_prefix(RuntimeError, INPLACE_PREFIX):
        inplace(y)


@pytest.mark.parametrize("inplace", [o for _, o in INPLACE_OPS], ids=[i for i, _ in INPLACE_OPS])
def test_in_place_on_view_of_inference_tensor_outside_raises(engine: ModuleType, inplace: Callable[[Any], Any]) -> None:
    y = inference_tensor(engine)
    view = y[0:2]
    with raises_prefix(RuntimeError, INPLACE_PREFIX):
        inplace(view)


def test_in_place_on_inference_tensor_inside_inference_mode_is_allowed(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    with engine.inference_mode():
        y.add_(1.0)
        y[0] = 0.0
    np.testing.assert_array_equal(as_array(y), [0.0, 6.0, 7.0])
    assert y.is_inference() is True


def test_clone_outside_gives_a_normal_tensor(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    c = y.clone()
    assert c.is_inference() is False
    assert c.requires_grad is False
    np.testing.assert_array_equal(as_array(c), [4.0, 5.0, 6.0])
    c.add_(1.0)  # allowed: c is a normal tensor with its own storage
    np.testing.assert_array_equal(as_array(c), [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(as_array(y), [4.0, 5.0, 6.0])
    # It may be saved for backward, and may require grad.
    x = leaf(engine)
    c.requires_grad_()
    (x * c).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(as_array(c.grad), [1.0, 2.0, 3.0])


def test_clone_inside_inference_mode_is_an_inference_tensor(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    with engine.inference_mode():
        c = y.clone()
    assert c.is_inference() is True


def test_detach_of_inference_tensor_is_an_inference_tensor(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    d = y.detach()
    assert d.is_inference() is True
    assert d.requires_grad is False
    np.testing.assert_array_equal(as_array(d), [4.0, 5.0, 6.0])


VIEWS: list[tuple[str, Callable[[Any], Any], Any]] = [
    ("slice", lambda t: t[0:2], [4.0, 5.0]),
    ("select", lambda t: t[1], 5.0),
    ("view", lambda t: t.view(3, 1), [[4.0], [5.0], [6.0]]),
    ("unsqueeze", lambda t: t.unsqueeze(0), [[4.0, 5.0, 6.0]]),
    ("expand", lambda t: t.expand(2, 3), [[4.0, 5.0, 6.0], [4.0, 5.0, 6.0]]),
]


@pytest.mark.parametrize(
    ("make_view", "expected"), [(m, v) for _, m, v in VIEWS], ids=[i for i, _, _ in VIEWS]
)
@pytest.mark.parametrize("where", ["outside", "inside"])
def test_views_of_inference_tensors_are_inference_tensors(
    engine: ModuleType, make_view: Callable[[Any], Any], expected: Any, where: str
) -> None:
    y = inference_tensor(engine)
    if where == "inside":
        with engine.inference_mode():
            v = make_view(y)
    else:
        v = make_view(y)
    assert v.is_inference() is True
    assert v.requires_grad is False
    assert as_array(v).shape == np.shape(expected)
    np.testing.assert_array_equal(as_array(v), expected)


# ---------------------------------------------------------------------------
# Normal tensors used inside inference mode


def test_normal_tensor_updated_in_place_inside_stays_normal(engine: ModuleType) -> None:
    n = engine.tensor([1.0, 2.0, 3.0])
    start = n._version
    with engine.inference_mode():
        n.add_(1.0)
    assert n.is_inference() is False
    assert n._version == start + 1
    np.testing.assert_array_equal(as_array(n), [2.0, 3.0, 4.0])
    n.mul_(2.0)  # still allowed outside: not an inference tensor
    np.testing.assert_array_equal(as_array(n), [4.0, 6.0, 8.0])


def test_view_of_normal_tensor_made_inside_is_a_normal_view(engine: ModuleType) -> None:
    n = engine.tensor([1.0, 2.0, 3.0])
    with engine.inference_mode():
        v = n[0:2]
    assert v.is_inference() is False
    v.add_(1.0)  # allowed outside, and writes through to n
    np.testing.assert_array_equal(as_array(n), [2.0, 3.0, 3.0])


@pytest.mark.parametrize(
    "make_view",
    [lambda x: x[1:], lambda x: x[0], lambda x: x.view(3, 1), lambda x: x.unsqueeze(0)],
    ids=["slice", "select", "view", "unsqueeze"],
)
def test_view_of_leaf_requiring_grad_made_inside_is_a_normal_new_leaf(
    engine: ModuleType, make_view: Callable[[Any], Any]
) -> None:
    """As under no_grad: the view keeps requires_grad, has no history, and gradients
    through it reach neither the view nor its base."""
    x = leaf(engine)
    with engine.inference_mode():
        v = make_view(x)
    assert v.is_inference() is False
    assert (v.requires_grad, v.is_leaf, v.grad_fn) == (True, True, None)
    (v * 2.0).sum().backward()
    assert x.grad is None
    assert v.grad is None


def test_leaf_requiring_grad_used_and_updated_inside(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.inference_mode():
        out = x * x
        x.add_(1.0)  # like no_grad: an in-place update of a leaf is allowed
    assert_inference_result(out)
    np.testing.assert_array_equal(as_array(out), [1.0, 4.0, 9.0])
    assert x.is_inference() is False
    assert (x.requires_grad, x.is_leaf, x.grad_fn) == (True, True, None)
    np.testing.assert_array_equal(as_array(x), [2.0, 3.0, 4.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 6.0, 8.0])


@pytest.mark.parametrize("mode", ["enable_grad", "set_grad_enabled(True)"])
def test_grad_mode_turned_on_inside_inference_mode_records_nothing(engine: ModuleType, mode: str) -> None:
    """Grad mode reads True again, but inference mode still records nothing and makes
    inference tensors."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with engine.inference_mode(), (engine.enable_grad() if mode == "enable_grad" else engine.set_grad_enabled(True)):
        assert engine.is_grad_enabled() and engine.is_inference_mode_enabled()
        y = x * 2
    assert (y.requires_grad, y.grad_fn, y.is_inference()) == (False, None, True)


def test_backward_inside_inference_mode_makes_an_inference_grad(engine: ModuleType) -> None:
    """A .grad created inside inference mode is an inference tensor: accumulating into it
    later, outside the mode, is an in-place update of an inference tensor."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    z = (x * 3).sum()
    with engine.inference_mode():
        z.backward()
    assert x.grad.is_inference() and x.grad.tolist() == [3.0, 3.0]
    with raises_prefix(RuntimeError, INPLACE_PREFIX):
        (x * 3).sum().backward()
    x.grad = None
    (x * 3).sum().backward()  # a fresh .grad made outside is a normal tensor
    assert not x.grad.is_inference()


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (lambda y: y.add_(10.0), [14.0, 15.0, 16.0]),
        (lambda y: y.view(3).add_(1.0), [5.0, 6.0, 7.0]),
        (lambda y: y.__setitem__(0, 7.0), [7.0, 5.0, 6.0]),
        (lambda y: y.zero_(), [0.0, 0.0, 0.0]),
        (lambda y: y.copy_(y * 0 + 1), [1.0, 1.0, 1.0]),
    ],
    ids=["add_", "view-add_", "setitem", "zero_", "copy_"],
)
def test_failed_in_place_update_of_inference_tensor_leaves_it_changed(
    engine: ModuleType, update: Callable[[Any], object], expected: list[float]
) -> None:
    """PyTorch writes, then refuses (its version bump is what raises): the values change."""
    y = inference_tensor(engine)
    with raises_prefix(RuntimeError, INPLACE_PREFIX):
        update(y)
    np.testing.assert_array_equal(as_array(y), expected)


@pytest.mark.deviation("refgrad applies the inference in-place rule to a detach() of an inference tensor too; PyTorch lets it through")
def test_detach_of_inference_tensor_taken_outside_can_be_updated_in_place(engine: ModuleType) -> None:
    y = inference_tensor(engine)
    y.detach().add_(100.0)
    np.testing.assert_array_equal(as_array(y), [104.0, 105.0, 106.0])
