"""Backpropagation is linear in the incoming gradient, and each linear op's backward is its
adjoint: <J u, v> = <u, Jᵀ v>."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from properties.programs import SHAPE, Script, cases, run

finite: st.SearchStrategy[float] = st.floats(-2.0, 2.0, allow_subnormal=False)
weights: st.SearchStrategy[float] = st.floats(-3.0, 3.0, allow_subnormal=False)


@given(case=cases(), alpha=weights, beta=weights, seed=st.integers(0, 2**16))
def test_backward_is_linear_in_the_incoming_gradient(
    engine: ModuleType, case: tuple[Script, dict[str, Any]], alpha: float, beta: float, seed: int
) -> None:
    script, (a, b) = case[0], (case[1]["a"], case[1]["b"])
    note(script.source())
    x = engine.tensor(a, dtype=engine.float64, requires_grad=True)
    out = run(script, engine, {"a": x, "b": engine.tensor(b, dtype=engine.float64)}, total=False)
    if not out.requires_grad:
        return  # the output does not depend on a (only on b, or on nothing that requires grad)
    rng = np.random.default_rng(seed)
    g1, g2 = (engine.tensor(rng.standard_normal(tuple(out.shape)), dtype=engine.float64) for _ in range(2))

    def vjp(g: Any) -> Any:
        (grad,) = engine.autograd.grad(out, x, g, retain_graph=True, allow_unused=True)
        return np.zeros(SHAPE) if grad is None else grad.numpy()

    combined = vjp(g1 * alpha + g2 * beta)
    np.testing.assert_allclose(combined, alpha * vjp(g1) + beta * vjp(g2), rtol=1e-10, atol=1e-10)


LINEAR_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "reshape": lambda e, t: t.reshape(3, 2, 2),
    "transpose": lambda e, t: t.transpose(0, 2),
    "permute": lambda e, t: t.permute(2, 0, 1),
    "expand": lambda e, t: t[:, :1].expand(2, 5, 2),
    "sum": lambda e, t: t.sum(1, keepdim=True),
    "mean": lambda e, t: t.mean((0, 2)),
    "slice": lambda e, t: t[1:, ::2],
    "index": lambda e, t: t[[1, 0, 1]],
    "mask": lambda e, t: t[t.detach() > 0],
    "flip": lambda e, t: t.flip((0, 1)),
    "cat": lambda e, t: e.cat([t, t[:, :1] * 2.0], 1),
    "stack": lambda e, t: e.stack([t, -t], 1),
    "matmul": lambda e, t: t @ e.ones(2, 3, dtype=e.float64),
}


@given(
    name=st.sampled_from(sorted(LINEAR_OPS)),
    u=hnp.arrays(np.float64, (2, 3, 2), elements=finite),
    seed=st.integers(0, 2**16),
)
def test_the_backward_of_a_linear_op_is_its_adjoint(engine: ModuleType, name: str, u: np.ndarray, seed: int) -> None:
    op = LINEAR_OPS[name]
    x = engine.tensor(u, dtype=engine.float64, requires_grad=True)
    ju = op(engine, x)  # J u: the op is linear, so its value at u is its Jacobian applied to u
    v = engine.tensor(np.random.default_rng(seed).standard_normal(tuple(ju.shape)), dtype=engine.float64)
    (jtv,) = engine.autograd.grad(ju, x, v)
    left = float(np.sum(ju.detach().numpy() * v.numpy()))
    right = float(np.sum(u * jtv.numpy()))
    np.testing.assert_allclose(left, right, rtol=1e-10, atol=1e-10)
