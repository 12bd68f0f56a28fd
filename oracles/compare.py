"""The comparison: the engine's gradient next to the symbolic and the numeric oracle's.

For a program (or an expression) at given inputs and a grad_output v, three answers to
"what is vᵀJ?" are put side by side, element by element:

* **engine**: refgrad (or torch) runs the program and backpropagates v;
* **symbolic**: SymPy differentiates the program's forward meaning, evaluated at 40 digits;
* **numeric**: central differences with Richardson extrapolation and an error estimate.

Tolerances come from where the error comes from, never from a constant:

* the numeric value is trusted to within its own error estimate;
* the engine computes in ``dtype``: it is allowed ``ROUNDING_FACTOR·ops·eps(dtype)·(|g| + s)``,
  a few ulps per operation on the path relative to the gradient's scale s: the largest
  gradient element of any input, or, if larger, max|v|·max|intermediate value| (the backward
  pass sums terms that large even where they cancel, as for the sum of a softmax or
  exp(x) - 1 - x, and rounding an intermediate value passes on errors of that size, as in
  sin(x²)); plus how far the exact gradient moves when the inputs move by ops·eps(dtype)
  relative (the conditioning: cos(x²) at x = 80 turns the rounding of x² into 1e-10);
* the forward cross-check allows ``ROUNDING_FACTOR·ops·eps(dtype)·(|f| + max|intermediate|)``;
* the symbolic value is exact to far below either.

Element verdicts: ``agree``; ``mismatch`` (outside a tolerance: the engine disagrees with an
oracle); ``not-smooth`` (the numeric stencil crossed a kink or branch and no symbolic value
decides); ``non-finite`` (inf/nan where the oracles do not have the same); ``unsupported``
(no oracle could evaluate it). The report's verdict is the worst of its elements, with the
forward cross-check (engine forward vs the oracles' numpy forward) and the Taylor test
(convergence order 2 of the engine's gradient) counted as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from oracles import numeric, symbolic
from oracles.expression import parse
from oracles.interpret import run_engine, run_numpy
from oracles.program import Program, check_inputs

__all__ = ["InputReport", "ROUNDING_FACTOR", "Report", "SEVERITY", "Verdict", "compare"]

Verdict = Literal["agree", "mismatch", "not-smooth", "non-finite", "unsupported"]
SEVERITY: dict[Verdict, int] = {"agree": 0, "unsupported": 1, "not-smooth": 2, "non-finite": 3, "mismatch": 4}
ROUNDING_FACTOR = 16.0
"""Ulps allowed per operation of the program for the engine's own rounding."""
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InputReport:
    name: str
    shape: tuple[int, ...]
    value: FloatArray
    engine: FloatArray
    symbolic: FloatArray | None
    numeric: FloatArray
    numeric_error: FloatArray
    smooth: npt.NDArray[np.bool_]
    tolerance_symbolic: FloatArray
    tolerance_numeric: FloatArray
    verdicts: list[Verdict]

    @property
    def verdict(self) -> Verdict:
        return _worst(self.verdicts)


