"""Bad input gets a clear error: never a wrong answer, never a traceback from deep inside.

Every case runs on refgrad and on torch (the ``engine`` fixture) and pins the exception
type and the exact message text, as torch 2.13 spells it (each text was checked on torch
first). Where torch names its own types in the text (``torch.Size``), ``size_text`` gives
the engine's spelling. ``x + "a"`` is the one case compared by exception type only: the
two texts are not meant to agree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import refgrad as rg
from properties.engines import EngineAdapter
from refgrad._arguments import TORCH_OVERLOADS

from helpers import NOGRAD, TWICE, raises_exactly, size_text

NOT_BROADCASTABLE_3_2 = "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"
NOT_CONTIGUOUS = (
    "view size is not compatible with input tensor's size and stride (at least one dimension spans "
    "across two contiguous subspaces). Use .reshape(...) instead."
)
INT_REQUIRES_GRAD_FACTORY = "Only Tensors of floating point and complex dtype can require gradients"
INT_REQUIRES_GRAD_METHOD = "only Tensors of floating point dtype can require gradients"
NUMPY_REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
NOT_ONE_ELEMENT = "only one element tensors can be converted to Python scalars"
CLAMP_NO_BOUND = "torch.clamp: At least one of 'min' or 'max' must not be None"
MAT_2x3_2x3 = "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"
MV_2x3_2 = "size mismatch, got input (2), mat (2x3), vec (2)"


def dim_range(low: int, high: int, got: int) -> str:
    return f"Dimension out of range (expected to be in range of [{low}, {high}], but got {got})"


#: One bad call: takes the engine module, must raise.
Op = Callable[[ModuleType], Any]


def cases(*rows: tuple[str, Op, str]) -> list[object]:
    """``(id, op, message)`` rows as ``pytest.param(op, message, id=id)``."""
    return [pytest.param(op, message, id=name) for name, op, message in rows]


# ---------------------------------------------------------------------------
# Elementwise ops on shapes that do not broadcast


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("add-operator", lambda e: e.ones(3) + e.ones(2), NOT_BROADCASTABLE_3_2),
        ("add", lambda e: e.add(e.ones(3), e.ones(2)), NOT_BROADCASTABLE_3_2),
        ("mul-operator", lambda e: e.ones(3) * e.ones(2), NOT_BROADCASTABLE_3_2),
        ("mul", lambda e: e.mul(e.ones(3), e.ones(2)), NOT_BROADCASTABLE_3_2),
        ("sub-operator", lambda e: e.ones(3) - e.ones(2), NOT_BROADCASTABLE_3_2),
        ("sub", lambda e: e.sub(e.ones(3), e.ones(2)), NOT_BROADCASTABLE_3_2),
        ("div-operator", lambda e: e.ones(3) / e.ones(2), NOT_BROADCASTABLE_3_2),
        ("div", lambda e: e.div(e.ones(3), e.ones(2)), NOT_BROADCASTABLE_3_2),
        ("maximum", lambda e: e.maximum(e.ones(3), e.ones(2)), NOT_BROADCASTABLE_3_2),
        ("where-other", lambda e: e.where(e.ones(3) > 0, e.ones(3), e.ones(2)), NOT_BROADCASTABLE_3_2),
        (
            "where-condition",
            lambda e: e.where(e.ones(2) > 0, e.ones(3), e.ones(3)),
            "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0",
        ),
        ("iadd", lambda e: e.ones(3).__iadd__(e.ones(2)), NOT_BROADCASTABLE_3_2),
        # Sizes are compared from the last dimension: the first mismatch found is dimension 1.
        (
            "add-2d-last-dim-first",
            lambda e: e.ones(2, 3) + e.ones(3, 2),
            "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1",
        ),
        # In place: the operands broadcast, but not to the shape of the tensor written into.
        (
            "add_-output-shape",
            lambda e: e.ones(3).add_(e.ones(2, 3)),
            "output with shape [3] doesn't match the broadcast shape [2, 3]",
        ),
    ),
)
def test_elementwise_shapes_that_do_not_broadcast(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(RuntimeError, message):
        op(engine)


# ---------------------------------------------------------------------------
# matmul / mm / mv / dot


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("matmul-operator", lambda e: e.ones(2, 3) @ e.ones(2, 3), MAT_2x3_2x3),
        ("matmul", lambda e: e.matmul(e.ones(2, 3), e.ones(2, 3)), MAT_2x3_2x3),
        (
            "matmul-1d-2d",
            lambda e: e.matmul(e.ones(2), e.ones(3, 4)),
            "mat1 and mat2 shapes cannot be multiplied (1x2 and 3x4)",
        ),
        ("matmul-2d-1d", lambda e: e.matmul(e.ones(2, 3), e.ones(2)), MV_2x3_2),
        (
            "matmul-1d-1d",
            lambda e: e.matmul(e.ones(3), e.ones(2)),
            "inconsistent tensor size, expected tensor [3] and src [2] to have the same number of elements, "
            "but got 3 and 2 elements respectively",
        ),
        (
            "matmul-0d",
            lambda e: e.matmul(e.tensor(1.0), e.ones(2)),
            "both arguments to matmul need to be at least 1D, but they are 0D and 1D",
        ),
        # Batched: the message is that of the op PyTorch dispatches to, on the folded shapes.
        (
            "matmul-2d-3d",
            lambda e: e.matmul(e.ones(2, 3), e.ones(2, 4, 5)),
            "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4].",
        ),
        (
            "matmul-2d-requiring-grad-3d",  # folded into one mm of the transposed right operand
            lambda e: e.matmul(e.ones(2, 3, requires_grad=True), e.ones(2, 4, 5)),
            "mat1 and mat2 shapes cannot be multiplied (10x4 and 3x2)",
        ),
        (
            "matmul-1d-requiring-grad-3d",
            lambda e: e.matmul(e.ones(3, requires_grad=True), e.ones(2, 4, 5)),
            "size mismatch, got input (10), mat (10x4), vec (3)",
        ),
        ("matmul-3d-2d", lambda e: e.matmul(e.ones(2, 2, 3), e.ones(4, 5)), "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x5)"),
        ("matmul-3d-1d", lambda e: e.matmul(e.ones(2, 2, 3), e.ones(4)), "size mismatch, got input (4), mat (4x3), vec (4)"),
        (
            "matmul-3d-3d",
            lambda e: e.matmul(e.ones(2, 2, 3), e.ones(2, 4, 5)),
            "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4].",
        ),
        # Batch dimensions (2,) and (3,) do not broadcast.
        (
            "matmul-batch",
            lambda e: e.matmul(e.ones(2, 2, 3), e.ones(3, 2, 4)),
            "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0",
        ),
        ("mm", lambda e: e.mm(e.ones(2, 3), e.ones(2, 3)), MAT_2x3_2x3),
        ("mm-self-1d", lambda e: e.mm(e.ones(3), e.ones(3, 2)), "self must be a matrix"),
        ("mm-mat2-3d", lambda e: e.mm(e.ones(2, 3), e.ones(3, 2, 1)), "mat2 must be a matrix"),
        ("mv", lambda e: e.mv(e.ones(2, 3), e.ones(2)), MV_2x3_2),
        ("mv-vec-2d", lambda e: e.mv(e.ones(2, 3), e.ones(3, 1)), "vector + matrix @ vector expected, got 1, 2, 2"),
        ("mv-mat-1d", lambda e: e.mv(e.ones(3), e.ones(3)), "vector + matrix @ vector expected, got 1, 1, 1"),
        (
            "dot",
            lambda e: e.dot(e.ones(3), e.ones(2)),
            "inconsistent tensor size, expected tensor [3] and src [2] to have the same number of elements, "
            "but got 3 and 2 elements respectively",
        ),
        ("dot-2d", lambda e: e.dot(e.ones(3, 1), e.ones(3)), "1D tensors expected, but got 2D and 1D tensors"),
        ("dot-0d", lambda e: e.dot(e.tensor(1.0), e.tensor(1.0)), "1D tensors expected, but got 0D and 0D tensors"),
    ),
)
def test_matrix_product_shape_mismatch(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(RuntimeError, message):
        op(engine)


# ---------------------------------------------------------------------------
# view / reshape / expand


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("view-numel", lambda e: e.ones(2, 3).view(4), "shape '[4]' is invalid for input of size 6"),
        ("view-two-inferred", lambda e: e.ones(2, 3).view(-1, -1), "only one dimension can be inferred"),
        ("view-transposed", lambda e: e.ones(2, 3).t().view(6), NOT_CONTIGUOUS),
        ("view-transposed-inferred", lambda e: e.arange(6.0).reshape(2, 3).t().view(-1), NOT_CONTIGUOUS),
        ("view-expanded", lambda e: e.ones(3).expand(2, 3).view(6), NOT_CONTIGUOUS),
        ("reshape-numel", lambda e: e.ones(2, 3).reshape(4), "shape '[4]' is invalid for input of size 6"),
        ("reshape-inferred", lambda e: e.ones(2, 3).reshape(4, -1), "shape '[4, -1]' is invalid for input of size 6"),
        ("reshape-function", lambda e: e.reshape(e.ones(2, 3), (5,)), "shape '[5]' is invalid for input of size 6"),
        ("reshape-two-inferred", lambda e: e.ones(2, 3).reshape(-1, -1), "only one dimension can be inferred"),
        (
            "expand",
            lambda e: e.ones(3).expand(2, 4),
            "The expanded size of the tensor (4) must match the existing size (3) at non-singleton dimension 1.  "
            "Target sizes: [2, 4].  Tensor sizes: [3]",
        ),
        (
            "expand-non-singleton",
            lambda e: e.ones(2, 3).expand(4, 3),
            "The expanded size of the tensor (4) must match the existing size (2) at non-singleton dimension 0.  "
            "Target sizes: [4, 3].  Tensor sizes: [2, 3]",
        ),
        (
            "expand-too-few-sizes",
            lambda e: e.ones(2, 3).expand(3),
            "expand(ENGINE.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) must be greater or "
            "equal to the number of dimensions in the tensor (2)",
        ),
        (
            "broadcast_to",
            lambda e: e.broadcast_to(e.ones(3), (2, 4)),
            "The expanded size of the tensor (4) must match the existing size (3) at non-singleton dimension 1.  "
            "Target sizes: [2, 4].  Tensor sizes: [3]",
        ),
        ("t-3d", lambda e: e.ones(2, 3, 4).t(), "t() expects a tensor with <= 2 dimensions, but self is 3D"),
    ),
)
def test_view_reshape_expand(engine: ModuleType, adapter: EngineAdapter, op: Op, message: str) -> None:
    with raises_exactly(RuntimeError, message.replace("ENGINE", adapter.type_prefix)):  # the engine names its tensor type
        op(engine)


# ---------------------------------------------------------------------------
# cat / stack / split / chunk


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        (
            "cat-ndim",
            lambda e: e.cat([e.ones(2, 3), e.ones(3)]),
            "Tensors must have same number of dimensions: got 2 and 1",
        ),
        (
            "cat-sizes",
            lambda e: e.cat([e.ones(2, 3), e.ones(2, 4)]),
            "Sizes of tensors must match except in dimension 0. "
            "Expected size 3 but got size 4 for tensor number 1 in the list.",
        ),
        (
            "cat-sizes-dim1",
            lambda e: e.cat([e.ones(2, 3), e.ones(3, 3)], dim=1),
            "Sizes of tensors must match except in dimension 1. "
            "Expected size 2 but got size 3 for tensor number 1 in the list.",
        ),
        (
            "cat-0d",
            lambda e: e.cat([e.tensor(1.0), e.tensor(2.0)]),
            "zero-dimensional tensor (at position 0) cannot be concatenated",
        ),
        (
            "cat-0d-second",
            lambda e: e.cat([e.ones(2), e.tensor(2.0)]),
            "zero-dimensional tensor (at position 1) cannot be concatenated",
        ),
        (
            "stack-1d",
            lambda e: e.stack([e.ones(3), e.ones(2)]),
            "stack expects each tensor to be equal size, but got [3] at entry 0 and [2] at entry 1",
        ),
        (
            "stack-2d",
            lambda e: e.stack([e.ones(2, 3), e.ones(3, 2)]),
            "stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] at entry 1",
        ),
        ("stack-empty", lambda e: e.stack([]), "stack expects a non-empty TensorList"),
        (
            "split-short",
            lambda e: e.ones(5).split([2, 2]),
            "split_with_sizes expects split_sizes to sum exactly to 5 (input tensor's size at dimension 0), "
            "but got split_sizes=[2, 2]",
        ),
        (
            "split-long",
            lambda e: e.split(e.ones(5), [2, 4]),
            "split_with_sizes expects split_sizes to sum exactly to 5 (input tensor's size at dimension 0), "
            "but got split_sizes=[2, 4]",
        ),
        (
            "split-dim1",
            lambda e: e.ones(3, 5).split([2, 2], dim=1),
            "split_with_sizes expects split_sizes to sum exactly to 5 (input tensor's size at dimension 1), "
            "but got split_sizes=[2, 2]",
        ),
        (
            "split-size-0",
            lambda e: e.ones(5).split(0),
            "split_size can only be 0 if dimension size is 0, but got dimension size of 5",
        ),
        ("chunk-0", lambda e: e.ones(2).chunk(0), "chunk expects `chunks` to be greater than 0, got: 0"),
        ("chunk-0-function", lambda e: e.chunk(e.ones(2), 0), "chunk expects `chunks` to be greater than 0, got: 0"),
        ("chunk-negative", lambda e: e.ones(2).chunk(-1), "chunk expects `chunks` to be greater than 0, got: -1"),
    ),
)
def test_cat_stack_split_chunk(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(RuntimeError, message):
        op(engine)


@pytest.mark.parametrize("tensors", [pytest.param([], id="list"), pytest.param((), id="tuple")])
def test_cat_of_nothing(engine: ModuleType, tensors: list[object] | tuple[()]) -> None:
    with raises_exactly(ValueError, "torch.cat(): expected a non-empty list of Tensors"):
        engine.cat(tensors)


def test_cat_dim_out_of_range(engine: ModuleType) -> None:
    with raises_exactly(IndexError, dim_range(-1, 0, 1)):
        engine.cat([engine.ones(2), engine.ones(2)], dim=1)


# ---------------------------------------------------------------------------
# Indexing


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("int", lambda e: e.ones(3)[3], "index 3 is out of bounds for dimension 0 with size 3"),
        ("int-negative", lambda e: e.ones(3)[-4], "index -4 is out of bounds for dimension 0 with size 3"),
        ("int-second-dim", lambda e: e.ones(2, 3)[0, 5], "index 5 is out of bounds for dimension 1 with size 3"),
        ("list", lambda e: e.ones(3)[[0, 3]], "index 3 is out of bounds for dimension 0 with size 3"),
        ("list-negative", lambda e: e.ones(3)[[0, -4]], "index -4 is out of bounds for dimension 0 with size 3"),
        ("tensor", lambda e: e.ones(3)[e.tensor([0, 3])], "index 3 is out of bounds for dimension 0 with size 3"),
        (
            "mask-short",
            lambda e: e.ones(3)[e.tensor([True, False])],
            "The shape of the mask [2] at index 0 does not match the shape of the indexed tensor [3] at index 0",
        ),
        (
            "mask-long",
            lambda e: e.ones(3)[e.tensor([True, False, True, True])],
            "The shape of the mask [4] at index 0 does not match the shape of the indexed tensor [3] at index 0",
        ),
        (
            "mask-2d",
            lambda e: e.ones(2, 3)[e.tensor([[True, False], [True, True]])],
            "The shape of the mask [2, 2] at index 1 does not match the shape of the indexed tensor [2, 3] at index 1",
        ),
        ("too-many-indices", lambda e: e.ones(3)[0, 0], "too many indices for tensor of dimension 1"),
        (
            "index-0d",
            lambda e: e.tensor(1.0)[0],
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ "
            "to convert a 0-dim tensor to a number",
        ),
    ),
)
def test_index_errors(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(IndexError, message):
        op(engine)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.ones(3)[::-1], id="1d"),
        pytest.param(lambda e: e.ones(2, 3)[:, ::-1], id="2d"),
    ],
)
def test_negative_slice_step(engine: ModuleType, op: Op) -> None:
    with raises_exactly(ValueError, "step must be greater than zero"):
        op(engine)


# ---------------------------------------------------------------------------
# Dimension out of range


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("sum", lambda e: e.ones(2, 3).sum(2), dim_range(-2, 1, 2)),
        ("sum-negative", lambda e: e.ones(2, 3).sum(-3), dim_range(-2, 1, -3)),
        ("sum-function", lambda e: e.sum(e.ones(2, 3), dim=2), dim_range(-2, 1, 2)),
        ("sum-0d", lambda e: e.tensor(1.0).sum(1), dim_range(-1, 0, 1)),
        ("softmax", lambda e: e.ones(2, 3).softmax(2), dim_range(-2, 1, 2)),
        ("softmax-function", lambda e: e.softmax(e.ones(2, 3), dim=2), dim_range(-2, 1, 2)),
        ("transpose", lambda e: e.ones(2, 3).transpose(0, 2), dim_range(-2, 1, 2)),
        ("transpose-negative", lambda e: e.ones(2, 3).transpose(-3, 0), dim_range(-2, 1, -3)),
        # unsqueeze may insert after the last dimension: the range is one wider.
        ("unsqueeze", lambda e: e.ones(2, 3).unsqueeze(3), dim_range(-3, 2, 3)),
        ("unsqueeze-negative", lambda e: e.ones(2, 3).unsqueeze(-4), dim_range(-3, 2, -4)),
    ),
)
def test_dimension_out_of_range(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(IndexError, message):
        op(engine)


# ---------------------------------------------------------------------------
# Python protocols on tensors of the wrong size


def test_len_of_0d(engine: ModuleType) -> None:
    with raises_exactly(TypeError, "len() of a 0-d tensor"):
        len(engine.tensor(1.0))


def test_iteration_over_0d(engine: ModuleType) -> None:
    with raises_exactly(TypeError, "iteration over a 0-d tensor"):
        iter(engine.tensor(1.0))
    with raises_exactly(TypeError, "iteration over a 0-d tensor"):
        for _ in engine.tensor(1.0):
            pass


@pytest.mark.parametrize("n", [2, 0])
def test_item_of_not_one_element(engine: ModuleType, n: int) -> None:
    with raises_exactly(RuntimeError, f"a Tensor with {n} elements cannot be converted to Scalar"):
        engine.ones(n).item()


def test_bool_of_many_elements(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"):
        bool(engine.ones(2))
    with raises_exactly(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"):
        if engine.ones(2) > 0:
            pass


def test_bool_of_no_elements(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, "Boolean value of Tensor with no values is ambiguous"):
        bool(engine.ones(0))


@pytest.mark.parametrize("convert", [float, int], ids=["float", "int"])
@pytest.mark.parametrize("n", [2, 0])
def test_number_of_not_one_element(engine: ModuleType, convert: Callable[[object], object], n: int) -> None:
    with raises_exactly(ValueError, NOT_ONE_ELEMENT):
        convert(engine.ones(n))


# ---------------------------------------------------------------------------
# requires_grad on integer tensors, numpy() of a tensor that requires grad


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.tensor([1, 2], requires_grad=True), id="tensor-int64"),
        pytest.param(lambda e: e.tensor([1], dtype=e.int32, requires_grad=True), id="tensor-int32"),
        pytest.param(lambda e: e.tensor([True], requires_grad=True), id="tensor-bool"),
        pytest.param(lambda e: e.arange(3, requires_grad=True), id="arange"),
        pytest.param(lambda e: e.zeros(3, dtype=e.int64, requires_grad=True), id="zeros"),
        pytest.param(lambda e: e.ones(2, dtype=e.int64, requires_grad=True), id="ones"),
    ],
)
def test_integer_factory_requires_grad(engine: ModuleType, op: Op) -> None:
    with raises_exactly(RuntimeError, INT_REQUIRES_GRAD_FACTORY):
        op(engine)


@pytest.mark.parametrize("values", [pytest.param([1, 2], id="int64"), pytest.param([True], id="bool")])
def test_integer_requires_grad_(engine: ModuleType, values: list[int] | list[bool]) -> None:
    t = engine.tensor(values)
    with raises_exactly(RuntimeError, INT_REQUIRES_GRAD_METHOD):
        t.requires_grad_()
    assert t.requires_grad is False
    t.requires_grad_(False)  # asking for no grad is fine


def test_integer_requires_grad_attribute(engine: ModuleType) -> None:
    t = engine.tensor([1, 2])
    with raises_exactly(RuntimeError, "only Tensors of floating point and complex dtype can require gradients"):
        t.requires_grad = True
    assert t.requires_grad is False


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.ones(2, requires_grad=True), id="leaf"),
        pytest.param(lambda e: e.ones(2, requires_grad=True) * 2, id="non-leaf"),
    ],
)
def test_numpy_of_tensor_that_requires_grad(engine: ModuleType, op: Op) -> None:
    t = op(engine)
    with raises_exactly(RuntimeError, NUMPY_REQUIRES_GRAD):
        t.numpy()


# ---------------------------------------------------------------------------
# backward


def test_backward_of_non_scalar_without_gradient(engine: ModuleType) -> None:
    y = engine.ones(2, requires_grad=True) * 2
    with raises_exactly(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        y.backward()


def test_backward_gradient_of_wrong_shape(engine: ModuleType, adapter: EngineAdapter) -> None:
    y = engine.ones(2, requires_grad=True) * 2
    with raises_exactly(
        RuntimeError,
        f"Mismatch in shape: grad_output[0] has a shape of {size_text(adapter, [3])} and output[0] "
        f"has a shape of {size_text(adapter, [2])}.",
    ):
        y.backward(engine.ones(3))


def test_backward_gradient_of_wrong_shape_scalar_output(engine: ModuleType, adapter: EngineAdapter) -> None:
    y = (engine.ones(2, requires_grad=True) * 2).sum()
    with raises_exactly(
        RuntimeError,
        f"Mismatch in shape: grad_output[0] has a shape of {size_text(adapter, [2])} and output[0] "
        f"has a shape of {size_text(adapter, [])}.",
    ):
        y.backward(engine.ones(2))


@pytest.mark.parametrize(
    ("gradient", "type_name"),
    [
        pytest.param([1.0, 1.0], "float", id="list"),
        pytest.param(np.ones(2), "float64", id="ndarray"),
    ],
)
def test_backward_gradient_not_a_tensor(engine: ModuleType, gradient: object, type_name: str) -> None:
    x = engine.ones(2, requires_grad=True)
    y = x * 2
    with raises_exactly(TypeError, f"gradients can be either Tensors or None, but got {type_name}"):
        y.backward(gradient)
    assert x.grad is None


@pytest.mark.parametrize(
    "loss",
    [
        pytest.param(lambda x: (x * x).sum(), id="mul"),
        pytest.param(lambda x: x.exp().sum(), id="exp"),
    ],
)
def test_backward_twice(engine: ModuleType, loss: Callable[[Any], Any]) -> None:
    x = engine.ones(2, requires_grad=True)
    y = loss(x)
    y.backward()
    with raises_exactly(RuntimeError, TWICE):
        y.backward()


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.ones(2).sum(), id="result-of-op"),
        pytest.param(lambda e: e.tensor(1.0), id="leaf"),
    ],
)
def test_backward_on_tensor_that_does_not_require_grad(engine: ModuleType, op: Op) -> None:
    with raises_exactly(RuntimeError, NOGRAD):
        op(engine).backward()


# ---------------------------------------------------------------------------
# Wrong argument kinds and dtypes


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.ones(2) + "a", id="tensor-plus-str"),
        pytest.param(lambda e: "a" + e.ones(2), id="str-plus-tensor"),
        pytest.param(lambda e: e.ones(2) + None, id="tensor-plus-None"),
    ],
)
def test_arithmetic_with_a_non_number(engine: ModuleType, op: Op) -> None:
    # Exception type only: torch's text comes from Python's operator fallback.
    with pytest.raises(TypeError):
        op(engine)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.tensor([1, 2]).mean(), id="method"),
        pytest.param(lambda e: e.mean(e.tensor([1, 2])), id="function"),
        pytest.param(lambda e: e.tensor([[1, 2]]).mean(0), id="dim"),
    ],
)
def test_mean_of_integer_tensor(engine: ModuleType, op: Op) -> None:
    with raises_exactly(
        RuntimeError,
        "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: Long",
    ):
        op(engine)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda e: e.ones(2).clamp(), id="method"),
        pytest.param(lambda e: e.clamp(e.ones(2)), id="function"),
        pytest.param(lambda e: e.clamp(e.ones(2), None, None), id="explicit-None"),
    ],
)
def test_clamp_with_neither_bound(engine: ModuleType, op: Op) -> None:
    with raises_exactly(RuntimeError, CLAMP_NO_BOUND):
        op(engine)


# ---------------------------------------------------------------------------
# Something else than a tensor where a public function takes one first
#
# Every public function is covered: the ones that take a tensor first (parameter ``input`` or
# ``condition``) by the tests over TENSOR_FIRST, derived from refgrad.__all__ (a new function is
# covered without a change here); the others are listed in NOT_TENSOR_FIRST and PYTHON_IN_TORCH,
# each with why.
# PyTorch's text depends on how many of its overloads take as many arguments as the call
# gives: one, and it names the argument; several, and it says "received an invalid combination
# of arguments - got (<the types given>), but expected one of:" and lists its overloads, where
# refgrad lists its own signatures (so only that first line is compared).


def public_functions() -> list[str]:
    """The functions of refgrad's API (not its classes, dtypes and modules)."""
    return [name for name in rg.__all__ if inspect.isfunction(getattr(rg, name, None))]


