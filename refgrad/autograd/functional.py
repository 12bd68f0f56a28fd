"""Derivatives of whole functions, built on ``autograd.grad``: ``vjp``, ``jvp`` (by the
double-VJP trick), ``jacobian``, ``hessian``, ``hvp``.

``inputs`` is a tensor or a tuple of tensors; results follow the same structure, as in
``torch.autograd.functional``. The function runs on detached copies of the inputs that
require grad, so the caller's tensors and graphs are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

import numpy as np

from refgrad import _engine, _grad_mode
from refgrad._pointwise import zeros_of
from refgrad._shape import reshape, stack
from refgrad._tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vjp"]

Inputs = Tensor | tuple[Tensor, ...]
In = TypeVar("In", bound=Tensor | tuple[Tensor, ...])
"""The inputs: results per input have their structure (a tensor, or a tuple as long)."""
Out = TypeVar("Out", bound=Tensor | tuple[Tensor, ...])
"""What the function returns: results per output have its structure."""
InTuple = TypeVar("InTuple", bound=tuple[Tensor, ...])
OutTuple = TypeVar("OutTuple", bound=tuple[Tensor, ...])


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _like(structure: Any, values: tuple[Any, ...]) -> Any:
    """``values`` shaped like ``structure``: a single value for a tensor, else the tuple."""
    return values if isinstance(structure, tuple) else values[0]


def _fresh_inputs(inputs: Inputs, create_graph: bool) -> tuple[Tensor, ...]:
    """What the function is run on: with ``create_graph`` an input that requires grad stays
    connected to its graph (so the result can be differentiated with respect to it); any
    other input is a detached copy that requires grad."""
    return tuple(t.view_as(t) if create_graph and t._requires_grad else t.detach().requires_grad_() for t in _as_tuple(inputs))


OUTPUT_V_NONE = "The vector v can only be None if the user-provided function returns a single Tensor with a single element."
INPUT_V_NONE = "The vector v can only be None if the input to the user-provided function is a single Tensor with a single element."


def _vectors(v: Tensor | tuple[Tensor, ...] | None, like: tuple[Tensor, ...], none_message: str) -> tuple[Tensor, ...]:
    """``v`` checked against the tensors it multiplies (omitted only for one single element)."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(none_message)
        return (Tensor._make(np.ones_like(like[0]._data)),)
    vs = _as_tuple(v)
    for vector, t in zip(vs, like):
        if vector._data.shape != t._data.shape:
            raise RuntimeError(f"v has invalid size: should be {t.shape!r} but got {vector.shape!r}.")
    return vs


def _single_element(out: Tensor, function: str) -> Tensor:
    if not isinstance(out, Tensor) or out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {function} should contain a single element")
    return out


def _vjp(
    outputs: tuple[Tensor, ...], inputs: tuple[Tensor, ...], v: tuple[Tensor | None, ...], create_graph: bool
) -> tuple[Tensor, ...]:
    """Σ vᵢᵀ ∂outputᵢ/∂input for each input (zeros where an input was not used)."""
    live = [(o, g) for o, g in zip(outputs, v) if o._requires_grad]
    if not live:
        return tuple(zeros_of(t) for t in inputs)
    grads = _engine.grad(
        [o for o, _ in live], inputs, [g for _, g in live], True, create_graph, allow_unused=True, materialize_grads=True
    )
    assert all(g is not None for g in grads), "materialize_grads gives zeros for unused inputs"
    return tuple(g for g in grads if g is not None)


