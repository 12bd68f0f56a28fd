"""The numeric gradient oracle (oracles/numeric.py) against hand-written gradients.

Calibration figures are printed (run with ``-s`` to see them): the coverage of the error
estimate, the Taylor test's fitted orders, the noise model's measured slack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from oracles.interpret import run_numpy
from oracles.numeric import (
    NOISE_MODEL_SLACK,
    ORDER_TOLERANCE,
    FloatArray,
    Forward,
    Signature,
    central_gradient,
    projected,
    taylor_test,
)
from oracles.program import Input, Op, Program, Ref

AnyArray = npt.NDArray[Any]
Values = dict[str, AnyArray]


# ---------------------------------------------------------------------------- test functions
# Forwards are written with numpy ufuncs only, so that they run in float64 and in extended
# precision (np.longdouble) alike; each comes with its vector-Jacobian product by hand.


@dataclass(frozen=True)
class Smooth:
    name: str
    shapes: dict[str, tuple[int, ...]]
    forward: Callable[[Values], AnyArray]
    vjp: Callable[[Values, AnyArray], Values]


def _poly(v: Values) -> AnyArray:
    x, y = v["x"], v["y"]
    return np.asarray(x**3 - 2 * x**2 * y + y**4)


def _poly_vjp(v: Values, g: AnyArray) -> Values:
    x, y = v["x"], v["y"]
    return {"x": g * (3 * x**2 - 4 * x * y), "y": g * (-2 * x**2 + 4 * y**3)}


def _exp_sin_log(v: Values) -> AnyArray:
    x, y = v["x"], v["y"]
    return np.asarray(np.exp(np.sin(x)) * np.log(1 + y**2))


def _exp_sin_log_vjp(v: Values, g: AnyArray) -> Values:
    x, y = v["x"], v["y"]
    e, lg = np.exp(np.sin(x)), np.log(1 + y**2)
    return {"x": g * e * np.cos(x) * lg, "y": g * e * 2 * y / (1 + y**2)}


def _softmax(v: Values) -> AnyArray:
    x = v["x"]
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return np.asarray(e / np.sum(e, axis=-1, keepdims=True))


def _softmax_vjp(v: Values, g: AnyArray) -> Values:
    s = _softmax(v)
    return {"x": s * (g - np.sum(g * s, axis=-1, keepdims=True))}


def _matmul_tanh(v: Values) -> AnyArray:
    return np.asarray(np.tanh(v["a"] @ v["b"]))


def _matmul_tanh_vjp(v: Values, g: AnyArray) -> Values:
    t = np.tanh(v["a"] @ v["b"])
    q = g * (1 - t**2)
    return {"a": q @ v["b"].T, "b": v["a"].T @ q}


def _rational(v: Values) -> AnyArray:
    x, y = v["x"], v["y"]
    return np.asarray(x * y / (1 + x**2) + np.sqrt(1 + y**2))


def _rational_vjp(v: Values, g: AnyArray) -> Values:
    x, y = v["x"], v["y"]
    return {"x": g * y * (1 - x**2) / (1 + x**2) ** 2, "y": g * (x / (1 + x**2) + y / np.sqrt(1 + y**2))}


def _logsumexp(v: Values) -> AnyArray:
    z = v["w"] * v["x"]
    peak = np.max(z)
    return np.asarray(np.log(np.sum(np.exp(z - peak))) + peak)  # 0-d output


def _logsumexp_vjp(v: Values, g: AnyArray) -> Values:
    z = v["w"] * v["x"]
    s = np.exp(z - np.max(z))
    s = s / np.sum(s)
    return {"x": g * s * v["w"], "w": g * s * v["x"]}


FUNCTIONS = [
    Smooth("polynomial", {"x": (5,), "y": (5,)}, _poly, _poly_vjp),
    Smooth("exp-sin-log", {"x": (5,), "y": (5,)}, _exp_sin_log, _exp_sin_log_vjp),
    Smooth("softmax", {"x": (2, 4)}, _softmax, _softmax_vjp),
    Smooth("matmul-tanh", {"a": (3, 4), "b": (4, 2)}, _matmul_tanh, _matmul_tanh_vjp),
    Smooth("rational", {"x": (4,), "y": (4,)}, _rational, _rational_vjp),
    Smooth("logsumexp", {"x": (6,), "w": (6,)}, _logsumexp, _logsumexp_vjp),
]


def _forward(function: Smooth) -> Forward:
    def forward(values: dict[str, FloatArray]) -> AnyArray:
        return function.forward(dict(values))

    return forward


@dataclass(frozen=True)
class Case:
    values: dict[str, FloatArray]
    grad_output: FloatArray
    truth: dict[str, FloatArray]


def _case(function: Smooth, rng: np.random.Generator) -> Case:
    values = {name: rng.uniform(-2.0, 2.0, shape) for name, shape in function.shapes.items()}
    grad_output = rng.standard_normal(np.shape(function.forward(dict(values))))
    truth = {name: np.asarray(g, dtype=np.float64) for name, g in function.vjp(dict(values), grad_output).items()}
    return Case(values, np.asarray(grad_output, dtype=np.float64), truth)


def _size(values: dict[str, FloatArray]) -> int:
    return sum(v.size for v in values.values())


Perturbation = Callable[[dict[str, FloatArray]], dict[str, FloatArray]]


def _sign_flip(g: dict[str, FloatArray]) -> dict[str, FloatArray]:
    return {name: -value for name, value in g.items()}


def _scaled(g: dict[str, FloatArray]) -> dict[str, FloatArray]:
    return {name: value * (2.001 / 2) for name, value in g.items()}


def _one_element(g: dict[str, FloatArray]) -> dict[str, FloatArray]:
    out = {name: value.copy() for name, value in g.items()}
    first = next(iter(out))
    scale = max(1.0, max(float(np.max(np.abs(v))) for v in g.values()))
    out[first].reshape(-1)[0] += 1e-3 * scale
    return out


WRONG: dict[str, Perturbation] = {"sign flip": _sign_flip, "scaled 2.001/2": _scaled, "one element": _one_element}


# ---------------------------------------------------------------------------- full mode


def test_error_estimate_covers_the_actual_error() -> None:
    rng = np.random.default_rng(20240601)
    covered = total = 0
    relative: list[float] = []
    for function in FUNCTIONS:
        here_covered = here_total = 0
        for _ in range(30):
            case = _case(function, rng)
            numeric = central_gradient(_forward(function), case.values, case.grad_output)
            assert all(bool(np.all(s)) for s in numeric.smooth.values())
            for name, truth in case.truth.items():
                error = np.abs(numeric.value[name] - truth)
                here_covered += int(np.sum(error <= numeric.error_estimate[name]))
                here_total += error.size
                scale = max(1e-3, float(np.max(np.abs(truth))))
                relative.extend((numeric.error_estimate[name] / scale).ravel().tolist())
        print(f"{function.name}: error estimate covers {here_covered}/{here_total} elements")
        assert here_covered >= 0.99 * here_total
        covered += here_covered
        total += here_total
    p50, p99 = np.percentile(relative, [50, 99])
    print(f"coverage: {covered}/{total} = {covered / total:.4f}; estimate / |gradient| median {p50:.2g}, 99th {p99:.2g}")
    assert covered >= 0.99 * total
    # The estimate is also small enough to be useful: it must resolve the smallest wrong
    # gradient of the calibration corpus (a factor 2.001/2, a relative error of 5e-4).
    assert p99 < 5e-4 / 2


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_value_within_its_estimate_and_a_wrong_gradient_outside(function: Smooth) -> None:
    case = _case(function, np.random.default_rng(7))
    numeric = central_gradient(_forward(function), case.values, case.grad_output)
    assert all(bool(np.all(c)) for c in numeric.covers(case.truth).values())
    for perturb in WRONG.values():
        assert not all(bool(np.all(c)) for c in numeric.covers(perturb(case.truth)).values())


@pytest.mark.parametrize("levels", [2, 3, 4, 6])
def test_evaluation_counts(levels: int) -> None:
    function = FUNCTIONS[1]
    case = _case(function, np.random.default_rng(levels))
    n = _size(case.values)
    program_free = central_gradient(_forward(function), case.values, case.grad_output, levels=levels)
    assert program_free.evaluations == 2 * levels * n
    assert program_free.signature_evaluations == 0

    def no_kinks(values: dict[str, FloatArray]) -> list[AnyArray]:
        return [np.sign(values["x"])]

    with_signature = central_gradient(_forward(function), case.values, case.grad_output, levels=levels, signature=no_kinks)
    assert with_signature.evaluations == 2 * levels * n
    assert with_signature.signature_evaluations == 2 * levels * n + 1

    fast = projected(_forward(function), case.values, case.grad_output, case.truth, directions=5, levels=levels, seed=1)
    assert fast.evaluations == 2 * levels * 5

    taylor = taylor_test(_forward(function), case.values, case.grad_output, case.truth, seed=1, steps=12 + levels)
    assert taylor.evaluations == 12 + levels + 1  # the centre and each step (no step skipped here)


def test_levels_must_allow_an_error_estimate() -> None:
    function = FUNCTIONS[0]
    case = _case(function, np.random.default_rng(0))
    with pytest.raises(ValueError, match="levels"):
        central_gradient(_forward(function), case.values, case.grad_output, levels=1)


def test_bad_shapes_are_errors() -> None:
    function = FUNCTIONS[0]
    case = _case(function, np.random.default_rng(0))
    with pytest.raises(ValueError, match="grad_output"):
        central_gradient(_forward(function), case.values, np.ones(3))
    with pytest.raises(ValueError, match="no gradient"):
        projected(_forward(function), case.values, case.grad_output, {"x": case.truth["x"]})
    with pytest.raises(ValueError, match="shape"):
        taylor_test(_forward(function), case.values, case.grad_output, {"x": np.ones(2), "y": case.truth["y"]})


def test_scalar_inputs_and_default_grad_output() -> None:
    def forward(values: dict[str, FloatArray]) -> AnyArray:
        return np.asarray(np.sin(values["s"]) * values["v"])

    values = {"s": np.asarray(0.3), "v": np.array([1.0, -2.0, 0.5])}
    numeric = central_gradient(forward, values)  # grad_output None: all ones
    assert numeric.value["s"].shape == ()
    assert abs(float(numeric.value["s"]) - np.cos(0.3) * (-0.5)) <= float(numeric.error_estimate["s"])
    assert np.all(np.abs(numeric.value["v"] - np.sin(0.3)) <= numeric.error_estimate["v"])


# ---------------------------------------------------------------------------- fast mode


def test_projected_mode_accepts_correct_gradients() -> None:
    rng = np.random.default_rng(11)
    alarms = checked = 0
    for function in FUNCTIONS:
        for seed in range(20):
            case = _case(function, rng)
            fast = projected(_forward(function), case.values, case.grad_output, case.truth, directions=4, seed=seed)
            assert bool(np.all(fast.smooth))
            alarms += int(np.sum(fast.mismatch))
            checked += fast.numeric.size
    print(f"projected mode on correct gradients: {alarms} false alarms in {checked} directions")
    assert alarms == 0


@pytest.mark.parametrize("wrong", list(WRONG), ids=list(WRONG))
@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_projected_mode_flags_wrong_gradients(function: Smooth, wrong: str) -> None:
    case = _case(function, np.random.default_rng(3))
    claimed = WRONG[wrong](case.truth)
    fast = projected(_forward(function), case.values, case.grad_output, claimed, directions=4, seed=5)
    assert not fast.agrees
    if wrong != "one element":  # a global error shows in every direction
        assert bool(np.all(fast.mismatch))


def test_projected_directions_are_seeded_unit_vectors() -> None:
    function = FUNCTIONS[3]
    case = _case(function, np.random.default_rng(0))
    first = projected(_forward(function), case.values, case.grad_output, case.truth, directions=3, seed=42)
    again = projected(_forward(function), case.values, case.grad_output, case.truth, directions=3, seed=42)
    other = projected(_forward(function), case.values, case.grad_output, case.truth, directions=3, seed=43)
    for a, b, c in zip(first.directions, again.directions, other.directions):
        norm = np.sqrt(sum(float(np.sum(u**2)) for u in a.values()))
        assert norm == pytest.approx(1.0, abs=1e-12)
        assert all(np.array_equal(a[name], b[name]) for name in a)
        assert not all(np.array_equal(a[name], c[name]) for name in a)
    np.testing.assert_array_equal(first.numeric, again.numeric)


# ---------------------------------------------------------------------------- Taylor test


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
def test_taylor_orders(function: Smooth) -> None:
    case = _case(function, np.random.default_rng(17))
    orders: dict[str, list[float]] = {}
    for seed in range(3):
        true = taylor_test(_forward(function), case.values, case.grad_output, case.truth, seed=seed)
        assert true.verdict == "correct", true.reason
        assert abs(true.order - 2) <= ORDER_TOLERANCE
        orders.setdefault("true", []).append(true.order)
        for wrong, perturb in WRONG.items():
            result = taylor_test(_forward(function), case.values, case.grad_output, perturb(case.truth), seed=seed)
            assert result.verdict == "wrong", (wrong, result.reason)
            assert abs(result.order - 1) <= ORDER_TOLERANCE
            orders.setdefault(wrong, []).append(result.order)
    print(f"{function.name}: " + "; ".join(f"{k} {', '.join(f'{o:.3f}' for o in v)}" for k, v in orders.items()))


def test_taylor_on_a_linear_function() -> None:
    rng = np.random.default_rng(5)
    matrix, offset = rng.standard_normal((3, 4)), rng.standard_normal(3)

    def forward(values: dict[str, FloatArray]) -> AnyArray:
        return np.asarray(matrix @ values["x"] + offset)

    values = {"x": rng.standard_normal(4)}
    grad_output = rng.standard_normal(3)
    gradient = {"x": matrix.T @ grad_output}
    right = taylor_test(forward, values, grad_output, gradient, seed=1)
    print(f"linear, true gradient: {right.verdict} ({right.reason})")
    assert right.verdict == "correct"
    assert np.isnan(right.order)  # no curvature: the remainder is rounding noise throughout
    for wrong, perturb in WRONG.items():
        result = taylor_test(forward, values, grad_output, perturb(gradient), seed=1)
        print(f"linear, {wrong}: {result.verdict} order {result.order:.3f}")
        assert result.verdict == "wrong"


def test_taylor_on_a_quadratic_function() -> None:
    def forward(values: dict[str, FloatArray]) -> AnyArray:
        return np.asarray(values["x"] ** 2)

    values = {"x": np.array([0.5, -1.5, 3.0])}
    grad_output = np.array([1.0, 2.0, -1.0])
    result = taylor_test(forward, values, grad_output, {"x": 2 * values["x"] * grad_output}, seed=0)
    assert result.verdict == "correct"
    assert abs(result.order - 2) < 0.01  # the remainder is exactly t²·Σ gᵢuᵢ² until noise


# ---------------------------------------------------------------------------- non-smooth points


def _functions(program: Program) -> tuple[Forward, Signature]:
    def forward(values: dict[str, FloatArray]) -> AnyArray:
        return run_numpy(program, values)

    def signature(values: dict[str, FloatArray]) -> list[AnyArray]:
        pieces: list[AnyArray] = []
        run_numpy(program, values, signature=pieces)
        return pieces

    return forward, signature


NEAR_KINKS = np.array([1e-7, -3e-6, 4e-6, 0.0, 0.5, -0.7, 2.0, -5e-5])


def _unary(name: str, n: int) -> Program:
    return Program((Input("x", (n,)),), (Op(name, (Ref(0),)), Op("mul", (Ref(1), 3.0))))


def _where_program(n: int) -> Program:
    # where(x > 0, x², -x)
    return Program(
        (Input("x", (n,)),),
        (Op("gt", (Ref(0), 0.0)), Op("square", (Ref(0),)), Op("neg", (Ref(0),)), Op("where", (Ref(1), Ref(2), Ref(3)))),
    )


@pytest.mark.parametrize("program", [_unary("relu", 8), _unary("abs", 8), _where_program(8)], ids=["relu", "abs", "where"])
def test_kinks_within_a_step_are_not_smooth(program: Program) -> None:
    forward, signature = _functions(program)
    values = {"x": NEAR_KINKS}
    numeric = central_gradient(forward, values, np.ones(8), signature=signature)
    step = numeric.step["x"]
    expected_smooth = np.abs(NEAR_KINKS) > step  # the stencil [x - h, x + h] misses 0
    np.testing.assert_array_equal(numeric.smooth["x"], expected_smooth)
    assert bool(np.all(numeric.finite["x"]))
    print(f"{program.op_names()}: not smooth at {NEAR_KINKS[~numeric.smooth['x']].tolist()} (step {step[0]:.3g})")
    # Away from the kink, the value is the derivative of the piece.
    if "where" in program.op_names():
        slope = np.where(NEAR_KINKS > 0, 2 * NEAR_KINKS, -1.0)
    else:
        slope = 3 * (NEAR_KINKS > 0) if "relu" in program.op_names() else 3 * np.sign(NEAR_KINKS)
    smooth = numeric.smooth["x"]
    assert np.all(np.abs(numeric.value["x"] - slope)[smooth] <= numeric.error_estimate["x"][smooth])


def test_without_a_signature_kinks_are_not_detected_but_the_values_are_computed() -> None:
    forward, _ = _functions(_unary("relu", 8))
    numeric = central_gradient(forward, {"x": NEAR_KINKS}, np.ones(8))
    assert bool(np.all(numeric.smooth["x"]))
    assert bool(np.all(np.isfinite(numeric.value["x"])))


def test_a_tie_of_the_maximum_is_not_smooth() -> None:
    program = Program((Input("x", (3,)),), (Op("amax", (Ref(0),)),))
    forward, signature = _functions(program)
    numeric = central_gradient(forward, {"x": np.array([1.0, 1.0 + 1e-7, 0.0])}, np.asarray(1.0), signature=signature)
    np.testing.assert_array_equal(numeric.smooth["x"], [False, False, True])
    assert abs(float(numeric.value["x"][2])) <= float(numeric.error_estimate["x"][2])


def test_a_stencil_leaving_the_domain_is_not_smooth_nor_finite() -> None:
    program = Program((Input("x", (3,)),), (Op("log", (Ref(0),)),))
    forward, _ = _functions(program)
    numeric = central_gradient(forward, {"x": np.array([1e-7, 1.0, 2.5])}, np.ones(3))  # log(1e-7 - 6e-6) = nan
    np.testing.assert_array_equal(numeric.smooth["x"], [False, True, True])
    np.testing.assert_array_equal(numeric.finite["x"], [False, True, True])
    assert np.all(np.abs(numeric.value["x"][1:] - [1.0, 0.4]) <= numeric.error_estimate["x"][1:])


def _where_case(first: float) -> tuple[dict[str, FloatArray], FloatArray, dict[str, FloatArray]]:
    x = np.array([first, -0.4, 0.8])
    grad_output = np.array([1.0, -2.0, 0.5])
    return {"x": x}, grad_output, {"x": grad_output * np.where(x > 0, 2 * x, -1.0)}


def test_projected_mode_near_a_kink() -> None:
    forward, signature = _functions(_where_program(3))
    values, grad_output, gradient = _where_case(1e-6)  # within a step of the branch point
    fast = projected(forward, values, grad_output, gradient, directions=6, seed=0, signature=signature)
    crosses = np.array([step * abs(float(u["x"][0])) > 1e-6 for u, step in zip(fast.directions, fast.step)])
    assert 0 < int(np.sum(crosses)) < crosses.size  # the seed gives both kinds
    np.testing.assert_array_equal(fast.smooth, ~crosses)
    assert fast.agrees  # not smooth is not a mismatch
    assert not projected(forward, values, grad_output, _scaled(gradient), directions=6, seed=0, signature=signature).agrees


TOWARDS_THE_KINK = {"x": np.array([-0.6, 0.48, 0.64])}  # a unit direction moving x[0] down across 0


def test_taylor_near_a_kink_skips_the_steps_that_cross_it() -> None:
    forward, signature = _functions(_where_program(3))
    values, grad_output, gradient = _where_case(1e-4)
    right = taylor_test(forward, values, grad_output, gradient, direction=TOWARDS_THE_KINK, signature=signature)
    skipped = int(np.sum(~right.valid))
    assert skipped > 0 and not bool(right.valid[0]) and bool(np.all(right.valid[skipped:]))
    assert right.verdict == "correct", right.reason
    assert right.evaluations == 1 + skipped + 40
    wrong = taylor_test(forward, values, grad_output, _scaled(gradient), direction=TOWARDS_THE_KINK, signature=signature)
    assert wrong.verdict == "wrong", wrong.reason
    print(f"Taylor near a kink: true {right.order:.3f}, scaled {wrong.order:.3f}, {skipped} steps skipped")


def test_taylor_too_close_to_a_kink_is_inconclusive_for_a_true_gradient() -> None:
    """1e-6 from the branch, the quadratic remainder of the true gradient rises above rounding
    noise for only two halvings: too few to fit an order. The verdict is inconclusive, never
    wrong; a wrong gradient's linear remainder is still far above the noise there."""
    forward, signature = _functions(_where_program(3))
    values, grad_output, gradient = _where_case(1e-6)
    right = taylor_test(forward, values, grad_output, gradient, direction=TOWARDS_THE_KINK, signature=signature)
    assert right.verdict == "inconclusive", right.reason
    wrong = taylor_test(forward, values, grad_output, _scaled(gradient), direction=TOWARDS_THE_KINK, signature=signature)
    assert wrong.verdict == "wrong", wrong.reason


