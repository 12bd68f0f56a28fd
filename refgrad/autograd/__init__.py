"""``refgrad.autograd``: gradients as values (``grad``), ``backward`` over several outputs,
custom differentiable operations (``Function``) and ``functional`` helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

from refgrad import _engine
from refgrad._tensor import Tensor
from refgrad.autograd import function, functional, graph
from refgrad.autograd.function import Function

__all__ = ["Function", "backward", "function", "functional", "grad", "graph"]


# Without allow_unused, or with materialize_grads, every input gets a tensor (an unused
# input is an error, or gets zeros); with allow_unused alone, an unused input gets None.
@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: Literal[False] | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor, ...]: ...
@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    *,
    materialize_grads: Literal[True],
) -> tuple[Tensor, ...]: ...
@overload
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]: ...
def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The sum of the vector-Jacobian products of ``outputs`` (weighted by ``grad_outputs``)
    with respect to each of ``inputs``, as a tuple; ``.grad`` is never written. With
    ``create_graph`` the results are themselves differentiable. An input the outputs do not
    depend on is an error, unless ``allow_unused`` (``None``) or ``materialize_grads`` (zeros)."""
    return _engine.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into the
    ``.grad`` of the leaves, or of ``inputs`` only."""
    _engine.backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
