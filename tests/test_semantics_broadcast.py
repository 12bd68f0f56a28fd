"""Reference section 8: broadcasting and shapes.

A gradient always has exactly its input's shape: broadcast dimensions are summed away,
kept size-1 dimensions stay, 0-d inputs get 0-d gradients. sum(dim, keepdim=True)
backward broadcasts the upstream gradient back; mean divides by the count.
Expected values are computed by hand or with plain numpy, never by the engine.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from properties.engines import EngineAdapter

from helpers import FloatArray, as_array, raises_exactly, size_text

Shape = tuple[int, ...]


def leaf(engine: ModuleType, values: Any) -> Any:
    return engine.tensor(values, dtype=engine.float64, requires_grad=True)


def const(engine: ModuleType, values: Any) -> Any:
    return engine.tensor(values, dtype=engine.float64)


def unbroadcast(g: FloatArray, shape: Shape) -> FloatArray:
    """Sum ``g`` down to ``shape`` (numpy reference for the reduction a gradient undergoes)."""
    out = g
    while out.ndim > len(shape):
        out = out.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and out.shape[axis] != 1:
            out = out.sum(axis=axis, keepdims=True)
    assert out.shape == shape
    return out


# ---------------------------------------------------------------- the reference example


def test_four_way_broadcast_example(engine: ModuleType) -> None:
    """a(2,3) * b(3) * c(2,1) * s() summed, with a=b=c=1 and s=2."""
    a = leaf(engine, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    b = leaf(engine, [1.0, 1.0, 1.0])
    c = leaf(engine, [[1.0], [1.0]])
    s = leaf(engine, 2.0)
    (a * b * c * s).sum().backward()
    assert tuple(a.grad.shape) == (2, 3)
    assert tuple(b.grad.shape) == (3,)
    assert tuple(c.grad.shape) == (2, 1)
    assert tuple(s.grad.shape) == ()
    np.testing.assert_array_equal(as_array(a.grad), [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(as_array(b.grad), [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(as_array(c.grad), [[6.0], [6.0]])
    np.testing.assert_array_equal(as_array(s.grad), 6.0)


def test_four_way_broadcast_distinct_values(engine: ModuleType) -> None:
    """Same graph with distinct values, expected gradients worked out by hand."""
    a = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = leaf(engine, [1.0, -1.0, 2.0])
    c = leaf(engine, [[2.0], [-3.0]])
    s = leaf(engine, 0.5)
    (a * b * c * s).sum().backward()
    # a.grad = b * c * s
    np.testing.assert_allclose(as_array(a.grad), [[1.0, -1.0, 2.0], [-1.5, 1.5, -3.0]])
    # b.grad_j = s * sum_i a_ij c_i = 0.5 * (2 a_0j - 3 a_1j)
    np.testing.assert_allclose(as_array(b.grad), [-5.0, -5.5, -6.0])
    # c.grad_i = s * sum_j a_ij b_j: row 0 -> 1-2+6 = 5, row 1 -> 4-5+12 = 11
    np.testing.assert_allclose(as_array(c.grad), [[2.5], [5.5]])
    # s.grad = sum a b c = 2*5 - 3*11
    np.testing.assert_allclose(as_array(s.grad), -23.0)


# ---------------------------------------------------------------- gradient shape == input shape

SHAPE_PAIRS: list[tuple[str, Shape, Shape]] = [
    ("same", (2, 3), (2, 3)),
    ("row", (2, 3), (3,)),
    ("col", (2, 3), (2, 1)),
    ("outer", (2, 1), (1, 3)),
    ("outer_1d", (2, 1), (3,)),
    ("one_elem_1d", (1,), (2, 3)),
    ("one_elem_2d", (1, 1), (2, 3)),
    ("scalar_0d", (2, 3), ()),
    ("both_0d", (), ()),
    ("0d_vs_1elem", (), (1,)),
    ("3d_mid", (2, 1, 3), (4, 1)),
    ("3d_leading", (4, 2, 3), (1, 3)),
]


@pytest.mark.parametrize(("sa", "sb"), [(p[1], p[2]) for p in SHAPE_PAIRS], ids=[p[0] for p in SHAPE_PAIRS])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_grad_has_input_shape(engine: ModuleType, op: str, sa: Shape, sb: Shape) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{op}{sa}{sb}".encode()))
    av = rng.uniform(0.5, 2.0, size=sa)
    bv = rng.uniform(0.5, 2.0, size=sb)
    a = leaf(engine, av.tolist())
    b = leaf(engine, bv.tolist())
    out_shape = np.broadcast_shapes(sa, sb)
    g = rng.uniform(-1.0, 1.0, size=out_shape)
    if op == "add":
        out, da, db = a + b, g, g
    elif op == "sub":
        out, da, db = a - b, g, -g
    elif op == "mul":
        out, da, db = a * b, g * bv, g * av
    else:
        out, da, db = a / b, g / bv, -g * av / bv**2
    assert tuple(out.shape) == out_shape
    out.backward(const(engine, np.asarray(g).tolist()))
    assert tuple(a.grad.shape) == sa
    assert tuple(b.grad.shape) == sb
    np.testing.assert_allclose(as_array(a.grad), unbroadcast(np.broadcast_to(da, out_shape), sa), rtol=1e-12)
    np.testing.assert_allclose(as_array(b.grad), unbroadcast(np.broadcast_to(db, out_shape), sb), rtol=1e-12)


def test_kept_size_one_dim_is_not_dropped(engine: ModuleType) -> None:
    """A (2,1) input broadcast against (2,3) gets a (2,1) gradient, not (2,) or (2,3)."""
    c = leaf(engine, [[1.0], [2.0]])
    x = const(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (c * x).sum().backward()
    assert tuple(c.grad.shape) == (2, 1)
    np.testing.assert_array_equal(as_array(c.grad), [[6.0], [15.0]])


def test_zero_d_input_gets_zero_d_grad(engine: ModuleType) -> None:
    s = leaf(engine, 3.0)
    x = const(engine, [1.0, 2.0, 4.0])
    (s * x).sum().backward()
    assert tuple(s.grad.shape) == ()
    assert s.grad.dim() == 0
    np.testing.assert_array_equal(as_array(s.grad), 7.0)


def test_zero_d_only_graph(engine: ModuleType) -> None:
    s = leaf(engine, 2.0)
    (s * s).backward()
    assert tuple(s.grad.shape) == ()
    np.testing.assert_array_equal(as_array(s.grad), 4.0)


def test_one_element_1d_stays_1d(engine: ModuleType) -> None:
    """A (1,) input broadcast to (2,3) gets a (1,) gradient, not a 0-d one."""
    w = leaf(engine, [2.0])
    x = const(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (w * x).sum().backward()
    assert tuple(w.grad.shape) == (1,)
    np.testing.assert_array_equal(as_array(w.grad), [21.0])


def test_broadcast_input_also_used_directly(engine: ModuleType) -> None:
    """Both paths (broadcast and direct) are summed into the (3,) gradient."""
    b = leaf(engine, [1.0, 2.0, 3.0])
    m = const(engine, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    ((m * b).sum() + (b * b).sum()).backward()
    # d/db: column sums of m (3 each) + 2b
    np.testing.assert_array_equal(as_array(b.grad), [5.0, 7.0, 9.0])


def test_expand_and_broadcast_to_sum_back(engine: ModuleType) -> None:
    a = leaf(engine, [1.0, 2.0, 3.0])
    a.expand(4, 3).sum().backward()
    assert tuple(a.grad.shape) == (3,)
    np.testing.assert_array_equal(as_array(a.grad), [4.0, 4.0, 4.0])
    c = leaf(engine, [[1.0], [2.0]])
    (engine.broadcast_to(c, (3, 2, 5)) * 2.0).sum().backward()
    assert tuple(c.grad.shape) == (2, 1)
    np.testing.assert_array_equal(as_array(c.grad), [[30.0], [30.0]])


def test_batched_matmul_sums_weight_grad_over_batch(engine: ModuleType) -> None:
    """(2,2,3) @ (3,2): the 2-D operand's gradient sums over the batch."""
    xv = np.arange(12.0).reshape(2, 2, 3)
    wv = np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 1.0]])
    x = leaf(engine, xv.tolist())
    w = leaf(engine, wv.tolist())
    g = np.array([[[1.0, 2.0], [3.0, -1.0]], [[0.5, 0.0], [-2.0, 1.0]]])
    out = x @ w
    assert tuple(out.shape) == (2, 2, 2)
    out.backward(const(engine, g.tolist()))
    assert tuple(w.grad.shape) == (3, 2)
    assert tuple(x.grad.shape) == (2, 2, 3)
    expected_w = sum(xv[i].T @ g[i] for i in range(2))
    np.testing.assert_allclose(as_array(w.grad), expected_w, rtol=1e-12)
    np.testing.assert_allclose(as_array(x.grad), g @ wv.T, rtol=1e-12)