def first_parameter(name: str) -> str:
    return next(iter(inspect.signature(getattr(rg, name)).parameters))


NOT_TENSOR_FIRST: dict[str, str] = {
    "cat": "a list of tensors: test_a_wrong_first_argument_of_a_factory_cat_or_stack",
    "stack": "a list of tensors: test_a_wrong_first_argument_of_a_factory_cat_or_stack",
    **dict.fromkeys(
        ("zeros", "ones", "rand", "randn", "full", "eye", "from_numpy", "linspace"),
        "a size, a number or an array: test_a_wrong_first_argument_of_a_factory_cat_or_stack",
    ),
    "arange": "a number; alone, torch's message calls it 'end' where refgrad's parameter is 'start' (not checked)",
    "tensor": "data of any kind (torch's errors for bad data are not argument errors)",
    "manual_seed": "a seed (torch.manual_seed(2.0) is accepted)",
    "set_default_dtype": "a dtype",
    **dict.fromkeys(("get_default_dtype", "is_grad_enabled", "is_inference_mode_enabled"), "no argument"),
}
#: Tensor-first functions that PyTorch implements in Python: a non-tensor fails inside them with
#: an AttributeError, where refgrad raises the TypeError of the others (a deviation).
PYTHON_IN_TORCH = {"norm": "test_norm_and_split_of_a_non_tensor", "split": "test_norm_and_split_of_a_non_tensor"}
TENSOR_FIRST = sorted(set(public_functions()) - NOT_TENSOR_FIRST.keys() - PYTHON_IN_TORCH.keys())

