"""Reductions: sum, mean, max/min, amax/amin, prod, var/std, logsumexp, softmax, norm."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from refgrad import _dtype
from refgrad._dtype import Array
from refgrad._node import Grads, Node
from refgrad._pointwise import _where, exp, sign
from refgrad._recording import as_array, one_input, plain
from refgrad._dims import normalize_dim
from refgrad._tensor import Number, Tensor, ValuesIndices

Dims = int | Sequence[int] | None


def reduced_dims(dim: Dims, ndim: int) -> tuple[int, ...]:
    """The dimensions a reduction runs over, normalized and sorted (all of them for None)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    dims = tuple(sorted(normalize_dim(d, ndim) for d in dim))
    if ndim == 0:
        return ()  # a 0-d tensor accepts dim 0 / -1 and has nothing to reduce
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    return dims if dims else tuple(range(ndim))


def _keepdim_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class _Reduction(Node):
    """A reduction over ``dims`` of an input of ``shape``: its gradient (and anything saved
    from its output) is reshaped to keep the reduced dims before it is spread back."""

    __slots__ = ("dims", "input_shape", "keepdim")

    def __init__(self, dims: tuple[int, ...], input_shape: tuple[int, ...], keepdim: bool) -> None:
        self.dims = dims
        self.input_shape = input_shape
        self.keepdim = keepdim

    def kept(self, t: Tensor) -> Tensor:
        """``t`` (shaped like the output) with the reduced dims kept as size 1."""
        return t if self.keepdim else t.reshape(_keepdim_shape(self.input_shape, self.dims))

    def spread(self, t: Tensor) -> Tensor:
        """``t`` broadcast back over the input's shape."""
        return self.kept(t).expand(self.input_shape)

    def count(self) -> int:
        return math.prod(self.input_shape[d] for d in self.dims)


# ----------------------------------------------------------------------------- sum, mean
class SumBackward0(_Reduction):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (self.spread(grad),)


class SumBackward1(SumBackward0):
    __slots__ = ()


def sum(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    data = input._data
    dims = reduced_dims(dim, data.ndim)
    out = np.sum(data, axis=dims, keepdims=keepdim, dtype=np.int64 if data.dtype.kind in "biu" else None)
    node = (SumBackward0 if dim is None else SumBackward1)(dims, data.shape, keepdim)
    return one_input(node, out, input)


class MeanBackward0(_Reduction):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (self.spread(grad) / self.count(),)


class MeanBackward1(MeanBackward0):
    __slots__ = ()


def mean(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    data = input._data
    if data.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {input.dtype.scalar_name}"
        )
    dims = reduced_dims(dim, data.ndim)
    out = np.mean(data, axis=dims, keepdims=keepdim)
    node = (MeanBackward0 if dim is None else MeanBackward1)(dims, data.shape, keepdim)
    return one_input(node, out, input)


# ----------------------------------------------------------------------------- max, min
class _EvenSplit(_Reduction):
    """Extrema over ``dims``: ties share the gradient evenly (PyTorch's convention)."""

    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, input: Tensor, result: Tensor) -> Grads:
        hits = _hits(input, self.kept(result))
        count = sum(hits, self.dims, keepdim=True)
        return (_where(hits, self.spread(grad) / count, 0.0),)


def _hits(input: Tensor, extreme: Tensor) -> Tensor:
    """Where ``input`` equals the extreme value it was reduced to (NaN counts as equal to NaN)."""
    return plain((input._data == extreme._data) | (np.isnan(input._data) & np.isnan(extreme._data)))


class MaxBackward1(_EvenSplit):
    __slots__ = ()


class MinBackward1(_EvenSplit):
    __slots__ = ()


class AmaxBackward0(_EvenSplit):
    __slots__ = ()


class AminBackward0(_EvenSplit):
    __slots__ = ()


class _SelectedIndex(_Reduction):
    """max(dim)/min(dim): all of the gradient goes to the returned index."""

    __slots__ = ()

    def vjp(self, grad: Tensor, indices: Tensor) -> Grads:
        if not self.dims:
            return (grad,)  # a 0-d input is its own extreme
        (d,) = self.dims
        positions = np.arange(self.input_shape[d]).reshape((-1,) + (1,) * (len(self.input_shape) - d - 1))
        chosen = plain(positions == self.kept(indices)._data)
        return (_where(chosen, self.spread(grad), 0.0),)


