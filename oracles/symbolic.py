"""The symbolic gradient oracle: SymPy differentiation of each op's *forward* meaning.

Every element of every input is its own ``sympy.Symbol`` (never SymPy matrix calculus).
``SYMBOLIC`` gives each op of ``oracles.ops.OPS`` its SymPy forward meaning on numpy object
arrays of SymPy expressions: elementwise ops elementwise with broadcasting, reductions by
adding or multiplying elements, ``matmul`` by sums of products, shape ops by numpy on object
arrays, comparisons as SymPy relationals that ``where`` turns into a ``Piecewise``. No
derivative rule of the engine is used or shared: derivatives come from ``sympy.diff`` of
these forward expressions, and at points where the derivative does not exist, from the
convention table below (custom ``sympy.Function`` classes whose ``fdiff`` states PyTorch's
choice).

How a gradient is computed
--------------------------
A program is traced into straight-line SymPy code: each operation's result elements are
bound to fresh symbols (``v12 = sin(x0_3)``), so an expression never grows with the depth of
the program and SymPy's automatic rewriting cannot reach across operations (it would turn
``exp(log(x))`` into ``x`` and lose PyTorch's nan at ``x < 0``). ``sympy.diff`` gives the
partial derivative of each bound expression with respect to each symbol in it, and the chain
rule accumulates them backwards over the element graph (every partial is a SymPy
expression: no number is computed before the end). Second derivatives (``hessian_vector``)
apply the same to the straight-line code of the gradient. The code is turned into one Python
function by ``sympy.lambdify(..., modules=[<the numeric implementations>, "mpmath"],
cse=<the straight-line code>)`` with a printer that never divides (``x**-1`` at 0 is ``inf``,
as in IEEE arithmetic, not ``ZeroDivisionError``), and evaluated with ``mpmath`` at ``DPS``
(40) significant digits; the results are rounded once to float64.

Numeric semantics are IEEE/PyTorch where mpmath differs: no complex results (``sqrt(-1)``,
``log(-1)``, ``(-8)**(1/3)`` are nan), ``0**-1 = inf``, ``log(0) = -inf``, ``x**0 = 1`` for all x.

Convention table (points where the derivative does not exist: what PyTorch returns)
------------------------------------------------------------------------------------
==========================  ===========================  ============  =================================================
op                          point                        derivative    PyTorch (tools/autograd/derivatives.yaml)
==========================  ===========================  ============  =================================================
relu                        x = 0                        0             threshold_backward: grad where result > 0
relu                        x = nan                      1             threshold_backward: grad unless result <= 0
abs                         x = 0 (and nan)              0             grad * sgn(x), sgn(0) = 0, sign(nan) = 0
sign                        everywhere                   0             zeros_like(grad)
clamp(x, lo, hi)            x = lo, x = hi               1             clamp_backward: (x >= lo) & (x <= hi)
clamp(x, lo, hi)            x < lo, x > hi, x = nan      0             idem; lo > hi gives 0 everywhere
clamp_min(x, lo)            x = lo                       1             where(x >= min, grad, 0)
clamp_max(x, hi)            x = hi                       1             where(x <= max, grad, 0)
maximum(a, b), minimum      a = b                        1/2 each      grad / 2 where a == b
maximum(a, b), minimum      a or b = nan                 1 each        neither mask applies to nan
amax, amin (any dims)       k elements tie               1/k each      scale_grad_by_count(mask == result)
amax, amin                  a nan in the reduced set     nan           mask is empty: grad / 0 * 0
norm(p=inf / -inf)          k elements tie in |x|        sign(x)/k     as amax of abs
pow(x, c) (c a number)      c = 0, any x (also 0)        0             pow_backward: zeros when exponent == 0
pow(x, y) (y a tensor)      y = 0, any x                 d/dx = 0      where(exponent == 0, 0, ...)
pow(x, y) / pow(c, y)       x = 0 and y >= 0             d/dy = 0      pow_backward_exponent mask
pow(x, c)                   x = 0, 0 < c < 1             +inf          c * 0**(c-1)
sqrt                        x = 0                        +inf          grad / (2 * result)
rsqrt, reciprocal, div, log x = 0                        -inf/+inf     IEEE division by zero
std                         all elements equal           0             (grad / (2 result)).masked_fill(result == 0, 0)
var/std                     n - correction <= 0          nan / inf     division by max(0, n - correction)
norm(p), p finite           x = 0 vector                 0             norm_backward: masked_fill(norm == 0, 0)
norm(p), p finite           x_i = 0                      0             sgn(x) |x|^(p-1), masked at x == 0 for p < 1
norm(p=0)                   everywhere                   0             zeros
where(c, a, b)              the branch not taken         0 * d(branch) the untaken branch's nan/inf derivative gives nan
gt, lt, ge, le              everywhere                   none          boolean results; a gradient is not defined
==========================  ===========================  ============  =================================================

Second derivatives: the steps, signs, tie shares and range indicators above are constant
pieces (their derivative is 0, as PyTorch's double backward gives); masked expressions
(``Piecewise``) are differentiated piece by piece, so a masked derivative stays 0 at second
order. PyTorch agrees (relu, abs, clamp, ties, std of equal elements: 0) except where its
backward formula multiplies the mask's 0 by an infinite derivative: the second derivative
of norm at the 0 vector and of pow(x, y) at x = y = 0 are nan in PyTorch, 0 here.

Known limits: inside one operation SymPy still simplifies (``mul(x, 0.0)`` is 0 even where
x is inf, where PyTorch's forward is nan; repeated arguments of one elementwise op are kept
apart by alias symbols, so ``x / x`` stays a division, nan at 0 as in PyTorch). Nonfinite
corner cases follow the forward formula, not PyTorch's result-based backward formulas:
sigmoid'(-inf) is nan here (PyTorch: 0), rsqrt'(-inf) is 0 (PyTorch: nan), and where
PyTorch underflows (sigmoid(-710), expm1'(-710)) the value here is the correctly rounded
subnormal.
"""

from __future__ import annotations

import contextvars
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import mpmath  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import sympy  # type: ignore[import-untyped]
from sympy.printing.pycode import MpmathPrinter  # type: ignore[import-untyped]

from oracles.program import Array, Op, Program, check_inputs, evaluate

ObjectArray: TypeAlias = "npt.NDArray[np.object_]"
"""A numpy array of SymPy expressions (or SymPy booleans, for comparisons)."""
FloatArray: TypeAlias = "npt.NDArray[np.float64]"
SymbolicForward: TypeAlias = "Callable[..., ObjectArray]"
"""``forward(*args, **attrs)``: args are object arrays of SymPy expressions and Python numbers."""

DPS = 40
"""Decimal digits of mpmath's working precision."""

