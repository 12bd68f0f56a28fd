"""Grad modes in user code: context managers, and decorators that keep the decorated
function's signature (parameters, return type, generators). See typing_tensor.py for how
expected errors are marked. The bare form ``@rg.no_grad`` is in pyright_only/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_type

import refgrad as rg

x = rg.tensor([1.0, 2.0], requires_grad=True)

with rg.no_grad():
    assert_type(x * 2, rg.Tensor)
with rg.enable_grad():
    pass
with rg.set_grad_enabled(False):
    pass
with rg.inference_mode():
    pass
with rg.inference_mode(False):
    pass
rg.set_grad_enabled(True)  # a plain call sets the mode
assert_type(rg.is_grad_enabled(), bool)
assert_type(rg.is_inference_mode_enabled(), bool)
assert_type(rg.no_grad(), rg.no_grad)
assert_type(rg.inference_mode(), rg.inference_mode)


@rg.no_grad()
def scaled(t: rg.Tensor, factor: float = 2.0) -> rg.Tensor:
    return t * factor


@rg.enable_grad()
def squared(t: rg.Tensor) -> rg.Tensor:
    return t * t


@rg.set_grad_enabled(False)
def count(t: rg.Tensor, *, offset: int) -> int:
    return t.numel() + offset


@rg.inference_mode()
def predict(t: rg.Tensor) -> float:
    return t.sum().item()


@rg.no_grad()
def rows(t: rg.Tensor) -> Iterator[rg.Tensor]:
    yield from t


assert_type(scaled(x), rg.Tensor)
assert_type(scaled(x, factor=3), rg.Tensor)
assert_type(squared(x), rg.Tensor)
assert_type(count(x, offset=1), int)
assert_type(predict(x), float)
assert_type(rows(x), Iterator[rg.Tensor])
assert_type(list(rows(x)), list[rg.Tensor])


def rejected() -> None:
    scaled("x")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    scaled(x, factor="3")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    count(x, 1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    x.backward(predict(x))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    rg.set_grad_enabled()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    rg.no_grad(False)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
