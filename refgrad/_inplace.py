"""In-place operations: they write into the tensor's storage (seen by its views and
detached aliases), bump the shared version counter, and, when recorded, make the
tensor's grad_fn the node of the operation (its history is "rebased").

A recorded in-place op is computed out of place on a stand-in for the tensor's old value
(a copy carrying its history: the rule may have saved it, and the write must not change
what it saved), then written back. On a view, as in PyTorch, the write rewrites the base's
history: the base becomes ``CopySlices`` (its old values outside the view's elements, the
op's result inside) and the view an ``AsStridedBackward0`` of it. The view's elements are
found from its place in the base's memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from refgrad import _grad_mode
from refgrad._node import Grads, Node, tensor_meta
from refgrad._recording import check_view_is_current, needs_grad, record
from refgrad._tensor import INFERENCE_COUNTER, IndexKey, Number, Tensor, counter, version

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of a leaf Variable that requires grad is being used in an in-place operation."
INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
    "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details."
)
VIEW_INPLACE = (
    "refgrad does not support recorded in-place operations on views of a base whose memory has gaps (a strided "
    "array given to from_numpy); use an out-of-place op"
)
OVERLAPPING = (
    "unsupported operation: more than one element of the written-to tensor refers to a single memory location. "
    "Please clone() the tensor before performing the operation."
)


def check_inplace(t: Tensor) -> None:
    """In grad mode, a leaf that requires grad (or a view of one) must not be overwritten:
    its ``.grad`` would no longer be the gradient of what the graph used. (Inference tensors
    may only be changed inside inference mode: ``_commit`` checks that after writing.)"""
    if not _grad_mode._state.recording:
        return
    base = t._base
    if base is not None and base._grad_fn is None and base._requires_grad:
        raise RuntimeError(VIEW_OF_LEAF_INPLACE)
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError(LEAF_INPLACE)


def _old_value(t: Tensor) -> Tensor:
    """A stand-in for ``t`` before the write: its values (copied) and its history (for a view
    whose base an earlier in-place op changed, its regenerated one)."""
    if t._base is not None:
        check_view_is_current(t)
    old = Tensor._make(t._data.copy(), t._grad_fn)
    old._requires_grad = t._requires_grad
    old._output_nr = t._output_nr
    return old


def _commit(t: Tensor, result: Tensor) -> Tensor:
    """Write ``result`` into ``t``, bump its version and, if ``result`` was recorded, make
    ``result``'s node the history of ``t``."""
    if result._data.shape != t._data.shape:
        raise RuntimeError(
            f"output with shape {list(t._data.shape)} doesn't match the broadcast shape {list(result._data.shape)}"
        )
    node = result._grad_fn
    if result._data.dtype.kind == "f" and t._data.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type {t.dtype.scalar_name}")
    if node is not None and t._base is not None:
        return _commit_to_view(t, result)
    np.copyto(t._data, result._data, casting="unsafe")
    if t._vc is INFERENCE_COUNTER and not _grad_mode._state.inference:
        raise RuntimeError(INFERENCE_INPLACE)  # written, as in PyTorch: its version bump is what refuses
    counter(t)[0] += 1
    if node is not None:
        retained = t.retains_grad
        if retained and t._grad_fn is not None:
            tensor_meta(t._grad_fn, t._output_nr).retained = None  # .grad follows the new value
        t._grad_fn = node
        t._requires_grad = True
        t._output_nr = 0
        if retained:
            t.retain_grad()
        if node.saves_result and node._saved:
            # the saved result is t itself now: later writes to t must be caught at backward
            kept = Tensor._make(t._data, None, counter(t))
            node._saved = node._saved[:-1] + (kept,)
            node._saved_versions = node._saved_versions[:-1] + (version(t),)
    return t


