"""In-place operations: they write into the tensor's storage (seen by its views and
detached aliases), bump the shared version counter, and, when recorded, make the
tensor's grad_fn the node of the operation (its history is "rebased")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from refgrad import _grad_mode
from refgrad._tensor import INFERENCE_COUNTER, IndexKey, Number, Tensor

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of a leaf Variable that requires grad is being used in an in-place operation."


INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
    "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details."
)


def check_inplace(t: Tensor) -> None:
    """In grad mode, a leaf that requires grad (or a view of one) must not be overwritten:
    its ``.grad`` would no longer be the gradient of what the graph used. Inference tensors
    may only be changed inside inference mode."""
    if t._vc is INFERENCE_COUNTER and not _grad_mode._state.inference:
        raise RuntimeError(INFERENCE_INPLACE)
    if not _grad_mode._state.grad_enabled:
        return
    base = t._base
    if base is not None and base._grad_fn is None and base._requires_grad:
        raise RuntimeError(VIEW_OF_LEAF_INPLACE)
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError(LEAF_INPLACE)


def _write(t: Tensor, values: Any) -> None:
    result = np.result_type(values)
    if result.kind == "f" and t._data.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type {_kind_name(t._data.dtype)}")
    np.copyto(t._data, values, casting="unsafe")
    t._vc[0] += 1


def _kind_name(dt: np.dtype[Any]) -> str:
    return {"int64": "Long", "int32": "Int", "bool": "Bool"}.get(str(dt), str(dt))


def apply(t: Tensor, op: Callable[[Tensor, Tensor | Number], Tensor], other: Tensor | Number) -> Tensor:
    """``t op= other``: computed out of place, written into ``t``, the history rebased."""
    check_inplace(t)
    result = op(t, other)
    if result._data.shape != t._data.shape:
        raise RuntimeError(
            f"output with shape {list(t._data.shape)} doesn't match the broadcast shape {list(result._data.shape)}"
        )
    if result._grad_fn is not None and t._base is not None:
        raise RuntimeError("refgrad does not support recorded in-place operations on views yet; use an out-of-place op")
    _write(t, result._data)
    if result._grad_fn is not None:
        t._grad_fn = result._grad_fn
        t._requires_grad = True
    return t


def fill(t: Tensor, value: Number) -> Tensor:
    check_inplace(t)
    _refuse_recorded_overwrite(t)
    _write(t, np.asarray(value))
    return t


def copy(t: Tensor, src: Tensor) -> Tensor:
    check_inplace(t)
    _refuse_recorded_overwrite(t)
    if src._requires_grad and _grad_mode._state.grad_enabled:
        raise RuntimeError("refgrad does not support recorded copy_ from a tensor that requires grad yet")
    _write(t, np.broadcast_to(src._data, t._data.shape))
    return t


def _refuse_recorded_overwrite(t: Tensor) -> None:
    """Overwriting a recorded tensor with constants is not supported yet (it would need a FillBackward node)."""
    if (t._grad_fn is not None or (t._base is not None and t._base._requires_grad)) and _grad_mode._state.grad_enabled:
        raise RuntimeError("refgrad does not support recorded fill_/zero_/copy_ on tensors that require grad yet")


def setitem(t: Tensor, key: IndexKey, value: Tensor | Number) -> None:
    check_inplace(t)
    recorded = _grad_mode._state.grad_enabled and (
        t._requires_grad or (isinstance(value, Tensor) and value._requires_grad)
    )
    if recorded:
        raise RuntimeError("refgrad does not support recorded item assignment yet; build the tensor with cat/where")
    from refgrad._shape import _advanced_key

    items = key if isinstance(key, tuple) else (key,)
    numpy_key = _advanced_key(t, items) if any(isinstance(i, (Tensor, list)) for i in items) else key
    t._data[numpy_key] = value._data if isinstance(value, Tensor) else value
    t._vc[0] += 1