# ---------------------------------------------------------------------------- the noise model


@pytest.mark.skipif(
    bool(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps), reason="no extended precision here"
)
def test_noise_model_against_extended_precision() -> None:
    """The actual rounding of L = sum(grad_output·f) in float64, against the same forward in
    extended precision, relative to the model eps·S: the measured slack of NOISE_MODEL_SLACK."""
    rng = np.random.default_rng(99)
    eps = float(np.finfo(np.float64).eps)
    ratios: list[float] = []
    for function in FUNCTIONS:
        for _ in range(200):
            case = _case(function, rng)
            terms = case.grad_output * function.forward(dict(case.values))
            extended = function.forward({k: v.astype(np.longdouble) for k, v in case.values.items()})
            exact = np.sum(case.grad_output.astype(np.longdouble) * extended)
            ratios.append(float(abs(np.longdouble(np.sum(terms)) - exact)) / (eps * float(np.sum(np.abs(terms)))))
    p50, p99, worst = np.percentile(ratios, [50, 99, 100])
    print(f"rounding of L / (eps·S): median {p50:.2f}, 99th {p99:.2f}, max {worst:.2f} (slack {NOISE_MODEL_SLACK})")
    assert worst <= NOISE_MODEL_SLACK


def test_the_numeric_oracle_imports_numpy_and_the_standard_library_only() -> None:
    """It evaluates forwards and nothing else: no engine, no other oracle, no derivative rule."""
    import ast
    import sys
    from pathlib import Path

    import oracles.numeric

    tree = ast.parse(Path(oracles.numeric.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert roots - {"numpy"} <= set(sys.stdlib_module_names) | {"__future__"}, roots
