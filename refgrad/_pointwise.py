"""Elementwise operations: arithmetic, unary functions, comparisons, where, clamp.

Each op's forward and its vector-Jacobian product (the ``vjp`` of its node) sit together.
Broadcasting is not undone here: the engine sums each input's gradient back to the
input's shape (see ``_engine``), so a rule may return a gradient of the output's shape.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refgrad import _dtype, _grad_mode
from refgrad._dims import type_name
from refgrad._dtype import Array
from refgrad._node import Grads, Node
from refgrad._recording import as_array, needs_grad, one_input, plain, record
from refgrad._tensor import Number, Tensor

_NUMBER_TYPES = (bool, int, float)


# ----------------------------------------------------------------------------- helpers
def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape two operands broadcast to, with PyTorch's message when they do not."""
    ndim = max(len(a), len(b))
    a = (1,) * (ndim - len(a)) + a
    b = (1,) * (ndim - len(b)) + b
    for i in reversed(range(ndim)):  # PyTorch reports the last mismatching dimension
        m, n = a[i], b[i]
        if m != n and m != 1 and n != 1:
            raise RuntimeError(
                f"The size of tensor a ({m}) must match the size of tensor b ({n}) at non-singleton dimension {i}"
            )
    return tuple(n if m == 1 else m for m, n in zip(a, b))


def _operands(a: Tensor, b: Tensor | Number, op: str) -> tuple[Array, Any, np.dtype[Any]]:
    """The numpy operands and the result dtype (PyTorch's promotion: a Python number never
    widens a float tensor; a 0-d tensor only decides when it is of a higher kind)."""
    ad = a._data
    if isinstance(b, Tensor):
        bd = b._data
        if ad.shape != bd.shape and ad.ndim and bd.ndim:
            broadcast_shapes(ad.shape, bd.shape)
        if ad.dtype is bd.dtype:
            return ad, bd, ad.dtype
        return ad, bd, result_dtype([a, b], []).numpy
    if not isinstance(b, _NUMBER_TYPES):
        raise TypeError(f"{op}(): argument 'other' (position 1) must be Tensor, not {type(b).__name__}")
    if ad.dtype.kind == "f":
        return ad, b, ad.dtype
    return ad, b, result_dtype([a], [b]).numpy


def result_dtype(tensors: list[Tensor], numbers: list[Number]) -> _dtype.dtype:
    """PyTorch's result dtype of an op on ``tensors`` and Python ``numbers``."""
    dims = [t.dtype for t in tensors if t._data.ndim]
    zero_dims = [t.dtype for t in tensors if not t._data.ndim]
    return _dtype.result_type(dims, zero_dims, [_dtype.scalar_dtype(n) for n in numbers])


def _cast(out: Array, dt: np.dtype[Any]) -> Array:
    """``out`` as ``dt`` (numpy may have widened it; a 0-d result may be a numpy scalar,
    which ``plain``/``record`` turn into an array)."""
    if out.dtype is dt:
        return out
    converted: Array = out.astype(dt)
    return converted


def _floating(t: Tensor) -> Array:
    """The input of a floating-point function (exp of an int tensor is float)."""
    data = t._data
    return data if data.dtype.kind == "f" else data.astype(_dtype.get_default_dtype().numpy)


def _scaled_in_place(slope: Array, grad: Tensor) -> Grads:
    """``grad * slope`` for a ``slope`` array this rule just made: multiplied in place, so a
    rule without a graph to build (grad mode off) allocates one array, not one per step."""
    slope *= grad._data
    return (plain(slope),)


def zeros_of(t: Tensor) -> Tensor:
    """A plain tensor of zeros shaped like ``t`` (a gradient that is identically 0)."""
    return Tensor._make(np.zeros_like(t._data))


# ----------------------------------------------------------------------------- arithmetic
class AddBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (grad, grad)


def add(input: Tensor, other: Tensor | Number) -> Tensor:
    a, b, dt = _operands(input, other, "add")
    out = _cast(a + b, dt)
    if not needs_grad(input, other):
        return plain(out)
    return record(AddBackward0(), out, (input, other if isinstance(other, Tensor) else None))


class SubBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (grad, -grad if self.needs(1) else None)


