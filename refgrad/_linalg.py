"""Matrix products: mm, mv, dot, bmm, outer and matmul (which dispatches to them as PyTorch does)."""

from __future__ import annotations

import math

import numpy as np

from refgrad._node import Grads, Node
from refgrad._pointwise import broadcast_shapes
from refgrad._recording import needs_grad, plain, record
from refgrad._shape import expand, reshape, squeeze, transpose, unsafe_view, unsqueeze
from refgrad._tensor import Tensor



def _same_dtype(a: Tensor, b: Tensor, first: str, second: str) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"expected {first} and {second} to have the same dtype, but got: "
            f"{a.dtype.cpp_name} != {b.dtype.cpp_name}"
        )


def _require_ndim(t: Tensor, ndim: int, what: str) -> None:
    if t._data.ndim != ndim:
        raise RuntimeError(f"{what} must be a {'matrix' if ndim == 2 else f'{ndim}D tensor'}")


def _product(node: Node, out: np.ndarray, a: Tensor, b: Tensor) -> Tensor:
    """A bilinear op: each operand is saved only when the other one needs its gradient."""
    if not needs_grad(a, b):
        return plain(out)
    saved = (a if b._requires_grad else None, b if a._requires_grad else None)
    return record(node, out, (a, b), saved)


class MmBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, a: Tensor | None, b: Tensor | None) -> Grads:
        # d(AB) = dA B + A dB  →  Aᵀ-side: G Bᵀ, B-side: Aᵀ G
        return (None if b is None else mm(grad, b.t()), None if a is None else mm(a.t(), grad))


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    _require_ndim(input, 2, "self")
    _require_ndim(mat2, 2, "mat2")
    (n, k), (k2, m) = input._data.shape, mat2._data.shape
    if k != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})")
    _same_dtype(input, mat2, "m1", "m2")
    return _product(MmBackward0(), input._data @ mat2._data, input, mat2)


class MvBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, mat: Tensor | None, vec: Tensor | None) -> Grads:
        return (None if vec is None else outer(grad, vec), None if mat is None else mv(mat.t(), grad))


def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, {vec._data.ndim}")
    (n, k), (k2,) = input._data.shape, vec._data.shape
    if k != k2:
        raise RuntimeError(f"size mismatch, got input ({n}), mat ({n}x{k}), vec ({k2})")
    _same_dtype(input, vec, "input", "vec")
    return _product(MvBackward0(), input._data @ vec._data, input, vec)


class DotBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, a: Tensor | None, b: Tensor | None) -> Grads:
        return (None if b is None else grad * b, None if a is None else grad * a)


def dot(input: Tensor, other: Tensor) -> Tensor:
    for t in (input, other):
        if t._data.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors")
    n, m = input._data.shape[0], other._data.shape[0]
    if n != m:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number of elements, "
            f"but got {n} and {m} elements respectively"
        )
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {input.dtype.scalar_name} and {other.dtype.scalar_name}"
        )
    return _product(DotBackward0(), np.asarray(np.dot(input._data, other._data)), input, other)


class BmmBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, a: Tensor | None, b: Tensor | None) -> Grads:
        return (
            None if b is None else bmm(grad, transpose(b, 1, 2)),
            None if a is None else bmm(transpose(a, 1, 2), grad),
        )


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    _require_ndim(input, 3, "batch1")
    _require_ndim(mat2, 3, "batch2")
    (b, _, k), (b2, k2, _) = input._data.shape, mat2._data.shape
    if b != b2 or k != k2:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] but got: [{b2}, {k2}]."
        )
    _same_dtype(input, mat2, "batch1", "batch2")
    return _product(BmmBackward0(), np.matmul(input._data, mat2._data), input, mat2)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """``input[:, None] * vec2``, recorded as those two ops (as PyTorch does)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    return reshape(input, (-1, 1)) * vec2


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product with numpy's rules for 1-D operands and broadcast batch dims."""
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return squeeze(mm(unsqueeze(input, 0), other), 0)
    if da == 2 and db == 2:
        return mm(input, other)
    if db <= 2:
        # fold the batch dims of the left operand into its rows: one mm or mv
        batch, k = input._data.shape[:-1], input._data.shape[-1]
        folded = reshape(input, (math.prod(batch), k))
        product = mm(folded, other) if db == 2 else mv(folded, other)
        return unsafe_view(product, batch + other._data.shape[1:])
    return _batched_matmul(input, other)


def _batched_matmul(input: Tensor, other: Tensor) -> Tensor:
    a = unsqueeze(input, 0) if input._data.ndim == 1 else input
    b = unsqueeze(other, -1) if other._data.ndim == 1 else other
    (n, k), (k2, m) = a._data.shape[-2:], b._data.shape[-2:]
    batch = broadcast_shapes(a._data.shape[:-2], b._data.shape[:-2])
    if k != k2:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [*, {k}] but got: [*, {k2}].")
    count = math.prod(batch)
    a3 = reshape(expand(a, batch + (n, k)), (count, n, k))
    b3 = reshape(expand(b, batch + (k, m)), (count, k, m))
    result = unsafe_view(bmm(a3, b3), batch + (n, m))
    if input._data.ndim == 1:
        result = squeeze(result, -2)
    if other._data.ndim == 1:
        result = squeeze(result, -1)
    return result