#: PyTorch takes a Python number as the first operand of these (refgrad does not:
#: test_a_number_first); a float first is no error there.
NUMBER_FIRST = {"add", "sub", "mul", "div", "bitwise_and", "bitwise_or"}

#: What follows the first argument in test_a_non_tensor_first_then_valid_arguments (none: the
#: function takes one argument).
REST: dict[str, Callable[[ModuleType], tuple[object, ...]]] = {
    **dict.fromkeys(
        ("add", "sub", "mul", "div", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "maximum",
         "minimum", "matmul", "dot", "outer", "mv"),
        lambda e: (e.ones(2),),
    ),  # fmt: skip
    **dict.fromkeys(("bitwise_and", "bitwise_or"), lambda e: (e.tensor([True, False]),)),
    "where": lambda e: (e.ones(2), e.ones(2)),
    "mm": lambda e: (e.ones(2, 2),),
    "bmm": lambda e: (e.ones(1, 2, 2),),
    "pow": lambda e: (2,),
    "clamp": lambda e: (0.0, 1.0),
    "clamp_min": lambda e: (0.0,),
    "clamp_max": lambda e: (1.0,),
    **dict.fromkeys(("broadcast_to", "reshape", "flip", "permute"), lambda e: ((0,),)),
    "transpose": lambda e: (0, 0),
    **dict.fromkeys(
        ("chunk", "unsqueeze", "softmax", "log_softmax", "logsumexp", "flatten", "sum", "mean", "prod", "max", "min",
         "amax", "amin", "argmax", "argmin", "squeeze", "var", "std"),
        lambda e: (1,),
    ),  # fmt: skip
}