_CHUNK = 128
"""Sums and products with more terms are split into bound partial results (short code lines)."""


class SymbolicUnsupported(ValueError):
    """The symbolic oracle cannot handle this program (an op, an attribute or an output)."""


@dataclass(frozen=True)
class Convention:
    op: str
    point: str
    derivative: str
    pytorch: str


CONVENTIONS: tuple[Convention, ...] = (
    Convention("relu", "x = 0", "0", "threshold_backward passes grad only where result > 0"),
    Convention("relu", "x = nan", "1", "threshold_backward zeroes only where result <= 0"),
    Convention("abs", "x = 0, x = nan", "0", "grad * sgn(x); sgn(0) = 0, sign(nan) = 0"),
    Convention("sign", "everywhere", "0", "zeros_like(grad)"),
    Convention("clamp", "x = min, x = max", "1", "clamp_backward: (x >= min) & (x <= max)"),
    Convention("clamp", "x < min, x > max, nan", "0", "clamp_backward"),
    Convention("clamp_min", "x = min", "1", "where(x >= min, grad, 0)"),
    Convention("clamp_max", "x = max", "1", "where(x <= max, grad, 0)"),
    Convention("maximum/minimum", "a = b", "1/2 to each", "grad / 2 where a == b"),
    Convention("maximum/minimum", "a or b nan", "1 to each", "no mask applies to nan"),
    Convention("amax/amin", "k tied extrema", "1/k to each", "scale_grad_by_count"),
    Convention("amax/amin", "nan in the set", "nan", "empty mask: grad / 0 * 0"),
    Convention("norm p=±inf", "k tied |x|", "sign(x)/k to each", "amax of abs"),
    Convention("pow(x, c)", "c = 0", "0", "pow_backward: zeros when exponent == 0"),
    Convention("pow(x, y)", "y = 0", "d/dx = 0", "where(exponent == 0, 0, ...)"),
    Convention("pow(x, y)", "x = 0, y >= 0", "d/dy = 0", "pow_backward_exponent mask"),
    Convention("sqrt", "x = 0", "+inf", "grad / (2 * result)"),
    Convention("std", "all elements equal", "0", "masked_fill(result == 0, 0)"),
    Convention("norm", "x = 0 vector", "0", "norm_backward: masked_fill(norm == 0, 0)"),
    Convention("norm", "x_i = 0", "0", "sgn(x) |x|^(p-1), masked at x == 0 for p < 1"),
    Convention("norm p=0", "everywhere", "0", "zeros"),
    Convention("where", "untaken branch", "0 * d(branch)", "nan/inf derivative there gives nan"),
)
"""The convention table of the module docstring, as data (for reports and docs)."""


# ---------------------------------------------------------------------------------------------
# Numeric implementations (mpmath, real-valued, IEEE-like at zero, infinity and nan)

_NAN = mpmath.mpf("nan")
_INF = mpmath.mpf("inf")


def _isnan(x: Any) -> bool:
    return bool(mpmath.isnan(x))


def _real(x: Any) -> Any:
    if isinstance(x, mpmath.mpc):
        return x.real if x.imag == 0 else _NAN
    return x


def _cpow(base: Any, exponent: Any) -> Any:
    """``base ** exponent`` as C's ``pow`` (PyTorch's pow of two tensors): real,
    ``0 ** -1 = inf``, ``x ** 0 = 1``, ``(-inf) ** 0.5 = inf``."""
    b, e = mpmath.mpf(base), mpmath.mpf(exponent)
    if e == 0 or b == 1:
        return mpmath.mpf(1)
    if _isnan(b) or _isnan(e):
        return _NAN
    if b == 0:
        return _INF if e < 0 else mpmath.mpf(0)
    if mpmath.isinf(e):
        if b == -1:
            return mpmath.mpf(1)
        return _INF if (abs(b) > 1) == (e > 0) else mpmath.mpf(0)
    integral = e == mpmath.floor(e)
    if b < 0 and not integral:
        if mpmath.isinf(b):  # C: pow(-inf, y) = +inf / +0 for y not an integer
            return _INF if e > 0 else mpmath.mpf(0)
        return _NAN
    return _real(mpmath.power(b, e))


def _rpow(base: Any, exponent: Any) -> Any:
    """A power with a number exponent (SymPy's ``Pow``) as PyTorch computes it: C's ``pow``,
    except that exponents 1/2 and -1/2 are sqrt and rsqrt (nan at -inf)."""
    if mpmath.isinf(base) and base < 0 and abs(mpmath.mpf(exponent)) == 0.5:
        return _NAN
    return _cpow(base, exponent)


def _rlog(x: Any) -> Any:
    x = mpmath.mpf(x)
    if _isnan(x) or x < 0:
        return _NAN
    return -_INF if x == 0 else mpmath.log(x)


def _rlog1p(x: Any) -> Any:
    x = mpmath.mpf(x)
    if _isnan(x) or x < -1:
        return _NAN
    return -_INF if x == -1 else mpmath.log1p(x)


def _max(values: Sequence[Any], largest: bool) -> Any:
    if any(_isnan(v) for v in values):
        return _NAN
    return max(values) if largest else min(values)


def _clamp(x: Any, lo: Any, hi: Any) -> Any:
    if _isnan(x) or _isnan(lo) or _isnan(hi):
        return _NAN
    return min(max(x, lo), hi)


def _one_if(condition: bool) -> Any:
    return mpmath.mpf(1) if condition else mpmath.mpf(0)


# ---------------------------------------------------------------------------------------------
# The convention functions


_NUMERIC: dict[str, Callable[..., Any]] = {}
"""Numeric implementation of every ``NumericFunction`` subclass, by class name."""