def sub(input: Tensor, other: Tensor | Number) -> Tensor:
    a, b, dt = _operands(input, other, "sub")
    out = _cast(a - b, dt)
    if not needs_grad(input, other):
        return plain(out)
    return record(SubBackward0(), out, (input, other if isinstance(other, Tensor) else None))


class RsubBackward1(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (-grad,)


def rsub(input: Tensor, other: Number) -> Tensor:
    """``other - input`` for a Python number ``other``."""
    a, b, dt = _operands(input, other, "rsub")
    return one_input(RsubBackward1(), _cast(b - a, dt), input)


class MulBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor | None, other: Tensor | Number | None) -> Grads:
        # Each operand is saved only when the other one needs its gradient.
        return (None if other is None else grad * other, None if input is None else grad * input)


def mul(input: Tensor, other: Tensor | Number) -> Tensor:
    a, b, dt = _operands(input, other, "mul")
    out = _cast(a * b, dt)
    if not needs_grad(input, other):
        return plain(out)
    if not isinstance(other, Tensor):
        return record(MulBackward0(), out, (input, None), (None, other))
    saved = (input if other._requires_grad else None, other if input._requires_grad else None)
    return record(MulBackward0(), out, (input, other), saved)


class DivBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor | None, other: Tensor | Number) -> Grads:
        # d(a/b)/da = 1/b;  d(a/b)/db = -a/b²
        return (grad / other, None if input is None else -grad * input / (other * other))


def div(input: Tensor, other: Tensor | Number) -> Tensor:
    a, b, dt = _operands(input, other, "div")
    if dt.kind != "f":
        dt = _dtype.get_default_dtype().numpy
    out = _cast(np.true_divide(a, b), dt)
    if not needs_grad(input, other):
        return plain(out)
    if not isinstance(other, Tensor):
        return record(DivBackward0(), out, (input, None), (None, other))
    return record(DivBackward0(), out, (input, other), (input if other._requires_grad else None, other))


class NegBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (-grad,)


def neg(input: Tensor) -> Tensor:
    return one_input(NegBackward0(), np.negative(input._data), input)


# ----------------------------------------------------------------------------- powers
class PowBackward0(Node):
    """tensor ** number"""

    __slots__ = ("exponent",)

    def __init__(self, exponent: Number) -> None:
        self.exponent = exponent

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        if self.exponent == 0:
            return (zeros_of(input),)  # x**0 is constant, also at x = 0
        return (grad * (self.exponent * input ** (self.exponent - 1)),)  # d x^p = p x^(p-1)


class PowBackward1(Node):
    """tensor ** tensor"""

    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, input: Tensor, exponent: Tensor, result: Tensor) -> Grads:
        # d a^b / da = b a^(b-1) (0 where b = 0);  d a^b / db = a^b log a (0 where a = 0, b >= 0)
        grad_input = _where(exponent == 0, 0.0, grad * exponent * input ** (exponent - 1)) if self.needs(0) else None
        grad_exponent = grad * _where((input == 0) & (exponent >= 0), 0.0, result * log(input)) if self.needs(1) else None
        return (grad_input, grad_exponent)


class PowBackward2(Node):
    """number ** tensor"""

    __slots__ = ("base",)
    saves_result = True

    def __init__(self, base: Number) -> None:
        self.base = base

    def vjp(self, grad: Tensor, exponent: Tensor, result: Tensor) -> Grads:
        if self.base == 0:  # 0^b is 0 for b > 0, 1 at b = 0: no slope from the right
            return (_where(exponent >= 0, 0.0, grad * result * -math.inf),)
        return (grad * result * float(np.log(self.base)),)  # d c^b / db = c^b log c


def pow(input: Tensor | Number, exponent: Tensor | Number) -> Tensor:
    if not isinstance(input, Tensor):
        if not isinstance(exponent, Tensor):
            raise TypeError("pow(): at least one of 'input' and 'exponent' must be a Tensor")
        e, base, dt = _operands(exponent, input, "pow")
        out = _cast(np.power(base, _floating(exponent) if dt.kind == "f" else e), dt)
        return one_input(PowBackward2(input), out, exponent, (exponent,))
    a, b, dt = _operands(input, exponent, "pow")
    out = _cast(np.power(a.astype(dt, copy=False), b), dt)
    if not isinstance(exponent, Tensor):
        return one_input(PowBackward0(exponent), out, input, (input,))
    if not needs_grad(input, exponent):
        return plain(out)
    return record(PowBackward1(), out, (input, exponent), (input, exponent))


