"""Recording an operation on the tape: the shared tail of every op's forward."""

from __future__ import annotations

from typing import Any

import numpy as np

from refgrad import _grad_mode
from refgrad._dtype import Array
from refgrad._node import NO_ACCUMULATOR, MultiOutputNode, Node, edge
from refgrad._tensor import INFERENCE_COUNTER, Tensor, counter

_state = _grad_mode._state

INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use "
    "it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`."
)


def needs_grad(a: Tensor, b: object = None) -> bool:
    """Whether an op on ``a`` (and ``b``) must be recorded: an input requires grad and grad mode
    is on (asked in that order: the thread-local mode is the slower question)."""
    return (a._requires_grad or (type(b) is Tensor and b._requires_grad)) and _state.recording


def any_needs_grad(tensors: tuple[Tensor, ...]) -> bool:
    return any(t._requires_grad for t in tensors) and _state.recording


def as_array(data: Any) -> Array:
    """numpy returns scalars for 0-d results; a tensor always holds an ndarray."""
    return data if type(data) is np.ndarray else np.asarray(data)


def plain(data: Any) -> Tensor:
    """The result of an op that is not recorded (an inference tensor in inference mode)."""
    return Tensor._make(data if type(data) is np.ndarray else np.asarray(data), None, INFERENCE_COUNTER if _state.inference else None)


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
    result = Tensor._make(data, node, None if view_of is None else counter(view_of))
    if view_of is not None:
        _mark_view(result, view_of)
    if node.saves_result:
        saved = saved + (Tensor._make(data, None, counter(result)),)
    node._saved = saved
    node._saved_versions = saved_versions(saved) if saved else ()
    node._shape = data.shape
    node._dtype = data.dtype
    node._tensor_meta = None
    return result


STALE_VIEW = (
    "refgrad does not support using a view whose base was changed by a recorded in-place operation after the "
    "view was taken, when the base's memory has gaps (a strided array given to from_numpy); take the view again "
    "after the in-place operation"
)


def one_input(node: Node, out: Any, input: Tensor, saved: tuple[Tensor | float | None, ...] = ()) -> Tensor:
    """The result of an op of one tensor: recorded (with ``saved``) when ``input`` needs grad."""
    if not needs_grad(input):
        return plain(out)
    return record(node, out, (input,), saved)


def _mark_view(view: Tensor, of: Tensor) -> None:
    """``view`` shares the storage of ``of``: remember the root base and its history now."""
    base = of if of._base is None else of._base
    view._base = base
    view._view_base_node = base._grad_fn


def check_view_is_current(t: Tensor) -> None:
    """A recorded view is a function of its base's history when it was taken: once an in-place
    operation has given the base a new history, its own is regenerated from it (as PyTorch)."""
    base = t._base
    if base is not None and t._grad_fn is not None and base._grad_fn is not t._view_base_node:
        from refgrad._shape import elements_in_base, regenerate_view

        key = elements_in_base(t, base)
        if key is None:
            raise RuntimeError(STALE_VIEW)
        regenerate_view(t, base, key)


def saved_versions(saved: tuple[Tensor | float | None, ...]) -> tuple[int | None, ...]:
    """The version of each saved tensor now (None for the rest), to check at backward time;
    empty when no tensor was saved (only numbers: nothing to check)."""
    versions: list[int | None] = []
    any_tensor = False
    for value in saved:
        if type(value) is Tensor:
            vc = value._vc
            if vc is INFERENCE_COUNTER:
                raise RuntimeError(INFERENCE_SAVED)
            versions.append(0 if vc is None else vc[0])
            any_tensor = True
        else:
            versions.append(None)
    return tuple(versions) if any_tensor else ()


def _link(node: Node, inputs: tuple[Tensor | None, ...]) -> None:
    """Point ``node`` at the nodes of its inputs (and at which of their outputs they were)."""
    nexts: list[Node | None] = []
    from_other_output = False
    for t in inputs:
        if t is None or not t._requires_grad:
            nexts.append(None)
        elif t._grad_fn is not None:
            if t._base is not None:
                check_view_is_current(t)
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
        result = Tensor._make(as_array(data), node, None if view_of is None else counter(view_of))
        result._output_nr = i
        if view_of is not None:
            _mark_view(result, view_of)
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
    result = Tensor._make(as_array(data), None, counter(base))
    _mark_view(result, base)
    if base._requires_grad:
        result._requires_grad = True
        result._accumulator = NO_ACCUMULATOR
    return result
