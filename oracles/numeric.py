"""The numeric gradient oracle: finite differences of forward evaluations only.

Nothing here knows a derivative rule. A function reaches this module as a *forward*
``f(values) -> output`` (a dict of float64 input arrays to an array), usually the numpy
interpreter of a program (``oracles.interpret.run_numpy``), and optionally a *signature*
``signature(values) -> list of arrays``: which piece of every non-smooth op each element is
on (``run_numpy(program, values, signature=list)``). Two points with equal signatures lie in
the same smooth piece of the function.

Every check works on the scalar objective

    L(x) = sum(grad_output * f(x))

whose gradient is the vector-Jacobian product ``vᵀJ`` that a reverse-mode engine computes
for ``grad_output = v``. Three checks:

``central_gradient``
    every element of dL/dx by central differences with Richardson extrapolation, with a
    per-element error estimate (2·levels evaluations per input element);
``projected``
    the fast mode: directional derivatives ``vᵀJu`` along seeded random unit directions
    ``u``, compared with the claimed gradient's projection ``<g, u>`` (2·levels evaluations
    per direction);
``taylor_test``
    the step-free verdict: the remainder ``|L(x+tu) - L(x) - <g, tu>|`` shrinks like t² for
    the true gradient and like t for any other; the observed order decides.

The error model
---------------

The only tolerances are the dtype's machine epsilon ``eps`` (``dtype_eps``) and estimates
derived from the evaluations themselves:

* *Rounding of one evaluation.* The evaluated objective is modelled to be within
  ``eps·S(x)`` of the exact one, where ``S(x) = sum(|grad_output * f(x)|)`` is the magnitude
  of the terms summed into ``L`` (so a cancelling sum is not credited with a small error).
  A forward that cancels *inside* (log(1 + y²) near y = 0, exp(x) - 1 - x) has more noise
  than its output shows, so the difference modes also measure the noise of each stencil:
  the residual standard deviation σ of a least-squares quartic through its 2·levels values
  (a smooth function is a quartic over a stencil of width ~eps^(1/3), far below rounding),
  and bound one evaluation's rounding by δ = max(eps·S, 3σ). The tests measure how far
  actual forwards stay inside eps·S (``NOISE_MODEL_SLACK``, used by the Taylor test).
* *A central difference* ``D(h) = (L(x+h) - L(x-h)) / (x+h - (x-h))`` uses the step that
  floating point actually took (the representable stencil width, not the requested 2h), so
  the only rounding left is that of the two evaluations:
  ``|rounding(D(h))| ≤ (δ(x+h) + δ(x-h)) / (x+h - (x-h))`` — the familiar ``eps·|L|/h``.
* *Richardson extrapolation.* ``D(h) = L' + c₂h² + c₄h⁴ + ...`` for a smooth function. The
  central differences at the steps h₀, h₀/2, ..., h₀/2^(levels-1) (h₀ = eps^(1/3)·max(1,|x|),
  the step balancing the truncation h² against the rounding eps/h) are extrapolated to h = 0
  with Neville's tableau over h² (using the actual steps). The final extrapolant R is a fixed
  linear combination Σ wₖ D(hₖ), so its rounding error is bounded by Σ |wₖ|·rounding(D(hₖ)).
  Its truncation error is estimated by the distance from R to the two previous extrapolants
  (the last of the previous column and the previous diagonal element: the usual estimate,
  e.g. Numerical Recipes' ``dfridr``), which is pessimistic for a convergent tableau because
  the previous extrapolants are one order less accurate. So:

      error_estimate = max(|R - R_prev_column|, |R - R_prev_diagonal|)
                       + Σ |wₖ|·(δ(x+hₖ) + δ(x-hₖ)) / width(hₖ)

  The tests measure that this covers the actual error on at least 99% of elements.
* *What it estimates* is the derivative of the forward *as evaluated in floating point*.
  Where the forward itself is inaccurate in a smooth way (1 - cos x or sqrt(1 + x²) - 1 at
  |x| ≲ 1e-5, whose float64 values follow a slightly different polynomial at the ulp scale),
  no difference of its values can see it, and the exact derivative can lie outside the
  estimate: a comparison with a symbolic value must allow for the forward's own conditioning.
* *Smoothness.* The expansion above only holds when the whole stencil lies in one smooth
  piece. An element whose stencil points have another branch signature than the centre, or
  produce a non-finite objective, is marked not smooth: its value is then not a derivative
  and must be reported as "not smooth here", never as a mismatch.

The projected mode uses the same model along a direction; its directions are rounded too
(``x ± h·u`` is not exactly representable), which adds ``Σ |gᵢ|·|actual - requested|ᵢ/2h``
(the claimed gradient used only to size a rounding-level term) to its rounding bound. The
Taylor test uses the perturbation that floating point actually took, ``d = (x + t·u) - x``,
so that its remainder is exactly ``L(x+d) - L(x) - <g, d>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["EPS64", "Forward", "NumericGradient", "ProjectedCheck", "Signature", "TaylorResult", "TaylorVerdict", "central_gradient", "projected", "taylor_test"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Forward = Callable[[dict[str, FloatArray]], npt.ArrayLike]
"""A function's forward: input arrays by name to the output array."""
Signature = Callable[[dict[str, FloatArray]], Sequence[npt.ArrayLike]]
"""The branch signature of a point: which piece of every non-smooth op each element is on."""

