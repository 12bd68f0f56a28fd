"""Graph nodes (``grad_fn``): what the forward pass records and backward walks.

Each operation has a ``Node`` subclass named as PyTorch names it (``MulBackward0``...),
whose ``vjp(grad, *saved)`` maps the gradient of the op's output to the gradients of its
inputs (one per edge in ``next_functions``, ``None`` where an input needs none). Rules are
written with differentiable tensor operations, so the same rule gives a differentiable
gradient under ``create_graph=True`` and a plain one otherwise.
"""

from __future__ import annotations

import itertools
import re
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from refgrad import _grad_mode

if TYPE_CHECKING:
    from refgrad._tensor import Tensor

Grads = tuple["Tensor | None", ...]
Edge = tuple["Node | None", int]
TensorHook = Callable[["Tensor"], "Tensor | None"]

TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class Node:
    """One recorded operation: edges to the nodes of its inputs, what its rule saved, and the
    shape and dtype of its output (what the gradient flowing into it must have)."""

    __slots__ = ("_next", "_next_nr", "_saved", "_saved_versions", "_shape", "_dtype", "_tensor_meta", "__weakref__")

    vjp: Callable[..., Grads]
    saves_result: ClassVar[bool] = False
    """Whether the last saved tensor is the op's own output (exp, tanh, sigmoid...)."""
    unpacks_on_access: ClassVar[bool] = False
    """True for custom Functions: their backward reads ``ctx.saved_tensors`` itself, and only
    then are the saved tensors checked (as in PyTorch)."""
    multi_output: ClassVar[bool] = False
    """True for ``MultiOutputNode`` (split, custom Functions returning several tensors)."""

    _next: tuple[Node | None, ...]
    _next_nr: tuple[int, ...] | None
    """Which output of each next node the input was (None: output 0 of every one)."""
    _saved: tuple[Tensor | float | None, ...] | None
    _saved_versions: tuple[int | None, ...]
    """The version of each saved tensor when it was saved, None for what is not a tensor
    (checked before the rule runs; ints, not pairs: no object for the collector to track)."""
    _shape: tuple[int, ...]
    _dtype: np.dtype[Any]
    _tensor_meta: dict[int, TensorMeta] | None
    """Hooks and retain_grad of the tensors this node produced, by output number (rare)."""

    _namespace: ClassVar[str] = ""
    """What ``name()`` puts before the class name: PyTorch's nodes written by hand in C++
    (AccumulateGrad, CopySlices, CopyBackwards) answer with their qualified name."""

    def name(self) -> str:
        return self._namespace + type(self).__name__

    @property
    def next_functions(self) -> tuple[Edge, ...]:
        """One (node, output number) pair per input: its grad_fn, its leaf's AccumulateGrad, or None."""
        numbers = self._next_nr or (0,) * len(self._next)
        return tuple(zip(self._next, numbers))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def needs(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient (rules skip the work for those that do not)."""
        return self._next[i] is not None

    def unpack_saved(self) -> tuple[Tensor | float | None, ...]:
        """What the rule saved (tensors checked against their versions; Python numbers as
        they are); TWICE once it was freed."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(TWICE)
        for value, saved_version in zip(saved, self._saved_versions):
            if isinstance(value, _tensor.Tensor) and _tensor.version(value) != saved_version:
                creator = self if self.saves_result and value is saved[-1] else value._grad_fn
                raise RuntimeError(_modified_message(value, saved_version, self, creator))
        if self.saves_result and _grad_mode._state.recording:
            # Differentiating the rule again needs the output as a function of the inputs.
            saved = saved[:-1] + (_result_with_history(saved[-1], self),)
        return saved

    def release_saved(self) -> None:
        """Free what the rule saved (after backward without retain_graph)."""
        if self._saved:
            self._saved = None
            self._saved_versions = ()


class RemovableHandle:
    """Returned by ``register_hook``: ``remove()`` unregisters the hook (idempotent); also a
    context manager that removes it on exit."""

    __slots__ = ("_registry", "id")
    _ids = itertools.count()

    id: int
    """A number no other handle has."""
    _registry: dict[int, Any]

    def __init__(self, registry: dict[int, Any], hook: Any) -> None:
        self.id = next(RemovableHandle._ids)
        self._registry = registry
        registry[self.id] = hook

    def remove(self) -> None:
        self._registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class TensorMeta:
    """What a tensor asked of autograd: hooks to run on its gradient (kept by a leaf itself,
    by its grad_fn for a non-leaf), hooks to run after a leaf's ``.grad`` was updated, and
    whether a non-leaf keeps its gradient in ``.grad`` (``retain_grad``; held weakly)."""

    __slots__ = ("hooks", "post_accumulate", "retained")

    def __init__(self) -> None:
        self.hooks: dict[int, TensorHook] = {}
        self.post_accumulate: dict[int, Callable[[Tensor], None]] = {}
        self.retained: weakref.ref[Tensor] | None = None


def tensor_meta(node: Node, output_nr: int) -> TensorMeta:
    """The hooks and retain_grad record of output ``output_nr`` of ``node``."""
    if node._tensor_meta is None:
        node._tensor_meta = {}
    return node._tensor_meta.setdefault(output_nr, TensorMeta())


class MultiOutputNode(Node):
    """A node with several outputs (each output tensor has its ``_output_nr``): its rule gets
    one gradient per output, zeros for outputs that received none."""

    __slots__ = ("_outputs",)
    multi_output = True
    _outputs: tuple[tuple[tuple[int, ...], np.dtype[Any]], ...]
    """Shape and dtype of each output."""


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: backward adds the gradient into ``variable.grad``."""

    __slots__ = ("variable",)
    _namespace = "torch::autograd::"

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self._next = ()
        self._next_nr = None
        self._saved = ()
        self._saved_versions = ()
        self._shape = variable._data.shape
        self._dtype = variable._data.dtype
        self._tensor_meta = None


def grad_accumulator(leaf: Tensor) -> AccumulateGrad:
    """The leaf's AccumulateGrad node: one per leaf while a graph uses it (held weakly)."""
    ref = leaf._accumulator
    node = ref() if ref is not None and ref is not NO_ACCUMULATOR else None
    if node is None:
        node = AccumulateGrad(leaf)
        leaf._accumulator = weakref.ref(node)
    return node


def edge(t: Tensor | None) -> Node | None:
    """Where the gradient of input ``t`` goes: its grad_fn, its leaf's accumulator, or nowhere."""
    if t is None or not t._requires_grad:
        return None
    if t._grad_fn is not None:
        return t._grad_fn  # (the caller reads t._output_nr for multi-output nodes)
    if t._accumulator is NO_ACCUMULATOR:
        return None
    return grad_accumulator(t)


def NO_ACCUMULATOR() -> None:
    """Marks a view made under no_grad of a tensor that requires grad: PyTorch gives it no
    accumulator, so gradients reach neither it nor its base."""
    return None


_BACKWARD_SUFFIX = re.compile(r"Backward\d*$")


def _modified_message(tensor: Tensor, version: int | None, node: Node, creator: Node | None) -> str:
    kind = tensor.dtype.scalar_name + "Tensor"
    shape = list(tensor._data.shape)
    output = "" if creator is None else f", which is output 0 of {_BACKWARD_SUFFIX.sub('', creator.name())},"
    return (
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [refgrad.{kind} {shape}]{output} is at version {_tensor.version(tensor)}; expected version "
        f"{version} instead. Hint: the tensor was changed in place after {node.name()} saved it; "
        "clone it before modifying it, or modify it after backward."
    )


def _result_with_history(saved: Tensor | float | None, node: Node) -> Tensor:
    assert isinstance(saved, _tensor.Tensor), "a node that saves its result has it last"
    return _tensor.Tensor._make(saved._data, node, _tensor.counter(saved))


from refgrad import _tensor  # noqa: E402  (Tensor is defined after Node)