def square(input: Tensor) -> Tensor:
    return pow(input, 2)


# ----------------------------------------------------------------------------- unary functions
class ExpBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (grad * result,)  # d exp(x) = exp(x)


def exp(input: Tensor) -> Tensor:
    return one_input(ExpBackward0(), np.exp(_floating(input)), input)


class Expm1Backward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (grad * (result + 1),)  # d (e^x - 1) = e^x


def expm1(input: Tensor) -> Tensor:
    return one_input(Expm1Backward0(), np.expm1(_floating(input)), input)


class LogBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        return (grad / input,)  # d log x = 1/x


def log(input: Tensor) -> Tensor:
    return one_input(LogBackward0(), np.log(_floating(input)), input, (input,))


class Log1PBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        return (grad / (input + 1),)


def log1p(input: Tensor) -> Tensor:
    return one_input(Log1PBackward0(), np.log1p(_floating(input)), input, (input,))


class SqrtBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (grad / (2 * result),)  # d sqrt(x) = 1 / (2 sqrt(x))


def sqrt(input: Tensor) -> Tensor:
    return one_input(SqrtBackward0(), np.sqrt(_floating(input)), input)


class RsqrtBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (-0.5 * grad * result**3,)  # d x^(-1/2) = -x^(-3/2) / 2


def rsqrt(input: Tensor) -> Tensor:
    return one_input(RsqrtBackward0(), 1 / np.sqrt(_floating(input)), input)


class ReciprocalBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (-grad * result * result,)  # d (1/x) = -1/x²


def reciprocal(input: Tensor) -> Tensor:
    return one_input(ReciprocalBackward0(), np.reciprocal(_floating(input)), input)


class SinBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        if not _grad_mode._state.recording:
            return _scaled_in_place(as_array(np.cos(input._data)), grad)
        return (grad * cos(input),)


def sin(input: Tensor) -> Tensor:
    return one_input(SinBackward0(), np.sin(_floating(input)), input, (input,))


class CosBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        return (grad * -sin(input),)


def cos(input: Tensor) -> Tensor:
    return one_input(CosBackward0(), np.cos(_floating(input)), input, (input,))


class TanBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (grad * (1 + result * result),)  # d tan x = 1 + tan² x


def tan(input: Tensor) -> Tensor:
    return one_input(TanBackward0(), np.tan(_floating(input)), input)


class TanhBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        # d tanh x = 1 - tanh² x
        if not _grad_mode._state.recording:
            slope = as_array(result._data * result._data)  # (0-d: numpy returns a scalar)
            return _scaled_in_place(np.subtract(1, slope, out=slope), grad)
        return (grad * (1 - result * result),)


def tanh(input: Tensor) -> Tensor:
    return one_input(TanhBackward0(), np.tanh(_floating(input)), input)


class SigmoidBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        # d σ(x) = σ(x) (1 - σ(x))
        if not _grad_mode._state.recording:
            slope = as_array(np.subtract(1, result._data))
            slope *= result._data
            return _scaled_in_place(slope, grad)
        return (grad * result * (1 - result),)


def sigmoid(input: Tensor) -> Tensor:
    x = _floating(input)
    # the two forms that never overflow: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return one_input(SigmoidBackward0(), out, input)


class ReluBackward0(Node):
    __slots__ = ()
    saves_result = True

    def vjp(self, grad: Tensor, result: Tensor) -> Grads:
        return (_where(result <= 0, 0.0, grad),)  # relu'(0) = 0 (and NaN passes the gradient, as in PyTorch)


def relu(input: Tensor) -> Tensor:
    data = input._data
    return one_input(ReluBackward0(), np.maximum(data, np.zeros((), data.dtype)), input)


class AbsBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        return (grad * sign(input),)  # abs'(0) = sign(0) = 0


def abs(input: Tensor) -> Tensor:
    return one_input(AbsBackward0(), np.abs(input._data), input, (input,))