# ---------------------------------------------------------------- sum / mean with dim, keepdim


def test_sum_keepdim_backward_broadcasts_gradient(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x.sum(1, keepdim=True)
    assert tuple(y.shape) == (2, 1)
    y.backward(const(engine, [[1.0], [2.0]]))
    np.testing.assert_array_equal(as_array(x.grad), [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_sum_dim0_keepdim_backward(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = engine.sum(x, dim=0, keepdim=True)
    assert tuple(y.shape) == (1, 3)
    y.backward(const(engine, [[3.0, -1.0, 0.5]]))
    np.testing.assert_array_equal(as_array(x.grad), [[3.0, -1.0, 0.5], [3.0, -1.0, 0.5]])


def test_sum_dim_without_keepdim_backward(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x.sum(dim=0)
    assert tuple(y.shape) == (3,)
    y.backward(const(engine, [1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(as_array(x.grad), [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])


def test_sum_keepdim_gradient_must_keep_the_dim(engine: ModuleType, adapter: EngineAdapter) -> None:
    """The upstream gradient of a keepdim result must have the kept (2,1) shape."""
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x.sum(1, keepdim=True)
    message = (
        f"Mismatch in shape: grad_output[0] has a shape of {size_text(adapter, [2])} "
        f"and output[0] has a shape of {size_text(adapter, [2, 1])}."
    )
    with raises_exactly(RuntimeError, message):
        y.backward(const(engine, [1.0, 2.0]))


def test_mean_all_divides_by_count(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x.mean().backward()
    np.testing.assert_allclose(as_array(x.grad), np.full((2, 3), 1.0 / 6.0), rtol=1e-15)


def test_mean_dim_divides_by_reduced_count(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = engine.mean(x, dim=1)
    assert tuple(y.shape) == (2,)
    y.backward(const(engine, [3.0, 6.0]))
    np.testing.assert_allclose(as_array(x.grad), [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], rtol=1e-15)


def test_mean_keepdim_divides_by_reduced_count(engine: ModuleType) -> None:
    x = leaf(engine, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x.mean(0, keepdim=True)
    assert tuple(y.shape) == (1, 3)
    y.backward(const(engine, [[2.0, -4.0, 1.0]]))
    np.testing.assert_allclose(as_array(x.grad), [[1.0, -2.0, 0.5], [1.0, -2.0, 0.5]], rtol=1e-15)


def test_mean_3d_dim_count(engine: ModuleType) -> None:
    x = leaf(engine, np.zeros((2, 4, 5)).tolist())
    x.mean(dim=1).sum().backward()
    np.testing.assert_allclose(as_array(x.grad), np.full((2, 4, 5), 0.25), rtol=1e-15)