EPS64 = float(np.finfo(np.float64).eps)

NOISE_MODEL_SLACK = 8.0
"""How much the actual rounding of one forward evaluation may exceed the model eps·S(x):
each output element of a composite forward carries a few ulps, more when the forward cancels
internally (log(1 + y²) near y = 0), and the sum into L adds up to ⌈log₂ m⌉ more. Measured by
tests/test_numeric.py against the same forwards in extended precision (99th percentile
≈ 1.2, largest ≈ 2.7 in the test's sample and ≈ 4.4 in a larger one); it only enters the
Taylor test's noise threshold."""

ORDER_TOLERANCE = 0.25
"""The Taylor test calls an observed order within this of 1 "wrong" and one above 2 minus
this "correct" (orders 1 and 2 are the only two outcomes for a smooth function: half of the
gap between them is left inconclusive)."""

NOISE_FIT_DEGREE = 4
"""The degree of the polynomial whose residual over a stencil estimates the rounding noise
(see ``_noise_estimate``): with the default 4 levels, 8 points leave 3 degrees of freedom."""

NOISE_SIGMAS = 3.0
"""One evaluation's rounding is bounded by this many estimated standard deviations of the
noise seen in its stencil (the 99.7% two-sided bound of a normal distribution)."""

JITTER = 0.2
"""Each level's step is h₀·2^-k shrunk by a random factor in (1 - JITTER, 1] (seeded). Exact
halvings of one floating-point step form a lattice with the floating-point grid of x, along
which a forward's rounding errors are structured rather than random (measured: exp(x) - 1 - x
at x ≈ 8e-6 has errors varying smoothly along the stencil), so the stencil's noise estimate
misses them; a jittered stencil breaks the lattice. Neville's tableau extrapolates with any
steps, and consecutive steps stay apart by a factor over 2·(1 - JITTER) > 1."""

MAX_HALVINGS = 60
"""The Taylor test halves a step that left the smooth piece at most this often: 2^-60 of the
starting step is below float64 resolution of any point, so further halvings cannot help."""

FIT_POINTS = 4
"""The Taylor test fits its order over the last (smallest-t) points above rounding noise:
four points, three halvings of t, so the fit spans a factor of 8."""


def _noise_margin() -> float:
    """The factor above the modelled noise N a remainder must reach to be used in the Taylor
    fit: an absolute error up to s·N (s = ``NOISE_MODEL_SLACK``) in remainders r ≥ K·N changes
    the slope between two consecutive halvings by at most log₂((K+s)/(K-s)), which is half of
    ``ORDER_TOLERANCE`` (τ) for K = s·(2^(τ/2)+1)/(2^(τ/2)-1) ≈ 185."""
    half = math.pow(2.0, ORDER_TOLERANCE / 2)
    return NOISE_MODEL_SLACK * (half + 1) / (half - 1)


