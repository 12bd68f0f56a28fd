"""Small shared helpers for the engine-parametrized tests."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pytest

from properties.engines import EngineAdapter

FloatArray = npt.NDArray[np.float64]

TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)
NOGRAD = "element 0 of tensors does not require grad and does not have a grad_fn"


@contextlib.contextmanager
def raises_exactly(exc_type: type[BaseException], message: str) -> Iterator[None]:
    """The block raises ``exc_type`` whose text is ``message`` exactly."""
    with pytest.raises(exc_type) as info:
        yield
    assert str(info.value) == message


@contextlib.contextmanager
def raises_prefix(exc_type: type[BaseException], prefix: str) -> Iterator[None]:
    """The block raises ``exc_type`` whose text starts with ``prefix`` (PyTorch appends hints)."""
    with pytest.raises(exc_type, match="^" + re.escape(prefix)):
        yield


F = TypeVar("F", bound=Callable[..., Any])


def as_decorator(decorator: Any) -> Callable[[F], F]:
    """An engine's grad-mode object used as a decorator (typed for mypy: it keeps the signature)."""
    return cast(Callable[[F], F], decorator)


def size_text(adapter: EngineAdapter, dims: list[int]) -> str:
    """How the engine spells a shape in messages: ``torch.Size([2])`` / ``refgrad.Size([2])``."""
    return f"{adapter.type_prefix}.Size({dims})"


def as_array(t: Any) -> FloatArray:
    """The values of an engine tensor as a float64 numpy array (no graph)."""
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def central_difference(f: Callable[[FloatArray], float], x: FloatArray, h: float = 1e-6) -> FloatArray:
    """d f / d x by central differences, element by element (float64)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += h
        minus[i] -= h
        grad[i] = (f(plus) - f(minus)) / (2 * h)
    return grad
