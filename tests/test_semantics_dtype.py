"""Reference sections 11 (dtypes) and 12 (non-differentiable points, PyTorch conventions)."""

from __future__ import annotations

import math
import re
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import as_array, raises_exactly

FACTORY_INT_GRAD = "Only Tensors of floating point and complex dtype can require gradients"
REQUIRES_GRAD_INT = "only Tensors of floating point dtype can require gradients"
NUMPY_REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
NONLEAF_PREFIX = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
    "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
    "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor."
)


def leaf(engine: ModuleType, values: Any) -> Any:
    return engine.tensor(values, dtype=engine.float64, requires_grad=True)


def const(engine: ModuleType, values: Any) -> Any:
    return engine.tensor(values, dtype=engine.float64)


# ================================================================ 11. dtypes


def test_int_list_with_requires_grad_is_rejected(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, FACTORY_INT_GRAD):
        engine.tensor([1, 2, 3], requires_grad=True)


def test_explicit_int64_with_requires_grad_is_rejected(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, FACTORY_INT_GRAD):
        engine.tensor([1.0, 2.0], dtype=engine.int64, requires_grad=True)


def test_bool_with_requires_grad_is_rejected(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, FACTORY_INT_GRAD):
        engine.tensor([True, False], requires_grad=True)


def test_requires_grad_method_on_int_is_rejected(engine: ModuleType) -> None:
    t = engine.tensor([1, 2, 3])
    with raises_exactly(RuntimeError, REQUIRES_GRAD_INT):
        t.requires_grad_()
    assert t.requires_grad is False


def test_requires_grad_method_on_bool_is_rejected(engine: ModuleType) -> None:
    t = engine.tensor([True, False])
    with raises_exactly(RuntimeError, REQUIRES_GRAD_INT):
        t.requires_grad_(True)


def test_default_float_dtype_is_float32(engine: ModuleType) -> None:
    assert engine.tensor([1.0, 2.0]).dtype == engine.float32
    assert engine.tensor(1.5).dtype == engine.float32
    assert engine.tensor([1.0, 2.0], requires_grad=True).dtype == engine.float32


def test_int_list_gives_int64(engine: ModuleType) -> None:
    t = engine.tensor([1, 2, 3])
    assert t.dtype == engine.int64
    assert t.requires_grad is False


def test_numpy_float64_input_stays_float64(engine: ModuleType) -> None:
    t = engine.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert t.dtype == engine.float64
    (t * t).sum().backward()
    assert t.grad.dtype == engine.float64
    np.testing.assert_array_equal(as_array(t.grad), [2.0, 4.0])


def test_float32_op_float64_promotes_and_grads_keep_own_dtype(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 5.0], dtype=engine.float64, requires_grad=True)
    assert a.dtype == engine.float32
    c = a * b
    assert c.dtype == engine.float64
    c.backward(const(engine, [1.0, -2.0]))
    assert a.grad.dtype == engine.float32
    assert b.grad.dtype == engine.float64
    np.testing.assert_array_equal(as_array(a.grad), [3.0, -10.0])
    np.testing.assert_array_equal(as_array(b.grad), [1.0, -4.0])


def test_float64_op_float32_promotes_in_either_order(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 5.0], dtype=engine.float64, requires_grad=True)
    c = b + a
    assert c.dtype == engine.float64
    c.sum().backward()
    assert a.grad.dtype == engine.float32
    assert b.grad.dtype == engine.float64
    np.testing.assert_array_equal(as_array(a.grad), [1.0, 1.0])


@pytest.mark.parametrize("form", ["mul", "rmul", "add", "radd", "sub", "rsub", "div", "rdiv", "pow"])
def test_float32_op_python_float_stays_float32(engine: ModuleType, form: str) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    results = {
        "mul": lambda: a * 2.5,
        "rmul": lambda: 2.5 * a,
        "add": lambda: a + 2.5,
        "radd": lambda: 2.5 + a,
        "sub": lambda: a - 2.5,
        "rsub": lambda: 2.5 - a,
        "div": lambda: a / 2.5,
        "rdiv": lambda: 2.5 / a,
        "pow": lambda: a**2.5,
    }
    out = results[form]()
    assert out.dtype == engine.float32
    out.sum().backward()
    assert a.grad.dtype == engine.float32