@dataclass(frozen=True)
class Report:
    source: str
    dtype: str
    grad_output: FloatArray
    forward_engine: FloatArray
    forward_oracle: FloatArray
    forward_agrees: bool
    inputs: list[InputReport]
    taylor: numeric.TaylorResult | None
    tolerance_note: str
    notes: list[str] = field(default_factory=list)
    order: int = 1
    """1: gradients vᵀJ; 2: their derivatives along ``direction``."""
    direction: dict[str, FloatArray] | None = None

    @property
    def verdict(self) -> Verdict:
        verdicts: list[Verdict] = [i.verdict for i in self.inputs]
        if not self.forward_agrees:
            verdicts.append("mismatch")
        # The Taylor test decides only where no symbolic value does: its noise model is the
        # forward's rounding, so a forward computed inaccurately in float64 (1 - cos x at tiny
        # x) can look wrong to it while the exact symbolic gradient agrees with the engine.
        no_symbolic = any(i.symbolic is None for i in self.inputs)
        if no_symbolic and self.taylor is not None and self.taylor.verdict == "wrong" and all(bool(i.smooth.all()) for i in self.inputs):
            verdicts.append("mismatch")
        return _worst(verdicts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable form (lists of floats; inf and nan as strings)."""
        return {
            "source": self.source,
            "dtype": self.dtype,
            "order": self.order,
            "direction": None if self.direction is None else {n: _plain(u) for n, u in self.direction.items()},
            "verdict": self.verdict,
            "forward": {"engine": _plain(self.forward_engine), "oracle": _plain(self.forward_oracle), "agrees": self.forward_agrees},
            "grad_output": _plain(self.grad_output),
            "tolerance": self.tolerance_note,
            "taylor": None
            if self.taylor is None
            else {"verdict": self.taylor.verdict, "order": _number(self.taylor.order), "reason": self.taylor.reason},
            "inputs": [
                {
                    "name": i.name,
                    "shape": list(i.shape),
                    "verdict": i.verdict,
                    "value": _plain(i.value),
                    "engine": _plain(i.engine),
                    "symbolic": None if i.symbolic is None else _plain(i.symbolic),
                    "numeric": _plain(i.numeric),
                    "numeric_error": _plain(i.numeric_error),
                    "tolerance_symbolic": _plain(i.tolerance_symbolic),
                    "tolerance_numeric": _plain(i.tolerance_numeric),
                    "element_verdicts": list(i.verdicts),
                }
                for i in self.inputs
            ],
            "notes": self.notes,
        }

    def to_text(self) -> str:
        lines = [f"compare: {self.source}   (engine dtype {self.dtype})"]
        if self.direction is not None:
            along = ", ".join(f"{n}={_plain(u)}" for n, u in self.direction.items())
            lines.append(f"second derivatives: d/dx of <vᵀJ, u> with u: {along}")
        lines.append(f"forward: engine and oracle {'agree' if self.forward_agrees else 'DISAGREE'}")
        header = f"  {'element':<10}{'engine':>16}{'symbolic':>16}{'numeric':>16}{'±numeric':>10}{'|eng-ref|':>10}{'tolerance':>10}  verdict"
        for report in self.inputs:
            lines.append(f"input {report.name} {list(report.shape)}")
            lines.append(header)
            reference = report.numeric if report.symbolic is None else report.symbolic
            for k, index in enumerate(np.ndindex(report.shape)):
                symbolic_text = "-" if report.symbolic is None else _fmt(float(report.symbolic[index]))
                error = abs(float(report.engine[index]) - float(reference[index]))
                lines.append(
                    f"  {str(list(index)):<10}{_fmt(float(report.engine[index])):>16}{symbolic_text:>16}"
                    f"{_fmt(float(report.numeric[index])):>16}{report.numeric_error[index]:>10.1e}{error:>10.1e}"
                    f"{report.tolerance_symbolic[index]:>10.1e}  {report.verdicts[k]}"
                )
        if self.taylor is not None:
            taylor = self.taylor
            order = f"order {taylor.order:.2f}" if np.isfinite(taylor.order) else "no order to fit"
            lines.append(f"taylor test: {order} ({taylor.verdict})" + ("" if np.isfinite(taylor.order) else f": {taylor.reason}"))
        lines.append(f"tolerance: {self.tolerance_note}")
        lines.extend(f"note: {note}" for note in self.notes)
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _number(value: float) -> float | str:
    return value if np.isfinite(value) else str(value)


def _plain(array: FloatArray) -> Any:
    return np.vectorize(_number, otypes=[object])(array).tolist() if array.size else []


def _worst(verdicts: list[Verdict]) -> Verdict:
    return max(verdicts, key=lambda v: SEVERITY[v], default="agree")


def compare(
    target: Program | str,
    inputs: Mapping[str, npt.ArrayLike],
    *,
    grad_output: npt.ArrayLike | None = None,
    engine: ModuleType | None = None,
    dtype: str = "float64",
    levels: int = 4,
    seed: int = 0,
    order: Literal[1, 2] = 1,
    direction: Mapping[str, npt.ArrayLike] | None = None,
    rounding_factor: float = ROUNDING_FACTOR,
    atol: float = 0.0,
) -> Report:
    """Engine, symbolic and numeric gradients of ``target`` at ``inputs``, side by side.

    ``order=2`` compares second derivatives instead: the derivative of ⟨vᵀJ, u⟩ (``u`` is
    ``direction``, all ones by default), which the engine computes with ``create_graph=True``
    and a second backward, the symbolic oracle by differentiating twice, and the numeric
    oracle by central differences of the engine's own first-order gradient (as
    gradgradcheck does: the first order is checked by ``order=1``). ``rounding_factor``
    (ulps per operation) and ``atol`` (added to every tolerance) loosen or tighten the
    tolerances."""
    if engine is None:
        import refgrad

        engine = refgrad
    values = {name: np.asarray(v, dtype=np.float64) for name, v in inputs.items()}
    program = parse(target, {n: v.shape for n, v in values.items()}) if isinstance(target, str) else target
    values = check_inputs(program, values)
    notes: list[str] = []
    intermediates: list[FloatArray] = []
    oracle_forward = run_numpy(program, values, intermediates=intermediates)
    v = np.ones_like(oracle_forward) if grad_output is None else np.broadcast_to(np.asarray(grad_output, dtype=np.float64), oracle_forward.shape)
    u = {s.name: np.broadcast_to(np.asarray(1.0 if direction is None else direction[s.name], dtype=np.float64), s.shape) for s in program.inputs}
    engine_dtype = getattr(engine, dtype)

    def engine_gradient(point: Mapping[str, FloatArray], second: bool) -> tuple[FloatArray, dict[str, FloatArray]]:
        """The engine's forward and vᵀJ at ``point`` (with ``second``: its derivative along u)."""
        out, tensors = run_engine(program, point, engine, engine_dtype)
        leaves = list(tensors.values())
        grads = engine.autograd.grad(out, leaves, engine.tensor(np.array(v), dtype=engine_dtype), create_graph=second, allow_unused=True)
        if second:
            along = [(g * engine.tensor(u[n], dtype=engine_dtype)).sum() for n, g in zip(tensors, grads) if g is not None and g.requires_grad]
            total = along[0] if along else None
            for term in along[1:]:
                total = total + term
            grads = (None,) * len(leaves) if total is None else engine.autograd.grad(total, leaves, allow_unused=True)
        return np.asarray(out.detach().numpy(), dtype=np.float64), {
            n: np.zeros(t.shape) if g is None else np.asarray(g.detach().numpy(), dtype=np.float64) for (n, t), g in zip(tensors.items(), grads)
        }

    engine_forward, engine_grads = engine_gradient(values, order == 2)
    eps = float(np.finfo(np.dtype(dtype)).eps)
    ops = len(program.ops) * order
    value_scale = max((_finite_max(x) for x in intermediates), default=0.0)
    forward_tolerance = rounding_factor * ops * eps * (np.abs(oracle_forward) + value_scale) + atol
    forward_agrees = engine_forward.shape == oracle_forward.shape and bool(
        np.all((np.abs(engine_forward - oracle_forward) <= forward_tolerance) | _same_special(engine_forward, oracle_forward))
    )
    if not forward_agrees:
        notes.append("the engine's forward values differ from the oracles' forward: its gradient is of another function")

    def exact(point: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        if order == 2:
            return symbolic.hessian_vector(program, point, v, u)
        return symbolic.gradient(program, point, v)

    try:
        symbolic_grads: dict[str, FloatArray] | None = exact(values)
    except symbolic.SymbolicUnsupported as error:
        symbolic_grads = None
        notes.append(f"symbolic oracle: {error}")

    def forward(point: dict[str, FloatArray]) -> FloatArray:
        if order == 2:  # the objective whose gradient is the second derivative along u
            first = engine_gradient(point, False)[1]
            return np.asarray(sum(float(np.sum(first[n] * u[n])) for n in first))
        return run_numpy(program, point)

    def signature(point: dict[str, FloatArray]) -> list[Any]:
        pieces: list[Any] = []
        run_numpy(program, point, pieces)
        return pieces

    objective_v = v if order == 1 else None
    numeric_grads = numeric.central_gradient(forward, values, objective_v, levels=levels, signature=signature)
    taylor = numeric.taylor_test(forward, values, objective_v, engine_grads, seed=seed, signature=signature)

    references = symbolic_grads if symbolic_grads is not None else numeric_grads.value
    input_scale = max((_finite_max(x) for x in values.values()), default=0.0)
    scale = max(max((_finite_max(r) for r in references.values()), default=0.0), _finite_max(v) * max(value_scale, input_scale))
    conditioning = _conditioning(exact, values, symbolic_grads, ops * eps) if symbolic_grads is not None else {}
    reports = []
    for spec in program.inputs:
        name = spec.name
        g = engine_grads[name]
        reference = references[name]
        engine_tolerance = rounding_factor * ops * eps * (np.abs(reference) + scale) + conditioning.get(name, 0.0) + atol
        tolerance_numeric = numeric_grads.error_estimate[name] + engine_tolerance
        verdicts = [
            _element_verdict(
                float(g[i]),
                None if symbolic_grads is None else float(symbolic_grads[name][i]),
                float(numeric_grads.value[name][i]),
                bool(numeric_grads.smooth[name][i]),
                float(engine_tolerance[i]),
                float(tolerance_numeric[i]),
            )
            for i in np.ndindex(spec.shape)
        ]
        reports.append(
            InputReport(
                name, spec.shape, values[name], g, None if symbolic_grads is None else symbolic_grads[name],
                numeric_grads.value[name], numeric_grads.error_estimate[name], numeric_grads.smooth[name],
                engine_tolerance, tolerance_numeric, verdicts,
            )
        )
    note = (
        f"engine vs symbolic: {rounding_factor:g}·{ops} ops·eps({dtype})·(|g| + {scale:.3g}) + conditioning"
        + (f" + {atol:g}" if atol else "")
        + "; engine vs numeric: that plus the numeric error estimate (Richardson + rounding)"
    )
    return Report(
        program.source or "<program>", dtype, v, engine_forward, oracle_forward, forward_agrees, reports, taylor, note, notes,
        order=order, direction=None if order == 1 else u,
    )


def _conditioning(
    exact: Callable[[Mapping[str, FloatArray]], dict[str, FloatArray]],
    values: dict[str, FloatArray],
    centre: dict[str, FloatArray],
    delta: float,
) -> dict[str, FloatArray]:
    """How far the exact answer moves when the inputs move by the relative rounding ``delta``
    that ``ops`` operations can make (an engine's answer is the exact gradient at inputs that
    close, for a backward-stable computation): covers ill-conditioned points such as
    cos(x²) at large x, where rounding x² alone moves the gradient by far more than ulps."""
    spread = {name: np.zeros_like(g) for name, g in centre.items()}
    for sign in (1.0, -1.0):
        moved = exact({n: x * (1 + sign * delta) for n, x in values.items()})
        for name, g in moved.items():
            difference = np.abs(g - centre[name])
            spread[name] = np.fmax(spread[name], np.where(np.isfinite(difference), difference, 0.0))
    return spread


def _finite_max(x: FloatArray) -> float:
    """The largest finite magnitude in ``x`` (0 if none): the scale that rounding works at."""
    return float(np.max(np.abs(x[np.isfinite(x)]), initial=0.0))


def _same_special(a: FloatArray, b: FloatArray) -> npt.NDArray[np.bool_]:
    return np.asarray((np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b)))


def _element_verdict(
    engine: float, symbolic: float | None, numeric_value: float, smooth: bool, tol_symbolic: float, tol_numeric: float
) -> Verdict:
    reference = symbolic if symbolic is not None else numeric_value
    if not (np.isfinite(engine) and np.isfinite(reference)):
        same = (np.isnan(engine) and np.isnan(reference)) or engine == reference
        return "agree" if same else "non-finite"
    if symbolic is not None and abs(engine - symbolic) > tol_symbolic:
        return "mismatch"
    if smooth and np.isfinite(numeric_value) and abs(engine - numeric_value) > tol_numeric:
        return "mismatch"
    if not smooth and symbolic is None:
        return "not-smooth"
    return "agree"