NOISE_MARGIN = _noise_margin()


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class NumericGradient:
    """dL/dx by central differences with Richardson extrapolation, per input and element."""

    value: dict[str, FloatArray]
    """The extrapolated derivative of L with respect to each element (nan where a stencil
    evaluation was not finite)."""
    error_estimate: dict[str, FloatArray]
    """Estimated bound on |value - exact|: truncation estimate from the Richardson tableau
    plus the propagated rounding bound (see the module's error model)."""
    rounding: dict[str, FloatArray]
    """The rounding part of ``error_estimate``: Σ|wₖ|·(δ₊ + δ₋)/width, δ = max(eps·S, 3σ)."""
    step: dict[str, FloatArray]
    """The largest half-width actually used (≈ eps^(1/3)·max(1,|x|))."""
    smooth: dict[str, BoolArray]
    """The whole stencil has the centre's branch signature and a finite objective."""
    finite: dict[str, BoolArray]
    """Every stencil evaluation gave a finite objective."""
    levels: int
    evaluations: int
    """Forward evaluations of f: exactly 2·levels per input element."""
    signature_evaluations: int
    """Calls of the signature function (one per stencil point plus the centre), 0 without."""
    eps: float

    def covers(self, reference: Mapping[str, npt.ArrayLike]) -> dict[str, BoolArray]:
        """Per element: ``reference`` lies within ``error_estimate`` of ``value``."""
        return {
            name: np.abs(self.value[name] - np.asarray(reference[name], dtype=np.float64)) <= self.error_estimate[name]
            for name in self.value
        }


@dataclass(frozen=True)
class ProjectedCheck:
    """Directional derivatives vᵀJu along random unit directions against <g, u>."""

    directions: list[dict[str, FloatArray]]
    """The unit directions (over all inputs together), seeded."""
    numeric: FloatArray
    """Per direction: the extrapolated directional derivative of L."""
    claimed: FloatArray
    """Per direction: <gradient, u>."""
    error_estimate: FloatArray
    """Per direction: the numeric value's error estimate plus the rounding of <g, u>."""
    rounding: FloatArray
    """Per direction: the rounding part of ``error_estimate``."""
    step: FloatArray
    """Per direction: the largest step along u (≈ eps^(1/3)·max(1, max|x|))."""
    smooth: BoolArray
    """Per direction: the stencil stayed in the centre's smooth piece with finite values."""
    levels: int
    evaluations: int
    """Forward evaluations: 2·levels per direction."""
    signature_evaluations: int
    eps: float

    @property
    def mismatch(self) -> BoolArray:
        """Per direction: smooth, and the claim lies outside the numeric error estimate."""
        return np.asarray(self.smooth & (np.abs(self.numeric - self.claimed) > self.error_estimate))

    @property
    def agrees(self) -> bool:
        """No smooth direction disagrees (directions that are not smooth say nothing)."""
        return not bool(np.any(self.mismatch))


TaylorVerdict = Literal["correct", "wrong", "inconclusive"]


@dataclass(frozen=True)
class TaylorResult:
    """The Taylor remainder r(t) = |L(x+tu) - L(x) - t<g,u>| at t = t0·2^-k."""

    verdict: TaylorVerdict
    order: float
    """The fitted convergence order (log-log slope) over the smallest-t usable points; nan
    when there were too few of them."""
    reason: str
    direction: dict[str, FloatArray]
    t: FloatArray
    remainder: FloatArray
    noise: FloatArray
    """The modelled rounding noise of each remainder."""
    valid: BoolArray
    """Finite objective, and (with a signature) in the centre's smooth piece."""
    used: BoolArray
    """The points the order was fitted on."""
    resolution: float
    """The smallest directional error |<g - ∇L, u>| the test could see: NOISE_MARGIN·noise/t
    at the largest valid t (nan without one)."""
    evaluations: int
    signature_evaluations: int
    eps: float
    local_orders: FloatArray = field(default_factory=lambda: np.zeros(0))
    """log₂(r(t_k)/r(t_k+1)) between consecutive points (for reports)."""


# ---------------------------------------------------------------------------- evaluation


def _as_inputs(values: Mapping[str, npt.ArrayLike]) -> dict[str, FloatArray]:
    return {name: np.array(value, dtype=np.float64, copy=True) for name, value in values.items()}


