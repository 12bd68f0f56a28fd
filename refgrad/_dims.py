"""Normalizing dimension and shape arguments, and naming the type of a wrong argument, with
PyTorch's messages."""

from __future__ import annotations

from collections.abc import Sequence
from operator import index


def normalize_dim(dim: int, ndim: int) -> int:
    """``dim`` as an index in ``range(ndim)`` (a 0-d tensor accepts 0 and -1)."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], but got {dim})")
    return dim + bound if dim < 0 else dim


def shape_args(args: tuple[int | Sequence[int], ...]) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the shape (2, 3) (a float is no size: ``index``, not ``int``)."""
    if len(args) == 1 and not isinstance(args[0], int):
        return tuple(index(n) for n in args[0])
    shape = []
    for n in args:
        if not isinstance(n, int):
            raise TypeError(f"expected a sequence of ints or separate ints, but got {type(n).__name__}")
        shape.append(n)
    return tuple(shape)


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def type_name(value: object) -> str:
    """The type of ``value`` as CPython names it in C (``tp_name``), and so PyTorch's messages:
    ``float``, ``NoneType``, ``Tensor``, ``numpy.ndarray``."""
    cls = type(value)
    if cls.__flags__ & _HEAP_TYPE or cls.__module__ == "builtins":
        return cls.__name__
    return f"{cls.__module__}.{cls.__name__}"
