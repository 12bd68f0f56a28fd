"""``gradcheck`` and ``gradgradcheck``: PyTorch's finite-difference check of an engine's
gradients, for any function written with refgrad (or with torch: any module with PyTorch's
API, passed as ``engine``).

    >>> import refgrad as rg
    >>> from oracles.gradcheck import gradcheck, gradgradcheck
    >>> x = rg.tensor([0.5, -1.0], dtype=rg.float64, requires_grad=True)
    >>> gradcheck(lambda x: rg.tanh(x) * x, (x,))
    True
    >>> gradgradcheck(lambda x: rg.tanh(x) * x, (x,))
    True

The defaults, the checks and the verdicts are those of ``torch.autograd.gradcheck`` and
``torch.autograd.gradgradcheck`` (eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
nondet_tol=0.0, fast_mode=False). The inputs checked are the tensors of ``inputs`` that
require grad (a warning names any that is not float64, as torch's does; a ValueError when there
is none). Then:

1. *No differentiable output* (no output requires grad): the numerical Jacobian must be
   exactly zero.
2. *The analytical Jacobian*, per differentiable output, row by row: one
   ``engine.autograd.grad(output, inputs, e_r, retain_graph=True, allow_unused=True)`` per
   output element r (an unused input gives a zero row). Each gradient must have its input's
   shape and dtype, and the whole Jacobian is computed twice: the two must agree within
   ``nondet_tol`` (*backward is reentrant*).
3. *The comparison*, per output i and input j (numbered among the differentiable outputs and
   the checked inputs, as torch numbers them): every element satisfies
   ``|analytical - numerical| <= atol + rtol·|numerical|`` (``torch.allclose``: equal
   infinities are close, nan never is). A mismatch raises ``GradcheckError`` with torch's text
   "Jacobian mismatch for output i with respect to input j,\\nnumerical:...\\nanalytical:..."
   (Jacobians laid out as torch lays them out: one row per input element, one column per
   output element), followed by the largest difference, its tolerance and the numerical
   value's own error estimate there.
4. *An all-zero grad_output* for every output gives gradients that are exactly zero, of the
   input's shape and dtype ("backward not multiplied by grad_output").

Any failure raises ``GradcheckError`` (a RuntimeError, as torch's) naming the check; with
``raise_exception=False`` the result is ``False`` instead. Errors of the engine itself
(a backward that raises) and misuse (no input requiring grad) propagate either way, as in
torch. torch's ``check_undefined_grad``, batched-grad and forward-mode checks have no
counterpart; ``check_backward_ad=False`` (torch's way of asking for forward-mode checks only)
is a ValueError, since refgrad has no forward mode.

The numerical Jacobian
----------------------

It comes from the numeric oracle (``oracles.numeric``), never from a finite difference written
here: column r of the Jacobian is ``central_gradient`` of ``L = e_rᵀ f(x)`` (f's outputs
flattened and concatenated), i.e. central differences with Richardson extrapolation over
``LEVELS`` halvings of the step, with a per-element error estimate. ``eps`` keeps torch's
meaning, the size of the perturbation: it is the oracle's largest half-width, relative to the
element (h₀ = eps·max(1, |x|), then h₀/2, h₀/4, ..., each jittered down by at most 20%).

Why the oracle rather than torch's plain ``(f(x + eps) - f(x - eps)) / 2eps``:

* one finite-difference implementation in the project, whose error model is calibrated by its
  own tests (the estimate covers the actual error on ≥ 99% of elements, measured at the
  oracle's default step eps^(1/3); the model itself holds at any step);
* the numerical Jacobian is accurate far below the tolerance (truncation O(h⁸) instead of
  O(eps²)), so atol and rtol are spent on the engine's error, not on the reference's; where
  torch's difference is itself accurate to well inside atol (smooth functions of moderate
  size at eps=1e-6) the verdicts are torch's;
* a failure shows the numerical value's error estimate next to the mismatch: an estimate
  larger than the tolerance says the numerical side is not trustworthy there (a kink or a
  discontinuity within eps of the point, a noisy forward), which torch cannot say. At a kink
  both differences see the same thing: a stencil straddling relu's kink at 0 gives 0.5 at
  every step, so relu at 0 fails here as it fails in torch.

The verdict itself is torch's formula with the given atol and rtol (the estimate is reported,
not added to the tolerance). The cost is 2·``LEVELS`` evaluations of ``fn`` per checked input
element (torch: 2): the oracle evaluates the same stencil points for every row of the
Jacobian, and the evaluations are memoized by point, so the rows cost no further evaluations.

``fn`` is evaluated on new tensors holding the perturbed values (requiring grad, with the
inputs' dtypes), not by writing into the inputs as torch does, so the inputs' values and
version counters are never touched: ``fn`` must compute from its arguments only.

Fast mode
---------

As torch's: per differentiable output i a seeded random non-negative unit vector vᵢ, per
checked input j a seeded random unit direction uⱼ, and the scalar ``vᵢᵀ J uⱼ`` compared.
The analytical side is ``<autograd.grad(output, inputs, vᵢ), uⱼ>`` (computed twice: the
reentrancy check); the numerical side is the oracle's ``projected`` (the directional
derivative of ``vᵢᵀ f`` along uⱼ, Richardson-extrapolated, largest step eps·max(1, max|xⱼ|)).
uⱼ is ``projected``'s own seeded direction: a Gaussian unit vector, where torch draws a
non-negative one, so the absolute tolerance is torch's ``atol·sum(u)·sum(v)`` written for
a direction of either sign, ``atol·‖u‖₁·‖v‖₁`` (the largest |vᵀEu| for an error matrix E
with entries within atol); the relative one is ``rtol·|numerical|``. A fast-mode mismatch
recomputes both Jacobians of that pair in slow mode for the message and says whether the slow
mode would have passed. Evaluations: 2·``LEVELS`` per checked input (memoized across outputs).

``gradgradcheck``
-----------------

As torch's: ``gradcheck`` of the function ``(inputs, grad_outputs) ↦ autograd.grad(fn's
differentiable outputs, the inputs requiring grad, grad_outputs, create_graph=True,
allow_unused=True)`` (the unused gradients dropped), so the second derivatives are checked
with respect to the inputs and to ``grad_outputs``. Without ``grad_outputs``, they are drawn
uniformly from [-1, 1) (seeded: ``GRAD_OUTPUTS_SEED``; torch draws them from its global
generator), in the outputs' dtypes, requiring grad.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from oracles import numeric

__all__ = ["FAST_MODE_SEED", "GRAD_OUTPUTS_SEED", "LEVELS", "FailedCheck", "GradcheckError", "gradcheck", "gradgradcheck"]

FloatArray = npt.NDArray[np.float64]

LEVELS = 4
"""Richardson levels of the numerical Jacobian (the numeric oracle's default: its error
estimate is calibrated at this depth)."""

FAST_MODE_SEED = 0
"""Seed of the fast mode's random vectors (v here, u in ``numeric.projected``)."""

