"""Reference section 3: autograd.grad (items 17-21), plus Tensor.backward(inputs=...) and
autograd.backward(tensors, grad_tensors, retain_graph, create_graph, inputs).

Every test runs on refgrad and on torch (the ``engine`` fixture). Expected values are
computed by hand, never read back from the engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from properties.engines import EngineAdapter

from helpers import NOGRAD, TWICE, as_array, raises_exactly, size_text

NOT_REQUIRING = "One of the differentiated Tensors does not require grad"
CREATE_GRAPH_WARNING = "ignore:Using backward\\(\\) with create_graph=True"


def unused_message(index: int) -> str:
    return (
        f"The differentiated Tensor at index {index} appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior."
    )


def leaf(engine: ModuleType, values: list[float]) -> Any:
    return engine.tensor(values, dtype=engine.float64, requires_grad=True)


# ---------------------------------------------------------------------------
# Item 17: always a tuple, never writes .grad, results without graph


@pytest.mark.parametrize("form", ["tensor", "list", "tuple"])
def test_grad_returns_a_tuple(engine: ModuleType, form: str) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    inputs: Any = {"tensor": x, "list": [x], "tuple": (x,)}[form]
    result = engine.autograd.grad((x * x).sum(), inputs)
    assert type(result) is tuple
    assert len(result) == 1
    np.testing.assert_array_equal(as_array(result[0]), [2.0, 4.0, 6.0])


def test_grad_of_several_inputs_returns_a_tuple_in_input_order(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 5.0])
    result = engine.autograd.grad((x * y * y).sum(), [y, x])
    assert type(result) is tuple
    assert len(result) == 2
    np.testing.assert_array_equal(as_array(result[0]), [6.0, 20.0])  # 2xy
    np.testing.assert_array_equal(as_array(result[1]), [9.0, 25.0])  # y**2


def test_grad_has_the_shape_and_dtype_of_its_input(engine: ModuleType) -> None:
    x = engine.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=engine.float64, requires_grad=True)
    s = engine.tensor(2.0, requires_grad=True)  # float32, 0-d
    (gx, gs) = engine.autograd.grad((x * s).sum(), [x, s])
    assert tuple(gx.shape) == (2, 3)
    assert gx.dtype == engine.float64
    assert tuple(gs.shape) == ()
    assert gs.dtype == engine.float32
    np.testing.assert_array_equal(as_array(gx), np.full((2, 3), 2.0))
    assert float(as_array(gs)) == 21.0


def test_grad_never_writes_grad_of_inputs_or_other_leaves(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    other = leaf(engine, [4.0, 5.0, 6.0])
    (gx,) = engine.autograd.grad((x * other).sum(), x)
    np.testing.assert_array_equal(as_array(gx), [4.0, 5.0, 6.0])
    assert x.grad is None
    assert other.grad is None


def test_grad_leaves_an_existing_grad_untouched(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (x * 3.0).sum().backward()
    before = x.grad
    (gx,) = engine.autograd.grad((x * x).sum(), x)
    assert x.grad is before
    np.testing.assert_array_equal(as_array(x.grad), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(as_array(gx), [2.0, 4.0, 6.0])
    assert gx is not x.grad


def test_grad_does_not_accumulate_across_calls(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x).sum()
    (first,) = engine.autograd.grad(y, x, retain_graph=True)
    (second,) = engine.autograd.grad(y, x)
    np.testing.assert_array_equal(as_array(first), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(as_array(second), [2.0, 4.0, 6.0])
    assert x.grad is None


def test_grad_results_do_not_require_grad_without_create_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x * x * x).sum(), x)
    assert g.requires_grad is False
    assert g.grad_fn is None
    assert g.is_leaf is True
    np.testing.assert_array_equal(as_array(g), [3.0, 12.0, 27.0])


def test_grad_results_require_grad_with_create_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x * x * x).sum(), x, create_graph=True)
    assert g.requires_grad is True
    assert g.grad_fn is not None
    assert g.is_leaf is False
    np.testing.assert_array_equal(as_array(g), [3.0, 12.0, 27.0])
    assert x.grad is None


# ---------------------------------------------------------------------------
# Item 18: unused inputs


@pytest.mark.parametrize(("unused_first", "index"), [(False, 1), (True, 0)])
def test_unused_input_raises(engine: ModuleType, unused_first: bool, index: int) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    unused = leaf(engine, [1.0, 2.0, 3.0])
    inputs = [unused, x] if unused_first else [x, unused]
    with raises_exactly(RuntimeError, unused_message(index)):
        engine.autograd.grad((x * x).sum(), inputs)
    assert x.grad is None


def test_unused_input_at_a_later_index(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 4.0])
    unused = leaf(engine, [5.0])
    with raises_exactly(RuntimeError, unused_message(2)):
        engine.autograd.grad((x * y).sum(), [x, y, unused])


def test_unused_input_with_allow_unused_gives_none(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    unused = leaf(engine, [1.0, 2.0])
    result = engine.autograd.grad((x * x).sum(), [x, unused], allow_unused=True)
    assert type(result) is tuple
    assert len(result) == 2
    np.testing.assert_array_equal(as_array(result[0]), [2.0, 4.0, 6.0])
    assert result[1] is None


def test_input_that_is_a_leaf_used_by_another_branch_only_is_unused(engine: ModuleType) -> None:
    """`other` is in the graph of `z`, but not of the differentiated output `y`."""
    x = leaf(engine, [1.0, 2.0])
    other = leaf(engine, [3.0, 4.0])
    y = (x * x).sum()
    z = (x * other).sum()
    assert z.requires_grad
    with raises_exactly(RuntimeError, unused_message(1)):
        engine.autograd.grad(y, [x, other])


def test_unused_input_with_materialize_grads_gives_zeros(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    unused = leaf(engine, [1.0, 2.0, 3.0])
    gx, gu = engine.autograd.grad((x * x).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(as_array(gx), [2.0, 4.0])
    assert gu is not None
    assert tuple(gu.shape) == (3,)
    assert gu.dtype == engine.float64
    assert gu.requires_grad is False
    np.testing.assert_array_equal(as_array(gu), [0.0, 0.0, 0.0])


def test_materialize_grads_with_allow_unused_true(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    unused = leaf(engine, [1.0])
    _, gu = engine.autograd.grad((x * x).sum(), [x, unused], allow_unused=True, materialize_grads=True)
    assert gu is not None
    np.testing.assert_array_equal(as_array(gu), [0.0])


def test_materialize_grads_refuses_allow_unused_false(engine: ModuleType) -> None:
    """Observed on torch 2.13 (not stated in the reference text)."""
    x = leaf(engine, [1.0, 2.0])
    with raises_exactly(
        ValueError,
        "Expected allow_unused to be True or not passed when materialize_grads=True, but got: allow_unused=False.",
    ):
        engine.autograd.grad((x * x).sum(), x, allow_unused=False, materialize_grads=True)


# ---------------------------------------------------------------------------
# Item 19: inputs and outputs that do not require grad


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "next to a good input"])
def test_input_that_does_not_require_grad(engine: ModuleType, alone: bool) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    plain = engine.tensor([1.0, 2.0, 3.0], dtype=engine.float64)
    y = (x * plain).sum()
    with raises_exactly(RuntimeError, NOT_REQUIRING):
        engine.autograd.grad(y, [plain] if alone else [x, plain])
    assert x.grad is None


def test_input_computed_under_no_grad_does_not_require_grad(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with engine.no_grad():
        frozen = x * 2.0
    with raises_exactly(RuntimeError, NOT_REQUIRING):
        engine.autograd.grad((x * x).sum(), [frozen])


OUTPUTS_WITHOUT_GRAD: list[tuple[str, Callable[[ModuleType, Any], Any]]] = [
    ("plain sum", lambda e, x: e.tensor([1.0, 2.0]).sum()),
    ("made under no_grad", lambda e, x: _under_no_grad(e, x)),
    ("detached", lambda e, x: (x * x).sum().detach()),
]


def _under_no_grad(engine: ModuleType, x: Any) -> Any:
    with engine.no_grad():
        return (x * x).sum()


@pytest.mark.parametrize("build", [b for _, b in OUTPUTS_WITHOUT_GRAD], ids=[i for i, _ in OUTPUTS_WITHOUT_GRAD])
def test_output_that_does_not_require_grad(engine: ModuleType, build: Callable[[ModuleType, Any], Any]) -> None:
    x = leaf(engine, [1.0, 2.0])
    with raises_exactly(RuntimeError, NOGRAD):
        engine.autograd.grad(build(engine, x), x)


def test_second_output_that_does_not_require_grad(engine: ModuleType) -> None:
    """The message names the index of the offending output (observed on torch 2.13)."""
    x = leaf(engine, [1.0, 2.0])
    plain = engine.tensor([1.0, 2.0], dtype=engine.float64)
    with raises_exactly(RuntimeError, "element 1 of tensors does not require grad and does not have a grad_fn"):
        engine.autograd.grad([(x * x).sum(), plain.sum()], x)


# ---------------------------------------------------------------------------
# Item 20: several outputs, grad_outputs


def test_several_outputs_are_summed(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad([(x * x).sum(), (x * 3.0).sum()], x)
    np.testing.assert_array_equal(as_array(g), [5.0, 7.0, 9.0])  # 2x + 3


def test_several_outputs_with_grad_outputs(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = leaf(engine, [-1.0, 0.5, 2.0])
    w1 = engine.tensor([1.0, 2.0, 3.0], dtype=engine.float64)
    w2 = engine.tensor(10.0, dtype=engine.float64)
    gx, gy = engine.autograd.grad([x * y, (x * x).sum()], [x, y], grad_outputs=[w1, w2])
    # d/dx: w1*y + w2*2x; d/dy: w1*x
    np.testing.assert_array_equal(as_array(gx), [19.0, 41.0, 66.0])
    np.testing.assert_array_equal(as_array(gy), [1.0, 4.0, 9.0])


def test_several_outputs_sharing_a_subgraph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    h = x * x
    (g,) = engine.autograd.grad([h.sum(), (h * 2.0).sum(), (h * x).sum()], x)
    np.testing.assert_array_equal(as_array(g), [9.0, 24.0])  # 2x + 4x + 3x**2


def test_none_in_grad_outputs_stands_for_one_of_a_scalar(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad(
        [(x * x).sum(), (x * 3.0).sum()], [x], grad_outputs=[engine.tensor(2.0, dtype=engine.float64), None]
    )
    np.testing.assert_array_equal(as_array(g), [7.0, 11.0, 15.0])  # 2*2x + 3


def test_fewer_grad_outputs_than_outputs(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with raises_exactly(RuntimeError, "got 2 tensors and 1 gradients"):
        engine.autograd.grad([(x * x).sum(), (x * 3.0).sum()], [x], grad_outputs=[engine.tensor(1.0)])


def test_several_outputs_without_grad_outputs_must_be_scalars(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with raises_exactly(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        engine.autograd.grad([(x * x).sum(), x * 3.0], [x])


# ---------------------------------------------------------------------------
# grad_outputs with a non-scalar output


def test_grad_outputs_with_non_scalar_output(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    v = engine.tensor([1.0, -2.0, 0.5], dtype=engine.float64)
    (g,) = engine.autograd.grad(x * x, x, grad_outputs=v)
    np.testing.assert_array_equal(as_array(g), [2.0, -8.0, 3.0])  # 2x * v


def test_grad_outputs_as_list_with_2d_output(engine: ModuleType) -> None:
    x = engine.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=engine.float64, requires_grad=True)
    v = engine.tensor([[1.0, 0.0], [2.0, -1.0]], dtype=engine.float64)
    (g,) = engine.autograd.grad([x.exp()], [x], grad_outputs=[v])
    np.testing.assert_allclose(as_array(g), np.exp([[1.0, 2.0], [3.0, 4.0]]) * [[1.0, 0.0], [2.0, -1.0]], rtol=1e-14)


def test_non_scalar_output_without_grad_outputs(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with raises_exactly(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        engine.autograd.grad(x * x, x)


def test_grad_outputs_of_the_wrong_shape(engine: ModuleType, adapter: EngineAdapter) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    message = (
        f"Mismatch in shape: grad_output[0] has a shape of {size_text(adapter, [2])} "
        f"and output[0] has a shape of {size_text(adapter, [3])}."
    )
    with raises_exactly(RuntimeError, message):
        engine.autograd.grad(x * x, x, grad_outputs=engine.tensor([1.0, 1.0], dtype=engine.float64))


def test_grad_outputs_of_a_scalar_output(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    (g,) = engine.autograd.grad((x * x).sum(), x, grad_outputs=engine.tensor(-3.0, dtype=engine.float64))
    np.testing.assert_array_equal(as_array(g), [-6.0, -12.0, -18.0])


def test_grad_outputs_holding_a_float(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with raises_exactly(TypeError, "gradients can be either Tensors or None, but got float"):
        engine.autograd.grad((x * x).sum(), x, grad_outputs=[1.0])


# ---------------------------------------------------------------------------
# Item 21: the graph is freed unless retain_graph


def test_graph_is_freed_after_grad(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x).sum()
    (g,) = engine.autograd.grad(y, x)
    np.testing.assert_array_equal(as_array(g), [2.0, 4.0, 6.0])
    with raises_exactly(RuntimeError, TWICE):
        engine.autograd.grad(y, x)


def test_backward_after_grad_raises(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x.exp().sum()
    engine.autograd.grad(y, x)
    with raises_exactly(RuntimeError, TWICE):
        y.backward()
    assert x.grad is None


def test_grad_after_backward_raises(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x.sin().sum()
    y.backward()
    with raises_exactly(RuntimeError, TWICE):
        engine.autograd.grad(y, x)


def test_retain_graph_keeps_the_graph_for_the_next_call(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x).sum()
    for _ in range(3):
        (g,) = engine.autograd.grad(y, x, retain_graph=True)
        np.testing.assert_array_equal(as_array(g), [2.0, 4.0, 6.0])
    (g,) = engine.autograd.grad(y, x)  # frees it
    np.testing.assert_array_equal(as_array(g), [2.0, 4.0, 6.0])
    with raises_exactly(RuntimeError, TWICE):
        engine.autograd.grad(y, x)


def test_retain_graph_defaults_to_create_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x).sum()
    engine.autograd.grad(y, x, create_graph=True)
    (g,) = engine.autograd.grad(y, x)
    np.testing.assert_array_equal(as_array(g), [2.0, 4.0, 6.0])
    with raises_exactly(RuntimeError, TWICE):
        engine.autograd.grad(y, x)


def test_freeing_is_only_for_the_differentiated_part(engine: ModuleType) -> None:
    """grad w.r.t. an intermediate frees only the graph between output and that input."""
    x = leaf(engine, [1.0, 2.0])
    h = x.exp()
    y = (h * h).sum()
    engine.autograd.grad(y, h)
    with raises_exactly(RuntimeError, TWICE):
        engine.autograd.grad(y, h)
    (g,) = engine.autograd.grad(h.sum(), x)  # exp's saved output was not touched
    np.testing.assert_allclose(as_array(g), np.exp([1.0, 2.0]), rtol=1e-14)


def test_graph_without_saved_tensors_can_be_replayed(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x + x - 1.0).sum()
    engine.autograd.grad(y, x)
    (g,) = engine.autograd.grad(y, x)
    np.testing.assert_array_equal(as_array(g), [2.0, 2.0, 2.0])


# ---------------------------------------------------------------------------
# Non-leaf inputs, repeated inputs, empty inputs


def test_grad_of_a_non_leaf_intermediate(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    h = x * 2.0
    (gh,) = engine.autograd.grad((h * h).sum(), h)
    np.testing.assert_array_equal(as_array(gh), [4.0, 8.0, 12.0])  # 2h
    assert x.grad is None


def test_grad_of_an_intermediate_and_its_leaf_together(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    h = x * 2.0
    gh, gx = engine.autograd.grad((h * h * x).sum(), [h, x])
    # y = h**2 * x with h = 2x: dy/dh = 2hx = 4x**2; dy/dx (total) = 12 x**2
    np.testing.assert_array_equal(as_array(gh), [4.0, 16.0, 36.0])
    np.testing.assert_array_equal(as_array(gx), [12.0, 48.0, 108.0])


def test_grad_of_the_output_itself(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = x * 3.0
    (g,) = engine.autograd.grad(y, y, grad_outputs=engine.tensor([2.0, -1.0], dtype=engine.float64))
    np.testing.assert_array_equal(as_array(g), [2.0, -1.0])


def test_grad_of_a_retained_intermediate_does_not_touch_leaf_grads(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    h = x.exp()
    h.retain_grad()
    engine.autograd.grad((h * x).sum(), x)
    assert x.grad is None


def test_same_input_twice(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    result = engine.autograd.grad((x * x).sum(), [x, x])
    assert len(result) == 2
    np.testing.assert_array_equal(as_array(result[0]), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(as_array(result[1]), [2.0, 4.0, 6.0])  # not split, not doubled
    assert x.grad is None


def test_same_input_twice_among_others(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 4.0])
    gx1, gy, gx2 = engine.autograd.grad((x * y).sum(), [x, y, x])
    np.testing.assert_array_equal(as_array(gx1), [3.0, 4.0])
    np.testing.assert_array_equal(as_array(gy), [1.0, 2.0])
    np.testing.assert_array_equal(as_array(gx2), [3.0, 4.0])


def test_empty_inputs_refused(engine: ModuleType) -> None:
    """Observed on torch 2.13 (the reference states the backward() form only)."""
    x = leaf(engine, [1.0, 2.0])
    with raises_exactly(RuntimeError, "`inputs` argument to `grad()` cannot be empty."):
        engine.autograd.grad((x * x).sum(), [])


def test_scalar_output_given_as_a_one_element_list(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    (g,) = engine.autograd.grad([(x * x * x).sum()], x)
    np.testing.assert_array_equal(as_array(g), [3.0, 12.0])


# ---------------------------------------------------------------------------
# Tensor.backward(inputs=...)


@pytest.mark.parametrize("form", ["tensor", "list", "tuple"])
def test_backward_inputs_forms(engine: ModuleType, form: str) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 4.0])
    inputs: Any = {"tensor": y, "list": [y], "tuple": (y,)}[form]
    (x * y * y).sum().backward(inputs=inputs)
    assert x.grad is None
    np.testing.assert_array_equal(as_array(y.grad), [6.0, 16.0])  # 2xy


def test_backward_inputs_accumulate(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 4.0])
    z = (x * y).sum()
    z.backward(inputs=[x, y], retain_graph=True)
    z.backward(inputs=[x])
    np.testing.assert_array_equal(as_array(x.grad), [6.0, 8.0])
    np.testing.assert_array_equal(as_array(y.grad), [1.0, 2.0])


def test_backward_inputs_with_a_non_leaf_populates_its_grad(engine: ModuleType) -> None:
    """Observed on torch 2.13: a non-leaf in `inputs` gets .grad (and no NONLEAF warning)."""
    x = leaf(engine, [1.0, 2.0, 3.0])
    h = x * 2.0
    (h * h).sum().backward(inputs=[h])
    assert x.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gh = h.grad
    np.testing.assert_array_equal(as_array(gh), [4.0, 8.0, 12.0])


def test_backward_inputs_unused_leaf_keeps_none(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    unused = leaf(engine, [1.0])
    (x * x).sum().backward(inputs=[unused])
    assert unused.grad is None
    assert x.grad is None


def test_backward_inputs_with_explicit_gradient(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 4.0])
    (x * y).backward(engine.tensor([1.0, -1.0], dtype=engine.float64), inputs=[x])
    np.testing.assert_array_equal(as_array(x.grad), [3.0, -4.0])
    assert y.grad is None


def test_backward_inputs_empty(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    with raises_exactly(RuntimeError, "`inputs` argument to `backward()` cannot be empty."):
        (x * x).sum().backward(inputs=[])
    assert x.grad is None


# ---------------------------------------------------------------------------
# autograd.backward(tensors, grad_tensors, retain_graph, create_graph, inputs)


def test_autograd_backward_single_scalar(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    result = engine.autograd.backward((x * x).sum())
    assert result is None
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0])


def test_autograd_backward_several_tensors_with_grad_tensors(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    engine.autograd.backward(
        [x * x, (x * 3.0).sum()],
        grad_tensors=[engine.tensor([1.0, 0.0, -1.0], dtype=engine.float64), engine.tensor(2.0, dtype=engine.float64)],
    )
    np.testing.assert_array_equal(as_array(x.grad), [8.0, 6.0, 0.0])  # 2x*g + 6


def test_autograd_backward_grad_tensors_positional_and_none(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    engine.autograd.backward([x * x, (x * 3.0).sum()], [engine.tensor([1.0, 1.0, 1.0], dtype=engine.float64), None])
    np.testing.assert_array_equal(as_array(x.grad), [5.0, 7.0, 9.0])


def test_autograd_backward_single_tensor_with_single_gradient(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    engine.autograd.backward(x * x, engine.tensor([1.0, 2.0, 3.0], dtype=engine.float64))
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 8.0, 18.0])


def test_autograd_backward_several_scalars_summed(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    engine.autograd.backward([(x * x).sum(), (x * 3.0).sum()])
    np.testing.assert_array_equal(as_array(x.grad), [5.0, 7.0, 9.0])


def test_autograd_backward_fewer_grad_tensors(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with raises_exactly(RuntimeError, "got 2 tensors and 1 gradients"):
        engine.autograd.backward([x * x, x * 3.0], [engine.tensor([1.0, 1.0, 1.0], dtype=engine.float64)])
    assert x.grad is None


def test_autograd_backward_non_scalar_without_grad_tensors(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    with raises_exactly(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        engine.autograd.backward([x * x, x * 3.0])


def test_autograd_backward_retain_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x).sum()
    engine.autograd.backward(y, retain_graph=True)
    engine.autograd.backward(y)
    np.testing.assert_array_equal(as_array(x.grad), [4.0, 8.0, 12.0])
    with raises_exactly(RuntimeError, TWICE):
        engine.autograd.backward(y)


@pytest.mark.filterwarnings(CREATE_GRAPH_WARNING)
def test_autograd_backward_create_graph(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = (x * x * x).sum()
    engine.autograd.backward(y, create_graph=True)
    assert x.grad.requires_grad is True
    np.testing.assert_array_equal(as_array(x.grad), [3.0, 12.0, 27.0])
    # x.grad's graph reuses y's node x*x: retain it for the backward below
    (g2,) = engine.autograd.grad(x.grad.sum(), x, retain_graph=True)
    np.testing.assert_array_equal(as_array(g2), [6.0, 12.0, 18.0])
    engine.autograd.backward(y)  # create_graph retained the graph
    np.testing.assert_array_equal(as_array(x.grad), [6.0, 24.0, 54.0])


def test_autograd_backward_inputs(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    y = leaf(engine, [3.0, 4.0])
    engine.autograd.backward((x * y).sum(), inputs=[y])
    assert x.grad is None
    np.testing.assert_array_equal(as_array(y.grad), [1.0, 2.0])


def test_autograd_backward_inputs_empty(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0])
    with raises_exactly(RuntimeError, "`inputs` argument to `backward()` cannot be empty."):
        engine.autograd.backward([(x * x).sum()], inputs=[])


def test_autograd_backward_tensor_without_grad(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, NOGRAD):
        engine.autograd.backward(engine.tensor([1.0, 2.0]).sum())
