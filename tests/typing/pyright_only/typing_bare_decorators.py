"""The bare decorators ``@rg.no_grad``, ``@rg.enable_grad`` and ``@rg.inference_mode``
(without parentheses) keep the decorated function's signature: pyright reads that from the
overloads of their ``__new__``. mypy cannot (it takes the result of calling a class to be an
instance of it: python/mypy#15182), so this file is checked by pyright only, and
docs/typing.md tells mypy users to write ``@rg.no_grad()``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_type

import refgrad as rg


@rg.no_grad
def scaled(t: rg.Tensor, factor: float = 2.0) -> rg.Tensor:
    return t * factor


@rg.enable_grad
def squared(t: rg.Tensor) -> rg.Tensor:
    return t * t


@rg.inference_mode
def predict(t: rg.Tensor) -> float:
    return t.sum().item()


@rg.no_grad
def rows(t: rg.Tensor) -> Iterator[rg.Tensor]:
    yield from t


x = rg.tensor([1.0, 2.0])
assert_type(scaled(x), rg.Tensor)
assert_type(scaled(x, factor=3), rg.Tensor)
assert_type(squared(x), rg.Tensor)
assert_type(predict(x), float)
assert_type(rows(x), Iterator[rg.Tensor])


def rejected() -> None:
    scaled("x")  # pyright: ignore[reportArgumentType]
    predict(x, 1)  # pyright: ignore[reportCallIssue]