#: The calls of the two tests below for which PyTorch has several overloads that take that
#: many arguments (so its message is the "invalid combination" one).
SEVERAL_OVERLOADS_ALONE = {
    "bitwise_and", "bitwise_or", "bmm", "clamp", "clamp_max", "clamp_min", "div", "eq", "ge", "gt", "le", "lt",
    "mm", "ne", "pow", "std", "var",
}  # fmt: skip
SEVERAL_OVERLOADS_WITH_REST = {
    "bitwise_and", "bitwise_or", "clamp", "clamp_max", "clamp_min", "eq", "ge", "gt", "le", "lt", "max", "mean",
    "min", "ne", "pow", "prod", "squeeze", "std", "sum", "var", "where",
}  # fmt: skip

INVALID_COMBINATION = "{}() received an invalid combination of arguments - got {}, but expected one of:"

#: How CPython names these types in C, and so PyTorch's messages.
TYPE_NAMES = {float: "float", int: "int", bool: "bool", str: "str", list: "list", tuple: "tuple",
              type(None): "NoneType", np.ndarray: "numpy.ndarray"}  # fmt: skip


def type_names(engine: ModuleType, args: tuple[object, ...]) -> str:
    return ", ".join("Tensor" if isinstance(a, engine.Tensor) else TYPE_NAMES[type(a)] for a in args)