GRAD_OUTPUTS_SEED = 0
"""Seed of gradgradcheck's random grad_outputs."""

FailedCheck = Literal[
    "jacobian",
    "reentrancy",
    "size",
    "dtype",
    "zero-grad-output",
    "no-differentiable-outputs",
]
"""Which check failed: the numerical and analytical Jacobians differ; backward gave different
results twice; a gradient's shape or dtype is not its input's; an all-zero grad_output did not
give zero gradients; a function without differentiable outputs has a non-zero numerical
Jacobian."""

_NOT_REENTRANT = (
    "Backward is not reentrant, i.e., running backward with same input and grad_output multiple times gives different values"
)
_FAST_FAIL_SLOW_OK = (
    "Fast gradcheck failed but element-wise differences are small: the check would have passed in slow mode "
    "(call with fast_mode=False)."
)


class GradcheckError(RuntimeError):
    """A gradient check failed. ``str(error)`` is the full explanation (its first line is
    torch's); the fields say the same for programs."""

    def __init__(
        self,
        message: str,
        *,
        check: FailedCheck,
        output_index: int | None = None,
        input_index: int | None = None,
        numerical: FloatArray | None = None,
        analytical: FloatArray | None = None,
    ) -> None:
        super().__init__(message)
        self.check: FailedCheck = check
        self.output_index = output_index
        """Index among the differentiable outputs (torch's numbering), if one is concerned."""
        self.input_index = input_index
        """Index among the checked inputs, those requiring grad (torch's numbering)."""
        self.numerical = numerical
        """The numerical Jacobian (input elements × output elements), for a mismatch."""
        self.analytical = analytical
        """The analytical Jacobian, same layout."""


