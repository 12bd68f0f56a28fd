"""oracles.gradcheck: gradcheck and gradgradcheck with torch.autograd.gradcheck's defaults.

A table of functions, each written once for any engine with PyTorch's API, with the verdict
it must get: correct rules pass, wrong ones fail with the check that catches them. Every case
runs in slow and in fast mode (the two must agree), and, when torch is installed, the same
function written in torch gets the same verdict from torch.autograd.gradcheck (and from this
gradcheck run on torch). Then the failure messages, the failure modes (a monkeypatched engine
rule, wrong gradient sizes and dtypes from a wrapped engine, nondeterminism), the input
handling and the cost in evaluations.
"""

from __future__ import annotations

import importlib
import importlib.util
import types
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
import pytest

import refgrad as rg
from oracles.gradcheck import LEVELS, FailedCheck, GradcheckError, gradcheck, gradgradcheck
from refgrad import _pointwise
from test_semantics_function import function_class

ENGINES = ["refgrad"] + (["torch"] if importlib.util.find_spec("torch") else [])
Built = tuple[Callable[..., Any], tuple[Any, ...]]
Outcome = Literal["pass", "fail"]


def leaf(engine: ModuleType, values: Any) -> Any:
    return engine.tensor(values, dtype=engine.float64, requires_grad=True)


X = [[0.5, -1.2, 0.3], [1.1, 0.7, -0.4]]
Y = [[0.2, 0.9, -0.6], [-0.3, 0.4, 1.3]]


# ---------------------------------------------------------------------------- custom Functions


def square(engine: ModuleType, factor: float = 2.0, *, name: str = "Square") -> Any:
    """x ↦ x², backward factor·x·g (factor 2 is right), written with differentiable ops."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return factor * x * grad

    return function_class(engine, name, forward, backward)


def detached_square(engine: ModuleType) -> Any:
    """x ↦ x², backward 2·x.detach()·g: right once, but its own derivative in x is 0."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x.detach() * grad

    return function_class(engine, "DetachedSquare", forward, backward)


