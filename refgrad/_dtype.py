"""Dtypes and PyTorch's type promotion rules."""

from __future__ import annotations

from typing import Any, Final, final

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
"""The one numpy array alias used at the boundary: shapes and dtypes are checked at run time."""


@final
class dtype:
    """A tensor element type, printed as ``refgrad.float32`` (like ``torch.float32``)."""

    __slots__ = ("name", "numpy", "is_floating_point", "_category", "scalar_name", "cpp_name")

    name: Final[str]
    """The short name: ``float32``, ``int64``, ``bool``..."""
    numpy: Final[np.dtype[Any]]
    """The numpy dtype of the tensors' arrays."""
    is_floating_point: Final[bool]
    _category: Final[int]
    scalar_name: Final[str]
    cpp_name: Final[str]

    def __init__(self, name: str, numpy_dtype: np.dtype[Any], category: int, scalar_name: str, cpp_name: str) -> None:
        self.name = name
        self.numpy = numpy_dtype
        self.is_floating_point = category == _FLOAT
        self._category = category
        self.scalar_name = scalar_name
        """PyTorch's name in messages: Float, Double, Long, Int, Bool."""
        self.cpp_name = cpp_name
        """The C type PyTorch names in some messages: float, double, long int..."""

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    def __repr__(self) -> str:
        return f"refgrad.{self.name}"

    def __reduce__(self) -> str:
        return self.name


_BOOL, _INT, _FLOAT = 0, 1, 2

bool_: Final = dtype("bool", np.dtype(np.bool_), _BOOL, "Bool", "bool")
int32: Final = dtype("int32", np.dtype(np.int32), _INT, "Int", "int")
int64: Final = dtype("int64", np.dtype(np.int64), _INT, "Long", "long int")
float32: Final = dtype("float32", np.dtype(np.float32), _FLOAT, "Float", "float")
float64: Final = dtype("float64", np.dtype(np.float64), _FLOAT, "Double", "double")

_BY_NUMPY: Final[dict[np.dtype[Any], dtype]] = {d.numpy: d for d in (bool_, int32, int64, float32, float64)}


class _Defaults:
    __slots__ = ("float",)

    def __init__(self) -> None:
        self.float = float32


_defaults = _Defaults()


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _defaults.float


def set_default_dtype(d: dtype) -> None:
    """Make ``d`` (float32 or float64) the dtype of tensors made from Python floats."""
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d!r}")
    _defaults.float = d


def from_numpy_dtype(np_dtype: np.dtype[Any]) -> dtype:
    """The refgrad dtype of a numpy dtype, with a clear error for unsupported ones."""
    found = _BY_NUMPY.get(np_dtype)
    if found is None:
        supported = ", ".join(str(d.numpy) for d in _BY_NUMPY.values())
        raise TypeError(f"can't convert numpy array of type {np_dtype}; the only supported types are: {supported}.")
    return found


def scalar_dtype(value: bool | int | float) -> dtype:
    """The dtype a Python number gets when it becomes a tensor on its own."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    return _defaults.float


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both convert to without losing their kind."""
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    return a if a.itemsize >= b.itemsize else b


def result_type(dims: list[dtype], zero_dims: list[dtype], scalars: list[dtype]) -> dtype:
    """PyTorch's promotion: tensors with dimensions decide first, then 0-d tensors, then
    Python numbers; a lower tier only matters when it is of a higher kind."""
    low = _combine(_promote_all(zero_dims), _promote_all(scalars))
    return _combine(_promote_all(dims), low) or _defaults.float


def _promote_all(dtypes: list[dtype]) -> dtype | None:
    result: dtype | None = None
    for d in dtypes:
        result = d if result is None else promote_types(result, d)
    return result


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    if higher is None:
        return lower
    if lower is None or higher._category >= lower._category:
        return higher
    return promote_types(higher, lower)