# ---------------------------------------------------------------------------- the problem


@dataclass
class _Problem:
    """One gradcheck: the function, its inputs, which of them are checked, the tolerances."""

    engine: ModuleType
    fn: Callable[..., Any]
    inputs: tuple[Any, ...]
    checked: tuple[int, ...]
    """Positions in ``inputs`` of the tensors that require grad."""
    eps: float
    atol: float
    rtol: float
    nondet_tol: float
    values: dict[str, FloatArray] = field(init=False)
    """The checked inputs' values as float64, named by position ("0", "2", ...)."""
    dtype_eps: float = field(init=False, default=numeric.EPS64)

    def __post_init__(self) -> None:
        self.values = {str(p): _array(self.inputs[p]) for p in self.checked}

    @property
    def names(self) -> list[str]:
        return list(self.values)

    @property
    def checked_inputs(self) -> list[Any]:
        return [self.inputs[p] for p in self.checked]


def _as_tuple(x: Any) -> tuple[Any, ...]:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _array(t: Any) -> FloatArray:
    """A tensor's values as a new float64 array."""
    return np.array(t.detach().numpy(), dtype=np.float64)


def _numpy_dtype(t: Any) -> np.dtype[Any]:
    return np.asarray(t.detach().numpy()).dtype


def _numel(t: Any) -> int:
    return math.prod(tuple(t.shape))


def _is_tensor(engine: ModuleType, x: Any) -> bool:
    return isinstance(x, engine.Tensor)


def _float_outputs(engine: ModuleType, out: Any) -> list[Any]:
    """The floating-point tensors among ``fn``'s outputs (the numerical Jacobian's outputs)."""
    return [o for o in _as_tuple(out) if _is_tensor(engine, o) and o.dtype.is_floating_point]


def _differentiable_outputs(engine: ModuleType, out: Any) -> list[Any]:
    return [o for o in _as_tuple(out) if _is_tensor(engine, o) and o.requires_grad]


def _default_engine(engine: ModuleType | None) -> ModuleType:
    if engine is not None:
        return engine
    import refgrad

    return refgrad


def _checked_positions(engine: ModuleType, inputs: tuple[Any, ...], stacklevel: int) -> tuple[int, ...]:
    """The positions of the inputs that require grad, warning (as torch) about any that is not
    float64; a ValueError when there is none."""
    positions = []
    for index, x in enumerate(inputs):
        if _is_tensor(engine, x) and x.requires_grad:
            if x.dtype != engine.float64:
                warnings.warn(
                    f"Input #{index} requires gradient and is not a double precision floating point or complex. "
                    "This check will likely fail if all the inputs are not of double precision floating point or complex. ",
                    stacklevel=stacklevel,
                )
            positions.append(index)
    if not positions:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of them have requires_grad=True."
        )
    return tuple(positions)


# ---------------------------------------------------------------------------- evaluations


