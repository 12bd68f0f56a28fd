"""Shape operations and indexing: views (which share their base's version counter) and
copies (cat, stack, flip, advanced indexing), each with its vector-Jacobian product."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import EllipsisType
from typing import Any

import numpy as np

from refgrad import _pointwise, _reduce
from refgrad._dims import normalize_dim, type_name
from refgrad._dtype import Array
from refgrad._node import Grads, MultiOutputNode, Node
from refgrad._recording import any_needs_grad, needs_grad, one_input, plain, record, record_outputs, view as plain_view
from refgrad._tensor import IndexKey, Tensor

def _view(node: Node, data: Array, input: Tensor) -> Tensor:
    """A view of ``input``: recorded when it needs grad, always sharing the version counter."""
    if not needs_grad(input):
        return plain_view(data, input)
    return record(node, data, (input,), view_of=input)


# ----------------------------------------------------------------------------- reshape
class ViewBackward0(Node):
    __slots__ = ("input_shape",)

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        self.input_shape = input_shape

    def vjp(self, grad: Tensor) -> Grads:
        return (grad.reshape(self.input_shape),)


class UnsafeViewBackward0(ViewBackward0):
    """A reshape of a fresh copy that no one else sees (PyTorch's ``_unsafe_view``: a reshape
    that must copy clones first, and matmul reshapes its product): the same rule as a view."""

    __slots__ = ()


class ReshapeAliasBackward0(ViewBackward0):
    """A reshape that can view values not laid out in row-major order (a transposed or
    expanded tensor): the same rule as a view."""

    __slots__ = ()


def unsafe_view(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``input`` (a fresh result) reshaped to ``shape`` without making it a view."""
    out = input._data.reshape(shape)
    return record(UnsafeViewBackward0(input._data.shape), out, (input,)) if needs_grad(input) else plain(out)


def _target_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """``shape`` with a -1 inferred, or PyTorch's error when it cannot hold ``numel`` elements."""
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape and known != 0 and numel % known == 0:
        return tuple(numel // known if n == -1 else n for n in shape)
    if -1 in shape or known != numel or any(n < 0 for n in shape):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    data = input._data
    target = _target_shape(tuple(shape), data.size)
    out = data.reshape(target)
    if not np.may_share_memory(out, data) and data.size:  # a copy, not a view: as PyTorch, clone it first
        if not needs_grad(input):
            return plain(out)
        copied = one_input(_pointwise.CloneBackward0(), out.reshape(data.shape), input)  # the copy numpy made
        return unsafe_view(copied, target)
    if not data.flags.c_contiguous:  # a view, but not of row-major values: PyTorch's _reshape_alias
        return _view(ReshapeAliasBackward0(data.shape), out, input)
    return _view(ViewBackward0(data.shape), out, input)


def view(input: Tensor, shape: Sequence[int]) -> Tensor:
    data = input._data
    target = _target_shape(tuple(shape), data.size)
    try:
        out = np.reshape(data, target, copy=False)
    except ValueError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension spans "
            "across two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    return _view(ViewBackward0(data.shape), out, input)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    start, end = normalize_dim(start_dim, len(shape)), normalize_dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    return reshape(input, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


# ----------------------------------------------------------------------------- transposition
class TransposeBackward0(Node):
    __slots__ = ("dim0", "dim1")

    def __init__(self, dim0: int, dim1: int) -> None:
        self.dim0 = dim0
        self.dim1 = dim1

    def vjp(self, grad: Tensor) -> Grads:
        return (transpose(grad, self.dim0, self.dim1),)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    ndim = input._data.ndim
    d0, d1 = normalize_dim(dim0, ndim), normalize_dim(dim1, ndim)
    out = np.swapaxes(input._data, d0, d1) if ndim else input._data
    return _view(TransposeBackward0(d0, d1), out, input)


class PermuteBackward0(Node):
    __slots__ = ("dims",)

    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def vjp(self, grad: Tensor) -> Grads:
        return (permute(grad, tuple(int(i) for i in np.argsort(self.dims))),)


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    ndim = input._data.ndim
    norm = tuple(normalize_dim(d, ndim) for d in dims)
    if len(norm) != ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {ndim} is not equal to len(dims) = {len(norm)}"
        )
    if len(set(norm)) != ndim:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _view(PermuteBackward0(norm), np.transpose(input._data, norm), input)


class TBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (t(grad),)


def t(input: Tensor) -> Tensor:
    ndim = input._data.ndim
    if ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    return _view(TBackward0(), input._data.T, input)


# ----------------------------------------------------------------------------- squeeze, expand
class UnsqueezeBackward0(Node):
    __slots__ = ("dim",)

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def vjp(self, grad: Tensor) -> Grads:
        return (squeeze(grad, self.dim),)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    d = normalize_dim(dim, input._data.ndim + 1)
    return _view(UnsqueezeBackward0(d), np.expand_dims(input._data, d), input)


class SqueezeBackward0(ViewBackward0):
    __slots__ = ()


class SqueezeBackward1(ViewBackward0):
    __slots__ = ()


def squeeze(input: Tensor, dim: int | None = None) -> Tensor:
    data = input._data
    if dim is None:
        return _view(SqueezeBackward0(data.shape), data.reshape([n for n in data.shape if n != 1]), input)
    d = normalize_dim(dim, data.ndim)
    out = np.squeeze(data, d) if data.ndim and data.shape[d] == 1 else data
    return _view(SqueezeBackward1(data.shape), out, input)


class ExpandBackward0(Node):
    __slots__ = ("input_shape",)

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        self.input_shape = input_shape

    def vjp(self, grad: Tensor) -> Grads:
        return (sum_to(grad, self.input_shape),)  # a broadcast input's slope is the sum over its copies


def expand(input: Tensor, sizes: Sequence[int]) -> Tensor:
    shape = input._data.shape
    sizes = tuple(sizes)
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand(refgrad.{input.dtype.scalar_name}Tensor{{{list(shape)}}}, size={list(sizes)}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    target = []
    for i, n in enumerate(sizes):
        own = shape[i - lead] if i >= lead else None
        if n == -1 and own is None:
            raise RuntimeError(
                f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}"
            )
        if n == -1 and own is not None:
            n = own
        elif own is not None and own != 1 and own != n:
            raise RuntimeError(
                f"The expanded size of the tensor ({n}) must match the existing size ({own}) at non-singleton "
                f"dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}"
            )
        target.append(n)
    if tuple(target) == shape:
        return _view(ExpandBackward0(shape), input._data, input)
    # As PyTorch: stride 0 where the expansion repeats, the input's own stride elsewhere (numpy's
    # broadcast_to zeroes a size-1 dimension's stride too, which decides how matmul folds)
    data = input._data
    strides = [0] * lead + [step if own == n else 0 for own, n, step in zip(shape, target[lead:], data.strides)]
    return _view(ExpandBackward0(shape), np.lib.stride_tricks.as_strided(data, target, strides, writeable=False), input)


def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    return expand(input, shape)


def is_expandable_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a tensor of ``shape`` broadcasts to ``target`` (so its gradient sums back)."""
    if len(shape) > len(target):
        return False
    lead = len(target) - len(shape)
    return all(n == 1 or n == target[lead + i] for i, n in enumerate(shape))


def sum_to(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Undo broadcasting: sum ``grad`` over the dims that broadcasting added or stretched."""
    gshape = grad._data.shape
    lead = len(gshape) - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if dims:
        grad = _reduce.sum(grad, dims, keepdim=True)
    return reshape(grad, shape) if lead else grad


# ----------------------------------------------------------------------------- cat, stack, split
class CatBackward0(Node):
    __slots__ = ("dim", "sizes")

    def __init__(self, dim: int, sizes: tuple[int, ...]) -> None:
        self.dim = dim
        self.sizes = sizes

    def vjp(self, grad: Tensor) -> Grads:
        starts = np.cumsum((0,) + self.sizes)
        return tuple(
            slice_dim(grad, self.dim, int(a), int(b), 1) if self.needs(i) else None
            for i, (a, b) in enumerate(zip(starts[:-1], starts[1:]))
        )


