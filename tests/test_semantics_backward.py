"""Reference section 2: Tensor.backward() (items 6-16), plus the seed example.

Every test runs on refgrad and on torch (the ``engine`` fixture). Expected values
are computed by hand (or by central differences), never read back from the engine.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from properties.engines import EngineAdapter

from helpers import NOGRAD, TWICE, as_array, central_difference, raises_exactly, size_text

NONLEAF_PREFIX = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor."
)
NONLEAF_MATCH = "^" + re.escape(NONLEAF_PREFIX)

#: Length of the long-chain test (reference item 16: no recursive walk).
CHAIN_LENGTH = 1_000_000


def nonleaf_warnings(caught: list[warnings.WarningMessage]) -> int:
    return sum(
        1 for w in caught if issubclass(w.category, UserWarning) and str(w.message).startswith(NONLEAF_PREFIX)
    )


# ---------------------------------------------------------------------------
# Seed example


def test_seed_example(engine: ModuleType) -> None:
    a = engine.tensor([2.0, 3.0], requires_grad=True)
    b = engine.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    assert type(Q.grad_fn).__name__ == "SubBackward0"
    assert type((a**3).grad_fn).__name__ == "PowBackward0"
    Q.backward(gradient=engine.tensor([1.0, 1.0]))
    # dQ/da = 9 a**2, dQ/db = -2 b
    np.testing.assert_array_equal(as_array(a.grad), [36.0, 81.0])
    np.testing.assert_array_equal(as_array(b.grad), [-12.0, -8.0])
    assert repr(a.grad) == "tensor([36., 81.])"
    assert repr(b.grad) == "tensor([-12.,  -8.])"


# ---------------------------------------------------------------------------
# Item 6


def test_grad_is_none_before_any_backward(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad is None
    y = (x * x).sum()
    assert x.grad is None
    y.backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0])


# ---------------------------------------------------------------------------
# Item 7


@pytest.mark.parametrize("shape", [[3], [2, 3], [2, 1]], ids=str)
def test_non_scalar_output_needs_gradient(engine: ModuleType, shape: list[int]) -> None:
    x = engine.tensor(np.ones(shape).tolist(), requires_grad=True)
    with raises_exactly(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        (x * 2.0).backward()
    assert x.grad is None


@pytest.mark.parametrize("shape", [[], [1], [1, 1]], ids=str)
def test_any_one_element_output_is_accepted(engine: ModuleType, shape: list[int]) -> None:
    x = engine.tensor(np.full(shape, 1.5).tolist(), requires_grad=True)
    (x * x * 2.0).backward()  # d/dx 2x**2 = 4x = 6
    assert tuple(x.grad.shape) == tuple(shape)
    np.testing.assert_array_equal(as_array(x.grad), np.full(shape, 6.0))


# ---------------------------------------------------------------------------
# Item 8


@pytest.mark.parametrize(
    ("out_shape", "grad_shape"),
    [([3], [2]), ([3], [1]), ([3], [1, 3]), ([2, 3], [3]), ([2, 3], [3, 2]), ([], [1])],
    ids=str,
)
def test_gradient_must_have_exactly_the_output_shape(
    engine: ModuleType, adapter: EngineAdapter, out_shape: list[int], grad_shape: list[int]
) -> None:
    x = engine.tensor(np.ones(out_shape).tolist(), requires_grad=True)
    y = x * 2.0
    g = engine.tensor(np.ones(grad_shape).tolist())
    message = (
        f"Mismatch in shape: grad_output[0] has a shape of {size_text(adapter, grad_shape)} "
        f"and output[0] has a shape of {size_text(adapter, out_shape)}."
    )
    with raises_exactly(RuntimeError, message):
        y.backward(g)
    assert x.grad is None


def test_mismatch_message_of_the_reference(engine: ModuleType, adapter: EngineAdapter) -> None:
    y = engine.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2.0
    with raises_exactly(
        RuntimeError,
        f"Mismatch in shape: grad_output[0] has a shape of {size_text(adapter, [2])} and output[0] "
        f"has a shape of {size_text(adapter, [3])}.",
    ):
        y.backward(engine.tensor([1.0, 1.0]))


@pytest.mark.parametrize(
    ("leaf_dtype", "grad_dtype"),
    [("float32", "float64"), ("float64", "float32"), ("float32", "int64")],
)
def test_gradient_dtype_mismatch_is_not_an_error(engine: ModuleType, leaf_dtype: str, grad_dtype: str) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], dtype=getattr(engine, leaf_dtype), requires_grad=True)
    y = x * 2.0
    y.backward(engine.tensor([1, 2, 3], dtype=getattr(engine, grad_dtype)))
    assert x.grad.dtype == getattr(engine, leaf_dtype)
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])


def test_list_holding_a_float_as_gradient(engine: ModuleType) -> None:
    y = engine.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2.0
    with raises_exactly(TypeError, "gradients can be either Tensors or None, but got float"):
        y.backward([1.0, 1.0, 1.0])


def test_list_holding_a_float_as_gradient_of_scalar(engine: ModuleType) -> None:
    y = (engine.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2.0).sum()
    with raises_exactly(TypeError, "gradients can be either Tensors or None, but got float"):
        y.backward([1.0])


@pytest.mark.parametrize("scalar_output", [False, True])
def test_bare_float_as_gradient(engine: ModuleType, scalar_output: bool) -> None:
    y = engine.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2.0
    if scalar_output:
        y = y.sum()
    with raises_exactly(TypeError, "'float' object is not iterable"):
        y.backward(1.0)


# ---------------------------------------------------------------------------
# Item 9


SAVING: list[tuple[str, Callable[[ModuleType, Any], Any]]] = [
    ("x*x", lambda e, x: (x * x).sum()),
    ("x*2", lambda e, x: (x * 2.0).sum()),
    ("exp", lambda e, x: e.exp(x).sum()),
    ("pow", lambda e, x: (x**2).sum()),
    ("sin", lambda e, x: e.sin(x).sum()),
    ("tanh", lambda e, x: e.tanh(x).sum()),
    ("add then mul", lambda e, x: ((x + 1.0) * x).sum()),
    ("index by list", lambda e, x: x[[0, 2]].sum()),  # advanced indexing saves its indices
    ("index by mask", lambda e, x: x[x > 0.7].sum()),
]


@pytest.mark.parametrize("build", [b for _, b in SAVING], ids=[i for i, _ in SAVING])
def test_second_backward_through_freed_graph_raises(engine: ModuleType, build: Callable[[ModuleType, Any], Any]) -> None:
    x = engine.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = build(engine, x)
    y.backward()
    first = as_array(x.grad).copy()
    with raises_exactly(RuntimeError, TWICE):
        y.backward()
    np.testing.assert_array_equal(as_array(x.grad), first)


def test_graph_without_saved_tensors_can_be_replayed(engine: ModuleType) -> None:
    """Only graphs that *saved tensors* are refused a second time: add/sub save nothing."""
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x + x - 1.0).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 4.0, 4.0])


def test_retain_graph_allows_a_second_backward_that_accumulates(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 8.0, 12.0])
    y.backward()  # retain_graph defaults to False: this one frees the graph
    np.testing.assert_array_equal(as_array(x.grad), [6.0, 12.0, 18.0])
    with raises_exactly(RuntimeError, TWICE):
        y.backward()


def test_retain_graph_with_explicit_gradient(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    g = engine.tensor([1.0, 3.0])
    y.backward(g, retain_graph=True)
    y.backward(gradient=g)
    np.testing.assert_allclose(as_array(x.grad), 2 * np.array([1.0, 3.0]) * np.exp([1.0, 2.0]), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_retain_graph_defaults_to_create_graph(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(create_graph=True)
    y.backward()  # allowed: the first call retained the graph
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 8.0, 12.0])
    with raises_exactly(RuntimeError, TWICE):
        y.backward()


# ---------------------------------------------------------------------------
# Item 10


def test_grad_accumulates_across_backward_calls(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [6.0, 12.0, 18.0])  # 3 * 2x


def test_accumulation_is_in_place(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    (x * x).sum().backward()
    assert x.grad is g
    np.testing.assert_array_equal(as_array(g), [4.0, 8.0, 12.0])


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_accumulation_with_create_graph_is_out_of_place(engine: ModuleType) -> None:
    """Observed on torch 2.13 (the reference says in place without this exception): with
    create_graph the sum is a new tensor, part of the graph, and the old .grad is left alone."""
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward(create_graph=True)
    first = x.grad
    (x * x).sum().backward(create_graph=True)
    assert x.grad is not first and x.grad.requires_grad
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 8.0, 12.0])
    np.testing.assert_array_equal(as_array(first), [2.0, 4.0, 6.0])


def test_after_grad_none_the_next_backward_creates_a_new_tensor(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    old = x.grad
    x.grad = None
    assert x.grad is None
    (x * 3.0).sum().backward()
    assert x.grad is not old
    np.testing.assert_array_equal(as_array(x.grad), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(as_array(old), [2.0, 4.0, 6.0])  # the old tensor was left alone


GRADIENT_PATHS: list[tuple[str, Callable[[Any], Any]]] = [
    ("leaf itself", lambda x: x),
    ("x*1", lambda x: x * 1.0),
    ("x+0", lambda x: x + 0.0),
    ("clone", lambda x: x.clone()),
    ("slice", lambda x: x[:]),
]


@pytest.mark.parametrize("through", [f for _, f in GRADIENT_PATHS], ids=[i for i, _ in GRADIENT_PATHS])
def test_grad_never_aliases_the_gradient_argument(engine: ModuleType, through: Callable[[Any], Any]) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = engine.tensor([1.0, 1.0, 1.0])
    through(x).backward(g)
    assert x.grad is not g
    through(x).backward(g)  # accumulates in place into x.grad: g must not change
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(as_array(g), [1.0, 1.0, 1.0])


def test_retained_grad_never_aliases_the_gradient_argument(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    g = engine.tensor([1.0, 1.0, 1.0])
    y.backward(g, retain_graph=True)
    assert y.grad is not g
    y.backward(g)
    np.testing.assert_array_equal(as_array(y.grad), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(as_array(g), [1.0, 1.0, 1.0])


# ---------------------------------------------------------------------------
# Item 11


def test_reading_grad_of_non_leaf_warns_and_returns_none(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.warns(UserWarning, match=NONLEAF_MATCH):
        assert y.grad is None
    y.sum().backward()
    with pytest.warns(UserWarning, match=NONLEAF_MATCH):
        assert y.grad is None  # still None after backward
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0])


def test_non_leaf_warning_is_issued_on_every_read(engine: ModuleType) -> None:
    y = engine.tensor([1.0, 2.0], requires_grad=True).exp()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert y.grad is None
        assert y.grad is None
        assert y.grad is None
    assert nonleaf_warnings(caught) == 3


def test_no_warning_for_leaves_and_retained_non_leaves(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    plain = engine.tensor([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert x.grad is None
        assert plain.grad is None
        assert y.grad is None
    assert nonleaf_warnings(caught) == 0


# ---------------------------------------------------------------------------
# Item 12


def test_retain_grad_populates_non_leaf_grad_and_accumulates(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    z = (y * engine.tensor([1.0, 2.0, 3.0])).sum()
    z.backward(retain_graph=True)
    np.testing.assert_array_equal(as_array(y.grad), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 8.0, 18.0])  # w * 2x
    z.backward()
    np.testing.assert_array_equal(as_array(y.grad), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 16.0, 36.0])


def test_retain_grad_on_a_leaf_is_a_no_op(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.retain_grad()
    assert x.is_leaf is True
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0, 2.0])  # not counted twice


@pytest.mark.parametrize("computed", [False, True], ids=["plain leaf", "op on plain tensor"])
def test_retain_grad_on_tensor_without_grad(engine: ModuleType, computed: bool) -> None:
    t = engine.tensor([1.0, 2.0])
    if computed:
        t = t * 2.0
    with raises_exactly(RuntimeError, "can't retain_grad on Tensor that has requires_grad=False"):
        t.retain_grad()


# ---------------------------------------------------------------------------
# Item 13


NO_GRAD_OUTPUTS: list[tuple[str, Callable[[ModuleType], Any]]] = [
    ("plain.sum()", lambda e: e.tensor([1.0, 2.0]).sum()),
    ("(plain*2).sum()", lambda e: (e.tensor([1.0, 2.0]) * 2.0).sum()),
    ("scalar leaf", lambda e: e.tensor(3.0)),
]


@pytest.mark.parametrize("build", [b for _, b in NO_GRAD_OUTPUTS], ids=[i for i, _ in NO_GRAD_OUTPUTS])
def test_backward_on_tensor_without_grad(engine: ModuleType, build: Callable[[ModuleType], Any]) -> None:
    with raises_exactly(RuntimeError, NOGRAD):
        build(engine).backward()


def test_backward_with_gradient_on_tensor_without_grad(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, NOGRAD):
        engine.tensor([1.0, 2.0, 3.0]).backward(engine.tensor([1.0, 1.0, 1.0]))


def test_backward_on_result_computed_under_no_grad(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with engine.no_grad():
        y = (x * x).sum()
    with raises_exactly(RuntimeError, NOGRAD):
        y.backward()
    assert x.grad is None


# ---------------------------------------------------------------------------
# Item 14


def test_backward_inputs_restricts_accumulation(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    y = (a * b).sum()
    y.backward(inputs=[a], retain_graph=True)
    np.testing.assert_array_equal(as_array(a.grad), [3.0, 4.0])
    assert b.grad is None
    y.backward(inputs=[b])
    np.testing.assert_array_equal(as_array(b.grad), [1.0, 2.0])
    np.testing.assert_array_equal(as_array(a.grad), [3.0, 4.0])  # untouched by the second call


def test_backward_inputs_cannot_be_empty(engine: ModuleType) -> None:
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    with raises_exactly(RuntimeError, "`inputs` argument to `backward()` cannot be empty."):
        (a * a).sum().backward(inputs=[])
    assert a.grad is None


# ---------------------------------------------------------------------------
# Item 15


def test_unused_leaf_keeps_grad_none(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    unused = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2.0).sum().backward()
    assert unused.grad is None
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0, 2.0])


def test_multiplying_by_zero_gives_zeros_not_none(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 0).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(as_array(x.grad), [0.0, 0.0, 0.0])


def test_backward_of_an_element_gives_a_dense_gradient(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[0].backward()
    assert tuple(x.grad.shape) == (3,)
    np.testing.assert_array_equal(as_array(x.grad), [1.0, 0.0, 0.0])


def test_duplicate_indices_accumulate(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 1.0, 0.0])


# ---------------------------------------------------------------------------
# Item 16


def test_reused_non_leaf_sums_all_paths(engine: ModuleType) -> None:
    a = engine.tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert float(as_array(a.grad)) == 4.0


def test_deep_diamond_needs_topological_order(engine: ModuleType) -> None:
    """y = y + y fifty times: 2**50 paths; a walk per path would never finish."""
    a = engine.tensor(2.0, requires_grad=True)
    y = a
    for _ in range(50):
        y = y + y
    y.backward()
    assert float(as_array(a.grad)) == 2.0**50


def test_non_leaf_used_by_short_and_long_paths(engine: ModuleType) -> None:
    x0 = np.array([0.1, -0.4, 0.7])
    x = engine.tensor(x0.tolist(), dtype=engine.float64, requires_grad=True)
    b = x * 3.0
    c = b.exp()
    d = (b + c * b + c.sin()).sum()
    d.backward()

    def f(v: np.ndarray[Any, np.dtype[np.float64]]) -> float:
        bb = 3.0 * v
        cc = np.exp(bb)
        return float(np.sum(bb + cc * bb + np.sin(cc)))

    bb = 3.0 * x0
    by_hand = 3.0 + 3.0 * np.exp(bb) * (bb + 1.0) + np.cos(np.exp(bb)) * 3.0 * np.exp(bb)
    np.testing.assert_allclose(as_array(x.grad), by_hand, rtol=1e-10)
    np.testing.assert_allclose(as_array(x.grad), central_difference(f, x0), rtol=1e-6)


def test_long_chain_does_not_recurse(engine: ModuleType) -> None:
    """LONG CHAIN: CHAIN_LENGTH (10**6) nodes, backward at the default recursion limit.

    A recursive graph walk (or a recursive graph teardown) hits RecursionError here.
    """
    assert sys.getrecursionlimit() < CHAIN_LENGTH
    x = engine.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(CHAIN_LENGTH):
        y = y * 1.0
    y.backward()
    del y
    assert float(as_array(x.grad)) == 1.0