def expected_message(engine: ModuleType, name: str, args: tuple[object, ...], several_overloads: bool) -> str:
    """PyTorch's message (its first line, when there are several overloads) for ``name(*args)``
    whose first argument is not a tensor."""
    if several_overloads:
        return INVALID_COMBINATION.format(name, f"({type_names(engine, args)})")
    return f"{name}(): argument '{first_parameter(name)}' (position 1) must be Tensor, not {type_names(engine, args[:1])}"


def check_call(engine: ModuleType, name: str, args: tuple[object, ...], several_overloads: bool) -> None:
    with pytest.raises(TypeError) as info:
        getattr(engine, name)(*args)
    message = str(info.value)
    assert (message.splitlines()[0] if several_overloads else message) == expected_message(
        engine, name, args, several_overloads
    )


NOT_TENSORS = [
    pytest.param(2.0, id="float"),
    pytest.param("a", id="str"),
    pytest.param([1.0, 2.0], id="list"),
    pytest.param(None, id="None"),
    pytest.param(np.ones(2), id="ndarray"),
]


@pytest.mark.parametrize(
    ("name", "first"),
    [
        pytest.param(name, bad.values[0], id=f"{name}-{bad.id}")
        for name in TENSOR_FIRST
        for bad in NOT_TENSORS
        if not (name in NUMBER_FIRST and bad.id == "float")
    ],
)
def test_a_non_tensor_first_then_valid_arguments(engine: ModuleType, name: str, first: object) -> None:
    args = (first, *(REST[name](engine) if name in REST else ()))
    check_call(engine, name, args, name in SEVERAL_OVERLOADS_WITH_REST)