def _commit_to_view(view: Tensor, result: Tensor) -> Tensor:
    """A recorded write through a view: the base's history becomes CopySlices over the view's
    elements, the view's an AsStridedBackward0 of the base (as PyTorch)."""
    from refgrad._shape import elements_in_base, regenerate_view

    base = view._base
    assert base is not None
    key = elements_in_base(view, base)
    if key is None:
        raise RuntimeError(VIEW_INPLACE)
    if np.unique(np.ravel_multi_index(key, base._data.shape)).size != view._data.size:
        raise RuntimeError(OVERLAPPING)  # an expanded view: the write would be ambiguous
    values = base._data.copy()
    values[key] = result._data
    _commit(base, record(CopySlices(key), values, (_old_value(base), result)))
    regenerate_view(view, base, key)
    return view


def apply(t: Tensor, op: Callable[..., Tensor], *args: Any) -> Tensor:
    """``t = op(t, *args)`` in place: ``add_``, ``mul_``, ``exp_``, ``clamp_``, ``+=``..."""
    check_inplace(t)
    other = args[0] if args else None
    source = _old_value(t) if needs_grad(t, other) else t
    return _commit(t, op(source, *args))


class ZeroBackward0(Node):
    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        return (grad * 0.0,)  # overwritten by constants: no slope


class FillBackward2(ZeroBackward0):
    __slots__ = ()


def fill(t: Tensor, value: Number) -> Tensor:
    """``fill_``/``zero_``: every element becomes ``value``."""
    check_inplace(t)
    filled = np.full_like(t._data, value)
    if not needs_grad(t):
        return _commit(t, Tensor._make(filled))
    node = ZeroBackward0() if value == 0 else FillBackward2()
    return _commit(t, record(node, filled, (_old_value(t),)))


class CopyBackwards(Node):
    __slots__ = ()
    _namespace = "torch::autograd::"

    def vjp(self, grad: Tensor) -> Grads:
        # the old values are gone (no slope); the source's slope is 1 (summed where it was broadcast)
        return (grad * 0.0 if self.needs(0) else None, grad if self.needs(1) else None)


def copy(t: Tensor, src: Tensor) -> Tensor:
    """``copy_``: the values of ``src`` (broadcast to ``t``'s shape, cast to its dtype)."""
    check_inplace(t)
    values = np.broadcast_to(src._data, t._data.shape).astype(t._data.dtype)
    if not needs_grad(t, src):
        return _commit(t, Tensor._make(values))
    return _commit(t, record(CopyBackwards(), values, (_old_value(t), src)))


class CopySlices(Node):
    """``t[key] = value`` recorded: the old values outside ``key`` and ``value`` inside."""

    __slots__ = ("key",)
    _namespace = "torch::autograd::"

    def __init__(self, key: Any) -> None:
        self.key = key

    def vjp(self, grad: Tensor) -> Grads:
        from refgrad._shape import getitem

        outside = None
        if self.needs(0):
            mask = np.ones(grad._data.shape, dtype=bool)
            mask[self.key] = False
            outside = grad * Tensor._make(mask.astype(grad._data.dtype))
        return (outside, getitem(grad, self.key) if self.needs(1) else None)


class IndexPutBackward0(CopySlices):
    __slots__ = ()
    _namespace = ""  # generated from derivatives.yaml in PyTorch: a plain name


def setitem(t: Tensor, key: IndexKey, value: Tensor | Number) -> None:
    """``t[key] = value``: recorded as CopySlices (basic indexing) or IndexPutBackward0
    (integer arrays and masks) when ``t`` or ``value`` requires grad."""
    from refgrad._shape import _advanced_key, _is_advanced

    items = key if isinstance(key, tuple) else (key,)
    advanced = any(_is_advanced(item) for item in items)
    if not advanced and _grad_mode._state.recording and t._grad_fn is None and t._requires_grad:
        raise RuntimeError(VIEW_OF_LEAF_INPLACE)  # basic indexing writes through a view of t
    check_inplace(t)
    numpy_key = _advanced_key(t, items) if advanced else key
    values = t._data.copy()
    values[numpy_key] = value._data if isinstance(value, Tensor) else value
    if not needs_grad(t, value):
        _commit(t, Tensor._make(values))
        return
    node = IndexPutBackward0(numpy_key) if advanced else CopySlices(numpy_key)
    _commit(t, record(node, values, (_old_value(t), value if isinstance(value, Tensor) else None)))