class _PiecewiseConstant(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (zeros_of(grad),)  # 0 also at the jumps, as PyTorch


class SignBackward0(_PiecewiseConstant):
    __slots__ = ()


class FloorBackward0(_PiecewiseConstant):
    __slots__ = ()


class RoundBackward0(_PiecewiseConstant):
    __slots__ = ()


def floor(input: Tensor) -> Tensor:
    data = input._data
    return one_input(FloorBackward0(), np.floor(data) if data.dtype.kind == "f" else data.copy(), input)


def round(input: Tensor) -> Tensor:
    """Halves to even, as PyTorch (and numpy)."""
    data = input._data
    return one_input(RoundBackward0(), np.round(data) if data.dtype.kind == "f" else data.copy(), input)


def sign(input: Tensor) -> Tensor:
    data = input._data
    signs = np.sign(data) if data.dtype.kind != "f" else np.where(np.isnan(data), 0, np.sign(data)).astype(data.dtype)
    return one_input(SignBackward0(), signs, input)  # sign(NaN) = 0, as in PyTorch


class CloneBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (grad,)


def clone(input: Tensor) -> Tensor:
    return one_input(CloneBackward0(), input._data.copy(), input)


class ToCopyBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (grad,)  # the engine casts it back to the input's dtype


def to(input: Tensor, dtype: _dtype.dtype) -> Tensor:
    """``input`` as ``dtype``: the same tensor when it already is; a copy otherwise
    (differentiable between floating dtypes)."""
    if input._data.dtype is dtype.numpy:
        return input
    out = input._data.astype(dtype.numpy)
    if not dtype.is_floating_point:
        return plain(out)
    return one_input(ToCopyBackward0(), out, input)


# ----------------------------------------------------------------------------- piecewise
class ClampBackward1(Node):
    __slots__ = ("min", "max")

    def __init__(self, min: Number | None, max: Number | None) -> None:
        self.min = min
        self.max = max

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        # slope 1 inside [min, max], boundaries included (PyTorch's convention)
        inside = _compare(input, np.greater_equal, self.min) & _compare(input, np.less_equal, self.max)
        return (_where(inside, grad, 0.0),)


def _compare(t: Tensor, op: Any, bound: Number | None) -> Tensor:
    return plain(np.ones(t._data.shape, bool) if bound is None else op(t._data, bound))


def clamp(input: Tensor, min: Number | None = None, max: Number | None = None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    out = input._data
    if min is not None:
        out = np.maximum(out, min)
    if max is not None:
        out = np.minimum(out, max)
    dt = result_dtype([input], [b for b in (min, max) if b is not None]).numpy
    return one_input(ClampBackward1(min, max), _cast(out, dt), input, (input,))


class ClampMinBackward0(Node):
    __slots__ = ("min",)

    def __init__(self, min: Number) -> None:
        self.min = min

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        return (_where(input >= self.min, grad, 0.0),)


def clamp_min(input: Tensor, min: Number) -> Tensor:
    out = _cast(np.maximum(input._data, min), result_dtype([input], [min]).numpy)
    return one_input(ClampMinBackward0(min), out, input, (input,))


class ClampMaxBackward0(Node):
    __slots__ = ("max",)

    def __init__(self, max: Number) -> None:
        self.max = max

    def vjp(self, grad: Tensor, input: Tensor) -> Grads:
        return (_where(input <= self.max, grad, 0.0),)


def clamp_max(input: Tensor, max: Number) -> Tensor:
    out = _cast(np.minimum(input._data, max), result_dtype([input], [max]).numpy)
    return one_input(ClampMaxBackward0(max), out, input, (input,))


class MaximumBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor, other: Tensor) -> Grads:
        # the larger operand takes the gradient; a tie splits it evenly
        return (
            _tie_split(grad, input, other) if self.needs(0) else None,
            _tie_split(grad, other, input) if self.needs(1) else None,
        )


class MinimumBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, input: Tensor, other: Tensor) -> Grads:
        return (
            _tie_split(grad, other, input) if self.needs(0) else None,
            _tie_split(grad, input, other) if self.needs(1) else None,
        )


def _tie_split(grad: Tensor, winner: Tensor, loser: Tensor) -> Tensor:
    """Half the gradient where they tie, none where ``winner < loser``, all of it elsewhere
    (so, as in PyTorch, a NaN operand takes the gradient)."""
    return _where(winner == loser, grad / 2, _where(winner < loser, 0.0, grad))


def maximum(input: Tensor, other: Tensor) -> Tensor:
    return _binary_extremum(MaximumBackward0(), np.maximum, input, other, "maximum")


def minimum(input: Tensor, other: Tensor) -> Tensor:
    return _binary_extremum(MinimumBackward0(), np.minimum, input, other, "minimum")