class MaxBackward0(_SelectedIndex):
    __slots__ = ()


class MinBackward0(_SelectedIndex):
    __slots__ = ()


def _nonempty(data: Array, name: str, dims: tuple[int, ...]) -> None:
    if data.size == 0 and (not dims or builtins.any(data.shape[d] == 0 for d in dims)):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")


def extremum(input: Tensor, dim: int | Tensor | None, keepdim: bool, largest: bool) -> Tensor | ValuesIndices:
    from refgrad._pointwise import maximum, minimum

    if isinstance(dim, Tensor):
        return maximum(input, dim) if largest else minimum(input, dim)
    data = input._data
    name = "max" if largest else "min"
    if dim is None:
        _nonempty(data, name, ())
        out = np.max(data) if largest else np.min(data)
        node_type: type[_Reduction] = MaxBackward1 if largest else MinBackward1
        return one_input(node_type(reduced_dims(None, data.ndim), data.shape, False), out, input, (input,))
    dims = reduced_dims(dim, data.ndim)
    node = (MaxBackward0 if largest else MinBackward0)(dims, data.shape, keepdim)
    if not dims:  # a 0-d tensor
        return ValuesIndices(one_input(node, data.copy(), input, (plain(np.zeros((), np.int64)),)), plain(np.zeros((), np.int64)))
    (d,) = dims
    _nonempty(data, name, dims)
    indices = as_array(np.argmax(data, axis=d, keepdims=keepdim) if largest else np.argmin(data, axis=d, keepdims=keepdim))
    values = np.take_along_axis(data, indices if keepdim else np.expand_dims(indices, d), axis=d)
    values = values if keepdim else np.squeeze(values, axis=d)
    index_tensor = plain(indices.astype(np.int64))
    return ValuesIndices(one_input(node, values, input, (index_tensor,)), index_tensor)