def ungraded_square(engine: ModuleType) -> Any:
    """x ↦ x², backward 2·x ignoring grad_output: right for a scalar and grad_output 1."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x

    return function_class(engine, "UngradedSquare", forward, backward)


def noisy_square(engine: ModuleType, scale: float = 1e-9) -> Any:
    """x ↦ x², backward 2·x·g·(1 + noise): right to ~1e-9, but never twice the same."""
    rng = np.random.default_rng(7)

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        noise = engine.tensor(1 + scale * rng.standard_normal(tuple(x.shape)), dtype=x.dtype)
        return 2 * x * grad * noise

    return function_class(engine, "NoisySquare", forward, backward)


def once_square(engine: ModuleType) -> Any:
    """x ↦ x² with a once_differentiable backward 2·x·g."""

    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x * grad

    once: Callable[..., Any] = engine.autograd.function.once_differentiable
    return function_class(engine, "OnceSquare", forward, once(backward))


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[ModuleType], Built]
    expected: Outcome
    failed: FailedCheck | None = None
    """The check that catches a failing case."""
    second_order: bool = False
    """gradgradcheck rather than gradcheck."""


def _elementwise(e: ModuleType) -> Built:
    return lambda x, y: e.sin(x) * e.exp(y) + x / (1 + y * y) - e.sqrt(x * x + 1), (leaf(e, X), leaf(e, Y))


def _transcendental(e: ModuleType) -> Built:
    return lambda x: e.tanh(x) + e.sigmoid(x) * e.log(x * x + 1) + e.cos(x) ** 3, (leaf(e, X),)


def _reductions(e: ModuleType) -> Built:
    def fn(x: Any) -> Any:
        return x.sum(dim=1), x.mean(), e.prod(x, dim=0), e.logsumexp(x, dim=1), e.softmax(x, dim=1), (x * x).sum() ** 0.5

    return fn, (leaf(e, X),)


def _matmul(e: ModuleType) -> Built:
    a, b, v = leaf(e, X), leaf(e, np.transpose(Y).tolist()), leaf(e, [0.3, -0.8])
    return lambda a, b, v: (a @ b, e.mv(a @ b, v), e.matmul(v, a)), (a, b, v)


def _broadcast(e: ModuleType) -> Built:
    return lambda x, r, s: e.tanh(x * r + s), (leaf(e, X), leaf(e, [0.4, -0.5, 1.5]), leaf(e, 0.7))


def _mixed_arguments(e: ModuleType) -> Built:
    """An integer argument, a tensor that does not require grad, an input the output does not
    use (its Jacobian is zero on both sides)."""
    fixed = e.tensor([1.0, 2.0, 3.0], dtype=e.float64)
    return lambda x, k, c, unused: (x**k) * c, (leaf(e, X), 3, fixed, leaf(e, [1.0, 2.0]))


def _function(factor: float, name: str) -> Callable[[ModuleType], Built]:
    def build(e: ModuleType) -> Built:
        return square(e, factor, name=name).apply, (leaf(e, X),)

    return build


def _custom_with_ops(e: ModuleType) -> Built:
    fn = square(e).apply
    return lambda x, y: e.sin(fn(x) * y), (leaf(e, X), leaf(e, Y))


def _ungraded(e: ModuleType) -> Built:
    return ungraded_square(e).apply, (leaf(e, 0.7),)


def _noisy(e: ModuleType) -> Built:
    return noisy_square(e).apply, (leaf(e, X),)


def _relu_at_kink(e: ModuleType) -> Built:
    return e.relu, (leaf(e, [0.0, 1.0, -2.0]),)


def _detached_output(e: ModuleType) -> Built:
    return lambda x: x.detach() * 2, (leaf(e, [0.5, -1.0]),)


def _step(e: ModuleType) -> Built:
    return lambda x: (x > 0).double(), (leaf(e, [0.5, -1.0]),)


def _tanh_chain(e: ModuleType) -> Built:
    return lambda x, y: e.tanh(e.tanh(x) * y), (leaf(e, X), leaf(e, Y))


def _sin_pow(e: ModuleType) -> Built:
    return lambda x: e.sin(x) ** 3 + e.abs(x) ** 2.5 + x**4, (leaf(e, X),)


def _matmul_chain(e: ModuleType) -> Built:
    a, b, c = leaf(e, X), leaf(e, np.transpose(Y).tolist()), leaf(e, [[0.5, -0.1], [0.2, 0.3]])
    return lambda a, b, c: e.tanh(a @ b) @ c, (a, b, c)


def _square_chain(e: ModuleType) -> Built:
    fn = square(e).apply
    return lambda x: e.sin(fn(x)), (leaf(e, X),)


def _detached(e: ModuleType) -> Built:
    return detached_square(e).apply, (leaf(e, X),)


CASES = [
    Case("elementwise", _elementwise, "pass"),
    Case("transcendental", _transcendental, "pass"),
    Case("reductions, six outputs", _reductions, "pass"),
    Case("matmul, mv", _matmul, "pass"),
    Case("broadcasting", _broadcast, "pass"),
    Case("int, constant and unused arguments", _mixed_arguments, "pass"),
    Case("custom Function", _function(2.0, "Square"), "pass"),
    Case("custom Function among ops", _custom_with_ops, "pass"),
    Case("backward off by 0.05% (inside rtol)", _function(2.001, "AlmostSquare"), "pass"),
    Case("no differentiable output, constant pieces", _step, "pass"),
    Case("wrong backward (3x for 2x)", _function(3.0, "WrongSquare"), "fail", "jacobian"),
    Case("backward off by 1%", _function(2.02, "SlightlyWrongSquare"), "fail", "jacobian"),
    Case("backward ignores grad_output", _ungraded, "fail", "zero-grad-output"),
    Case("nondeterministic backward", _noisy, "fail", "reentrancy"),
    Case("relu at its kink", _relu_at_kink, "fail", "jacobian"),
    Case("no differentiable output, but it varies", _detached_output, "fail", "no-differentiable-outputs"),
    Case("gradgrad: tanh chain", _tanh_chain, "pass", second_order=True),
    Case("gradgrad: sin, pow", _sin_pow, "pass", second_order=True),
    Case("gradgrad: matmul chain", _matmul_chain, "pass", second_order=True),
    Case("gradgrad: custom Function", _square_chain, "pass", second_order=True),
    Case("gradgrad: broadcasting", _broadcast, "pass", second_order=True),
    Case("gradgrad: backward with detached values", _detached, "fail", "jacobian", second_order=True),
]
IDS = [case.name for case in CASES]


def run(case: Case, engine: ModuleType, check: Callable[..., bool], fast_mode: bool) -> tuple[Outcome, FailedCheck | None]:
    """The verdict of ``check`` (this module's or torch's) on the case built for ``engine``."""
    fn, inputs = case.build(engine)
    if check is gradcheck and case.second_order:
        check = gradgradcheck
    options: dict[str, Any] = {"fast_mode": fast_mode}
    if check in (gradcheck, gradgradcheck):
        options["engine"] = engine
        try:
            check(fn, inputs, **options)
        except GradcheckError as error:
            assert check(fn, inputs, raise_exception=False, **options) is False
            return "fail", error.check
        return "pass", None
    return ("pass" if check(fn, inputs, raise_exception=False, **options) else "fail"), None


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_verdicts(case: Case, fast_mode: bool) -> None:
    """Each case gets its verdict, from the check that should catch it, in both modes."""
    assert run(case, rg, gradcheck, fast_mode) == (case.expected, case.failed)


@pytest.mark.skipif(len(ENGINES) < 2, reason="torch is not installed")
@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_verdicts_match_torch(case: Case, fast_mode: bool) -> None:
    """torch.autograd.gradcheck/gradgradcheck give the same function written in torch the same
    verdict; so does this gradcheck run on torch."""
    torch = importlib.import_module("torch")
    torch_check = torch.autograd.gradgradcheck if case.second_order else torch.autograd.gradcheck
    assert run(case, torch, torch_check, fast_mode)[0] == case.expected
    assert run(case, torch, gradcheck, fast_mode) == (case.expected, case.failed)


# ---------------------------------------------------------------------------- messages


def test_mismatch_message_names_output_and_input_and_shows_both_jacobians() -> None:
    x = rg.tensor([0.5, -1.0, 2.0], dtype=rg.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(square(rg, 3.0, name="Wrong").apply, (x,))
    error = info.value
    text = str(error)
    assert text.startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:[[")
    assert "\nanalytical:[[" in text
    assert (error.check, error.output_index, error.input_index) == ("jacobian", 0, 0)
    assert error.numerical is not None and error.analytical is not None
    np.testing.assert_allclose(error.numerical, np.diag([1.0, -2.0, 4.0]), atol=1e-8)  # d(x²)/dx, input × output
    np.testing.assert_array_equal(error.analytical, np.diag([1.5, -3.0, 6.0]))
    assert "3 of 9 elements differ" in text


def test_fast_mode_message_recomputes_the_slow_jacobians() -> None:
    x = rg.tensor([0.5, -1.0, 2.0], dtype=rg.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"^Jacobian mismatch for output 0 with respect to input 0,\nnumerical:") as info:
        gradcheck(square(rg, 3.0, name="Wrong").apply, (x,), fast_mode=True)
    assert "in slow mode" in str(info.value) and "Analytical:\n" in str(info.value)
    assert info.value.analytical is not None
    np.testing.assert_array_equal(info.value.analytical, np.diag([1.5, -3.0, 6.0]))


def test_a_kink_says_the_numerical_side_is_uncertain() -> None:
    with pytest.raises(GradcheckError, match="the numerical value itself is uncertain there"):
        gradcheck(rg.relu, (rg.tensor([0.0, 1.0], dtype=rg.float64, requires_grad=True),))


# ---------------------------------------------------------------------------- wrong engine rules


def _wrong_sin(self: Any, grad: Any, input: Any) -> Any:
    return (grad * rg.cos(input) * 1.01,)


def _wrong_cos(self: Any, grad: Any, input: Any) -> Any:
    return (grad * -rg.sin(input) * 1.01,)


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_a_wrong_engine_rule_is_named_by_output_and_input(monkeypatch: pytest.MonkeyPatch, fast_mode: bool) -> None:
    x, y = rg.tensor(X, dtype=rg.float64, requires_grad=True), rg.tensor(Y, dtype=rg.float64, requires_grad=True)

    def fn(x: Any, y: Any) -> Any:
        return rg.exp(x) * y, x * rg.sin(y)

    assert gradcheck(fn, (x, y), fast_mode=fast_mode)
    monkeypatch.setattr(_pointwise.SinBackward0, "vjp", _wrong_sin)
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 1 with respect to input 1,") as info:
        gradcheck(fn, (x, y), fast_mode=fast_mode)
    assert (info.value.output_index, info.value.input_index) == (1, 1)
    assert gradcheck(fn, (x, y), fast_mode=fast_mode, raise_exception=False) is False


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_a_rule_wrong_only_at_second_order_fails_gradgradcheck_only(monkeypatch: pytest.MonkeyPatch, fast_mode: bool) -> None:
    """sin's rule is grad·cos(x): its derivative goes through CosBackward0, which only a
    second derivative exercises."""
    x = rg.tensor(X, dtype=rg.float64, requires_grad=True)
    monkeypatch.setattr(_pointwise.CosBackward0, "vjp", _wrong_cos)
    assert gradcheck(rg.sin, (x,), fast_mode=fast_mode)
    with pytest.raises(GradcheckError, match="^Jacobian mismatch for output 0 with respect to input 0,"):
        gradgradcheck(rg.sin, (x,), fast_mode=fast_mode)
    assert gradgradcheck(rg.sin, (x,), fast_mode=fast_mode, raise_exception=False) is False


def _engine_returning(transform: Callable[[Any], Any]) -> ModuleType:
    """refgrad, except that autograd.grad passes every gradient through ``transform``."""
    fake = types.ModuleType("refgrad_with_transformed_grads")
    fake.__dict__.update(vars(rg))
    autograd = types.ModuleType("refgrad_with_transformed_grads.autograd")

    def grad(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return tuple(None if g is None else transform(g) for g in rg.autograd.grad(*args, **kwargs))

    autograd.__dict__["grad"] = grad
    fake.__dict__["autograd"] = autograd
    return fake


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize(
    ("transform", "failed", "message"),
    [
        (lambda g: g.reshape(-1), "size", "^Analytical gradient has incorrect size"),
        (lambda g: g.float(), "dtype", "^Gradient has dtype mismatch"),
    ],
    ids=["size", "dtype"],
)
def test_gradients_of_the_wrong_size_or_dtype_fail(
    transform: Callable[[Any], Any], failed: str, message: str, fast_mode: bool
) -> None:
    x = rg.tensor(X, dtype=rg.float64, requires_grad=True)
    engine = _engine_returning(transform)
    with pytest.raises(GradcheckError, match=message) as info:
        gradcheck(rg.tanh, (x,), engine=engine, fast_mode=fast_mode)
    assert info.value.check == failed
    assert gradcheck(rg.tanh, (x,), engine=_engine_returning(lambda g: g), fast_mode=fast_mode)


# ---------------------------------------------------------------------------- nondeterminism


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_nondeterminism_within_nondet_tol_passes(engine: str, fast_mode: bool) -> None:
    module = importlib.import_module(engine)
    x = leaf(module, X)
    fn = noisy_square(module).apply
    with pytest.raises(GradcheckError, match="^Backward is not reentrant") as info:
        gradcheck(fn, (x,), fast_mode=fast_mode, engine=module)
    assert "nondet_tol" in str(info.value)
    assert gradcheck(fn, (x,), fast_mode=fast_mode, nondet_tol=1e-6, engine=module)
    if engine == "torch":
        assert module.autograd.gradcheck(fn, (x,), fast_mode=fast_mode, nondet_tol=1e-6)


# ---------------------------------------------------------------------------- once_differentiable


@pytest.mark.parametrize("engine", ENGINES)
def test_once_differentiable_passes_gradcheck_and_not_gradgradcheck(engine: str) -> None:
    """A second derivative through a once_differentiable backward is not available. The
    engines say so differently: refgrad's autograd.grad raises (its DelayedError node lies on
    the path to the inputs), torch's returns no gradient (its node hangs off detached aliases),
    so torch's gradgradcheck sees a zero analytical Jacobian. Either way it does not pass."""
    module = importlib.import_module(engine)
    fn, x = once_square(module).apply, leaf(module, X)
    assert gradcheck(fn, (x,), engine=module)
    if engine == "refgrad":
        with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with @once_differentiable"):
            gradgradcheck(fn, (x,), engine=module, raise_exception=False)
    else:
        assert gradgradcheck(fn, (x,), engine=module, raise_exception=False) is False
        assert module.autograd.gradgradcheck(fn, (x,), raise_exception=False) is False