def _binary_extremum(node: Node, fn: Any, input: Tensor, other: Tensor, name: str) -> Tensor:
    if not isinstance(other, Tensor):  # no Python number either, as PyTorch
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not {type_name(other)}")
    a, b, dt = _operands(input, other, name)
    out = _cast(fn(a, b), dt)
    if not needs_grad(input, other):
        return plain(out)
    return record(node, out, (input, other), (input, other))


class WhereBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor, condition: Tensor) -> Grads:
        return (
            _where(condition, grad, 0.0) if self.needs(0) else None,
            _where(condition, 0.0, grad) if self.needs(1) else None,
        )


def check_where(*given: object) -> None:
    """PyTorch's error for ``where`` given something else than a tensor or a number after the
    condition (``given``: what the call shows, three for the function, two for the method)."""
    if not all(isinstance(value, (Tensor, *_NUMBER_TYPES)) for value in given[1:]):
        raise TypeError(
            f"where() received an invalid combination of arguments - got ({', '.join(type_name(v) for v in given)}), "
            "but expected one of:\n * (condition: Tensor, input: Tensor | Number, other: Tensor | Number)"
        )


def where(condition: Tensor, input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """``input`` where ``condition`` holds, else ``other``."""
    check_where(condition, input, other)
    return _where(condition, input, other)


def _where(condition: Tensor, input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """``input`` where ``condition`` holds, else ``other``. Both branches are computed, and both
    receive gradient (0 where not taken), so a NaN slope in the untaken branch still shows. (The
    op itself, which the rules call: their operands need no argument check.)"""
    if condition._data.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {condition.dtype.name.capitalize()}")
    shape = condition._data.shape
    for t in (input, other):
        if isinstance(t, Tensor):
            shape = broadcast_shapes(shape, t._data.shape)
    tensors = [t for t in (input, other) if isinstance(t, Tensor)]
    numbers = [n for n in (input, other) if not isinstance(n, Tensor)]
    dt = result_dtype(tensors, numbers).numpy
    x = input._data if isinstance(input, Tensor) else input
    y = other._data if isinstance(other, Tensor) else other
    out = _cast(np.where(condition._data, x, y), dt)
    inputs = (input if isinstance(input, Tensor) else None, other if isinstance(other, Tensor) else None)
    if not any(t is not None and needs_grad(t) for t in inputs):
        return plain(out)
    return record(WhereBackward0(), out, inputs, (condition,))


# ----------------------------------------------------------------------------- comparisons
def _comparison(fn: Any, input: Tensor, other: Tensor | Number, name: str) -> Tensor:
    a, b, _ = _operands(input, other, name)
    return plain(fn(a, b))


def lt(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.less, input, other, "lt")


def le(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.less_equal, input, other, "le")


def gt(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.greater, input, other, "gt")


def ge(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.greater_equal, input, other, "ge")


def eq(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.equal, input, other, "eq")


def ne(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.not_equal, input, other, "ne")


def logical_and(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.logical_and, input, other, "logical_and")


def logical_or(input: Tensor, other: Tensor | Number) -> Tensor:
    return _comparison(np.logical_or, input, other, "logical_or")


def logical_not(input: Tensor) -> Tensor:
    return plain(np.logical_not(input._data))


def _bitwise(fn: Any, name: str, input: Tensor, other: Tensor | Number) -> Tensor:
    """``&``/``|`` on bool and integer tensors (elementwise bits; for bools, and/or)."""
    a, b, dt = _operands(input, other, name)
    if dt.kind not in "biu":
        raise RuntimeError(f'"{name}_cpu" not implemented for \'{_dtype.from_numpy_dtype(dt).scalar_name}\'')
    return plain(_cast(fn(a, b), dt))


def bitwise_and(input: Tensor, other: Tensor | Number) -> Tensor:
    return _bitwise(np.bitwise_and, "bitwise_and", input, other)


def bitwise_or(input: Tensor, other: Tensor | Number) -> Tensor:
    return _bitwise(np.bitwise_or, "bitwise_or", input, other)


def bitwise_not(input: Tensor) -> Tensor:
    if input._data.dtype.kind not in "biu":
        raise RuntimeError(f'"bitwise_not_cpu" not implemented for \'{input.dtype.scalar_name}\'')
    return plain(np.invert(input._data))
