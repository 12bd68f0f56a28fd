"""The op vocabulary of programs, with the oracles' own forward meaning of each op.

``OPS`` maps an op name (the name of the engine function that runs it) to its numpy forward
(float64, written here from the definition: never the engine's code), how its Python call
looks, and the domain where the op is smooth enough to check (used to draw inputs).
The SymPy meaning of each op lives in ``oracles.symbolic`` (a test keeps the tables equal).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracles.program import Array, AttrValue

NumpyForward = Callable[..., Array]


@dataclass(frozen=True)
class OpSpec:
    name: str
    forward: NumpyForward
    """numpy meaning: ``forward(*args, **attrs)`` on float64 arrays and Python numbers."""
    operator: Callable[..., Any] | None = None
    """The Python operator that spells it (``+``, ``@``...), used by every interpreter."""
    operands: int = 1
    """How many leading arguments are tensors (numpy ufuncs say it themselves: ``nin``)."""
    variadic: bool = False
    """Takes a list of tensors (cat, stack)."""
    method_varargs: str | None = None
    """The attribute engines take as separate arguments of a tensor method (``x.expand(*size)``)."""
    domain: tuple[float, float] = (-2.0, 2.0)
    """Where to draw its (first) input so that it is defined and smooth."""


def _axis(dim: AttrValue) -> Any:
    """A reduction's dims as numpy's axis: None and () both mean all dims (as in PyTorch)."""
    if isinstance(dim, (list, tuple)):
        return tuple(dim) or None
    return dim


def _sum(x: Array, dim: AttrValue = None, keepdim: bool = False) -> Array:
    return np.asarray(np.sum(x, axis=_axis(dim), keepdims=keepdim))


def _mean(x: Array, dim: AttrValue = None, keepdim: bool = False) -> Array:
    return np.asarray(np.mean(x, axis=_axis(dim), keepdims=keepdim))


def _amax(x: Array, dim: AttrValue = (), keepdim: bool = False) -> Array:
    return np.asarray(np.max(x, axis=_axis(dim), keepdims=keepdim))


def _amin(x: Array, dim: AttrValue = (), keepdim: bool = False) -> Array:
    return np.asarray(np.min(x, axis=_axis(dim), keepdims=keepdim))


def _prod(x: Array, dim: AttrValue = None, keepdim: bool = False) -> Array:
    return np.asarray(np.prod(x, axis=_axis(dim), keepdims=keepdim))


def _var(x: Array, dim: AttrValue = None, correction: float = 1, keepdim: bool = False) -> Array:
    return np.asarray(np.var(x, axis=_axis(dim), ddof=correction, keepdims=keepdim))


def _std(x: Array, dim: AttrValue = None, correction: float = 1, keepdim: bool = False) -> Array:
    return np.sqrt(_var(x, dim, correction, keepdim))


def _logsumexp(x: Array, dim: AttrValue, keepdim: bool = False) -> Array:
    peak = np.max(x, axis=_axis(dim), keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=_axis(dim), keepdims=True)) + peak
    return np.asarray(out if keepdim else np.squeeze(out, axis=_axis(dim)))


def _softmax(x: Array, dim: int) -> Array:
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return np.asarray(e / np.sum(e, axis=dim, keepdims=True))


def _log_softmax(x: Array, dim: int) -> Array:
    return np.asarray(x - _logsumexp(x, dim, keepdim=True))


def _norm(x: Array, p: float = 2, dim: AttrValue = None, keepdim: bool = False) -> Array:
    magnitude = np.abs(x)
    if p == np.inf:
        return np.asarray(np.max(magnitude, axis=_axis(dim), keepdims=keepdim))
    if p == -np.inf:
        return np.asarray(np.min(magnitude, axis=_axis(dim), keepdims=keepdim))
    if p == 0:
        return np.asarray(np.sum(magnitude != 0, axis=_axis(dim), keepdims=keepdim), dtype=np.float64)
    return np.asarray(np.sum(magnitude**p, axis=_axis(dim), keepdims=keepdim) ** (1 / p))


def _clamp(x: Array, min: float | None = None, max: float | None = None) -> Array:
    return np.clip(x, min, max)


def _sigmoid(x: Array) -> Array:
    return np.asarray(1 / (1 + np.exp(-x)))


def _transpose(x: Array, dim0: int, dim1: int) -> Array:
    return np.swapaxes(x, dim0, dim1)


def _permute(x: Array, dims: Sequence[int]) -> Array:
    return np.transpose(x, dims)


def _reshape(x: Array, shape: Sequence[int]) -> Array:
    return np.reshape(x, shape)


def _expand(x: Array, size: Sequence[int]) -> Array:
    return np.broadcast_to(x, tuple(s if s != -1 else x.shape[i - len(size) + x.ndim] for i, s in enumerate(size)))


def _squeeze(x: Array, dim: int | Sequence[int] | None = None) -> Array:
    if dim is None:
        return np.squeeze(x)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return np.squeeze(x, tuple(d for d in dims if x.shape[d] == 1))


def _where(condition: Array, x: Any, y: Any) -> Array:
    return np.asarray(np.where(condition, x, y))


def _mm(a: Array, b: Array) -> Array:
    return np.asarray(np.matmul(a, b))


def _outer(a: Array, b: Array) -> Array:
    return np.asarray(np.multiply.outer(a, b))


def _flatten(x: Array, start_dim: int = 0, end_dim: int = -1) -> Array:
    if x.ndim == 0:
        return np.reshape(x, (1,))
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return np.reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1 :])


def _narrow(x: Array, dim: int, start: int, length: int) -> Array:
    d = dim % x.ndim
    begin = start % x.shape[d] if start < 0 else start
    return x[(slice(None),) * d + (slice(begin, begin + length),)]


def _spec(name: str, forward: NumpyForward, **kwargs: Any) -> tuple[str, OpSpec]:
    return name, OpSpec(name, forward, **kwargs)


POSITIVE = (0.1, 3.0)

OPS: dict[str, OpSpec] = dict(
    [
        _spec("add", np.add, operator=operator.add),
        _spec("sub", np.subtract, operator=operator.sub),
        _spec("mul", np.multiply, operator=operator.mul),
        _spec("div", np.true_divide, operator=operator.truediv, domain=POSITIVE),
        _spec("pow", np.power, operator=operator.pow, domain=POSITIVE),
        _spec("neg", np.negative, operator=operator.neg),
        _spec("matmul", np.matmul, operator=operator.matmul),
        _spec("mm", _mm, operands=2),
        _spec("mv", _mm, operands=2),
        _spec("bmm", _mm, operands=2),
        _spec("dot", _mm, operands=2),
        _spec("outer", _outer, operands=2),
        _spec("exp", np.exp),
        _spec("expm1", np.expm1),
        _spec("log", np.log, domain=POSITIVE),
        _spec("log1p", np.log1p, domain=(-0.9, 3.0)),
        _spec("sqrt", np.sqrt, domain=POSITIVE),
        _spec("rsqrt", lambda x: 1 / np.sqrt(x), domain=POSITIVE),
        _spec("reciprocal", np.reciprocal, domain=POSITIVE),
        _spec("sin", np.sin),
        _spec("cos", np.cos),
        _spec("tan", np.tan, domain=(-1.2, 1.2)),
        _spec("tanh", np.tanh),
        _spec("sigmoid", _sigmoid),
        _spec("relu", lambda x: np.maximum(x, 0.0)),
        _spec("abs", np.abs),
        _spec("sign", np.sign),
        _spec("square", np.square),
        _spec("clamp", _clamp),
        _spec("clamp_min", lambda x, min: np.maximum(x, min)),
        _spec("clamp_max", lambda x, max: np.minimum(x, max)),
        _spec("maximum", np.maximum),
        _spec("minimum", np.minimum),
        _spec("where", _where, operands=3),
        _spec("gt", np.greater),
        _spec("lt", np.less),
        _spec("ge", np.greater_equal),
        _spec("le", np.less_equal),
        _spec("sum", _sum),
        _spec("mean", _mean),
        _spec("amax", _amax),
        _spec("amin", _amin),
        _spec("prod", _prod),
        _spec("var", _var),
        _spec("std", _std),
        _spec("logsumexp", _logsumexp),
        _spec("softmax", _softmax),
        _spec("log_softmax", _log_softmax),
        _spec("norm", _norm),
        _spec("reshape", _reshape),
        _spec("transpose", _transpose),
        _spec("permute", _permute),
        _spec("t", np.transpose),
        _spec("clone", np.copy),
        _spec("flatten", _flatten),
        _spec("unsqueeze", lambda x, dim: np.expand_dims(x, dim)),
        _spec("squeeze", _squeeze),
        _spec("expand", _expand, method_varargs="size"),
        _spec("flip", lambda x, dims: np.flip(x, dims)),
        _spec("select", lambda x, dim, index: np.asarray(np.take(x, index, axis=dim))),
        _spec("narrow", _narrow),
        _spec("cat", lambda *xs, dim=0: np.concatenate(xs, axis=dim), variadic=True),
        _spec("stack", lambda *xs, dim=0: np.stack(xs, axis=dim), variadic=True),
    ]
)
"""Every op a program may use."""

COMPARISONS = frozenset({"gt", "lt", "ge", "le"})
"""Ops whose results are boolean (not differentiable): only ``where`` conditions use them."""