class _Evaluator:
    """``fn`` at given values of the checked inputs: its floating-point outputs as one float64
    vector (flattened, concatenated), memoized by the point (the oracle's stencils repeat
    across Jacobian rows)."""

    def __init__(self, problem: _Problem, reference: Sequence[Any]) -> None:
        self.problem = problem
        self.shapes = [tuple(o.shape) for o in reference]
        self.cache: dict[tuple[bytes, ...], FloatArray] = {}

    def flat(self, point: Mapping[str, FloatArray]) -> FloatArray:
        names = self.problem.names
        key = tuple(np.ascontiguousarray(point[name], dtype=np.float64).tobytes() for name in names)
        found = self.cache.get(key)
        if found is not None:
            return found
        engine, args = self.problem.engine, list(self.problem.inputs)
        for name, position in zip(names, self.problem.checked):
            original = args[position]
            values = np.asarray(point[name], dtype=np.float64).reshape(tuple(original.shape))
            args[position] = engine.tensor(values, dtype=original.dtype, requires_grad=True)
        outputs = [_array(o) for o in _float_outputs(engine, self.problem.fn(*args))]
        shapes = [o.shape for o in outputs]
        if shapes != self.shapes:
            raise ValueError(
                f"Expected `func` to return outputs with the same shape when inputs are perturbed by {self.problem.eps}, "
                f"but got: shapes {[list(s) for s in shapes]} and {[list(s) for s in self.shapes]}."
            )
        flat = np.concatenate([o.reshape(-1) for o in outputs]) if outputs else np.zeros(0)
        self.cache[key] = flat
        return flat

    def along(self, name: str) -> numeric.Forward:
        """The flat outputs as a function of the input ``name`` alone (the others fixed)."""

        def forward(point: dict[str, FloatArray]) -> FloatArray:
            full = dict(self.problem.values)
            full[name] = point[name]
            return self.flat(full)

        return forward


@dataclass(frozen=True)
class _Numerical:
    value: list[list[FloatArray]]
    """[float output k][checked input j]: the Jacobian block, input elements × output elements."""
    error: list[list[FloatArray]]
    """The oracle's error estimate of each element."""


def _offsets(sizes: Sequence[int]) -> list[int]:
    return [0, *np.cumsum(sizes, dtype=np.int64).tolist()]


def _numerical_jacobians(problem: _Problem, evaluator: _Evaluator) -> _Numerical:
    """Column r (output element r of the concatenated outputs) is the oracle's
    ``central_gradient`` of e_rᵀ f: all columns share the stencil points (same seed), so after
    the first column every evaluation is a cache hit."""
    sizes = [math.prod(shape) for shape in evaluator.shapes]
    total, offsets = sum(sizes), _offsets(sizes)
    value = {name: np.zeros((x.size, total)) for name, x in problem.values.items()}
    error = {name: np.zeros((x.size, total)) for name, x in problem.values.items()}
    for r in range(total):
        basis = np.zeros(total)
        basis[r] = 1.0
        column = numeric.central_gradient(
            evaluator.flat, problem.values, basis, levels=LEVELS, dtype_eps=problem.dtype_eps, relative_step=problem.eps
        )
        for name in problem.names:
            value[name][:, r] = column.value[name].reshape(-1)
            error[name][:, r] = column.error_estimate[name].reshape(-1)
    blocks = [slice(offsets[k], offsets[k + 1]) for k in range(len(sizes))]
    return _Numerical(
        [[value[name][:, block] for name in problem.names] for block in blocks],
        [[error[name][:, block] for name in problem.names] for block in blocks],
    )


# ---------------------------------------------------------------------------- analytical


def _vjp(problem: _Problem, output: Any, grad_output: FloatArray) -> tuple[Any, ...]:
    engine = problem.engine
    v = engine.tensor(grad_output.reshape(tuple(output.shape)), dtype=output.dtype)
    grads: tuple[Any, ...] = engine.autograd.grad(
        output, problem.checked_inputs, v, retain_graph=True, allow_unused=True
    )
    return grads