def test_numpy_on_requires_grad_leaf_is_rejected(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    with raises_exactly(RuntimeError, NUMPY_REQUIRES_GRAD):
        a.numpy()


def test_numpy_on_requires_grad_non_leaf_is_rejected(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    with raises_exactly(RuntimeError, NUMPY_REQUIRES_GRAD):
        (a * 2.0).numpy()


def test_numpy_after_detach_works(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(a.detach().numpy(), np.array([1.0, 2.0], dtype=np.float32))


def test_float_on_float32_is_same_object(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    assert a.float() is a
    b = engine.tensor([1.0, 2.0])
    assert b.float() is b


def test_double_is_differentiable_non_leaf_copy(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    d = a.double()
    assert d is not a
    assert d.dtype == engine.float64
    assert d.requires_grad is True
    assert d.is_leaf is False
    assert d.grad_fn is not None
    np.testing.assert_array_equal(as_array(d), [1.0, 2.0])
    (d * d).sum().backward()
    # the gradient reaches the float32 leaf, in float32
    assert a.grad.dtype == engine.float32
    np.testing.assert_array_equal(as_array(a.grad), [2.0, 4.0])
    # the classic trap: the converted copy is not a leaf, so its .grad stays None
    with pytest.warns(UserWarning, match="^" + re.escape(NONLEAF_PREFIX)):
        grad_of_copy = d.grad
    assert grad_of_copy is None


# ================================================================ 12. non-differentiable points


def grad_of(engine: ModuleType, fn: Any, values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """x.grad after fn(x).backward(g) with g = [1, 2, 3, ...] (distinct, so misrouting shows)."""
    x = leaf(engine, values)
    out = fn(x)
    g = [float(i + 1) for i in range(len(values))]
    out.backward(const(engine, g))
    assert tuple(x.grad.shape) == (len(values),)
    return as_array(x.grad)


INF = math.inf

POINT_CASES: list[tuple[str, Any, list[float], list[float]]] = [
    # name, fn, x, expected x.grad for g = [1, 2, 3, ...]
    ("relu_at_0", lambda E, x: E.relu(x), [-1.0, 0.0, 1.0], [0.0, 0.0, 3.0]),
    ("abs_at_0", lambda E, x: E.abs(x), [-1.0, 0.0, 1.0], [-1.0, 0.0, 3.0]),
    ("sign_everywhere", lambda E, x: E.sign(x), [-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]),
    ("sqrt_at_0", lambda E, x: E.sqrt(x), [0.0, 4.0], [INF, 0.5]),
    ("log_at_0", lambda E, x: E.log(x), [0.0, 2.0], [INF, 1.0]),
    ("square_pow_at_0", lambda E, x: x**2, [0.0, 3.0], [0.0, 12.0]),
    ("pow_zero_everywhere", lambda E, x: x**0, [-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]),
    ("clamp_0_1_boundaries_inside", lambda E, x: E.clamp(x, 0.0, 1.0), [-0.5, 0.0, 0.5, 1.0, 1.5], [0.0, 2.0, 3.0, 4.0, 0.0]),
    ("clamp_min_boundary_inside", lambda E, x: E.clamp_min(x, 0.0), [-1.0, 0.0, 1.0], [0.0, 2.0, 3.0]),
    ("clamp_max_boundary_inside", lambda E, x: E.clamp_max(x, 1.0), [0.0, 1.0, 2.0], [1.0, 2.0, 0.0]),
]


@pytest.mark.parametrize(
    ("fn", "x", "expected"), [c[1:] for c in POINT_CASES], ids=[c[0] for c in POINT_CASES]
)
def test_gradient_at_non_differentiable_point(
    engine: ModuleType, fn: Any, x: list[float], expected: list[float]
) -> None:
    np.testing.assert_array_equal(grad_of(engine, lambda t: fn(engine, t), x), expected)


@pytest.mark.parametrize("op", ["floor", "round"])
def test_floor_and_round_have_zero_gradient(engine: ModuleType, op: str) -> None:
    fn = getattr(engine, op)
    np.testing.assert_array_equal(grad_of(engine, fn, [-1.5, 0.0, 0.4, 2.5]), [0.0, 0.0, 0.0, 0.0])


def test_clamp_0_1_with_sum_matches_reference_vector(engine: ModuleType) -> None:
    """The reference's own statement: gradient [0, 1, 1, 1, 0]."""
    x = leaf(engine, [-0.5, 0.0, 0.5, 1.0, 1.5])
    engine.clamp(x, 0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [0.0, 1.0, 1.0, 1.0, 0.0])


# ---------------------------------------------------------------- ties


@pytest.mark.parametrize(
    ("reduction", "values", "expected"),
    [
        ("max", [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
        ("min", [2.0, 1.0, 1.0], [0.0, 0.5, 0.5]),
        ("amax", [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
        ("amin", [2.0, 1.0, 1.0], [0.0, 0.5, 0.5]),
        ("max_method", [3.0, 3.0, 1.0, 3.0], [1 / 3, 1 / 3, 0.0, 1 / 3]),
        ("amin_method", [0.0, 5.0, 0.0, 0.0], [1 / 3, 0.0, 1 / 3, 1 / 3]),
    ],
)
def test_full_reduction_ties_split_evenly(
    engine: ModuleType, reduction: str, values: list[float], expected: list[float]
) -> None:
    x = leaf(engine, values)
    fns = {
        "max": lambda: engine.max(x),
        "min": lambda: engine.min(x),
        "amax": lambda: engine.amax(x),
        "amin": lambda: engine.amin(x),
        "max_method": lambda: x.max(),
        "amin_method": lambda: x.amin(),
    }
    out = fns[reduction]()
    assert tuple(out.shape) == ()
    out.backward(const(engine, 2.0))
    np.testing.assert_allclose(as_array(x.grad), 2.0 * np.array(expected), rtol=1e-15)


def test_max_over_2d_ties_split_across_rows(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 3.0, 3.0], [2.0, 3.0, 0.0]])
    x.max().backward()
    np.testing.assert_allclose(as_array(x.grad), [[0.0, 1 / 3, 1 / 3], [0.0, 1 / 3, 0.0]], rtol=1e-15)


@pytest.mark.parametrize("which", ["amax", "amin"])
def test_amax_amin_dim_ties_split_evenly(engine: ModuleType, which: str) -> None:
    x = leaf(engine, [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    if which == "amax":
        engine.amax(x, dim=1).backward(const(engine, [2.0, 4.0]))
        expected = [[0.0, 1.0, 1.0], [2.0, 2.0, 0.0]]
    else:
        engine.amin(x, dim=0).backward(const(engine, [2.0, 4.0, 6.0]))
        expected = [[2.0, 0.0, 0.0], [0.0, 4.0, 6.0]]
    np.testing.assert_array_equal(as_array(x.grad), expected)


@pytest.mark.parametrize("which", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_send_all_to_returned_index(engine: ModuleType, which: str, keepdim: bool) -> None:
    values = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    x = leaf(engine, values)
    result = getattr(x, which)(dim=1, keepdim=keepdim)
    idx = np.asarray(result.indices.numpy()).reshape(3)
    vals = result.values
    assert tuple(vals.shape) == ((3, 1) if keepdim else (3,))
    # the returned index points at an extreme element of its row
    rows = np.array(values)
    extreme = rows.max(axis=1) if which == "max" else rows.min(axis=1)
    np.testing.assert_array_equal(rows[np.arange(3), idx], extreme)
    g = np.array([1.0, 2.0, 3.0])
    vals.backward(const(engine, (g.reshape(3, 1) if keepdim else g).tolist()))
    expected = np.zeros((3, 3))
    expected[np.arange(3), idx] = g
    np.testing.assert_array_equal(as_array(x.grad), expected)


@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_half(engine: ModuleType, which: str) -> None:
    a = leaf(engine, [1.0, 2.0, 5.0])
    b = leaf(engine, [1.0, 3.0, 4.0])
    getattr(engine, which)(a, b).backward(const(engine, [2.0, 4.0, 6.0]))
    if which == "maximum":
        np.testing.assert_array_equal(as_array(a.grad), [1.0, 0.0, 6.0])
        np.testing.assert_array_equal(as_array(b.grad), [1.0, 4.0, 0.0])
    else:
        np.testing.assert_array_equal(as_array(a.grad), [1.0, 4.0, 0.0])
        np.testing.assert_array_equal(as_array(b.grad), [1.0, 0.0, 6.0])


# ---------------------------------------------------------------- where, logsumexp, softmax


def test_where_nan_trap(engine: ModuleType) -> None:
    """The untaken sqrt branch still propagates 0 * inf = nan at x = -1."""
    x = leaf(engine, [-1.0, 4.0])
    out = engine.where(x > 0, engine.sqrt(x), 0.0)
    np.testing.assert_array_equal(as_array(out), [0.0, 2.0])
    out.sum().backward()
    grad = as_array(x.grad)
    assert math.isnan(grad[0])
    assert grad[1] == 0.25


def test_where_nan_trap_avoided_by_safe_inner_where(engine: ModuleType) -> None:
    """The usual fix: make the untaken branch's input safe, then the gradient is 0 there."""
    x = leaf(engine, [-1.0, 4.0])
    safe = engine.where(x > 0, x, const(engine, 1.0))
    engine.where(x > 0, engine.sqrt(safe), 0.0).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [0.0, 0.25])


def _softmax(v: np.ndarray[Any, np.dtype[np.float64]], axis: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    out: np.ndarray[Any, np.dtype[np.float64]] = e / e.sum(axis=axis, keepdims=True)
    return out


XV = np.array([[0.3, -1.2, 2.0, 0.5], [1.5, 1.4, -0.7, 0.0]])


@pytest.mark.parametrize("dim", [0, 1])
def test_logsumexp_gradient_is_softmax(engine: ModuleType, dim: int) -> None:
    x = leaf(engine, XV.tolist())
    out = engine.logsumexp(x, dim=dim)
    g = np.array([2.0, -1.0]) if dim == 1 else np.array([1.0, -2.0, 0.5, 3.0])
    out.backward(const(engine, g.tolist()))
    expected = np.expand_dims(g, dim) * _softmax(XV, dim)
    np.testing.assert_allclose(as_array(x.grad), expected, rtol=1e-12)


def test_logsumexp_sum_backward_gives_plain_softmax(engine: ModuleType) -> None:
    x = leaf(engine, XV.tolist())
    engine.logsumexp(x, 1).sum().backward()
    np.testing.assert_allclose(as_array(x.grad), _softmax(XV, 1), rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_gradients_sum_to_zero(engine: ModuleType, dim: int) -> None:
    x = leaf(engine, XV.tolist())
    out = engine.softmax(x, dim)
    g = np.array([[1.0, -2.0, 0.5, 3.0], [0.25, 4.0, -1.0, 2.0]])
    out.backward(const(engine, g.tolist()))
    grad = as_array(x.grad)
    np.testing.assert_allclose(grad.sum(axis=dim), 0.0, atol=1e-14)
    s = _softmax(XV, dim)
    expected = s * (g - (g * s).sum(axis=dim, keepdims=True))
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    assert np.any(np.abs(grad) > 1e-3)  # not trivially zero


def test_softmax_sum_backward_is_zero(engine: ModuleType) -> None:
    """softmax rows sum to 1 whatever x is, so sum(softmax(x)) has gradient 0."""
    x = leaf(engine, XV.tolist())
    engine.softmax(x, 1).sum().backward()
    np.testing.assert_allclose(as_array(x.grad), np.zeros((2, 4)), atol=1e-15)


def test_log_softmax_gradient(engine: ModuleType) -> None:
    x = leaf(engine, XV.tolist())
    g = np.array([[1.0, -2.0, 0.5, 3.0], [0.25, 4.0, -1.0, 2.0]])
    engine.log_softmax(x, 1).backward(const(engine, g.tolist()))
    expected = g - _softmax(XV, 1) * g.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(as_array(x.grad), expected, rtol=1e-12)