def _tensor_list(tensors: Sequence[Tensor], name: str) -> tuple[Tensor, ...]:
    """The tensors of cat or stack: like PyTorch, a list or a tuple of tensors only (``cat(x)``
    of a tensor ``x`` is an error, not the concatenation of its rows)."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not {type_name(tensors)}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type_name(t)}")
    return tuple(tensors)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    first = tensors[0]._data
    for i, other in enumerate(tensors):
        if other._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
        if other._data.ndim != first.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {first.ndim} and {other._data.ndim}"
            )
    d = normalize_dim(dim, first.ndim)
    for i, other in enumerate(tensors):
        for axis, (n, m) in enumerate(zip(first.shape, other._data.shape)):
            if axis != d and n != m:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {n} but got size {m} "
                    f"for tensor number {i} in the list."
                )
    from refgrad._pointwise import result_dtype

    dt = result_dtype(list(tensors), []).numpy
    out = np.concatenate([t._data for t in tensors], axis=d).astype(dt, copy=False)
    if not any_needs_grad(tensors):
        return plain(out)
    return record(CatBackward0(d, tuple(t._data.shape[d] for t in tensors)), out, tensors)


class StackBackward0(Node):
    __slots__ = ("dim", "count")

    def __init__(self, dim: int, count: int) -> None:
        self.dim = dim
        self.count = count

    def vjp(self, grad: Tensor) -> Grads:
        return tuple(select(grad, self.dim, i) if self.needs(i) else None for i in range(self.count))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, other in enumerate(tensors):
        if other._data.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                f"{list(other._data.shape)} at entry {i}"
            )
    d = normalize_dim(dim, len(shape) + 1)
    from refgrad._pointwise import result_dtype

    dt = result_dtype(list(tensors), []).numpy
    out = np.stack([t._data for t in tensors], axis=d).astype(dt, copy=False)
    if not any_needs_grad(tensors):
        return plain(out)
    return record(StackBackward0(d, len(tensors)), out, tensors)


class SplitBackward0(MultiOutputNode):
    __slots__ = ("dim",)

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def vjp(self, grads: list[Tensor | None]) -> Grads:
        # the pieces' gradients side by side; zeros for pieces that received none
        pieces = [plain(np.zeros(shape, dtype)) if g is None else g for g, (shape, dtype) in zip(grads, self._outputs)]
        return (cat(pieces, self.dim),)


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


def split(input: Tensor, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``input`` along ``dim`` (views sharing its version counter), recorded as one
    node with an output per piece."""
    d = normalize_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    if isinstance(split_size, int):
        if split_size <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        sizes = [min(split_size, size - start) for start in range(0, size, split_size)] if size else [0]
    else:
        sizes = list(split_size)
        if sum(sizes) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at dimension "
                f"{d}), but got split_sizes={sizes}"
            )
    starts = np.cumsum([0] + sizes)
    lead = (slice(None),) * d
    pieces = [input._data[lead + (slice(int(a), int(b)),)] for a, b in zip(starts[:-1], starts[1:])]
    if not needs_grad(input):
        return tuple(plain_view(piece, input) for piece in pieces)
    node = SplitBackward0(d) if isinstance(split_size, int) else SplitWithSizesBackward0(d)
    return record_outputs(node, pieces, (input,), view_of=input)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if not isinstance(chunks, int):
        raise TypeError(f"chunk(): argument 'chunks' (position 1) must be int, not {type(chunks).__name__}")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    size = input._data.shape[normalize_dim(dim, input._data.ndim)]
    return split(input, max(1, -(-size // chunks)), dim)


class FlipBackward0(Node):
    __slots__ = ("dims",)

    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def vjp(self, grad: Tensor) -> Grads:
        return (flip(grad, self.dims),)


def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    ndim = input._data.ndim
    norm = tuple(normalize_dim(d, ndim) for d in ((dims,) if isinstance(dims, int) else dims))
    for d in norm:
        if norm.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    out = np.flip(input._data, norm).copy() if ndim else input._data.copy()
    return one_input(FlipBackward0(norm), out, input)


# ----------------------------------------------------------------------------- indexing
class _Placed(Node):
    """An op that takes part of its input at ``key``: the gradient is placed back there."""

    __slots__ = ("key", "input_shape")

    def __init__(self, key: Any, input_shape: tuple[int, ...]) -> None:
        self.key = key
        self.input_shape = input_shape

    def vjp(self, grad: Tensor) -> Grads:
        return (index_put_zeros(grad, self.input_shape, self.key),)


class SelectBackward0(_Placed):
    __slots__ = ()


class SliceBackward0(_Placed):
    __slots__ = ()


class AsStridedBackward0(_Placed):
    """A view regenerated after an in-place op changed its base's history: the view's elements
    of the base, by index (PyTorch's as_strided)."""

    __slots__ = ()


def elements_in_base(view: Tensor, base: Tensor) -> tuple[Array, ...] | None:
    """Where each element of ``view`` lies in ``base``: an index (one array per dimension of the
    base, in the view's shape), read from the view's place in the base's memory; None when the
    base's memory has gaps (a strided numpy array given to ``from_numpy``)."""
    data, root = view._data, base._data
    # The flat (row-major) index of each element of the base, laid out in memory as the base is.
    numbers = np.empty_like(root, dtype=np.intp)
    if numbers.strides != tuple(stride // root.itemsize * numbers.itemsize for stride in root.strides):
        return None
    numbers[...] = np.arange(root.size).reshape(root.shape)
    memory = np.lib.stride_tricks.as_strided(numbers, (numbers.size,), (numbers.itemsize,))
    offset = (data.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // root.itemsize
    strides = tuple(stride // root.itemsize * numbers.itemsize for stride in data.strides)
    positions = np.lib.stride_tricks.as_strided(memory[offset:], data.shape, strides).copy()
    return tuple(np.asarray(index) for index in np.unravel_index(positions, root.shape))  # arrays, also for a 0-d view


def regenerate_view(view: Tensor, base: Tensor, key: tuple[Array, ...]) -> None:
    """Make ``view``'s history a function of ``base``'s current one (after an in-place op gave
    the base a new history): an AsStridedBackward0 of it, over the view's elements ``key``."""
    regenerated = record(AsStridedBackward0(key, base._data.shape), view._data, (base,), view_of=base)
    view._grad_fn, view._requires_grad, view._output_nr = regenerated._grad_fn, True, 0
    view._view_base_node = base._grad_fn


INDICES = (None,)
"""What advanced indexing saves: PyTorch saves the indices as tensors, so after a backward
without ``retain_graph`` a second one raises; this placeholder, freed the same way, gives the same."""


class IndexBackward0(_Placed):
    """Advanced indexing (saves ``INDICES``)."""

    __slots__ = ()

    def vjp(self, grad: Tensor, _indices: None = None) -> Grads:
        return super().vjp(grad)


class AliasBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (grad,)


class IndexPutBackward0(Node):
    """The gradient of indexing, as an op: zeros with ``grad`` added at ``key`` (repeated
    indices accumulate). Its own gradient takes the values at ``key`` again."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def vjp(self, grad: Tensor) -> Grads:
        return (_take(IndexBackward0(self.key, grad._data.shape), grad, self.key, INDICES),)


def index_put_zeros(values: Tensor, shape: tuple[int, ...], key: Any) -> Tensor:
    out = np.zeros(shape, values._data.dtype)
    np.add.at(out, key, values._data)
    if not needs_grad(values):
        return plain(out)
    return record(IndexPutBackward0(key), out, (values,))


def _take(node: _Placed, input: Tensor, key: Any, saved: tuple[None, ...] = ()) -> Tensor:
    out = input._data[key]
    return one_input(node, out, input, saved)


def _bounds_checked(index: int, size: int, dim: int) -> int:
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for dimension {dim} with size {size}")
    return index + size if index < 0 else index


INDEX_0D = (
    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert "
    "a 0-dim tensor to a number"
)


def select(input: Tensor, dim: int, index: int, reported_dim: int | None = None) -> Tensor:
    """``input`` at ``index`` along ``dim`` (errors name ``reported_dim``: the dimension of the
    tensor the user indexed, when this select is one step of ``x[i, j]``)."""
    data = input._data
    if data.ndim == 0:
        raise IndexError(INDEX_0D)
    d = normalize_dim(dim, data.ndim)
    key = (slice(None),) * d + (_bounds_checked(index, data.shape[d], d if reported_dim is None else reported_dim),)
    # the trailing Ellipsis makes numpy return a (0-d) view, never a scalar copy
    return _view(SelectBackward0(key, data.shape), data[key + (Ellipsis,)], input)


def slice_dim(input: Tensor, dim: int, start: int | None, stop: int | None, step: int | None) -> Tensor:
    data = input._data
    if step == 0:
        raise ValueError("slice step cannot be zero")
    if step is not None and step < 0:
        raise ValueError("step must be greater than zero")
    d = normalize_dim(dim, data.ndim)
    begin, end, stride = slice(start, stop, step).indices(data.shape[d])
    key = (slice(None),) * d + (slice(begin, max(begin, end), stride),)
    return _view(SliceBackward0(key, data.shape), data[key], input)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = normalize_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if begin + length > size:
        raise RuntimeError(f"start ({begin}) + length ({length}) exceeds dimension size ({size}).")
    return slice_dim(input, d, begin, begin + length, 1)


def _is_advanced(item: object) -> bool:
    return isinstance(item, (Tensor, list, tuple, np.ndarray)) or (isinstance(item, bool))


def _advanced_key(x: Tensor, key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key with tensors and lists as numpy index arrays and masks checked against the shape."""
    out: list[Any] = []
    dim = 0
    for item in key:
        if isinstance(item, Tensor):
            item = item._data
        elif isinstance(item, (list, tuple)):
            item = np.asarray(item)
            if item.size == 0:
                item = item.astype(np.int64)
        if isinstance(item, np.ndarray) and item.dtype.kind == "b":
            shape = x._data.shape[dim : dim + item.ndim]
            for i, (m, n) in enumerate(zip(item.shape, shape)):
                if m != n:
                    raise IndexError(
                        f"The shape of the mask {list(item.shape)} at index {i} does not match the shape of the "
                        f"indexed tensor {list(x._data.shape)} at index {dim + i}"
                    )
            out.extend(np.nonzero(item))  # a mask selects the positions where it is true
            dim += item.ndim
            continue
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if isinstance(item, np.ndarray):
            size = x._data.shape[dim]
            bad = item[(item >= size) | (item < -size)]
            if bad.size:
                raise IndexError(f"index {int(bad.flat[0])} is out of bounds for dimension {dim} with size {size}")
        out.append(item)
        dim += item is not None and item is not Ellipsis
    return tuple(out)


def _consumed(item: object) -> int:
    """How many dimensions of the indexed tensor an index item uses up."""
    if item is None or item is Ellipsis:
        return 0
    data = item._data if isinstance(item, Tensor) else item
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    return data.ndim if isinstance(data, np.ndarray) and data.dtype.kind == "b" and data.ndim else 1


def _is_full(item: slice, size: int) -> bool:
    return item.start in (None, 0) and item.step in (None, 1) and (item.stop is None or item.stop >= size)


def getitem(x: Tensor, key: IndexKey) -> Tensor:
    """``x[key]`` as PyTorch records it: integers, slices and None first, as a chain of views
    (select, slice, unsqueeze; full slices inside a tuple key are skipped, and a key that
    changes nothing gives an alias), then integer arrays, lists and masks at once, as one
    IndexBackward0 copy of what the views left."""
    items = key if isinstance(key, tuple) else (key,)
    # a 0-d integer tensor indexes like the integer it holds
    items = tuple(
        int(item._data) if isinstance(item, Tensor) and item._data.ndim == 0 and item._data.dtype.kind in "iu" else item
        for item in items
    )
    used = sum(_consumed(item) for item in items)
    if used and x._data.ndim == 0:
        raise IndexError(INDEX_0D)
    if used > x._data.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x._data.ndim}")
    result, dim, source_dim = x, 0, 0  # dim in the result so far; dim of x being indexed
    advanced: list[tuple[int, Any]] = []
    for item in items:
        if item is None:
            result = unsqueeze(result, dim)
            dim += 1
        elif isinstance(item, EllipsisType):
            dim += x._data.ndim - used
            source_dim += x._data.ndim - used
        elif isinstance(item, slice):
            if not (isinstance(key, tuple) and _is_full(item, result._data.shape[dim])):
                result = slice_dim(result, dim, item.start, item.stop, item.step)
            dim += 1
            source_dim += 1
        elif isinstance(item, int) and not isinstance(item, bool):
            result = select(result, dim, item, source_dim)
            source_dim += 1
        elif _is_advanced(item):
            advanced.append((dim, item))
            dim += _consumed(item)
            source_dim += _consumed(item)
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices "
                f"(got {type(item).__name__})"
            )
    if advanced:
        numpy_key: list[Any] = []
        for position, item in advanced:
            numpy_key.extend([slice(None)] * (position - len(numpy_key)))
            numpy_key.append(item)
        checked = _advanced_key(result, tuple(numpy_key))
        return _take(IndexBackward0(checked, result._data.shape), result, checked, INDICES)
    if result is x:
        return _view(AliasBackward0(), x._data, x)
    return result