@overload
def max(input: Tensor) -> Tensor: ...
@overload
def max(input: Tensor, dim: int, keepdim: bool = False) -> ValuesIndices: ...
@overload
def max(input: Tensor, dim: Tensor) -> Tensor: ...
def max(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
    """The largest value; with ``dim``, (values, indices) along it; with a tensor, ``maximum``."""
    return extremum(input, dim, keepdim, largest=True)


@overload
def min(input: Tensor) -> Tensor: ...
@overload
def min(input: Tensor, dim: int, keepdim: bool = False) -> ValuesIndices: ...
@overload
def min(input: Tensor, dim: Tensor) -> Tensor: ...
def min(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
    """The smallest value; with ``dim``, (values, indices) along it; with a tensor, ``minimum``."""
    return extremum(input, dim, keepdim, largest=False)


def amax(input: Tensor, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
    return _amax_amin(input, dim, keepdim, AmaxBackward0, np.max, "amax")


def amin(input: Tensor, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
    return _amax_amin(input, dim, keepdim, AminBackward0, np.min, "amin")


def _amax_amin(
    input: Tensor, dim: int | Sequence[int], keepdim: bool, node_type: type[_Reduction], fn: Any, name: str
) -> Tensor:
    data = input._data
    dims = reduced_dims(dim, data.ndim)
    _nonempty(data, name, dims)
    out = fn(data, axis=dims, keepdims=keepdim)
    return one_input(node_type(dims, data.shape, keepdim), out, input, (input,))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg_extremum(input, dim, keepdim, np.argmax)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg_extremum(input, dim, keepdim, np.argmin)


def _arg_extremum(input: Tensor, dim: int | None, keepdim: bool, fn: Any) -> Tensor:
    data = input._data
    _nonempty(data, fn.__name__, () if dim is None else reduced_dims(dim, data.ndim))
    if dim is None:
        return plain(np.asarray(fn(data), dtype=np.int64))
    return plain(fn(data, axis=normalize_dim(dim, data.ndim), keepdims=keepdim).astype(np.int64))


# ----------------------------------------------------------------------------- prod
class ProdBackward0(_Reduction):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, input: Tensor, result: Tensor) -> Grads:
        g = self.spread(grad)
        if input._data.all():
            return (g * self.kept(result) / input,)  # d Πx / dx_i = Πx / x_i
        # With zeros, Πx / x_i is 0/0 at a zero x_i: there the slope is the product of the
        # others (0 if the group has another zero). Elsewhere Πx / x_i stays right, also as a
        # function of the zero (its derivative is what second derivatives need).
        zero = input == 0
        safe = _where(zero, 1.0, input)
        zeros_in_group = sum(zero, self.dims, keepdim=True)
        at_zero = _where(zeros_in_group == 1, self.kept_product(safe), 0.0)
        return (g * _where(zero, at_zero, self.kept(result) / safe),)

    def kept_product(self, t: Tensor) -> Tensor:
        """Πt over the reduced dims, keeping them as size 1."""
        if len(self.dims) == 1 and len(self.input_shape) > 1:
            return prod(t, self.dims[0], keepdim=True)
        return prod(t).reshape(_keepdim_shape(self.input_shape, self.dims))


class ProdBackward1(ProdBackward0):
    __slots__ = ()


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    data = input._data
    dims = reduced_dims(dim, data.ndim)
    out = np.prod(data, axis=dims, keepdims=keepdim, dtype=np.int64 if data.dtype.kind in "biu" else None)
    node = (ProdBackward0 if dim is None else ProdBackward1)(dims, data.shape, keepdim)
    return one_input(node, out, input, (input,))


# ----------------------------------------------------------------------------- var, std
class _Spread(_Reduction):
    __slots__ = ("correction",)

    def __init__(self, dims: tuple[int, ...], input_shape: tuple[int, ...], keepdim: bool, correction: float) -> None:
        super().__init__(dims, input_shape, keepdim)
        self.correction = correction

    def centered(self, input: Tensor) -> Tensor:
        return input - mean(input, self.dims, keepdim=True)

    def divisor(self) -> np.float64:
        """N - correction, never below 0 (as PyTorch: dividing by 0 gives inf / nan)."""
        return np.float64(builtins.max(0.0, self.count() - self.correction))


class VarBackward0(_Spread):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        # d var = 2 (x - mean) / (N - correction)
        return (self.spread(grad) * self.centered(input) * float(2 / self.divisor()),)


class StdBackward0(_Spread):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, input: Tensor, result: Tensor) -> Grads:
        # d std = d var / (2 std), 0 where std = 0
        std = self.kept(result)
        scaled = self.spread(grad) * self.centered(input) / (float(self.divisor()) * std)
        return (_where(std == 0, 0.0, scaled),)


def var(input: Tensor, dim: Dims = None, *, correction: Number = 1, keepdim: bool = False) -> Tensor:
    return _variance(input, dim, correction, keepdim, VarBackward0)


def std(input: Tensor, dim: Dims = None, *, correction: Number = 1, keepdim: bool = False) -> Tensor:
    return _variance(input, dim, correction, keepdim, StdBackward0)


def _variance(input: Tensor, dim: Dims, correction: Number, keepdim: bool, node_type: type[_Spread]) -> Tensor:
    data = input._data
    if data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = reduced_dims(dim, data.ndim)
    out = np.var(data, axis=dims, ddof=correction, keepdims=keepdim)
    if node_type is StdBackward0:
        out = np.sqrt(out)
    node = node_type(dims, data.shape, keepdim, float(correction))
    return one_input(node, _cast_like(out, data), input, (input,))


def _cast_like(out: Any, data: Array) -> Array:
    return as_array(out).astype(data.dtype, copy=False)


# ----------------------------------------------------------------------------- logsumexp, softmax
class LogsumexpBackward0(_Reduction):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, input: Tensor, result: Tensor) -> Grads:
        return (self.spread(grad) * exp(input - self.kept(result)),)  # the gradient is softmax(x)


def logsumexp(input: Tensor, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
    data = _floating_data(input)
    dims = reduced_dims(dim, data.ndim)
    peak = np.max(data, axis=dims, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0)
    out = np.log(np.sum(np.exp(data - peak), axis=dims, keepdims=True)) + peak
    out = out if keepdim else np.squeeze(out, axis=dims)
    return one_input(LogsumexpBackward0(dims, data.shape, keepdim), out, input, (input,))


class SoftmaxBackward0(Node):
    __slots__ = ("dim",)
    saves_result = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        # J = diag(s) - s sᵀ along dim
        return (result * (grad - sum(grad * result, self.dim, keepdim=True)),)


class LogSoftmaxBackward0(Node):
    __slots__ = ("dim",)
    saves_result = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (grad - exp(result) * sum(grad, self.dim, keepdim=True),)


def _floating_data(input: Tensor) -> Array:
    data = input._data
    return data if data.dtype.kind == "f" else data.astype(_dtype.get_default_dtype().numpy)


def _shifted(input: Tensor, dim: int) -> tuple[Array, int]:
    data = _floating_data(input)
    d = normalize_dim(dim, data.ndim)
    work = data.reshape(1) if data.ndim == 0 else data
    peak = np.max(work, axis=d, keepdims=True, initial=-np.inf)
    return (work - np.where(np.isfinite(peak), peak, 0)).reshape(data.shape), d


def softmax(input: Tensor, dim: int) -> Tensor:
    z, d = _shifted(input, dim)
    e = np.exp(z)
    out = e / np.sum(e, axis=d if z.ndim else None, keepdims=True)
    return one_input(SoftmaxBackward0(d), out, input)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    z, d = _shifted(input, dim)
    out = z - np.log(np.sum(np.exp(z), axis=d if z.ndim else None, keepdims=True))
    return one_input(LogSoftmaxBackward0(d), out, input)


# ----------------------------------------------------------------------------- norm
class LinalgVectorNormBackward0(_Reduction):
    __slots__ = ("p",)
    saves_result = True

    def __init__(self, dims: tuple[int, ...], input_shape: tuple[int, ...], keepdim: bool, p: float) -> None:
        super().__init__(dims, input_shape, keepdim)
        self.p = p

    def vjp(self, grad: Tensor, input: Tensor, result: Tensor) -> Grads:
        p, norm, g = self.p, self.kept(result), self.spread(grad)
        if p == 0:
            return (g * 0.0,)
        if p == 1:
            return (g * sign(input),)
        if p in (math.inf, -math.inf):  # like max/min: ties among the extreme |x| share evenly
            hits = _hits(input.abs(), norm)
            return (_where(hits, g * sign(input) / sum(hits, self.dims, keepdim=True), 0.0),)
        if p == 2:
            return (_where(norm == 0, 0.0, g * input / norm),)  # d |x| = x / |x|, 0 at 0
        # d (Σ|x|^p)^(1/p) = x |x|^(p-2) / |x|_p^(p-1)  (0 at x = 0, where |x|^(p-2) may be inf)
        slope = input * _where(input == 0, 1.0, input.abs()) ** (p - 2) / norm ** (p - 1)
        return (_where((norm == 0) | (input == 0), 0.0, g * slope),)


def norm(input: Tensor, p: Number | str = 2, dim: Dims = None, keepdim: bool = False) -> Tensor:
    if isinstance(p, str):
        if p != "fro":
            raise RuntimeError(f"norm(): unsupported norm type {p!r}")
        p = 2  # the Frobenius norm is the 2-norm of all the elements
    data = _floating_data(input)
    dims = reduced_dims(dim, data.ndim)
    magnitude = np.abs(data)
    if p == math.inf:
        out = np.max(magnitude, axis=dims, keepdims=keepdim)
    elif p == -math.inf:
        out = np.min(magnitude, axis=dims, keepdims=keepdim)
    elif p == 0:
        out = np.sum(magnitude != 0, axis=dims, keepdims=keepdim).astype(data.dtype)
    elif p == 2:
        out = np.sqrt(np.sum(magnitude * magnitude, axis=dims, keepdims=keepdim))
    else:
        out = np.sum(magnitude**p, axis=dims, keepdims=keepdim) ** (1 / p)
    node = LinalgVectorNormBackward0(dims, data.shape, keepdim, float(p))
    return one_input(node, _cast_like(out, data), input, (input,))
