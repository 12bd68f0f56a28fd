"""Making tensors: from data, filled, ranges, identity and random."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

from refgrad import _dtype
from refgrad._dims import shape_args, type_name
from refgrad._dtype import Array, dtype
from refgrad._tensor import Number, Tensor, new_counter

# What ``tensor`` takes: numbers, numpy arrays and scalars, tensors, and (ragged-free) nested
# sequences of them. The nesting is spelled out to a fixed depth rather than as a recursive
# alias: a recursive ``Sequence`` alias would accept a ``str`` (a sequence of strings) under
# mypy. Deeper data can be passed as a numpy array.
_Element: TypeAlias = "float | np.generic | Array | Tensor"
_Nested1: TypeAlias = "Sequence[_Element]"
_Nested2: TypeAlias = "Sequence[_Element | _Nested1]"
_Nested3: TypeAlias = "Sequence[_Element | _Nested2]"
_Nested4: TypeAlias = "Sequence[_Element | _Nested3]"
_Nested5: TypeAlias = "Sequence[_Element | _Nested4]"
_Nested6: TypeAlias = "Sequence[_Element | _Nested5]"
TensorData: TypeAlias = "_Element | _Nested6"
"""Data ``tensor`` accepts: a number, a numpy array or scalar, a tensor, or sequences of
these nested up to 6 deep."""

FLOAT_REQUIRED = "Only Tensors of floating point and complex dtype can require gradients"

_rng = np.random.default_rng()


def _finish(data: Array, requires_grad: bool) -> Tensor:
    if requires_grad and data.dtype.kind != "f":
        raise RuntimeError(FLOAT_REQUIRED)
    t = Tensor._make(data, None, new_counter())
    t._requires_grad = requires_grad
    return t


def _plain_values(data: Any) -> Any:
    """Nested lists holding tensors as nested lists of numbers."""
    if isinstance(data, Tensor):
        return data._data.tolist()
    if isinstance(data, (list, tuple)):
        return [_plain_values(item) for item in data]
    return data


def _inferred_dtype(data: Any, array: Array) -> dtype:
    """numpy input keeps its dtype; Python numbers become float (default), int64 or bool."""
    if isinstance(data, (np.ndarray, np.generic)):
        return _dtype.from_numpy_dtype(array.dtype)
    kind = array.dtype.kind
    if kind == "u" or (kind == "O" and all(isinstance(v, int) for v in array.flat)):
        raise ValueError("Overflow when unpacking long long")  # beyond int64
    if kind == "f":
        return _dtype.get_default_dtype()
    if kind in "iu":
        return _dtype.int64
    if kind == "b":
        return _dtype.bool_
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def tensor(data: TensorData, *, dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, numpy arrays, tensors)."""
    if isinstance(data, Tensor):
        array = data._data.copy()
    else:
        try:
            array = np.array(_plain_values(data))
        except ValueError as error:
            raise ValueError(f"could not make a tensor from the data: {error}") from None
    target = dtype if dtype is not None else (_dtype.from_numpy_dtype(array.dtype) if isinstance(data, Tensor) else _inferred_dtype(data, array))
    return _finish(array.astype(target.numpy, copy=False), requires_grad)


def from_numpy(array: Array) -> Tensor:
    """A tensor sharing memory with ``array`` (writes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type_name(array)})")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def _filled(size: tuple[int | Sequence[int], ...], value: Number, dt: dtype | None, requires_grad: bool) -> Tensor:
    target = dt if dt is not None else _dtype.get_default_dtype()
    shape = shape_args(size)
    if any(n < 0 for n in shape):
        raise RuntimeError("zeros: Dimension size must be non-negative.")
    return _finish(np.full(shape, value, dtype=target.numpy), requires_grad)


def zeros(*size: int | Sequence[int], dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, requires_grad)


def ones(*size: int | Sequence[int], dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype, requires_grad)


def zeros_like(input: Tensor, *, dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    return _filled((input._data.shape,), 0, dtype or input.dtype, requires_grad)


def ones_like(input: Tensor, *, dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    return _filled((input._data.shape,), 1, dtype or input.dtype, requires_grad)


def full(size: Sequence[int], fill_value: Number, *, dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    return _filled((tuple(size),), fill_value, dtype or _dtype.scalar_dtype(fill_value), requires_grad)


def arange(
    start: Number, end: Number | None = None, step: Number = 1, *, dtype: dtype | None = None, requires_grad: bool = False
) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    integral = all(isinstance(v, int) for v in (start, end, step))
    target = dtype or (_dtype.int64 if integral else _dtype.get_default_dtype())
    return _finish(np.arange(start, end, step).astype(target.numpy), requires_grad)


def linspace(start: Number, end: Number, steps: int, *, dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    target = dtype or _dtype.get_default_dtype()
    return _finish(np.linspace(start, end, steps).astype(target.numpy), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    target = dtype or _dtype.get_default_dtype()
    return _finish(np.eye(n, m, dtype=target.numpy), requires_grad)


def manual_seed(seed: int) -> None:
    """Seed the generator behind ``rand`` and ``randn`` (numpy's PCG64, not PyTorch's stream)."""
    global _rng
    _rng = np.random.default_rng(seed)


def rand(*size: int | Sequence[int], dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    target = dtype or _dtype.get_default_dtype()
    return _finish(_rng.random(shape_args(size)).astype(target.numpy), requires_grad)


def randn(*size: int | Sequence[int], dtype: dtype | None = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    target = dtype or _dtype.get_default_dtype()
    return _finish(_rng.standard_normal(shape_args(size)).astype(target.numpy), requires_grad)