def _as_gradient(gradient: Mapping[str, npt.ArrayLike], inputs: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    out = {}
    for name, x in inputs.items():
        if name not in gradient:
            raise ValueError(f"no gradient given for input {name!r}")
        g = np.asarray(gradient[name], dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(f"gradient of {name!r} has shape {list(g.shape)}, the input has {list(x.shape)}")
        out[name] = g
    return out


class _Objective:
    """L(x) = sum(grad_output * f(x)) and its magnitude S(x) = sum(|grad_output * f(x)|),
    counting evaluations; and the branch signature test."""

    def __init__(self, f: Forward, grad_output: npt.ArrayLike | None, signature: Signature | None) -> None:
        self.f = f
        self.grad_output = None if grad_output is None else np.asarray(grad_output, dtype=np.float64)
        self.signature = signature
        self.centre_signature: list[npt.NDArray[Any]] | None = None
        self.evaluations = 0
        self.signature_evaluations = 0

    def __call__(self, point: Mapping[str, FloatArray]) -> tuple[float, float]:
        self.evaluations += 1
        with np.errstate(all="ignore"):
            out = np.asarray(self.f({name: value.copy() for name, value in point.items()}), dtype=np.float64)
            if self.grad_output is None:
                self.grad_output = np.ones(out.shape)
            if self.grad_output.shape != out.shape:
                raise ValueError(
                    f"grad_output has shape {list(self.grad_output.shape)}, the output has {list(out.shape)}"
                )
            terms = self.grad_output * out
            total, magnitude = float(np.sum(terms)), float(np.sum(np.abs(terms)))
        if not (math.isfinite(total) and math.isfinite(magnitude)):
            return math.nan, math.nan
        return total, magnitude

    def _signature(self, point: Mapping[str, FloatArray]) -> list[npt.NDArray[Any]]:
        assert self.signature is not None
        self.signature_evaluations += 1
        with np.errstate(all="ignore"):
            return [np.asarray(piece) for piece in self.signature({name: value.copy() for name, value in point.items()})]

    def set_centre(self, point: Mapping[str, FloatArray]) -> None:
        if self.signature is not None:
            self.centre_signature = self._signature(point)

    def same_piece(self, point: Mapping[str, FloatArray]) -> bool:
        if self.signature is None:
            return True
        assert self.centre_signature is not None
        here = self._signature(point)
        return len(here) == len(self.centre_signature) and all(
            a.shape == b.shape and bool(np.array_equal(a, b)) for a, b in zip(here, self.centre_signature)
        )


@dataclass(frozen=True)
class _Extrapolation:
    value: float
    truncation: float
    rounding: float


def _richardson(differences: Sequence[float], half_widths: Sequence[float], rounding: Sequence[float]) -> _Extrapolation:
    """Neville's tableau over h² for central differences D(hₖ): R[k][0] = D(hₖ),
    R[k][j] = R[k][j-1] + (R[k][j-1] - R[k-1][j-1]) / ((h_{k-j}/hₖ)² - 1).

    Each extrapolant is tracked as its weight vector over the D(hₖ), so the rounding bound
    of the result is Σ |wₖ|·rounding(D(hₖ)) exactly rather than a triangle-inequality chain."""
    m = len(differences)
    d = np.asarray(differences, dtype=np.float64)
    h = np.asarray(half_widths, dtype=np.float64)
    identity = np.eye(m)
    tableau: list[list[FloatArray]] = [[identity[k]] for k in range(m)]
    for j in range(1, m):
        for k in range(j, m):
            ratio = (h[k - j] / h[k]) ** 2
            tableau[k].append(tableau[k][j - 1] + (tableau[k][j - 1] - tableau[k - 1][j - 1]) / (ratio - 1))
    weights = tableau[m - 1][m - 1]
    value = float(weights @ d)
    truncation = max(abs(value - float(tableau[m - 1][m - 2] @ d)), abs(value - float(tableau[m - 2][m - 2] @ d)))
    return _Extrapolation(value, truncation, float(np.abs(weights) @ np.asarray(rounding, dtype=np.float64)))


def _noise_estimate(offsets: Sequence[float], objectives: Sequence[float]) -> float:
    """The standard deviation of the evaluations' rounding noise, estimated from the stencil
    itself: the residual of a least-squares polynomial fit (degree ``NOISE_FIT_DEGREE``, or
    fewer to keep one degree of freedom) to the objective values against their offsets.
    Over a stencil of width ~eps^(1/3) a smooth function is a quartic to far below rounding
    (its remainder is ~f⁽⁵⁾h⁵/120 ≈ 1e-28·f⁽⁵⁾), so the residual is rounding noise; near a
    singularity it is larger than the noise, which only makes the estimate conservative."""
    m = len(offsets)
    degree = min(NOISE_FIT_DEGREE, m - 2)
    if degree < 0:
        return 0.0
    s = np.asarray(offsets, dtype=np.float64)
    s = s / float(np.max(np.abs(s)))
    y = np.asarray(objectives, dtype=np.float64)
    y = y - float(np.mean(y))
    basis = np.vander(s, degree + 1)
    coefficients = np.linalg.lstsq(basis, y, rcond=None)[0]
    residual = y - basis @ coefficients
    scale = float(np.max(np.abs(residual)))
    if not (scale > 0 and math.isfinite(scale)):
        return 0.0 if scale == 0 else math.inf
    return scale * math.sqrt(float(np.sum((residual / scale) ** 2)) / (m - degree - 1))


@dataclass
class _Stencil:
    """The evaluations of one central-difference stencil (all levels)."""

    offsets: list[float] = field(default_factory=list)
    objectives: list[float] = field(default_factory=list)
    magnitudes: list[float] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    skews: list[float] = field(default_factory=list)
    """Projected mode: Σ|gᵢ|·|rounding of the step|ᵢ per level."""
    same: bool = True
    finite: bool = True

    def add(
        self,
        plus: float,
        l_plus: float,
        s_plus: float,
        same_plus: bool,
        minus: float,
        l_minus: float,
        s_minus: float,
        same_minus: bool,
    ) -> None:
        self.offsets += [plus, minus]
        self.objectives += [l_plus, l_minus]
        self.magnitudes += [s_plus, s_minus]
        self.same = self.same and same_plus and same_minus
        self.finite = self.finite and math.isfinite(l_plus) and math.isfinite(l_minus)

    def extrapolate(self, eps: float) -> _Extrapolation:
        """Richardson over the levels; the rounding of each evaluation is bounded by the
        larger of the model eps·S and ``NOISE_SIGMAS`` times the noise seen in the stencil."""
        if not self.finite:
            return _Extrapolation(math.nan, math.nan, math.nan)
        seen = NOISE_SIGMAS * _noise_estimate(self.offsets, self.objectives)
        bounds = [max(eps * magnitude, seen) for magnitude in self.magnitudes]
        differences, half_widths, rounding = [], [], []
        for k, width in enumerate(self.widths):
            differences.append((self.objectives[2 * k] - self.objectives[2 * k + 1]) / width)
            half_widths.append(width / 2)
            skew = self.skews[k] if self.skews else 0.0
            rounding.append((bounds[2 * k] + bounds[2 * k + 1] + skew) / width)
        return _richardson(differences, half_widths, rounding)


def _steps(h0: float, levels: int, rng: np.random.Generator) -> list[float]:
    """h₀·2^-k·(1 - ``JITTER``·ξₖ), ξₖ uniform in [0, 1): the halvings, each shrunk a little."""
    return [h0 * 2.0**-k * (1 - JITTER * float(rng.random())) for k in range(levels)]


def _check_levels(levels: int) -> None:
    if levels < 2:
        raise ValueError("levels must be at least 2: the error estimate compares two extrapolants")


# ---------------------------------------------------------------------------- full mode


def central_gradient(
    f: Forward,
    values: Mapping[str, npt.ArrayLike],
    grad_output: npt.ArrayLike | None = None,
    *,
    levels: int = 4,
    dtype_eps: float = EPS64,
    signature: Signature | None = None,
    relative_step: float | None = None,
    seed: int = 0,
) -> NumericGradient:
    """The gradient of L(x) = sum(grad_output * f(x)) (``grad_output`` None: all ones) at
    ``values``, element by element, by central differences at the steps
    hₖ = eps^(1/3)·max(1,|xᵢ|)·2^-k, k < levels (each shrunk by a seeded random factor in
    (1 - ``JITTER``, 1]), extrapolated to h = 0 (Richardson).
    ``relative_step`` replaces eps^(1/3) (a larger one, up to eps^(1/(2·levels+1)), is more
    accurate for smooth functions, and more often crosses a kink).

    Error model (see the module docstring): ``error_estimate`` = the largest distance from
    the final extrapolant to the two previous ones (truncation) + Σ |wₖ|·(δ(x+hₖ) +
    δ(x-hₖ))/width(hₖ) (rounding: δ = max(eps·S, 3σ), S = sum |grad_output·f|, σ the noise
    seen in the stencil, wₖ the extrapolation weights).

    Exactly 2·levels·n evaluations of ``f`` for n input elements (no centre evaluation);
    with ``signature``, also one signature evaluation per stencil point and one at the centre,
    and an element whose stencil leaves the centre's smooth piece is marked not smooth."""
    _check_levels(levels)
    point = _as_inputs(values)
    objective = _Objective(f, grad_output, signature)
    objective.set_centre(point)
    base = dtype_eps ** (1.0 / 3.0) if relative_step is None else relative_step
    rng = np.random.default_rng(seed)
    value: dict[str, FloatArray] = {}
    truncation: dict[str, FloatArray] = {}
    rounding: dict[str, FloatArray] = {}
    step: dict[str, FloatArray] = {}
    smooth: dict[str, BoolArray] = {}
    finite: dict[str, BoolArray] = {}
    for name, array in point.items():
        outs = [np.zeros(array.shape) for _ in range(4)]
        smooth_here, finite_here = np.ones(array.shape, dtype=bool), np.ones(array.shape, dtype=bool)
        flat = array.reshape(-1)  # a view: writes move the point
        for index in range(flat.size):
            centre = float(flat[index])
            h0 = base * max(1.0, abs(centre))
            stencil = _Stencil()
            for h in _steps(h0, levels, rng):
                plus, minus = centre + h, centre - h
                flat[index] = plus
                l_plus, s_plus = objective(point)
                same_plus = objective.same_piece(point)
                flat[index] = minus
                l_minus, s_minus = objective(point)
                same_minus = objective.same_piece(point)
                flat[index] = centre
                stencil.add(plus - centre, l_plus, s_plus, same_plus, minus - centre, l_minus, s_minus, same_minus)
                stencil.widths.append(plus - minus)
            result = stencil.extrapolate(dtype_eps)
            same, all_finite = stencil.same, stencil.finite
            position = np.unravel_index(index, array.shape)
            outs[0][position], outs[1][position] = result.value, result.truncation
            outs[2][position], outs[3][position] = result.rounding, stencil.widths[0] / 2
            smooth_here[position], finite_here[position] = same and all_finite, all_finite
        value[name], truncation[name], rounding[name], step[name] = outs
        smooth[name], finite[name] = smooth_here, finite_here
    return NumericGradient(
        value=value,
        error_estimate={name: truncation[name] + rounding[name] for name in value},
        rounding=rounding,
        step=step,
        smooth=smooth,
        finite=finite,
        levels=levels,
        evaluations=objective.evaluations,
        signature_evaluations=objective.signature_evaluations,
        eps=dtype_eps,
    )


# ---------------------------------------------------------------------------- directions


def _flatten(arrays: Mapping[str, FloatArray], names: Sequence[str]) -> FloatArray:
    if not names:
        return np.zeros(0)
    return np.concatenate([arrays[name].reshape(-1) for name in names])


def _unflatten(flat: FloatArray, like: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    out, start = {}, 0
    for name, array in like.items():
        out[name] = flat[start : start + array.size].reshape(array.shape).copy()
        start += array.size
    return out


def _random_direction(rng: np.random.Generator, size: int) -> FloatArray:
    if size == 0:
        return np.zeros(0)  # no elements: no direction to take (and no loop to hang in)
    while True:
        z = rng.standard_normal(size)
        norm = float(np.linalg.norm(z))
        if norm > 0:
            return np.asarray(z / norm, dtype=np.float64)


def _dot(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """<a, b> with a correctly rounded sum of the products (``math.fsum``) and its rounding
    bound: each product and the final sum round once, so |error| ≤ eps·Σ|aᵢbᵢ|."""
    products = a * b
    return math.fsum(products.tolist()), float(np.sum(np.abs(products)))


# ---------------------------------------------------------------------------- fast mode


def projected(
    f: Forward,
    values: Mapping[str, npt.ArrayLike],
    grad_output: npt.ArrayLike | None,
    gradient: Mapping[str, npt.ArrayLike],
    *,
    directions: int = 4,
    seed: int = 0,
    levels: int = 4,
    dtype_eps: float = EPS64,
    signature: Signature | None = None,
    relative_step: float | None = None,
) -> ProjectedCheck:
    """The fast mode: for ``directions`` seeded random unit vectors u over all input elements
    together (in the order of ``values``), the directional derivative of L by central
    differences (L(x+hu) - L(x-hu))/2h at h = eps^(1/3)·max(1, max|x|)·2^-k, k < levels
    (jittered as in ``central_gradient``), extrapolated to h = 0, against the claimed
    gradient's projection <g, u>.

    2·levels evaluations of ``f`` per direction. The error estimate is that of
    ``central_gradient`` along u, plus the rounding of x ± hu (sized with |g|: a rounding-level
    term, Σ|gᵢ|·|(actual - requested step)ᵢ|/2h) and of the dot product <g, u>."""
    _check_levels(levels)
    point = _as_inputs(values)
    claimed_gradient = _as_gradient(gradient, point)
    names = list(point)
    x = _flatten(point, names)
    g = _flatten(claimed_gradient, names)
    objective = _Objective(f, grad_output, signature)
    objective.set_centre(point)
    rng, jitter = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    base = dtype_eps ** (1.0 / 3.0) if relative_step is None else relative_step
    h0 = base * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    found: list[dict[str, FloatArray]] = []
    numeric, claimed, estimate, rounding_bounds, smooth, largest = [], [], [], [], [], []
    for _ in range(directions):
        u = _random_direction(rng, x.size)
        found.append(_unflatten(u, point))
        stencil = _Stencil()
        steps = _steps(h0, levels, jitter)
        largest.append(steps[0])
        for h in steps:
            plus, minus = x + h * u, x - h * u
            at_plus, at_minus = _unflatten(plus, point), _unflatten(minus, point)
            l_plus, s_plus = objective(at_plus)
            same_plus = objective.same_piece(at_plus)
            l_minus, s_minus = objective(at_minus)
            same_minus = objective.same_piece(at_minus)
            stencil.add(h, l_plus, s_plus, same_plus, -h, l_minus, s_minus, same_minus)
            stencil.widths.append(2 * h)
            skew = (plus - minus) - 2 * h * u  # what rounding x ± hu did to the direction
            stencil.skews.append(float(np.sum(np.abs(g * skew))))
        result = stencil.extrapolate(dtype_eps)
        same, all_finite = stencil.same, stencil.finite
        projection, magnitude = _dot(g, u)
        numeric.append(result.value)
        claimed.append(projection)
        rounding_bounds.append(result.rounding + dtype_eps * magnitude)
        estimate.append(result.truncation + result.rounding + dtype_eps * magnitude)
        smooth.append(same and all_finite)
    return ProjectedCheck(
        directions=found,
        numeric=np.asarray(numeric, dtype=np.float64),
        claimed=np.asarray(claimed, dtype=np.float64),
        error_estimate=np.asarray(estimate, dtype=np.float64),
        rounding=np.asarray(rounding_bounds, dtype=np.float64),
        step=np.asarray(largest, dtype=np.float64),
        smooth=np.asarray(smooth, dtype=bool),
        levels=levels,
        evaluations=objective.evaluations,
        signature_evaluations=objective.signature_evaluations,
        eps=dtype_eps,
    )


# ---------------------------------------------------------------------------- Taylor test


def taylor_test(
    f: Forward,
    values: Mapping[str, npt.ArrayLike],
    grad_output: npt.ArrayLike | None,
    gradient: Mapping[str, npt.ArrayLike],
    *,
    seed: int = 0,
    steps: int = 40,
    t0: float | None = None,
    direction: Mapping[str, npt.ArrayLike] | None = None,
    dtype_eps: float = EPS64,
    signature: Signature | None = None,
) -> TaylorResult:
    """The step-free check of a claimed gradient g: along a seeded random unit direction u
    (or ``direction``), r(t) = |L(x+d) - L(x) - <g, d>| with d = fl(x + t·u) - x and
    t = t0·2^-k (t0 default: max(1, max|x|)/16). For the true gradient r(t) = O(t²); for any
    other, r(t) ≈ |<g - ∇L, u>|·t once t is small: the order of convergence, not a
    tolerance, separates them.

    A point is *valid* when its objective is finite and (with ``signature``) it lies in the
    centre's smooth piece. Leading invalid points (a step that crosses a kink or leaves the
    domain) are skipped by further halvings (at most ``MAX_HALVINGS``); ``steps`` points are
    then evaluated from the first valid one on. A remainder is *usable* when its point is valid
    and it exceeds ``NOISE_MARGIN`` times its modelled rounding noise
    eps·(S(x+d) + S(x) + Σ|gᵢdᵢ|). The order is the least-squares log-log slope over the last
    ``FIT_POINTS`` points of the first run of usable points (the smallest t above noise: the
    asymptotic regime). Verdict: order ≥ 2 - ``ORDER_TOLERANCE``: correct; |order - 1| ≤
    ``ORDER_TOLERANCE``: wrong; otherwise (or fewer than 3 such points) inconclusive. When the
    remainder is at rounding noise from the first valid step on, L is linear along u (as far as
    rounding can tell) and <g, u> matches every finite difference within ``resolution``: the
    verdict is correct.

    1 + (skipped points) + ``steps`` evaluations of ``f``."""
    if steps < FIT_POINTS:
        raise ValueError(f"steps must be at least {FIT_POINTS}")
    point = _as_inputs(values)
    claimed_gradient = _as_gradient(gradient, point)
    names = list(point)
    x = _flatten(point, names)
    g = _flatten(claimed_gradient, names)
    if direction is None:
        u = _random_direction(np.random.default_rng(seed), x.size)
    else:
        u = _flatten(_as_gradient(direction, point), names)
    start = max(1.0, float(np.max(np.abs(x))) if x.size else 1.0) / 16 if t0 is None else t0
    objective = _Objective(f, grad_output, signature)
    objective.set_centre(point)
    l_centre, s_centre = objective(point)
    ts: list[float] = []
    remainders: list[float] = []
    noises: list[float] = []
    valids: list[bool] = []
    first_valid: int | None = None
    centre_finite = math.isfinite(l_centre) and math.isfinite(s_centre)
    while centre_finite and len(ts) < (steps if first_valid is None else first_valid + steps):
        if first_valid is None and len(ts) > MAX_HALVINGS:
            break
        t = start * 2.0 ** -len(ts)
        moved = x + t * u
        here = _unflatten(moved, point)
        l_here, s_here = objective(here)
        same = objective.same_piece(here)
        linear, magnitude = _dot(g, moved - x)
        ts.append(t)
        remainders.append(abs(l_here - l_centre - linear))
        noises.append(dtype_eps * (s_here + s_centre + magnitude))
        valids.append(same and math.isfinite(remainders[-1]) and math.isfinite(noises[-1]))
        if first_valid is None and valids[-1]:
            first_valid = len(ts) - 1
    t_values = np.asarray(ts, dtype=np.float64)
    remainder = np.asarray(remainders, dtype=np.float64)
    noise = np.asarray(noises, dtype=np.float64)
    valid = np.asarray(valids, dtype=bool)
    with np.errstate(all="ignore"):
        local = np.log2(remainder[:-1] / remainder[1:]) if remainder.size > 1 else np.zeros(0)
    usable = valid & (remainder > NOISE_MARGIN * noise)
    used = np.zeros(valid.shape, dtype=bool)
    resolution = math.nan if first_valid is None else float(NOISE_MARGIN * noise[first_valid] / t_values[first_valid])

    def result(verdict: TaylorVerdict, order: float, reason: str) -> TaylorResult:
        return TaylorResult(
            verdict=verdict,
            order=order,
            reason=reason,
            direction=_unflatten(u, point),
            t=t_values,
            remainder=remainder,
            noise=noise,
            valid=valid,
            used=used,
            resolution=resolution,
            evaluations=objective.evaluations,
            signature_evaluations=objective.signature_evaluations,
            eps=dtype_eps,
            local_orders=np.asarray(local, dtype=np.float64),
        )

    if not centre_finite:
        return result("inconclusive", math.nan, "the objective is not finite at the point")
    if first_valid is None:
        return result("inconclusive", math.nan, "no step stayed in the point's smooth piece with finite values")
    first = np.flatnonzero(usable)
    if not first.size:
        return result(
            "correct",
            math.nan,
            "the remainder is at rounding noise at every step: L is linear along u and <g, u> "
            f"matches the finite differences within {resolution:.3g}",
        )
    end = int(first[0])
    while end < usable.size and usable[end]:
        end += 1
    window = np.arange(max(int(first[0]), end - FIT_POINTS), end)
    if window.size < 3:
        return result("inconclusive", math.nan, f"only {window.size} step(s) above rounding noise")
    used[window] = True
    order = float(np.polyfit(np.log2(t_values[window]), np.log2(remainder[window]), 1)[0])
    if order >= 2 - ORDER_TOLERANCE:
        return result("correct", order, f"the remainder converges at order {order:.2f} (2 for the true gradient)")
    if abs(order - 1) <= ORDER_TOLERANCE:
        return result("wrong", order, f"the remainder converges at order {order:.2f}: <g, u> is not the derivative along u")
    return result("inconclusive", order, f"observed order {order:.2f} is neither 1 nor 2")