def _check_attributes(problem: _Problem, grads: Sequence[Any], output_index: int, what: str) -> None:
    """Each gradient has its input's shape and dtype."""
    for j, (g, x) in enumerate(zip(grads, problem.checked_inputs)):
        if g is None:
            continue
        if tuple(g.shape) != tuple(x.shape):
            raise GradcheckError(
                f"Analytical gradient has incorrect size: the gradient of output {output_index} with respect to input {j} "
                f"({what}) has shape {list(g.shape)}, the input has shape {list(x.shape)}",
                check="size",
                output_index=output_index,
                input_index=j,
            )
        if g.dtype != x.dtype:
            raise GradcheckError(
                f"Gradient has dtype mismatch: the gradient of output {output_index} with respect to input {j} "
                f"({what}) has dtype {g.dtype}, the input has dtype {x.dtype}",
                check="dtype",
                output_index=output_index,
                input_index=j,
            )


def _analytical_rows(problem: _Problem, output: Any, output_index: int, check: bool) -> list[FloatArray]:
    """The Jacobian of ``output`` with respect to each checked input, one
    ``autograd.grad`` per output element: input elements × output elements."""
    numel = _numel(output)
    jacobians = [np.zeros((x.size, numel)) for x in problem.values.values()]
    for r in range(numel):
        basis = np.zeros(numel)
        basis[r] = 1.0
        grads = _vjp(problem, output, basis)
        if check:
            _check_attributes(problem, grads, output_index, f"row {r}")
        for j, g in enumerate(grads):
            if g is not None:
                jacobians[j][:, r] = _array(g).reshape(-1)
    return jacobians


def _check_reentrant(problem: _Problem, first: Sequence[FloatArray], second: Sequence[FloatArray], output_index: int) -> None:
    for j, (a, b) in enumerate(zip(first, second)):
        if a.size == 0:
            continue
        difference = float(np.max(np.abs(a - b)))
        if difference > problem.nondet_tol:
            raise GradcheckError(
                f"{_NOT_REENTRANT}: for output {output_index} with respect to input {j} the two runs differ by up to "
                f"{difference:.3g}. The tolerance for nondeterminism was {problem.nondet_tol} (nondet_tol).",
                check="reentrancy",
                output_index=output_index,
                input_index=j,
            )


def _analytical_jacobian(problem: _Problem, output: Any, output_index: int) -> list[FloatArray]:
    """Row by row, twice (reentrancy), with the size and dtype of every gradient checked."""
    first = _analytical_rows(problem, output, output_index, check=True)
    second = _analytical_rows(problem, output, output_index, check=False)
    _check_reentrant(problem, first, second, output_index)
    return first


# ---------------------------------------------------------------------------- comparison