@pytest.mark.parametrize("name", [name for name in TENSOR_FIRST if name not in ("add", "sub")])
def test_a_non_tensor_alone(engine: ModuleType, name: str) -> None:
    # add and sub are left out: given one argument, PyTorch's first line shows its signature.
    check_call(engine, name, ("a",), name in SEVERAL_OVERLOADS_ALONE)


def test_every_public_function_is_covered() -> None:
    """A function that takes something else first must be listed, with why; the list holds
    only public functions, and each of the others takes a tensor first."""
    assert sorted((NOT_TENSOR_FIRST.keys() | PYTHON_IN_TORCH.keys()) - set(public_functions())) == []
    others = {name: first_parameter(name) for name in TENSOR_FIRST if first_parameter(name) not in ("input", "condition")}
    assert others == {}
    assert REST.keys() <= set(TENSOR_FIRST)


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        # The method counts from the argument after the tensor, the function from the tensor.
        ("add-method", lambda e: e.ones(2).add([1]), "add(): argument 'other' (position 1) must be Tensor, not list"),
        ("add-function", lambda e: e.add(e.ones(2), [1]), "add(): argument 'other' (position 2) must be Tensor, not list"),
        ("add-keyword", lambda e: e.add(e.ones(2), other=[1]), "add(): argument 'other' must be Tensor, not list"),
        ("mul-function", lambda e: e.mul(e.ones(2), "a"), "mul(): argument 'other' (position 2) must be Tensor, not str"),
        ("matmul-function", lambda e: e.matmul(e.ones(2), 2.0),
         "matmul(): argument 'other' (position 2) must be Tensor, not float"),
        ("chunk-function", lambda e: e.chunk(e.ones(2), "a"), "chunk(): argument 'chunks' (position 2) must be int, not str"),
        # maximum and minimum take no Python number (add and mul do).
        ("maximum-method", lambda e: e.ones(2).maximum(2.0),
         "maximum(): argument 'other' (position 1) must be Tensor, not float"),
        ("maximum-function", lambda e: e.maximum(e.ones(2), 2.0),
         "maximum(): argument 'other' (position 2) must be Tensor, not float"),
        ("minimum-keyword", lambda e: e.minimum(e.ones(2), other=2), "minimum(): argument 'other' must be Tensor, not int"),
    ),  # fmt: skip
)
def test_a_wrong_later_argument(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(TypeError, message):
        op(engine)


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("keyword", lambda e: e.sin(input=2.0), "sin(): argument 'input' must be Tensor, not float"),
        ("then-keywords", lambda e: e.transpose(2.0, dim0=0, dim1=1),
         "transpose(): argument 'input' (position 1) must be Tensor, not float"),
        ("where-alone", lambda e: e.where(2.0), "where(): argument 'condition' (position 1) must be Tensor, not float"),
        ("numpy-scalar", lambda e: e.exp(np.float64(1.0)),
         "exp(): argument 'input' (position 1) must be Tensor, not numpy.float64"),
        ("tuple", lambda e: e.t((1, 2)), "t(): argument 'input' (position 1) must be Tensor, not tuple"),
        # Too many arguments: Python's message for refgrad, the same text from PyTorch.
        ("too-many", lambda e: e.sin(2.0, 3.0), "sin() takes 1 positional argument but 2 were given"),
    ),  # fmt: skip
)
def test_a_non_tensor_first_in_other_calls(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(TypeError, message):
        op(engine)


@pytest.mark.parametrize(
    ("op", "first_line"),
    cases(
        ("sum-dim", lambda e: e.sum(2.0, dim=0), INVALID_COMBINATION.format("sum", "(float, dim=int)")),
        # PyTorch lists the keywords last given first, and leaves a ", " when there are only keywords.
        ("var-keywords", lambda e: e.var(2.0, 0, correction=0, keepdim=True),
         INVALID_COMBINATION.format("var", "(float, int, keepdim=bool, correction=int)")),
        ("clamp-only-keywords", lambda e: e.clamp(input=2.0, min=0.0),
         INVALID_COMBINATION.format("clamp", "(min=float, input=float, )")),
        ("max-tensor", lambda e: e.max([1.0], e.ones(1)), INVALID_COMBINATION.format("max", "(list, Tensor)")),
        ("where-number", lambda e: e.where(2.0, e.ones(2), 0.0),
         INVALID_COMBINATION.format("where", "(float, Tensor, float)")),
        ("pow-numbers", lambda e: e.pow(2.0, 2), INVALID_COMBINATION.format("pow", "(float, int)")),
        # where of something else than a tensor or a number (where(x < 0, "a", x) used to give x's values)
        ("where-str", lambda e: e.where(e.ones(2) > 0, e.ones(2), "a"), INVALID_COMBINATION.format("where", "(Tensor, Tensor, str)")),
        ("where-None", lambda e: e.where(e.ones(2) > 0, None, e.ones(2)),
         INVALID_COMBINATION.format("where", "(Tensor, NoneType, Tensor)")),
        ("where-method-str", lambda e: e.ones(2).where(e.ones(2) > 0, "a"), INVALID_COMBINATION.format("where", "(Tensor, str)")),
    ),  # fmt: skip
)
def test_an_invalid_combination_where_several_overloads_fit(engine: ModuleType, op: Op, first_line: str) -> None:
    with pytest.raises(TypeError) as info:
        op(engine)
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("zeros-float", lambda e: e.zeros(2.0),
         "zeros(): argument 'size' (position 1) must be tuple of ints, not float"),
        ("ones-str", lambda e: e.ones("a"), "ones(): argument 'size' (position 1) must be tuple of ints, not str"),
        ("rand-None", lambda e: e.rand(None),
         "rand(): argument 'size' (position 1) must be tuple of ints, not NoneType"),
        ("randn-ndarray", lambda e: e.randn(np.ones(2)),
         "randn(): argument 'size' (position 1) must be tuple of ints, not numpy.ndarray"),
        ("zeros-list-of-floats", lambda e: e.zeros([2.0]),
         "zeros(): argument 'size' (position 1) must be tuple of ints, but found element of type float at pos 0"),
        ("ones-tuple-of-floats", lambda e: e.ones((2.0, 3.0)),
         "ones(): argument 'size' (position 1) must be tuple of ints, but found element of type float at pos 0"),
        ("zeros-keyword", lambda e: e.zeros(size=2.0), "zeros(): argument 'size' must be tuple of ints, not float"),
        # A bad element after the first: PyTorch "fails to unpack" it (counting from 1).
        ("zeros-tuple-second-float", lambda e: e.zeros((2, 3.5)),
         'zeros(): argument \'size\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got float"'),
        ("ones-list-second-None", lambda e: e.ones([2, None]),
         'ones(): argument \'size\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got NoneType"'),
        ("zeros-separate-third-float", lambda e: e.zeros(2, 3, 3.5),
         'zeros(): argument \'size\' failed to unpack the object at pos 3 with error "type must be tuple of ints,but got float"'),
        ("full-tuple-second-float", lambda e: e.full((2, 3.5), 1.0),
         'full(): argument \'size\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got float"'),
        ("full-int", lambda e: e.full(2, 1.0),
         "full(): argument 'size' (position 1) must be tuple of ints, not int"),
        ("full-float", lambda e: e.full(2.0, 1.0),
         "full(): argument 'size' (position 1) must be tuple of ints, not float"),
        ("full-tuple-of-floats", lambda e: e.full((2.0,), 1.0),
         "full(): argument 'size' (position 1) must be tuple of ints, but found element of type float at pos 0"),
        ("eye-float", lambda e: e.eye(2.0), "eye(): argument 'n' (position 1) must be int, not float"),
        ("eye-None", lambda e: e.eye(None), "eye(): argument 'n' (position 1) must be int, not NoneType"),
        ("eye-keyword", lambda e: e.eye(n="2"), "eye(): argument 'n' must be int, not str"),
        ("from_numpy-float", lambda e: e.from_numpy(2.0), "expected np.ndarray (got float)"),
        ("from_numpy-list", lambda e: e.from_numpy([1.0]), "expected np.ndarray (got list)"),
        ("from_numpy-tensor", lambda e: e.from_numpy(e.ones(2)), "expected np.ndarray (got Tensor)"),
        ("from_numpy-numpy-scalar", lambda e: e.from_numpy(np.float64(1.0)),
         "expected np.ndarray (got numpy.float64)"),
        ("cat-float", lambda e: e.cat(2.0),
         "cat(): argument 'tensors' (position 1) must be tuple of Tensors, not float"),
        # A tensor is no list of tensors (refgrad used to concatenate its rows).
        ("cat-tensor", lambda e: e.cat(e.ones(2, 2)),
         "cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"),
        ("stack-None", lambda e: e.stack(None),
         "stack(): argument 'tensors' (position 1) must be tuple of Tensors, not NoneType"),
        ("stack-generator", lambda e: e.stack(t for t in [e.ones(2)]),
         "stack(): argument 'tensors' (position 1) must be tuple of Tensors, not generator"),
        ("cat-keyword", lambda e: e.cat(tensors=2.0),
         "cat(): argument 'tensors' must be tuple of Tensors, not float"),
        ("cat-element", lambda e: e.cat([e.ones(2), 2.0]),
         "expected Tensor as element 1 in argument 0, but got float"),
        ("stack-element", lambda e: e.stack((e.ones(2), None)),
         "expected Tensor as element 1 in argument 0, but got NoneType"),
    ),  # fmt: skip
)
def test_a_wrong_first_argument_of_a_factory_cat_or_stack(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(TypeError, message):
        op(engine)


@pytest.mark.parametrize(
    ("op", "first_line"),
    cases(
        ("eye", lambda e: e.eye(2.0, 3), INVALID_COMBINATION.format("eye", "(float, int)")),
        ("rand", lambda e: e.rand(2.0, 3), INVALID_COMBINATION.format("rand", "(float, int)")),
        ("linspace", lambda e: e.linspace("a", 1, 3), INVALID_COMBINATION.format("linspace", "(str, int, int)")),
    ),
)
def test_a_wrong_first_argument_of_a_factory_where_several_overloads_fit(
    engine: ModuleType, op: Op, first_line: str
) -> None:
    with pytest.raises(TypeError) as info:
        op(engine)
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize(
    ("op", "values"),
    [
        pytest.param(lambda e: e.add(2.0, e.ones(2)), [3.0, 3.0], id="add"),
        pytest.param(lambda e: e.sub(2.0, e.ones(2)), [1.0, 1.0], id="sub"),
        pytest.param(lambda e: e.mul(2.0, e.ones(2)), [2.0, 2.0], id="mul"),
        pytest.param(lambda e: e.div(2.0, e.ones(2)), [2.0, 2.0], id="div"),
        pytest.param(lambda e: e.bitwise_and(True, e.tensor([True, False])), [True, False], id="bitwise_and"),
        pytest.param(lambda e: e.bitwise_or(False, e.tensor([True, False])), [True, False], id="bitwise_or"),
        pytest.param(lambda e: e.add(2, e.tensor([1, 2], dtype=e.int32)), [3, 4], id="add-int"),
        pytest.param(lambda e: e.add(2.0, 3.0), 5.0, id="add-two-numbers"),
    ],
)
def test_a_number_first(engine: ModuleType, op: Op, values: list[float] | list[bool] | float) -> None:
    """A Python number given first is a 0-d tensor (``add(2, x)`` is ``2 + x``)."""
    assert op(engine).tolist() == values


@pytest.mark.parametrize(
    ("op", "dtype"),
    [
        pytest.param(lambda e: e.add(2, e.tensor(3, dtype=e.int32)), "int32", id="int-and-0d-int32"),
        pytest.param(lambda e: e.sub(2, e.tensor(3, dtype=e.int32)), "int32", id="sub-int-and-0d-int32"),
        pytest.param(lambda e: e.bitwise_and(3, e.tensor(3, dtype=e.int32)), "int32", id="bitwise-and-0d-int32"),
        pytest.param(lambda e: e.mul(2.5, e.tensor(3, dtype=e.int32)), "float32", id="float-and-int"),
        pytest.param(lambda e: e.add(np.float64(2), e.tensor([1, 2], dtype=e.int32)), "float32", id="numpy-scalar"),
        pytest.param(lambda e: e.add(np.int64(2), e.tensor([1, 2], dtype=e.int32)), "int32", id="numpy-int"),
        pytest.param(lambda e: e.add(input=2, other=e.tensor([1, 2], dtype=e.int32)), "int32", id="by-keyword"),
    ],
)
def test_a_number_first_is_a_scalar_for_the_result_dtype(engine: ModuleType, op: Op, dtype: str) -> None:
    """The number never widens the tensor's dtype, even a 0-d tensor's (it is not a 0-d tensor)."""
    assert str(op(engine).dtype).endswith(dtype)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_a_number_first_keeps_the_tensors_dtype_and_records_a_none_edge(engine: ModuleType, name: str) -> None:
    x = engine.tensor([1.0, 2.0], dtype=engine.float32, requires_grad=True)
    out = getattr(engine, name)(2.0, x)
    assert out.dtype == engine.float32 and str(engine.add(2.0, engine.tensor([1, 2])).dtype).endswith("float32")
    assert type(out.grad_fn).__name__ == f"{name.capitalize()}Backward0"
    assert [(None if node is None else type(node).__name__, nr) for node, nr in out.grad_fn.next_functions] == [
        (None, 0),
        ("AccumulateGrad", 0),
    ]
    out.sum().backward()
    expected = {"add": [1.0, 1.0], "sub": [-1.0, -1.0], "mul": [2.0, 2.0], "div": [-2.0, -0.5]}[name]
    assert x.grad.tolist() == expected


@pytest.mark.deviation(
    "PyTorch's norm and split are Python functions in which a non-tensor fails inside, with an AttributeError; "
    "refgrad raises the TypeError of the other functions (test_refgrad_norm_and_split_of_a_non_tensor)"
)
@pytest.mark.parametrize(
    ("op", "message"),
    cases(
        ("norm", lambda e: e.norm(2.0), "'float' object has no attribute 'layout'"),
        ("split", lambda e: e.split(None, 1), "'NoneType' object has no attribute 'split'"),
    ),
)
def test_norm_and_split_of_a_non_tensor(engine: ModuleType, op: Op, message: str) -> None:
    with raises_exactly(AttributeError, message):
        op(engine)


def test_refgrad_norm_and_split_of_a_non_tensor() -> None:
    with raises_exactly(TypeError, "norm(): argument 'input' (position 1) must be Tensor, not float"):
        rg.norm(2.0)  # type: ignore[arg-type]
    with raises_exactly(TypeError, "split(): argument 'input' (position 1) must be Tensor, not NoneType"):
        rg.split(None, 1)  # type: ignore[arg-type]


def test_refgrad_lists_its_own_signatures() -> None:
    """After PyTorch's first line, refgrad's signatures (its overloads, where it has several)."""
    with raises_exactly(
        TypeError,
        "max() received an invalid combination of arguments - got (float, int), but expected one of:\n"
        " * (input: Tensor)\n * (input: Tensor, dim: int, keepdim: bool = False)\n * (input: Tensor, dim: Tensor)",
    ):
        rg.max(2.0, 0)  # type: ignore[call-overload]
    with raises_exactly(
        TypeError,
        "std() received an invalid combination of arguments - got (float), but expected one of:\n"
        " * (input: Tensor, dim: Dims = None, *, correction: Number = 1, keepdim: bool = False)",
    ):
        rg.std(2.0)  # type: ignore[arg-type]


def torch_overload_arities(torch: ModuleType, name: str) -> list[tuple[int, int]]:
    """How many arguments each of torch's overloads of ``name`` takes, ``(required, all)``, read
    from the overloads its message lists when called with none (one overload: ``[]``)."""
    with pytest.raises(TypeError) as info:
        getattr(torch, name)()
    lines = str(info.value).splitlines()
    if not lines[0].endswith("but expected one of:"):
        return []
    arities = []
    for line in lines[1:]:
        if line.startswith(" * ("):
            parameters = [p for p in line[len(" * (") : -1].split(", ") if p != "*"]
            arities.append((sum(" = " not in p for p in parameters), len(parameters)))
    return arities


def test_the_overload_table_is_pytorchs() -> None:
    """``TORCH_OVERLOADS`` (which decides between PyTorch's two kinds of message) is what
    torch 2.13 says of its own overloads, for every checked public function."""
    torch = pytest.importorskip("torch")
    checked = [name for name in public_functions() if hasattr(getattr(rg, name), "__wrapped__")]
    assert {name for name in checked if torch_overload_arities(torch, name)} == TORCH_OVERLOADS.keys()
    assert {name: sorted(torch_overload_arities(torch, name)) for name in TORCH_OVERLOADS} == {
        name: sorted(arities) for name, arities in TORCH_OVERLOADS.items()
    }