# ---------------------------------------------------------------------------- inputs


def test_an_input_that_is_not_float64_is_warned_about() -> None:
    x = rg.tensor([0.5, 1.5], dtype=rg.float32, requires_grad=True)
    with pytest.warns(UserWarning, match="^Input #0 requires gradient and is not a double precision floating point"):
        gradcheck(rg.sin, (x,), raise_exception=False)


def test_no_input_requiring_grad_is_an_error_either_way() -> None:
    x = rg.tensor([0.5, 1.5], dtype=rg.float64)
    with pytest.raises(ValueError, match="^gradcheck expects at least one input tensor to require gradient"):
        gradcheck(rg.sin, (x,), raise_exception=False)


def test_check_backward_ad_false_is_an_error() -> None:
    x = rg.tensor([0.5, 1.5], dtype=rg.float64, requires_grad=True)
    with pytest.raises(ValueError, match="check_backward_ad"):
        gradcheck(rg.sin, (x,), check_backward_ad=False)


def test_a_single_tensor_input_and_explicit_grad_outputs() -> None:
    x = rg.tensor(X, dtype=rg.float64, requires_grad=True)
    assert gradcheck(rg.tanh, x)
    v = rg.tensor(Y, dtype=rg.float64)  # not requiring grad: only the inputs' second derivatives
    assert gradgradcheck(rg.tanh, x, v)
    assert gradgradcheck(rg.tanh, x, rg.tensor(Y, dtype=rg.float64, requires_grad=True))


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_inputs_are_left_untouched(fast_mode: bool) -> None:
    x = rg.tensor(X, dtype=rg.float64, requires_grad=True)
    version = x._version
    gradcheck(lambda x: rg.exp(x) * x, (x,), fast_mode=fast_mode)
    assert x.tolist() == X and x._version == version and x.grad is None


@pytest.mark.parametrize(("fast_mode", "per_element"), [(False, True), (True, False)], ids=["slow", "fast"])
def test_evaluations(fast_mode: bool, per_element: bool) -> None:
    """fn runs once, then 2·LEVELS times per checked element (slow) or per checked input
    (fast): the oracle's stencils are shared by every row, and evaluations are memoized."""
    calls = 0

    def fn(x: Any, y: Any) -> Any:
        nonlocal calls
        calls += 1
        return (rg.sin(x) @ y, rg.exp(x).sum())

    x = rg.tensor(X, dtype=rg.float64, requires_grad=True)
    y = rg.tensor(np.transpose(Y).tolist(), dtype=rg.float64, requires_grad=True)
    assert gradcheck(fn, (x, y), fast_mode=fast_mode)
    assert calls == 1 + 2 * LEVELS * ((x.numel() + y.numel()) if per_element else 2)
