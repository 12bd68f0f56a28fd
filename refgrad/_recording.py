"""Recording an operation on the tape: the shared tail of every op's forward."""

from __future__ import annotations

from typing import Any

import numpy as np

from refgrad import _grad_mode
from refgrad._dtype import Array
from refgrad._node import NO_ACCUMULATOR, MultiOutputNode, Node, edge
from refgrad._tensor import INFERENCE_COUNTER, Tensor

_state = _grad_mode._state

INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use "
    "it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`."
)


def needs_grad(a: Tensor, b: object = None) -> bool:
    """Whether an op on ``a`` (and ``b``) must be recorded: grad mode is on and an input requires grad."""
    return _state.grad_enabled and (a._requires_grad or (isinstance(b, Tensor) and b._requires_grad))


def any_needs_grad(tensors: tuple[Tensor, ...]) -> bool:
    return _state.grad_enabled and any(t._requires_grad for t in tensors)


def as_array(data: Any) -> Array:
    """numpy returns scalars for 0-d results; a tensor always holds an ndarray."""
    return data if type(data) is np.ndarray else np.asarray(data)


def plain(data: Any) -> Tensor:
    """The result of an op that is not recorded (an inference tensor in inference mode)."""
    counter = INFERENCE_COUNTER if _state.inference else None
    return Tensor._make(data if type(data) is np.ndarray else np.asarray(data), None, counter)


def record(
    node: Node,
    data: Any,
    inputs: tuple[Tensor | None, ...],
    saved: tuple[Tensor | float | None, ...] = (),
    view_of: Tensor | None = None,
) -> Tensor:
    """The result of a recorded op: ``node`` gets one edge per input (``None`` for Python
    numbers), what its rule needs (``saved``, plus the result itself when the node ``saves_result``) with
    the versions to check at backward time, and the output's shape and dtype. A view shares
    its base's version counter."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    # Plain loops, not comprehensions: this runs once per recorded op (per-op overhead is a goal).
    _link(node, inputs)
    result = Tensor._make(data, node, None if view_of is None else view_of._vc)
    if view_of is not None:
        result._base = view_of if view_of._base is None else view_of._base
    if node.saves_result:
        saved = saved + (Tensor._make(data, None, result._vc),)
    node._saved = saved
    node._saved_versions = saved_versions(saved) if saved else ()
    node._shape = data.shape
    node._dtype = data.dtype
    node._tensor_meta = None
    return result


def saved_versions(saved: tuple[Tensor | float | None, ...]) -> tuple[tuple[Tensor, int], ...]:
    """Each saved tensor with its version now, to check at backward time."""
    versions: list[tuple[Tensor, int]] = []
    for value in saved:
        if type(value) is Tensor:
            if value._vc is INFERENCE_COUNTER:
                raise RuntimeError(INFERENCE_SAVED)
            versions.append((value, value._vc[0]))
    return tuple(versions)


def _link(node: Node, inputs: tuple[Tensor | None, ...]) -> None:
    """Point ``node`` at the nodes of its inputs (and at which of their outputs they were)."""
    nexts: list[Node | None] = []
    from_other_output = False
    for t in inputs:
        if t is None or not t._requires_grad:
            nexts.append(None)
        elif t._grad_fn is not None:
            nexts.append(t._grad_fn)
            if t._output_nr:
                from_other_output = True
        else:
            nexts.append(edge(t))
    node._next = tuple(nexts)
    node._next_nr = tuple([0 if t is None else t._output_nr for t in inputs]) if from_other_output else None


def record_outputs(
    node: MultiOutputNode,
    datas: list[Array],
    inputs: tuple[Tensor | None, ...],
    saved: tuple[Tensor | float | None, ...] = (),
    view_of: Tensor | None = None,
) -> tuple[Tensor, ...]:
    """``record`` for an op with several outputs: each result knows its output number."""
    _link(node, inputs)
    results = []
    for i, data in enumerate(datas):
        result = Tensor._make(as_array(data), node, None if view_of is None else view_of._vc)
        result._output_nr = i
        if view_of is not None:
            result._base = view_of if view_of._base is None else view_of._base
        results.append(result)
    node._saved = saved
    node._saved_versions = saved_versions(saved)
    node._outputs = tuple((r._data.shape, r._data.dtype) for r in results)
    node._shape, node._dtype = node._outputs[0] if node._outputs else ((), np.dtype(np.float32))
    node._tensor_meta = None
    return tuple(results)

def view(data: Array, base: Tensor) -> Tensor:
    """An unrecorded view: shares the base's version counter. Like PyTorch, a view made under
    no_grad of a tensor that requires grad requires grad too, but gradients stop there."""
    result = Tensor._make(as_array(data), None, base._vc)
    result._base = base if base._base is None else base._base
    if base._requires_grad:
        result._requires_grad = True
        result._accumulator = NO_ACCUMULATOR
    return result