def _finish(values: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    return values if create_graph else tuple(t.detach() for t in values)


def vjp(
    func: Callable[..., Out], inputs: In, v: Tensor | tuple[Tensor, ...] | None = None, create_graph: bool = False
) -> tuple[Out, In]:
    """(func(inputs), vᵀ·J): the vector-Jacobian product (``v`` may be omitted for a scalar output)."""
    with _grad_mode.enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        out = func(*xs)
        outs = _as_tuple(out)
        result = _vjp(outs, xs, _vectors(v, outs, OUTPUT_V_NONE), create_graph)
    return _like(out, _finish(outs, create_graph)), _like(inputs, _finish(result, create_graph))


def jvp(
    func: Callable[..., Out], inputs: Inputs, v: Tensor | tuple[Tensor, ...] | None = None, create_graph: bool = False
) -> tuple[Out, Out]:
    """(func(inputs), J·v): the Jacobian-vector product, as the VJP of a VJP: for u a dummy
    cotangent, g(u) = Jᵀu is linear in u, and d(vᵀ g(u))/du = J v."""
    with _grad_mode.enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        vs = _vectors(v, xs, INPUT_V_NONE)
        out = func(*xs)
        outs = _as_tuple(out)
        dummies = tuple(zeros_of(o).requires_grad_() for o in outs)
        transposed = _vjp(outs, xs, dummies, create_graph=True)
        result = _vjp(transposed, dummies, vs, create_graph)
    return _like(out, _finish(outs, create_graph)), _like(out, _finish(result, create_graph))


@overload
def jacobian(func: Callable[..., Tensor], inputs: Tensor, create_graph: bool = False) -> Tensor: ...
@overload
def jacobian(func: Callable[..., Tensor], inputs: InTuple, create_graph: bool = False) -> InTuple: ...
@overload
def jacobian(func: Callable[..., OutTuple], inputs: Tensor, create_graph: bool = False) -> OutTuple: ...
@overload
def jacobian(
    func: Callable[..., tuple[Tensor, ...]], inputs: InTuple, create_graph: bool = False
) -> tuple[InTuple, ...]: ...
def jacobian(func: Callable[..., Any], inputs: Inputs, create_graph: bool = False) -> Any:
    """∂output/∂input: for one output and one input a tensor of shape output.shape + input.shape;
    tuples (per output, then per input) otherwise. Built row by row with ``autograd.grad``."""
    with _grad_mode.enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        out = func(*xs)
        outs = _as_tuple(out)
        per_output = []
        for o in outs:
            rows: list[tuple[Tensor, ...]] = []
            for k in range(o.numel()):
                basis = np.zeros(o._data.size, dtype=o._data.dtype)
                basis[k] = 1
                seed = Tensor._make(basis.reshape(o._data.shape))
                rows.append(_vjp((o,), xs, (seed,), create_graph))
            blocks = tuple(_stack_rows([row[i] for row in rows], o, x) for i, x in enumerate(xs))
            per_output.append(_like(inputs, _finish(blocks, create_graph)))
    return _like(out, tuple(per_output))


def _stack_rows(rows: list[Tensor], output: Tensor, input: Tensor) -> Tensor:
    shape = output._data.shape + input._data.shape
    if not rows:
        return Tensor._make(np.zeros(shape, dtype=input._data.dtype))
    return reshape(stack(rows), shape)


@overload
def hessian(func: Callable[..., Tensor], inputs: Tensor, create_graph: bool = False) -> Tensor: ...
@overload
def hessian(func: Callable[..., Tensor], inputs: InTuple, create_graph: bool = False) -> tuple[InTuple, ...]: ...
def hessian(func: Callable[..., Any], inputs: Inputs, create_graph: bool = False) -> Any:
    """The matrix of second derivatives of a scalar function: the Jacobian of its gradient."""

    def gradient(*xs: Tensor) -> Any:
        out = _single_element(func(*xs), "hessian")
        return _like(inputs, _vjp((out,), xs, (None,), create_graph=True))

    return jacobian(gradient, inputs, create_graph)


def hvp(
    func: Callable[..., Tensor], inputs: In, v: Tensor | tuple[Tensor, ...], create_graph: bool = False
) -> tuple[Tensor, In]:
    """(func(inputs), H·v) for a scalar function, without forming H (the Hessian is symmetric)."""
    with _grad_mode.enable_grad():
        xs = _fresh_inputs(inputs, create_graph)
        out = _single_element(func(*xs), "hvp")
        gradient = _vjp((out,), xs, (None,), create_graph=True)
        result = _vjp(gradient, xs, _vectors(v, xs, INPUT_V_NONE), create_graph)
    return _finish((out,), create_graph)[0], _like(inputs, _finish(result, create_graph))