class NumericFunction(sympy.Function):  # type: ignore[misc]
    """A SymPy function with a stated derivative (``fdiff``) and a numeric implementation
    (``numeric``, on mpmath numbers). Subclasses register themselves by class name (names
    must be unique); the oracle's lambdified code calls ``numeric``."""

    numeric: ClassVar[Callable[..., Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "numeric" in cls.__dict__:
            _NUMERIC[cls.__name__] = cls.__dict__["numeric"].__func__


class TStep(NumericFunction):
    """relu's derivative: 1 where x > 0 or x is nan (PyTorch zeroes where result <= 0)."""

    numeric = staticmethod(lambda x: _one_if(not x <= 0))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TRelu(NumericFunction):
    numeric = staticmethod(lambda x: _NAN if _isnan(x) else (x if x > 0 else mpmath.mpf(0)))

    def fdiff(self, argindex: int = 1) -> Any:
        return TStep(self.args[0])


class TSign(NumericFunction):
    """sign with sign(0) = 0 and sign(nan) = 0 (PyTorch); derivative 0."""

    numeric = staticmethod(lambda x: mpmath.mpf(0) if _isnan(x) else mpmath.sign(x))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TAbs(NumericFunction):
    numeric = staticmethod(lambda x: abs(mpmath.mpf(x)))

    def fdiff(self, argindex: int = 1) -> Any:
        return TSign(self.args[0])


class TInRange(NumericFunction):
    """clamp's derivative: 1 where lo <= x <= hi (boundaries inside), else 0."""

    numeric = staticmethod(lambda x, lo, hi: _one_if(lo <= x <= hi))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TClamp(NumericFunction):
    """clamp(x, lo, hi) = min(max(x, lo), hi); lo, hi are numbers (±oo when absent)."""

    numeric = staticmethod(_clamp)

    def fdiff(self, argindex: int = 1) -> Any:
        if argindex != 1:
            raise SymbolicUnsupported("clamp with tensor bounds")
        return TInRange(*self.args)


class TTieHalf(NumericFunction):
    """d maximum(a, b) / da: 0 where a < b, 1/2 where a == b, else 1 (also nan)."""

    numeric = staticmethod(lambda a, b: mpmath.mpf(0) if a < b else (mpmath.mpf(0.5) if a == b else mpmath.mpf(1)))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TMaximum(NumericFunction):
    numeric = staticmethod(lambda a, b: _max([a, b], True))

    def fdiff(self, argindex: int = 1) -> Any:
        a, b = self.args
        return TTieHalf(a, b) if argindex == 1 else TTieHalf(b, a)


class TMinimum(NumericFunction):
    numeric = staticmethod(lambda a, b: _max([a, b], False))

    def fdiff(self, argindex: int = 1) -> Any:
        a, b = self.args
        return TTieHalf(b, a) if argindex == 1 else TTieHalf(a, b)


class TTieCount(NumericFunction):
    """``TTieCount(m, *xs)``: how many of ``xs`` equal ``m``; derivative 0."""

    numeric = staticmethod(lambda m, *xs: mpmath.mpf(sum(1 for x in xs if x == m)))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TTieShare(NumericFunction):
    """``TTieShare(x, m, count)``: x's share of the derivative of an extremum ``m`` reached
    by ``count`` elements: 1/count where x == m, else 0; nan where m is nan. Derivative 0."""

    numeric = staticmethod(lambda x, m, count: _NAN if _isnan(m) else (1 / mpmath.mpf(count) if x == m else mpmath.mpf(0)))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TAMax(NumericFunction):
    """The maximum of its arguments (nan if any is nan); k tied maxima share the derivative
    (1/k each, PyTorch's amax)."""

    numeric = staticmethod(lambda *xs: _max(xs, True))

    def fdiff(self, argindex: int = 1) -> Any:
        return TTieShare(self.args[argindex - 1], self, _tie_count(self))


class TAMin(NumericFunction):
    numeric = staticmethod(lambda *xs: _max(xs, False))

    def fdiff(self, argindex: int = 1) -> Any:
        return TTieShare(self.args[argindex - 1], self, _tie_count(self))


class TPow(NumericFunction):
    """base ** exponent with a tensor exponent, and PyTorch's masks: d/dbase = 0 where
    exponent == 0; d/dexponent = 0 where base == 0 and exponent >= 0."""

    numeric = staticmethod(_cpow)

    def fdiff(self, argindex: int = 1) -> Any:
        b, e = self.args
        if argindex == 1:
            return sympy.Piecewise((0, sympy.Eq(e, 0, evaluate=False)), (e * TPow(b, e - 1), True))
        zero_base = sympy.And(sympy.Eq(b, 0, evaluate=False), sympy.Ge(e, 0, evaluate=False))
        return sympy.Piecewise((0, zero_base), (self * sympy.log(b), True))


class TRoot(NumericFunction):
    """s ** (1/p) for the p-norm and std (p = 2): derivative masked to 0 where s == 0."""

    numeric = staticmethod(lambda s, p: _rpow(s, 1 / mpmath.mpf(p)))

    def fdiff(self, argindex: int = 1) -> Any:
        s, p = self.args
        if argindex != 1:
            raise SymbolicUnsupported("a norm with a tensor order p")
        slope = sympy.Pow(p, -1) * sympy.Pow(s, sympy.Pow(p, -1) - 1)
        return sympy.Piecewise((0, sympy.Eq(s, 0, evaluate=False)), (slope, True))


class TAbsPow(NumericFunction):
    """|x| ** p for the p-norm: derivative p sign(x) |x|**(p-1), masked to 0 at x == 0."""

    numeric = staticmethod(lambda x, p: _rpow(abs(mpmath.mpf(x)), p))

    def fdiff(self, argindex: int = 1) -> Any:
        x, p = self.args
        if argindex != 1:
            raise SymbolicUnsupported("a norm with a tensor order p")
        return sympy.Piecewise((0, sympy.Eq(x, 0, evaluate=False)), (p * TSign(x) * TAbsPow(x, p - 1), True))


class TNonzero(NumericFunction):
    """1 where x != 0 (nan counts), for norm(p=0); derivative 0."""

    numeric = staticmethod(lambda x: _one_if(x != 0))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.S.Zero


class TExpm1(NumericFunction):
    numeric = staticmethod(lambda x: mpmath.expm1(x))

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.exp(self.args[0])


class TLog1p(NumericFunction):
    numeric = staticmethod(_rlog1p)

    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.Pow(1 + self.args[0], -1)


# ---------------------------------------------------------------------------------------------
# Tracing: the builder that binds results to symbols


class _Builder:
    """Straight-line SymPy code: ``(symbol, expression)`` assignments in evaluation order."""

    def __init__(self) -> None:
        self.assignments: list[tuple[Any, Any]] = []
        self.count = 0
        self.shared: dict[Any, Any] = {}

    def symbol(self, prefix: str) -> Any:
        self.count += 1
        return sympy.Symbol(f"{prefix}{self.count}", real=True)

    def bind(self, expr: Any, prefix: str = "v") -> Any:
        if isinstance(expr, sympy.Symbol):
            return expr
        symbol = self.symbol(prefix)
        self.assignments.append((symbol, expr))
        return symbol

    def bind_shared(self, key: Any, make: Callable[[], Any]) -> Any:
        """A symbol bound to ``make()``, once per ``key``."""
        if key not in self.shared:
            self.shared[key] = self.bind(make(), "s")
        return self.shared[key]

    def alias(self, symbol: Any) -> Any:
        """A new symbol equal to ``symbol`` (keeps repeated arguments of one op apart)."""
        alias = self.symbol("a")
        self.assignments.append((alias, symbol))
        return alias


_BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar("symbolic_builder", default=None)


def _bind(expr: Any) -> Any:
    """Inside a trace: a symbol bound to ``expr``; outside: ``expr`` itself."""
    builder = _BUILDER.get()
    return expr if builder is None else builder.bind(expr)


def _tie_count(extremum: Any) -> Any:
    """How many arguments of ``extremum`` (an ``TAMax``/``TAMin``) equal it; inside a trace
    one bound symbol, shared by the derivatives of all the arguments."""
    builder = _BUILDER.get()
    if builder is None:
        return TTieCount(extremum, *extremum.args)
    return builder.bind_shared(("tie count", extremum), lambda: TTieCount(extremum, *extremum.args))


def _bind_apart(expr: Any) -> Any:
    """Like ``_bind``, but always a new symbol (an alias for a bare symbol), so that SymPy
    cannot cancel it against the elements it was computed from (``x - mean`` with n = 1)."""
    builder = _BUILDER.get()
    if builder is None:
        return expr
    return builder.alias(expr) if isinstance(expr, sympy.Symbol) else builder.bind(expr)


def _opaque(value: Any) -> Any:
    """A constant SymPy must not fold (0 as a divisor, inf, nan): a bound symbol in a trace."""
    builder = _BUILDER.get()
    return value if builder is None else builder.bind(value, "c")


def _is_boolean(value: Any) -> bool:
    return isinstance(value, sympy.logic.boolalg.Boolean) and not isinstance(value, sympy.Symbol)


def _sym(value: object) -> Any:
    """A program's Python number (or a SymPy value) as a SymPy value: floats exactly, as
    the rational of their binary value."""
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number):
            return sympy.Rational(*number.as_integer_ratio())
        return _opaque(sympy.nan if math.isnan(number) else (sympy.oo if number > 0 else -sympy.oo))
    raise SymbolicUnsupported(f"cannot use {value!r} ({type(value).__name__}) as a number")


def _numeric(value: object) -> Any:
    """An arithmetic operand: booleans (comparison results) count as 1 and 0."""
    value = _sym(value)
    if _is_boolean(value):
        return sympy.Piecewise((1, value), (0, True))
    return value


def _array(value: object) -> ObjectArray:
    if isinstance(value, np.ndarray):
        return value.astype(object, copy=False)
    out = np.empty((), dtype=object)
    out[()] = _sym(value)
    return out


def _elements(array: ObjectArray) -> Iterator[Any]:
    return iter(array.reshape(-1).tolist())


def _separate(values: Sequence[Any]) -> list[Any]:
    """Replace repeated symbols among one element's arguments by aliases (in a trace)."""
    builder = _BUILDER.get()
    if builder is None or len(values) < 2:
        return list(values)
    seen: set[Any] = set()
    out = []
    for value in values:
        if isinstance(value, sympy.Symbol):
            if value in seen:
                value = builder.alias(value)
            seen.add(value)
        out.append(value)
    return out


def elementwise(function: Callable[..., Any], *args: object, numeric: bool = True) -> ObjectArray:
    """``function`` applied to the elements of ``args`` (arrays and numbers), with numpy
    broadcasting; operands are made numeric (booleans as 0/1) unless ``numeric=False``."""
    arrays = [_array(a) for a in args]
    broadcast = np.broadcast(*arrays)
    out = np.empty(broadcast.shape, dtype=object)
    flat = out.reshape(-1)
    convert = _numeric if numeric else _sym
    for position, values in enumerate(broadcast):
        flat[position] = function(*_separate([convert(v) for v in values]))
    return out


def _add_all(terms: Sequence[Any]) -> Any:
    if len(terms) > _CHUNK and _BUILDER.get() is not None:
        return _add_all([_bind(sympy.Add(*terms[i : i + _CHUNK])) for i in range(0, len(terms), _CHUNK)])
    return sympy.Add(*terms)


def _mul_all(factors: Sequence[Any]) -> Any:
    if len(factors) > _CHUNK and _BUILDER.get() is not None:
        return _mul_all([_bind(sympy.Mul(*factors[i : i + _CHUNK])) for i in range(0, len(factors), _CHUNK)])
    return sympy.Mul(*factors)


# ---------------------------------------------------------------------------------------------
# The forward table


def _int(value: object, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SymbolicUnsupported(f"{what} must be an integer, not {value!r}")
    if float(value) != int(value):
        raise SymbolicUnsupported(f"{what} must be an integer, not {value!r}")
    return int(value)


def _ints(value: object, what: str) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(_int(v, what) for v in value)
    return (_int(value, what),)


def _axis(dim: object, ndim: int) -> int:
    d = _int(dim, "dim")
    if not -max(ndim, 1) <= d < max(ndim, 1):
        raise SymbolicUnsupported(f"dim {d} is out of range for {ndim} dimensions")
    return d % max(ndim, 1)


def _reduced_dims(dim: object, ndim: int) -> tuple[int, ...]:
    """Normalized reduced dims; ``None`` and ``()`` reduce all (PyTorch)."""
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = tuple(_axis(d, ndim) for d in _ints(dim, "dim"))
    if len(set(dims)) != len(dims):
        raise SymbolicUnsupported(f"dim {dim} repeats a dimension")
    return tuple(d for d in dims if d < ndim)  # a 0-d tensor accepts dim 0 / -1


def _reduce(x: object, dim: object, keepdim: object, combine: Callable[[list[Any]], Any]) -> ObjectArray:
    """``combine`` of the elements of each reduced group (as a list), numeric operands."""
    array = _array(x)
    dims = _reduced_dims(dim, array.ndim)
    kept = [d for d in range(array.ndim) if d not in dims]
    moved = np.transpose(array, kept + list(dims))
    kept_shape = tuple(array.shape[d] for d in kept)
    size = math.prod(array.shape[d] for d in dims)
    rows = moved.reshape(kept_shape + (size,))
    out = np.empty(kept_shape, dtype=object)
    for index in np.ndindex(kept_shape):
        out[index] = combine([_numeric(v) for v in rows[index].tolist()])
    if keepdim:
        out = out.reshape(tuple(1 if d in dims else n for d, n in enumerate(array.shape)))
    return out


def _nonempty(name: str) -> Callable[[list[Any]], list[Any]]:
    def check(row: list[Any]) -> list[Any]:
        if not row:
            raise SymbolicUnsupported(f"{name} of an empty dimension")
        return row

    return check


def _pow(base: Any, exponent: Any) -> Any:
    """``base ** exponent``: SymPy's power for a number exponent (so ``x**0`` is the constant
    1, PyTorch's zero gradient), ``TPow`` (PyTorch's masks) for a tensor exponent."""
    if exponent.is_Number and not base.is_Number:
        return sympy.Pow(base, exponent)
    if base.is_Number:
        base = _opaque(base)
    return TPow(base, exponent)


def _recip(x: Any) -> Any:
    return _pow(x, sympy.Integer(-1))


def _unary(function: Callable[[Any], Any]) -> SymbolicForward:
    return lambda x: elementwise(function, x)


def _binary(function: Callable[[Any, Any], Any]) -> SymbolicForward:
    return lambda a, b: elementwise(function, a, b)


def _clamp_forward(x: object, min: object = None, max: object = None) -> ObjectArray:
    if min is None and max is None:
        raise SymbolicUnsupported("clamp needs at least one of min and max")
    for bound in (min, max):
        if isinstance(bound, np.ndarray):
            raise SymbolicUnsupported("clamp with tensor bounds")
    lo = -sympy.oo if min is None else _sym(min)
    hi = sympy.oo if max is None else _sym(max)
    return elementwise(lambda v: TClamp(v, lo, hi), x)


def _where(condition: object, x: object, y: object) -> ObjectArray:
    def choose(c: Any, a: Any, b: Any) -> Any:
        if not _is_boolean(c):
            c = sympy.Ne(c, 0)
        if c is sympy.true:
            return _numeric(a)
        if c is sympy.false:
            return _numeric(b)
        return sympy.Piecewise((_numeric(a), c), (_numeric(b), True))

    return elementwise(choose, condition, x, y, numeric=False)


def _sum(x: object, dim: object = None, keepdim: object = False) -> ObjectArray:
    return _reduce(x, dim, keepdim, _add_all)


def _mean(x: object, dim: object = None, keepdim: object = False) -> ObjectArray:
    return _reduce(x, dim, keepdim, lambda row: _add_all(row) * sympy.Rational(1, len(row)) if row else _opaque(sympy.nan))


def _amax(x: object, dim: object = (), keepdim: object = False) -> ObjectArray:
    return _reduce(x, dim, keepdim, lambda row: TAMax(*_nonempty("amax")(row)))


def _amin(x: object, dim: object = (), keepdim: object = False) -> ObjectArray:
    return _reduce(x, dim, keepdim, lambda row: TAMin(*_nonempty("amin")(row)))


def _prod(x: object, dim: object = None, keepdim: object = False) -> ObjectArray:
    return _reduce(x, dim, keepdim, _mul_all)


def _correction(correction: object, unbiased: object) -> Any:
    if unbiased is not None:
        return sympy.Integer(1 if unbiased else 0)
    return _sym(correction)


def _variance(row: list[Any], correction: Any) -> Any:
    mean = _bind_apart(_add_all(row) * sympy.Rational(1, len(row))) if row else _opaque(sympy.nan)
    squares = _add_all([(v - mean) ** 2 for v in row])
    divisor = sympy.Max(0, len(row) - correction)
    return squares * (_recip(_opaque(sympy.S.Zero)) if divisor == 0 else sympy.Pow(divisor, -1))


def _var(x: object, dim: object = None, correction: object = 1, keepdim: object = False, unbiased: object = None) -> ObjectArray:
    c = _correction(correction, unbiased)
    return _reduce(x, dim, keepdim, lambda row: _variance(row, c))


def _std(x: object, dim: object = None, correction: object = 1, keepdim: object = False, unbiased: object = None) -> ObjectArray:
    c = _correction(correction, unbiased)
    return _reduce(x, dim, keepdim, lambda row: TRoot(_bind(_variance(row, c)), 2))


def _logsumexp(x: object, dim: object, keepdim: object = False) -> ObjectArray:
    return _reduce(x, dim, keepdim, lambda row: sympy.log(_bind(_add_all([sympy.exp(v) for v in _nonempty("logsumexp")(row)]))))


def _softmax_parts(x: object, dim: object) -> tuple[ObjectArray, ObjectArray]:
    array = _array(x)
    axis = _axis(dim, array.ndim) if array.ndim else None
    total = _reduce(array, axis, True, lambda row: _bind(_add_all([sympy.exp(v) for v in row])))
    return array, total


def _softmax(x: object, dim: object, dtype: object = None) -> ObjectArray:
    if dtype is not None:
        raise SymbolicUnsupported("softmax with a dtype")
    array, total = _softmax_parts(x, dim)
    return elementwise(lambda v, s: sympy.exp(v) * _recip(s), array, total)


def _log_softmax(x: object, dim: object, dtype: object = None) -> ObjectArray:
    if dtype is not None:
        raise SymbolicUnsupported("log_softmax with a dtype")
    array, total = _softmax_parts(x, dim)
    return elementwise(lambda v, s: v - sympy.log(s), array, total)


def _norm(x: object, p: object = 2, dim: object = None, keepdim: object = False) -> ObjectArray:
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise SymbolicUnsupported(f"norm with p={p!r}")
    order = float(p)
    if order == math.inf:
        return _reduce(x, dim, keepdim, lambda row: TAMax(*[_bind(TAbs(v)) for v in _nonempty("norm")(row)]))
    if order == -math.inf:
        return _reduce(x, dim, keepdim, lambda row: TAMin(*[_bind(TAbs(v)) for v in _nonempty("norm")(row)]))
    if order == 0:
        return _reduce(x, dim, keepdim, lambda row: _add_all([TNonzero(v) for v in row]))
    if order == 1:
        return _reduce(x, dim, keepdim, lambda row: _add_all([TAbs(v) for v in row]))
    q = _sym(order)
    if order == 2:
        return _reduce(x, dim, keepdim, lambda row: TRoot(_bind(_add_all([v**2 for v in row])), q))
    return _reduce(x, dim, keepdim, lambda row: TRoot(_bind(_add_all([TAbsPow(v, q) for v in row])), q))


def _matmul(a: object, b: object) -> ObjectArray:
    left, right = _array(a), _array(b)
    if left.ndim == 0 or right.ndim == 0:
        raise SymbolicUnsupported("matmul of a 0-d tensor")
    lhs = left[None, :] if left.ndim == 1 else left
    rhs = right[:, None] if right.ndim == 1 else right
    if lhs.shape[-1] != rhs.shape[-2]:
        raise SymbolicUnsupported(f"matmul shapes {list(left.shape)} and {list(right.shape)} do not match")
    products = elementwise(lambda u, v: u * v, lhs[..., :, :, None], rhs[..., None, :, :])  # (..., n, k, m)
    out = _reduce(products, products.ndim - 2, False, _add_all)
    if left.ndim == 1:
        out = out[..., 0, :]
    if right.ndim == 1:
        out = out[..., 0]
    return np.asarray(out, dtype=object)


def _sizes(positional: tuple[object, ...], keyword: object, what: str) -> tuple[int, ...]:
    if keyword is not None:
        if positional:
            raise SymbolicUnsupported(f"{what} given twice")
        return _ints(keyword, what)
    if len(positional) == 1 and isinstance(positional[0], (list, tuple)):
        return _ints(positional[0], what)
    return tuple(_int(v, what) for v in positional)


def _reshape(x: object, *shape: object, **attrs: object) -> ObjectArray:
    return np.reshape(_array(x), _sizes(shape, attrs.pop("shape", None), "shape"))


def _transpose(x: object, dim0: object, dim1: object) -> ObjectArray:
    array = _array(x)
    if array.ndim == 0:
        return array
    return np.swapaxes(array, _axis(dim0, array.ndim), _axis(dim1, array.ndim))


def _permute(x: object, *dims: object, **attrs: object) -> ObjectArray:
    array = _array(x)
    axes = tuple(_axis(d, array.ndim) for d in _sizes(dims, attrs.pop("dims", None), "dims"))
    return np.transpose(array, axes)


def _flatten(x: object, start_dim: object = 0, end_dim: object = -1) -> ObjectArray:
    array = _array(x)
    if array.ndim == 0:
        return np.reshape(array, (1,))
    start, end = _axis(start_dim, array.ndim), _axis(end_dim, array.ndim)
    return np.reshape(array, array.shape[:start] + (-1,) + array.shape[end + 1 :])


def _t(x: object) -> ObjectArray:
    array = _array(x)
    if array.ndim > 2:
        raise SymbolicUnsupported(f"t() expects a tensor with <= 2 dimensions, not {array.ndim}")
    return np.transpose(array)


def _unsqueeze(x: object, dim: object) -> ObjectArray:
    array = _array(x)
    d = _int(dim, "dim")
    if not -(array.ndim + 1) <= d <= array.ndim:
        raise SymbolicUnsupported(f"dim {d} is out of range for unsqueeze of {array.ndim} dimensions")
    return np.expand_dims(array, d % (array.ndim + 1))


def _squeeze(x: object, dim: object = None) -> ObjectArray:
    array = _array(x)
    if dim is None:
        return np.squeeze(array)
    dims = tuple(d for d in (_axis(d, array.ndim) for d in _ints(dim, "dim")) if array.ndim and array.shape[d] == 1)
    return np.squeeze(array, dims)


def _expand(x: object, *size: object, **attrs: object) -> ObjectArray:
    array = _array(x)
    keyword = attrs.pop("size", None)
    keyword = attrs.pop("sizes", None) if keyword is None else keyword
    sizes = _sizes(size, keyword, "size")
    offset = len(sizes) - array.ndim
    if offset < 0:
        raise SymbolicUnsupported(f"expand to {list(sizes)} has fewer dimensions than {list(array.shape)}")
    target = tuple(array.shape[i - offset] if s == -1 and i >= offset else s for i, s in enumerate(sizes))
    return np.broadcast_to(array, target).copy()


def _flip(x: object, dims: object) -> ObjectArray:
    array = _array(x)
    return np.flip(array, tuple(_axis(d, array.ndim) for d in _ints(dims, "dims"))) if array.ndim else array


def _select(x: object, dim: object, index: object) -> ObjectArray:
    array = _array(x)
    if array.ndim == 0:
        raise SymbolicUnsupported("select() cannot be applied to a 0-dim tensor")
    d, i = _axis(dim, array.ndim), _int(index, "index")
    if not -array.shape[d] <= i < array.shape[d]:
        raise SymbolicUnsupported(f"index {i} is out of range for dimension {d} of size {array.shape[d]}")
    return _array(np.take(array, i, axis=d))


def _narrow(x: object, dim: object, start: object, length: object) -> ObjectArray:
    array = _array(x)
    if array.ndim == 0:
        raise SymbolicUnsupported("narrow() cannot be applied to a 0-dim tensor")
    d, begin, count = _axis(dim, array.ndim), _int(start, "start"), _int(length, "length")
    begin = begin % array.shape[d] if begin < 0 else begin
    if count < 0 or begin + count > array.shape[d]:
        raise SymbolicUnsupported(f"start ({begin}) + length ({count}) exceeds dimension size ({array.shape[d]})")
    return array[(slice(None),) * d + (slice(begin, begin + count),)]


def _cat(*xs: object, dim: object = 0) -> ObjectArray:
    arrays = [_array(x) for x in xs]
    return np.concatenate(arrays, axis=_axis(dim, arrays[0].ndim))


def _stack(*xs: object, dim: object = 0) -> ObjectArray:
    arrays = [_array(x) for x in xs]
    d = _int(dim, "dim")
    return np.stack(arrays, axis=d % (arrays[0].ndim + 1))


SYMBOLIC: dict[str, SymbolicForward] = {
    "add": _binary(lambda a, b: a + b),
    "sub": _binary(lambda a, b: a - b),
    "mul": _binary(lambda a, b: a * b),
    "div": _binary(lambda a, b: a * _recip(b)),
    "pow": _binary(_pow),
    "neg": _unary(lambda x: -x),
    "matmul": _matmul,
    "mm": _matmul,
    "mv": _matmul,
    "bmm": _matmul,
    "dot": _matmul,
    "outer": lambda a, b: _matmul(_array(a)[:, None], _array(b)[None, :]),
    "exp": _unary(sympy.exp),
    "expm1": _unary(TExpm1),
    "log": _unary(sympy.log),
    "log1p": _unary(TLog1p),
    "sqrt": _unary(lambda x: _pow(x, sympy.S.Half)),
    "rsqrt": _unary(lambda x: _pow(x, -sympy.S.Half)),
    "reciprocal": _unary(_recip),
    "sin": _unary(sympy.sin),
    "cos": _unary(sympy.cos),
    "tan": _unary(sympy.tan),
    "tanh": _unary(sympy.tanh),
    "sigmoid": _unary(lambda x: _recip(1 + sympy.exp(-x))),
    "relu": _unary(TRelu),
    "abs": _unary(TAbs),
    "sign": _unary(TSign),
    "square": _unary(lambda x: _pow(x, sympy.Integer(2))),
    "clamp": _clamp_forward,
    "clamp_min": lambda x, min: _clamp_forward(x, min=min),
    "clamp_max": lambda x, max: _clamp_forward(x, max=max),
    "maximum": _binary(TMaximum),
    "minimum": _binary(TMinimum),
    "where": _where,
    "gt": _binary(lambda a, b: sympy.Gt(a, b)),
    "lt": _binary(lambda a, b: sympy.Lt(a, b)),
    "ge": _binary(lambda a, b: sympy.Ge(a, b)),
    "le": _binary(lambda a, b: sympy.Le(a, b)),
    "sum": _sum,
    "mean": _mean,
    "amax": _amax,
    "amin": _amin,
    "prod": _prod,
    "var": _var,
    "std": _std,
    "logsumexp": _logsumexp,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "norm": _norm,
    "reshape": _reshape,
    "transpose": _transpose,
    "permute": _permute,
    "t": _t,
    "clone": lambda x: _array(x).copy(),
    "flatten": _flatten,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "expand": _expand,
    "flip": _flip,
    "select": _select,
    "narrow": _narrow,
    "cat": _cat,
    "stack": _stack,
}
"""The SymPy forward meaning of every op of ``oracles.ops.OPS``."""


# ---------------------------------------------------------------------------------------------
# Programs to straight-line SymPy code


def input_symbols(program: Program) -> dict[str, ObjectArray]:
    """One real ``Symbol`` per input element (``x<input>_<flat index>``), in the input's shape."""
    out = {}
    for k, spec in enumerate(program.inputs):
        size = math.prod(spec.shape)
        array = np.empty(size, dtype=object)
        for j in range(size):
            array[j] = sympy.Symbol(f"x{k}_{j}", real=True)
        out[spec.name] = array.reshape(spec.shape)
    return out


def _apply(table: Mapping[str, SymbolicForward], op: Op, args: list[Any]) -> ObjectArray:
    function = table.get(op.name)
    if function is None:
        raise SymbolicUnsupported(f"the symbolic oracle has no meaning for op {op.name!r}")
    try:
        result = function(*args, **op.kwargs())
    except SymbolicUnsupported as error:
        raise SymbolicUnsupported(f"{op.name}: {error}") from error
    except (TypeError, ValueError, IndexError) as error:
        raise SymbolicUnsupported(f"{op.name} cannot be applied to these arguments: {error}") from error
    if not isinstance(result, np.ndarray):
        result = _array(result)
    return np.asarray(result, dtype=object)


def expressions(program: Program, table: Mapping[str, SymbolicForward] = SYMBOLIC) -> ObjectArray:
    """The program's output as whole SymPy expressions of ``input_symbols(program)`` (no
    intermediate symbols: for display and cross-checks; large for deep programs)."""
    symbols = input_symbols(program)
    token = _BUILDER.set(None)
    try:
        return np.asarray(evaluate(program, symbols, lambda op, args: _apply(table, op, args)), dtype=object)
    finally:
        _BUILDER.reset(token)


@dataclass
class _Trace:
    builder: _Builder
    inputs: list[Any]
    """The input symbols, flat, in program order."""
    output: ObjectArray


def _trace(program: Program, table: Mapping[str, SymbolicForward]) -> _Trace:
    builder = _Builder()
    symbols = input_symbols(program)

    def apply(op: Op, args: list[Any]) -> ObjectArray:
        result = _apply(table, op, args)
        flat = result.reshape(-1)
        for i, value in enumerate(flat.tolist()):
            if not _is_boolean(value):
                flat[i] = builder.bind(_sym(value))
        return result

    token = _BUILDER.set(builder)
    try:
        output = np.asarray(evaluate(program, symbols, apply), dtype=object)
    finally:
        _BUILDER.reset(token)
    inputs = [s for spec in program.inputs for s in _elements(symbols[spec.name])]
    return _Trace(builder, inputs, output)


def _function_partials(term: Any) -> list[tuple[Any, Any]] | None:
    """For a ``NumericFunction`` of symbols and numbers: its ``fdiff`` by argument position
    (what ``sympy.diff`` computes, without its O(arguments) work per symbol)."""
    if not isinstance(term, NumericFunction) or not all(a.is_Symbol or a.is_Number for a in term.args):
        return None
    partials: dict[Any, list[Any]] = {}
    for position, argument in enumerate(term.args):
        if argument.is_Symbol:
            partials.setdefault(argument, []).append(term.fdiff(position + 1))
    return [(u, sympy.Add(*ds)) for u, ds in partials.items()]


def _partials(symbol: Any, expr: Any) -> list[tuple[Any, Any]]:
    """``(u, d expr / d u)`` for the symbols u of ``expr`` (by ``sympy.diff``), where
    ``expr`` itself inside a derivative is replaced by the ``symbol`` it is bound to."""
    out = []
    for term in expr.args if expr.is_Add else (expr,):
        fast = _function_partials(term)
        pairs = fast if fast is not None else [(u, None) for u in sorted(term.free_symbols, key=str)]
        for u, d in pairs:
            if d is None:
                d = sympy.diff(term, u)
            if d == 0:
                continue
            if d.has(sympy.Derivative, sympy.Subs):
                raise SymbolicUnsupported(f"SymPy cannot differentiate {term}")
            if not expr.is_Atom:
                d = d.xreplace({expr: symbol})
            out.append((u, d))
    return out


def _reverse(builder: _Builder, seeds: list[tuple[Any, Any]], wrt: list[Any], prefix: str) -> list[Any]:
    """The derivatives of ``sum(seed value * seed symbol)`` with respect to ``wrt``: partial
    derivatives accumulated backwards over the builder's assignments (bound to new symbols)."""
    contributions: dict[Any, list[Any]] = {}
    for symbol, value in seeds:
        contributions.setdefault(symbol, []).append(value)
    for symbol, expr in reversed(list(builder.assignments)):
        terms = contributions.pop(symbol, None)
        if not terms:
            continue
        total = _add_all(terms)
        if total == 0:
            continue
        adjoint = builder.bind(total, prefix)
        for u, d in _partials(symbol, expr):
            contributions.setdefault(u, []).append(adjoint * d)
    return [builder.bind(_add_all(contributions.get(x, [])), prefix) for x in wrt]


# ---------------------------------------------------------------------------------------------
# Numeric evaluation


class _Printer(MpmathPrinter):  # type: ignore[misc]
    """mpmath code that never divides: powers go through ``_rpow`` (``0**-1 = inf``)."""

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:
        return f"_rpow({self._print(expr.base)}, {self._print(expr.exp)})"

    def _print_Mul(self, expr: Any) -> str:
        return "*".join(f"({self._print(a)})" for a in expr.args)

    def _print_Add(self, expr: Any, order: Any = None) -> str:
        return " + ".join(f"({self._print(a)})" for a in expr.args)


def _namespace() -> dict[str, Any]:
    return {**_NUMERIC, "_rpow": _rpow, "log": _rlog}


def _live(assignments: list[tuple[Any, Any]], outputs: list[Any]) -> list[tuple[Any, Any]]:
    """The assignments the outputs depend on, in order."""
    needed: set[Any] = set()
    for value in outputs:
        needed |= value.free_symbols
    kept = []
    for symbol, expr in reversed(assignments):
        if symbol in needed:
            kept.append((symbol, expr))
            needed |= expr.free_symbols
    kept.reverse()
    return kept


Compiled: TypeAlias = "Callable[..., list[Any]]"


def _lambdify(args: list[Any], assignments: list[tuple[Any, Any]], outputs: list[Any]) -> Compiled:
    code = _live(assignments, outputs)
    names = list(_namespace())
    printer = _Printer(
        {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True, "user_functions": {n: n for n in names}}
    )
    function: Compiled = sympy.lambdify(
        args,
        list(outputs),
        modules=[_namespace(), "mpmath"],
        printer=printer,
        cse=lambda _: (code, list(outputs)),
        docstring_limit=0,
    )
    return function


def _evaluate(function: Compiled, arguments: Sequence[float], dps: int) -> list[float]:
    with mpmath.workdps(dps):
        try:
            results = function(*[mpmath.mpf(float(a)) for a in arguments])
        except NameError as error:  # a SymPy function without a numeric implementation
            raise SymbolicUnsupported(f"no numeric implementation: {error}") from error
        return [_to_float(r) for r in results]


def _to_float(value: Any) -> float:
    if isinstance(value, mpmath.mpc):
        return float(value.real) if value.imag == 0 else math.nan
    if isinstance(value, (bool, np.bool_)) or _is_boolean(value):
        return 1.0 if bool(value) else 0.0
    return float(value)


# ---------------------------------------------------------------------------------------------
# Compiled programs (cached for the default table)


@dataclass
class _Function:
    function: Compiled
    output_shape: tuple[int, ...]


def _forward_code(program: Program, table: Mapping[str, SymbolicForward]) -> _Function:
    trace = _trace(program, table)
    outputs = list(_elements(trace.output))
    return _Function(_lambdify(trace.inputs, trace.builder.assignments, outputs), trace.output.shape)


def _output_symbols(trace: _Trace) -> list[Any]:
    outputs = list(_elements(trace.output))
    if any(_is_boolean(v) for v in outputs):
        raise SymbolicUnsupported("the program's output is boolean (a comparison): it has no gradient")
    return outputs


def _gradient_code(program: Program, table: Mapping[str, SymbolicForward], second: bool) -> _Function:
    trace = _trace(program, table)
    builder = trace.builder
    outputs = _output_symbols(trace)
    grad_output = [builder.symbol("g") for _ in outputs]
    args = trace.inputs + grad_output
    token = _BUILDER.set(builder)  # derivatives may bind shared values (tie counts)
    try:
        gradients = _reverse(builder, list(zip(outputs, grad_output)), trace.inputs, "d")
        if second:
            vector = [builder.symbol("w") for _ in trace.inputs]
            gradients = _reverse(builder, list(zip(gradients, vector)), trace.inputs, "h")
            args = args + vector
    finally:
        _BUILDER.reset(token)
    return _Function(_lambdify(args, builder.assignments, gradients), trace.output.shape)


@functools.lru_cache(maxsize=128)
def _cached(program: Program, kind: str) -> _Function:
    return _compile(program, SYMBOLIC, kind)


def _compile(program: Program, table: Mapping[str, SymbolicForward], kind: str) -> _Function:
    if kind == "forward":
        return _forward_code(program, table)
    return _gradient_code(program, table, second=kind == "hessian")


def _compiled(program: Program, table: Mapping[str, SymbolicForward], kind: str) -> _Function:
    if table is SYMBOLIC:
        try:
            return _cached(program, kind)
        except TypeError as error:  # an unhashable attribute: compile without the cache
            if "unhashable" not in str(error):
                raise
    return _compile(program, table, kind)


# ---------------------------------------------------------------------------------------------
# The public oracle


def _flat_inputs(program: Program, values: Mapping[str, Array]) -> list[float]:
    checked = check_inputs(program, values)
    return [float(v) for spec in program.inputs for v in checked[spec.name].reshape(-1)]


def _split(program: Program, flat: list[float]) -> dict[str, FloatArray]:
    out = {}
    start = 0
    for spec in program.inputs:
        size = math.prod(spec.shape)
        out[spec.name] = np.array(flat[start : start + size], dtype=np.float64).reshape(spec.shape)
        start += size
    return out


def _shaped(value: Array, shape: tuple[int, ...], what: str) -> list[float]:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{what} has shape {list(array.shape)}, expected {list(shape)}")
    return [float(v) for v in array.reshape(-1)]


def forward(
    program: Program, values: Mapping[str, Array], *, table: Mapping[str, SymbolicForward] = SYMBOLIC, dps: int = DPS
) -> FloatArray:
    """The program's output computed from its SymPy forward meaning (comparisons as 1.0/0.0)."""
    compiled = _compiled(program, table, "forward")
    flat = _evaluate(compiled.function, _flat_inputs(program, values), dps)
    return np.array(flat, dtype=np.float64).reshape(compiled.output_shape)


def gradient(
    program: Program,
    values: Mapping[str, Array],
    grad_output: Array,
    *,
    table: Mapping[str, SymbolicForward] = SYMBOLIC,
    dps: int = DPS,
) -> dict[str, FloatArray]:
    """d/d(input) of ``sum(grad_output * program(values))`` for every input, at ``values``
    (float64 arrays by input name), as float64 arrays of the input shapes (nan/inf kept)."""
    compiled = _compiled(program, table, "gradient")
    arguments = _flat_inputs(program, values) + _shaped(grad_output, compiled.output_shape, "grad_output")
    return _split(program, _evaluate(compiled.function, arguments, dps))


def hessian_vector(
    program: Program,
    values: Mapping[str, Array],
    grad_output: Array,
    vector: Mapping[str, Array],
    *,
    table: Mapping[str, SymbolicForward] = SYMBOLIC,
    dps: int = DPS,
) -> dict[str, FloatArray]:
    """d/d(input) of ``sum over inputs of gradient(program, values, grad_output) · vector``:
    the second derivatives along ``vector`` (what ``create_graph=True`` and a second
    backward give)."""
    compiled = _compiled(program, table, "hessian")
    arguments = _flat_inputs(program, values) + _shaped(grad_output, compiled.output_shape, "grad_output")
    for spec in program.inputs:
        if spec.name not in vector:
            raise ValueError(f"no vector given for input {spec.name!r}")
        arguments += _shaped(vector[spec.name], spec.shape, f"vector[{spec.name!r}]")
    return _split(program, _evaluate(compiled.function, arguments, dps))


__all__ = [
    "CONVENTIONS",
    "DPS",
    "SYMBOLIC",
    "Convention",
    "NumericFunction",
    "ObjectArray",
    "SymbolicForward",
    "SymbolicUnsupported",
    "elementwise",
    "expressions",
    "forward",
    "gradient",
    "hessian_vector",
    "input_symbols",
]