def _close(analytical: npt.ArrayLike, numerical: npt.ArrayLike, rtol: float, atol: float) -> npt.NDArray[np.bool_]:
    """torch.isclose(analytical, numerical, rtol, atol): |a - n| <= atol + rtol·|n|, or equal
    (infinities of one sign); nan is never close."""
    a, n = np.asarray(analytical, dtype=np.float64), np.asarray(numerical, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray((a == n) | (np.abs(a - n) <= atol + rtol * np.abs(n)))


def _show(array: FloatArray, prefix: str) -> str:
    return np.array2string(array, precision=10, separator=", ", prefix=prefix, max_line_width=120)


def _mismatch(
    problem: _Problem, output_index: int, input_index: int, analytical: FloatArray, numerical: FloatArray, error: FloatArray
) -> GradcheckError:
    close = _close(analytical, numerical, problem.rtol, problem.atol)
    with np.errstate(invalid="ignore"):
        difference = np.where(close, 0.0, np.abs(analytical - numerical))
    flat = int(np.nanargmax(np.where(np.isnan(difference), np.inf, difference)))
    row, column = np.unravel_index(flat, analytical.shape)
    a, n, e = float(analytical[row, column]), float(numerical[row, column]), float(error[row, column])
    tolerance = problem.atol + problem.rtol * abs(n)
    lines = [
        f"Jacobian mismatch for output {output_index} with respect to input {input_index},",
        f"numerical:{_show(numerical, 'numerical:')}",
        f"analytical:{_show(analytical, 'analytical:')}",
        "",
        (
            f"{int((~close).sum())} of {close.size} elements differ; the largest difference is at input element "
            f"{int(row)}, output element {int(column)}: analytical {a!r}, numerical {n!r}, |difference| "
            f"{abs(a - n):.3g} > atol + rtol·|numerical| = {tolerance:.3g}."
        ),
        (
            f"The numerical value there is the numeric oracle's Richardson extrapolation ({LEVELS} levels, largest "
            f"step eps·max(1, |x|) with eps = {problem.eps:g}), estimated error {e:.3g}."
        ),
    ]
    if not e <= tolerance:
        lines.append(
            "That estimate exceeds the tolerance: the numerical value itself is uncertain there (a kink or a "
            "discontinuity within eps of the point, or a noisy forward), so the mismatch need not be the gradient's."
        )
    return GradcheckError(
        "\n".join(lines) + "\n",
        check="jacobian",
        output_index=output_index,
        input_index=input_index,
        numerical=numerical,
        analytical=analytical,
    )


# ---------------------------------------------------------------------------- the modes


def _check_zero_numerical(numerical: _Numerical) -> None:
    for blocks in numerical.value:
        for j, block in enumerate(blocks):
            if bool(np.any(block != 0)):
                raise GradcheckError(
                    "Numerical gradient for function expected to be zero: no output requires grad, "
                    f"but the outputs change with input {j}",
                    check="no-differentiable-outputs",
                    input_index=j,
                    numerical=block,
                )


def _slow(problem: _Problem, evaluator: _Evaluator, float_outputs: list[Any], differentiable: list[int]) -> None:
    numerical = _numerical_jacobians(problem, evaluator)
    if not differentiable:
        _check_zero_numerical(numerical)
        return
    for i, k in enumerate(differentiable):
        analytical = _analytical_jacobian(problem, float_outputs[k], i)
        for j, (a, n) in enumerate(zip(analytical, numerical.value[k])):
            if not bool(np.all(_close(a, n, problem.rtol, problem.atol))):
                raise _mismatch(problem, i, j, a, n, numerical.error[k][j])


def _nonnegative_unit(rng: np.random.Generator, size: int) -> FloatArray:
    """torch's v: uniform in [0, 1), normalized (redrawn in the null event of all zeros)."""
    while size:
        v = rng.random(size)
        norm = float(np.linalg.norm(v))
        if norm > 0:
            return np.asarray(v / norm, dtype=np.float64)
    return np.zeros(0)


def _fast(problem: _Problem, evaluator: _Evaluator, float_outputs: list[Any], differentiable: list[int]) -> None:
    sizes = [_numel(o) for o in float_outputs]
    total, offsets = sum(sizes), _offsets(sizes)
    rng = np.random.default_rng(FAST_MODE_SEED)

    def projection(name: str, grad_output: FloatArray, claimed: FloatArray) -> numeric.ProjectedCheck:
        return numeric.projected(
            evaluator.along(name),
            {name: problem.values[name]},
            grad_output,
            {name: claimed},
            directions=1,
            seed=FAST_MODE_SEED,
            levels=LEVELS,
            dtype_eps=problem.dtype_eps,
            relative_step=problem.eps,
        )

    nonempty = [(j, name) for j, name in enumerate(problem.names) if problem.values[name].size]
    if not differentiable:
        for j, name in nonempty:
            for r in range(total):
                basis = np.zeros(total)
                basis[r] = 1.0
                check = projection(name, basis, np.zeros(problem.values[name].shape))
                if not abs(float(check.numeric[0])) <= problem.nondet_tol:
                    raise GradcheckError(
                        "Numerical gradient for function expected to be zero: no output requires grad, "
                        f"but output element {r} changes along a direction of input {j}",
                        check="no-differentiable-outputs",
                        input_index=j,
                    )
        return

    vs = [_nonnegative_unit(rng, sizes[k]) for k in differentiable]
    claimed: list[list[FloatArray]] = []
    for i, k in enumerate(differentiable):
        runs = []
        for _ in range(2):
            grads = _vjp(problem, float_outputs[k], vs[i])
            _check_attributes(problem, grads, i, "fast mode")
            runs.append(
                [np.zeros((x.size, 1)) if g is None else _array(g).reshape(-1, 1) for g, x in zip(grads, problem.values.values())]
            )
        _check_reentrant(problem, runs[0], runs[1], i)
        claimed.append([g.reshape(x.shape) for g, x in zip(runs[0], problem.values.values())])

    for j, name in nonempty:
        for i, k in enumerate(differentiable):
            grad_output = np.zeros(total)
            grad_output[offsets[k] : offsets[k + 1]] = vs[i]
            check = projection(name, grad_output, claimed[i][j])
            u = check.directions[0][name]
            n, a = float(check.numeric[0]), float(check.claimed[0])
            atol = problem.atol * float(np.sum(np.abs(u))) * float(np.sum(vs[i]))
            if not bool(_close(a, n, problem.rtol, atol)):
                raise _fast_mismatch(problem, evaluator, float_outputs, differentiable, i, j, a, n, atol)


def _fast_mismatch(
    problem: _Problem,
    evaluator: _Evaluator,
    float_outputs: list[Any],
    differentiable: list[int],
    i: int,
    j: int,
    analytical: float,
    numerical: float,
    atol: float,
) -> GradcheckError:
    """torch's fast-mode message: the two scalars, then both Jacobians of the pair in slow mode."""
    k = differentiable[i]
    slow_numerical = _numerical_jacobians(problem, evaluator).value[k][j]
    slow_analytical = _analytical_rows(problem, float_outputs[k], i, check=False)[j]
    with np.errstate(invalid="ignore"):
        largest = float(np.max(np.abs(slow_numerical - slow_analytical), initial=0.0))
    lines = [
        f"Jacobian mismatch for output {i} with respect to input {j},",
        f"numerical:{numerical!r}",
        f"analytical:{analytical!r}",
        "",
        (
            "The above quantities are vᵀJu for seeded random unit vectors u, v (fast mode), compared within "
            f"atol·‖u‖₁·‖v‖₁ + rtol·|numerical| = {atol + problem.rtol * abs(numerical):.3g}. Below, we recompute "
            "numerical and analytical jacobians in slow mode:"
        ),
        "",
        f"Numerical:\n{_show(slow_numerical, '')}",
        f"Analytical:\n{_show(slow_analytical, '')}",
        "",
        f"The max per-element difference (slow mode) is: {largest!r}.",
    ]
    if bool(np.all(_close(slow_analytical, slow_numerical, problem.rtol, problem.atol))):
        lines.append(_FAST_FAIL_SLOW_OK)
    return GradcheckError(
        "\n".join(lines) + "\n",
        check="jacobian",
        output_index=i,
        input_index=j,
        numerical=slow_numerical,
        analytical=slow_analytical,
    )


def _check_zero_grad_output(problem: _Problem, outputs: list[Any]) -> None:
    """An all-zero grad_output for every output gives exactly zero gradients, each of its
    input's shape and dtype (the last check: it frees the graph)."""
    engine = problem.engine
    grads = engine.autograd.grad(
        outputs, problem.checked_inputs, [engine.zeros_like(o) for o in outputs], allow_unused=True
    )
    for j, (g, x) in enumerate(zip(grads, problem.checked_inputs)):
        if g is None:
            continue
        values = _array(g)
        if not bool(np.all(values == 0)):
            raise GradcheckError(
                f"backward not multiplied by grad_output: with all-zero grad_outputs the gradient with respect to input {j} "
                f"is not zero (largest |element| {float(np.nanmax(np.abs(values))):.3g})",
                check="zero-grad-output",
                input_index=j,
            )
        if g.dtype != x.dtype:
            raise GradcheckError(
                f"grad is incorrect type: the gradient with respect to input {j} has dtype {g.dtype}, the input {x.dtype}",
                check="dtype",
                input_index=j,
            )
        if tuple(g.shape) != tuple(x.shape):
            raise GradcheckError(
                f"grad is incorrect size: the gradient with respect to input {j} has shape {list(g.shape)}, "
                f"the input {list(x.shape)}",
                check="size",
                input_index=j,
            )


def _run(problem: _Problem, fast_mode: bool) -> None:
    out = problem.fn(*problem.inputs)
    float_outputs = _float_outputs(problem.engine, out)
    differentiable = [k for k, o in enumerate(float_outputs) if o.requires_grad]
    dtypes = [_numpy_dtype(x) for x in problem.checked_inputs] + [_numpy_dtype(o) for o in float_outputs]
    problem.dtype_eps = max([numeric.EPS64] + [float(np.finfo(d).eps) for d in dtypes if d.kind == "f"])
    evaluator = _Evaluator(problem, float_outputs)
    (_fast if fast_mode else _slow)(problem, evaluator, float_outputs, differentiable)
    outputs = [float_outputs[k] for k in differentiable]
    if outputs:
        _check_zero_grad_output(problem, outputs)


# ---------------------------------------------------------------------------- the API


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    check_backward_ad: bool = True,
    nondet_tol: float = 0.0,
    engine: ModuleType | None = None,
) -> bool:
    """Check the gradients of ``fn`` (tensors in, a tensor or a tuple of tensors out) at
    ``inputs`` (a tensor or a tuple: the tensors requiring grad are checked) against the numeric
    oracle's finite differences, with torch.autograd.gradcheck's defaults and checks (see the
    module docstring). True if every check passes; otherwise raises ``GradcheckError``, or
    returns False when ``raise_exception`` is False. ``engine`` is refgrad by default (torch
    works too)."""
    if not check_backward_ad:
        raise ValueError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True: there is no forward-mode AD "
            "to check, so check_backward_ad=False would check nothing"
        )
    module = _default_engine(engine)
    tupled = _as_tuple(inputs)
    checked = _checked_positions(module, tupled, stacklevel=3)
    problem = _Problem(module, fn, tupled, checked, eps, atol, rtol, nondet_tol)
    try:
        _run(problem, fast_mode)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    check_backward_ad: bool = True,
    nondet_tol: float = 0.0,
    engine: ModuleType | None = None,
) -> bool:
    """``gradcheck`` of fn's vector-Jacobian product ``(inputs, grad_outputs) ↦
    autograd.grad(outputs, inputs, grad_outputs, create_graph=True)``: the second derivatives
    with respect to the inputs and to ``grad_outputs`` (a tensor or tuple, one per
    differentiable output; None: seeded uniform [-1, 1) tensors requiring grad)."""
    module = _default_engine(engine)
    tupled = _as_tuple(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(GRAD_OUTPUTS_SEED)
        tupled_grad_outputs = tuple(
            module.tensor(
                rng.uniform(-1.0, 1.0, tuple(o.shape)),
                dtype=o.dtype if o.dtype.is_floating_point else module.float64,
                requires_grad=True,
            )
            for o in _differentiable_outputs(module, fn(*tupled))
        )
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    count = len(tupled)
    differentiable_positions = [i for i, x in enumerate(tupled) if _is_tensor(module, x) and x.requires_grad]

    def vjp(*args: Any) -> tuple[Any, ...]:
        outputs = _differentiable_outputs(module, fn(*args[:count]))
        grads = module.autograd.grad(
            outputs,
            [args[i] for i in differentiable_positions],
            list(args[count:]),
            create_graph=True,
            allow_unused=True,
        )
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        vjp,
        tupled + tupled_grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        check_backward_ad=check_backward_ad,
        nondet_tol=nondet_tol,
        engine=module,
    )
