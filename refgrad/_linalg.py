"""Matrix products: mm, mv, dot, bmm, outer and matmul (which dispatches to them as PyTorch does)."""

from __future__ import annotations

import math

import numpy as np

from refgrad._node import Grads, Node
from refgrad._pointwise import broadcast_shapes
from refgrad._recording import needs_grad, plain, record
from refgrad._shape import ViewBackward0, expand, reshape, squeeze, t, transpose, unsafe_view, unsqueeze
from refgrad._tensor import INFERENCE_COUNTER, Tensor, counter



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
    """The matrix product with numpy's rules for 1-D operands and broadcast batch dims,
    dispatched to dot, mv, mm or bmm as PyTorch's ``matmul`` does, so that the recorded graph
    is PyTorch's node for node."""
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
        return _squeezed_in_place(mm(unsqueeze(input, 0), other))
    if da == 2 and db == 2:
        return mm(input, other)
    # A 3-D operand with a batch of one that requires grad, against a batch of several: its
    # matrix multiplies the folded other (PyTorch does this so its gradient needs no sum).
    if da == 3 and db == 3:
        if input._data.shape[0] == 1 != other._data.shape[0] and input._requires_grad:
            input = squeeze(input, 0)
        elif other._data.shape[0] == 1 != input._data.shape[0] and other._requires_grad:
            other = squeeze(other, 0)
    if _should_fold(input, other):
        return _folded_matmul(input, other)
    return _batched_matmul(input, other)


class SqueezeBackward4(ViewBackward0):
    """``squeeze_(dim)``: the in-place squeeze PyTorch applies to the product of 1-D @ 2-D."""

    __slots__ = ()


def _squeezed_in_place(product: Tensor) -> Tensor:
    """``product`` (a fresh (1, m) result) squeezed to (m,) in place: not a view, version 1."""
    data = product._data.reshape(product._data.shape[1:])
    result = record(SqueezeBackward4(product._data.shape), data, (product,)) if needs_grad(product) else plain(data)
    if result._vc is not INFERENCE_COUNTER:
        counter(result)[0] += 1
    return result


def _should_fold(a: Tensor, b: Tensor) -> bool:
    """Whether PyTorch computes ``a @ b`` as one mm or mv of the larger operand folded into a
    matrix (its batch dims into rows), rather than as a bmm: when the smaller operand has at
    most 2 dims and requires grad, or when the fold needs no copy."""
    larger, smaller = (a, b) if a._data.ndim >= b._data.ndim else (b, a)
    if larger._data.ndim < 3 or smaller._data.ndim > 2:
        return False
    if smaller._requires_grad:
        return True
    if a._data.ndim == 2:  # the folded product would come out transposed: a copy either way
        return False
    big = larger._data if larger is a else np.swapaxes(larger._data, -1, -2)
    if big.size == 0:
        return True
    shape, strides = big.shape, big.strides
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(big.ndim - 2))


def _folded_matmul(a: Tensor, b: Tensor) -> Tensor:
    """One mm or mv: the larger operand (transposed first if it is ``b``) folded into rows."""
    flip = b._data.ndim > a._data.ndim
    big = transpose(b, -1, -2) if flip else a
    small = (t(a) if a._data.ndim == 2 else a) if flip else b
    *batch, k = big._data.shape
    folded = reshape(big, (math.prod(batch), k))
    if small._data.ndim == 1:
        return unsafe_view(mv(folded, small), tuple(batch))
    product = unsafe_view(mm(folded, small), (*batch, small._data.shape[1]))
    return transpose(product, -1, -2).contiguous() if flip else product


def _batched_matmul(a: Tensor, b: Tensor) -> Tensor:
    """One bmm over the broadcast batch dims (a 1-D operand here never requires grad)."""
    da, db = a._data.ndim, b._data.ndim
    n, k = (a._data.shape[-2] if da > 1 else 1), a._data.shape[-1]
    k2, m = (b._data.shape[-2], b._data.shape[-1]) if db > 1 else (b._data.shape[0], 1)
    batch = broadcast_shapes(a._data.shape[:-2], b._data.shape[:-2])
    count = math.prod(batch)
    a3 = reshape(expand(a, batch + (n, k)), (count, n, k))
    b3 = reshape(expand(b if db > 1 else unsqueeze(b, -1), batch + (k2, m)), (count, k2, m))
    product = bmm(a3, b3)
    if db == 1:
        product = squeeze(product, -1)
    return unsafe_view(product, batch + ((n,) if da > 1 else ()) + ((m,) if db > 1 else ()))
