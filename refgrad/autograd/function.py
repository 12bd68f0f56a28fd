"""Custom differentiable operations: subclass ``Function`` with static ``forward(ctx, ...)``
and ``backward(ctx, *grads)``, call ``YourFunction.apply(...)``.

The context ``ctx`` is the graph node itself (as in PyTorch): ``forward`` saves what
``backward`` needs with ``ctx.save_for_backward``; the node's class is named
``<YourFunction>Backward``; its outputs are outputs of that one node.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar, TypeVarTuple, cast

import numpy as np

from refgrad import _grad_mode
from refgrad._node import Grads, MultiOutputNode, Node
from refgrad._recording import record, record_outputs, saved_versions
from refgrad._tensor import Tensor, counter

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]

F = TypeVar("F", bound=Callable[..., Any])
Args = TypeVarTuple("Args")
Result = TypeVar("Result", covariant=True)


class _Forward(Protocol[*Args, Result]):
    """A Function subclass seen through its ``forward``: what ``apply`` takes and returns."""

    @staticmethod
    def forward(ctx: Any, /, *args: *Args) -> Result: ...


class _Apply(Protocol):
    """The static type of ``Function.apply``: on ``YourFunction`` it is ``forward`` without
    ``ctx``, positional arguments only (``apply`` takes no keywords)."""

    def __get__(self, instance: object, owner: type[_Forward[*Args, Result]]) -> Callable[[*Args], Result]: ...


def _typed_apply(method: object) -> _Apply:
    """Give ``apply`` its static type (the same classmethod at run time)."""
    return cast(_Apply, method)


class FunctionCtx(MultiOutputNode):
    """What ``forward`` and ``backward`` of a custom Function share (the node of one call)."""

    __slots__ = (
        "needs_input_grad",
        "_to_save",
        "_non_differentiable",
        "materialize_grads",
        "_input_is_tensor",
        "_saved_output_nrs",
    )
    function: ClassVar[type[Function]]

    needs_input_grad: tuple[bool, ...]
    """Per forward argument: whether it is a tensor that requires grad."""
    materialize_grads: bool
    _input_is_tensor: tuple[bool, ...]
    _to_save: tuple[Tensor | None, ...]
    _non_differentiable: set[int]
    _saved_output_nrs: tuple[int | None, ...]
    """For each saved tensor, which output it is (None for inputs and others)."""

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """What ``save_for_backward`` saved, checked against in-place changes since. A saved
        output is, under ``create_graph``, a function of the inputs again (this node's output)."""
        unpacked: list[Tensor | None] = []
        rebuild = _grad_mode._state.recording
        for t, output_nr in zip(self.unpack_saved(), self._saved_output_nrs):
            if not isinstance(t, Tensor):
                unpacked.append(None)
            elif output_nr is not None and rebuild:
                live = Tensor._make(t._data, self, counter(t))
                live._output_nr = output_nr
                unpacked.append(live)
            else:
                unpacked.append(t)
        return tuple(unpacked)

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        self._non_differentiable = {id(t) for t in outputs}

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` gets zeros (the default) or None for outputs without gradient."""
        self.materialize_grads = value


class BackwardCFunction(FunctionCtx):
    """The node of one call of a custom Function: its rule is the Function's ``backward``."""

    __slots__ = ()
    unpacks_on_access = True

    def vjp(self, grads: list[Tensor | None]) -> Grads:
        if self.materialize_grads:
            grads = [
                Tensor._make(np.zeros(shape, dtype)) if g is None else g for g, (shape, dtype) in zip(grads, self._outputs)
            ]
        result = self.function.backward(self, *grads)
        results = result if isinstance(result, tuple) else (result,)
        expected = len(self._input_is_tensor)
        if len(results) != expected:
            if len(results) < expected or any(r is not None for r in results[expected:]):
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients (expected {expected}, got {len(results)})"
                )
        tensor_grads: list[Tensor | None] = []
        for position, (g, is_tensor) in enumerate(zip(results, self._input_is_tensor), start=1):
            if g is not None and not isinstance(g, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            if is_tensor:
                tensor_grads.append(g)
            elif g is not None:
                raise RuntimeError(
                    f"function {self.name()} returned a gradient different than None at position {position}, "
                    "but the corresponding forward input was not a Variable"
                )
        return tuple(tensor_grads)


class Function:
    """Base class of custom differentiable operations (see the module docstring)."""

    _node_types: ClassVar[dict[type[Function], type[BackwardCFunction]]] = {}

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    # ``**kwargs``: with ``*args``, the signature type checkers let any subclass override.
    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def _node_type(cls) -> type[BackwardCFunction]:
        node_type = Function._node_types.get(cls)
        if node_type is None:
            # no __slots__: forward may keep anything on ctx (ctx.k = k), as in PyTorch
            node_type = type(f"{cls.__name__}Backward", (BackwardCFunction,), {"function": cls})
            Function._node_types[cls] = node_type
        return node_type

    @_typed_apply
    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run ``forward`` (with grad disabled) and, when an input tensor requires grad in grad
        mode, record one node whose rule is ``backward``."""
        node_type = cls._node_type()
        ctx: BackwardCFunction = node_type.__new__(node_type)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx._input_is_tensor = tuple(isinstance(a, Tensor) for a in args)
        ctx._to_save = ()
        ctx._saved_output_nrs = ()
        ctx._non_differentiable = set()
        ctx.materialize_grads = True
        recording = _grad_mode._state.recording and any(ctx.needs_input_grad)
        with _grad_mode.no_grad():
            result = cls.forward(ctx, *args)
        single = isinstance(result, Tensor)
        outputs = (result,) if single else tuple(result)
        if not recording:
            return result
        inputs = tuple(a for a in args if isinstance(a, Tensor))
        # The results are new tensors on the outputs' storage (and version counters).
        recorded = record_outputs(ctx, [o._data for o in outputs], inputs)
        for original, new in zip(outputs, recorded):
            new._vc = counter(original)
            if id(original) in ctx._non_differentiable:
                new._grad_fn = None
                new._requires_grad = False
        # A saved output is kept as its values and version counter (holding the result itself
        # would be a reference cycle through its grad_fn); saved_tensors rebuilds its history.
        saved: list[Tensor | None] = []
        output_nrs: list[int | None] = []
        item: Tensor | None
        for item in ctx._to_save:
            output_nr = next((nr for nr, o in enumerate(outputs) if item is o), None)
            saved.append(item if item is None or output_nr is None else Tensor._make(item._data, None, counter(item)))
            output_nrs.append(output_nr)
        ctx._saved = tuple(saved)
        ctx._saved_versions = saved_versions(ctx._saved)
        ctx._saved_output_nrs = tuple(output_nrs)
        return recorded[0] if single else recorded


class DelayedError(Node):
    """Stands for the gradient of a ``once_differentiable`` backward: differentiating it fails."""

    __slots__ = ()

    def vjp(self, grad: Tensor) -> Grads:
        raise RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable")


def once_differentiable(backward: F) -> F:
    """Mark a ``backward`` that is not itself differentiable: it runs with grad disabled, and
    differentiating its result (under ``create_graph``) raises."""

    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        with _grad_mode.no_grad():
            result = backward(ctx, *grads)
        if not (_grad_mode._state.recording and any(isinstance(g, Tensor) and g._requires_grad for g in grads)):
            return result
        results = result if isinstance(result, tuple) else (result,)
        inputs = tuple(g for g in grads if isinstance(g, Tensor) and g._requires_grad)
        delayed = tuple(None if r is None else record(DelayedError(), r._data, inputs) for r in results)
        return delayed if isinstance(result, tuple) else delayed[0]

    return cast(F, wrapper)
