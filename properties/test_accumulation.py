"""Gradients accumulate exactly as PyTorch's do: k backward passes with retain_graph give k
times the gradient; ``grad = None`` and ``zero_()`` reset; a value used m times receives the
sum of its m paths; autograd.grad never touches ``.grad``; without retain_graph a second
backward through saved tensors fails."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

values: st.SearchStrategy[npt.NDArray[np.float64]] = hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-2.0, 2.0, allow_subnormal=False))


def _loss(engine: ModuleType, x: Any) -> Any:
    return (x.sin() * x).sum()


def _gradient(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.cos(x) * x + np.sin(x))  # d/dx x sin x


@given(x0=values, k=st.integers(1, 4))
def test_k_backward_passes_give_k_times_the_gradient(engine: ModuleType, x0: np.ndarray, k: int) -> None:
    x = engine.tensor(x0, requires_grad=True)
    loss = _loss(engine, x)
    for _ in range(k):
        loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), k * _gradient(x0), rtol=1e-12, atol=1e-12)


@given(x0=values, reset=st.sampled_from(["none", "zero_"]))
def test_resetting_grad_starts_the_sum_again(engine: ModuleType, x0: np.ndarray, reset: str) -> None:
    x = engine.tensor(x0, requires_grad=True)
    _loss(engine, x).backward()
    first = x.grad
    if reset == "none":
        x.grad = None
    else:
        with engine.no_grad():
            x.grad.zero_()
    _loss(engine, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), _gradient(x0), rtol=1e-12, atol=1e-12)
    assert (x.grad is first) is (reset == "zero_")  # zero_ keeps the tensor, None makes a new one


@given(x0=values, uses=st.integers(1, 5))
def test_a_value_used_m_times_gets_the_sum_of_its_paths(engine: ModuleType, x0: np.ndarray, uses: int) -> None:
    x = engine.tensor(x0, requires_grad=True)
    shared = x.sin() * x  # a non-leaf reused below
    total = shared.sum()
    for _ in range(uses - 1):
        total = total + shared.sum()
    total.backward()
    np.testing.assert_allclose(x.grad.numpy(), uses * _gradient(x0), rtol=1e-12, atol=1e-12)


@given(x0=values)
def test_autograd_grad_never_touches_grad(engine: ModuleType, x0: np.ndarray) -> None:
    x = engine.tensor(x0, requires_grad=True)
    (g,) = engine.autograd.grad(_loss(engine, x), x)
    assert x.grad is None
    np.testing.assert_allclose(g.numpy(), _gradient(x0), rtol=1e-12, atol=1e-12)


@given(x0=values)
def test_a_second_backward_without_retain_graph_fails(engine: ModuleType, x0: np.ndarray) -> None:
    x = engine.tensor(x0, requires_grad=True)
    loss = _loss(engine, x)
    loss.backward()
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        loss.backward()
