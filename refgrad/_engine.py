"""The backward pass: walk the recorded graph from the outputs to the leaves.

1. Count, for every node reachable from the outputs, how many edges lead into it.
2. Run nodes in an order where a node runs only after every node feeding it has: its
   gradient is then the sum over all paths (``b = a + a; c = b + b`` gives 4). No recursion,
   so a chain of a million nodes needs no more stack than a chain of ten.
3. Check every rule's output centrally: one gradient per edge; a gradient that does not
   have its input's shape is summed back when it is the broadcast shape (the one place
   broadcasting is undone) and is an error otherwise; the dtype is cast to the input's.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from refgrad import _dtype, _grad_mode
from refgrad._node import AccumulateGrad, MultiOutputNode, Node, edge
from refgrad._pointwise import clone, to, zeros_of
from refgrad._recording import check_view_is_current
from refgrad._shape import is_expandable_to, sum_to
from refgrad._inplace import INFERENCE_INPLACE
from refgrad._tensor import INFERENCE_COUNTER, Tensor, counter, new_counter

NOGRAD = "element {} of tensors does not require grad and does not have a grad_fn"


def as_tensors(value: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (value,) if isinstance(value, Tensor) else tuple(value)


def as_gradients(value: object, count: int) -> tuple[object, ...]:
    """``None`` (for every output), one tensor, or a sequence (a bare number fails as in PyTorch:
    "'float' object is not iterable")."""
    if value is None:
        return (None,) * count
    if isinstance(value, Tensor):
        return (value,)
    if not isinstance(value, Iterable):
        raise TypeError(f"'{type(value).__name__}' object is not iterable")
    return tuple(value)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: object,
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | Tensor | None,
) -> None:
    """``autograd.backward`` / ``tensor.backward``: accumulate into the ``.grad`` of the
    leaves (or of ``inputs`` only)."""
    outputs = as_tensors(tensors)
    if inputs is not None:
        inputs = as_tensors(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    run_backward(outputs, as_gradients(grad_tensors, len(outputs)), retain_graph, create_graph, inputs, accumulate=True)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: object,
    retain_graph: bool | None,
    create_graph: bool,
    allow_unused: bool | None,
    materialize_grads: bool,
) -> tuple[Tensor | None, ...]:
    """``autograd.grad``: the gradients of ``inputs``, returned (``.grad`` is not touched)."""
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, but got: allow_unused=False."
        )
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    outs, ins = as_tensors(outputs), as_tensors(inputs)
    if not ins:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    results = run_backward(outs, as_gradients(grad_outputs, len(outs)), retain_graph, create_graph, ins, accumulate=False)
    for i, result in enumerate(results):
        if result is None and not allow_unused:
            raise RuntimeError(
                f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                "Set allow_unused=True if this is the desired behavior."
            )
    if materialize_grads:
        return tuple(zeros_of(t) if r is None else r for r, t in zip(results, ins))
    return results


def _seed_gradients(outputs: Sequence[Tensor], grads: Sequence[object]) -> list[Tensor | None]:
    seeds: list[Tensor | None] = []
    for i, (out, grad) in enumerate(zip(outputs, grads)):
        if isinstance(grad, Tensor):
            if grad._data.shape != out._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of refgrad.Size({list(grad._data.shape)}) "
                    f"and output[{i}] has a shape of refgrad.Size({list(out._data.shape)})."
                )
            seeds.append(grad)
        elif grad is None:
            if out._requires_grad and out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seeds.append(Tensor._make(np.ones_like(out._data)) if out._requires_grad else None)
        else:
            raise TypeError(f"gradients can be either Tensors or None, but got {type(grad).__name__}")
    return seeds


def run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[object],
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
    accumulate: bool,
) -> tuple[Tensor | None, ...]:
    """The engine behind ``backward`` (``accumulate=True``: into ``.grad``) and
    ``autograd.grad`` (``accumulate=False``: the gradients of ``inputs`` are returned)."""
    seeds = _seed_gradients(outputs, grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    keep_graph = create_graph if retain_graph is None else retain_graph
    roots: list[Node] = []
    buffers: dict[Node, Any] = {}  # the summed gradient of each node (a list for multi-output nodes)
    for i, (out, seed) in enumerate(zip(outputs, seeds)):
        check_view_is_current(out)
        root = edge(out)
        if root is None or seed is None:
            raise RuntimeError(NOGRAD.format(i))
        roots.append(root)
        _add_gradient(buffers, root, out._output_nr, seed, "", i)

    # Where gradients are wanted: a leaf's accumulator, or an output of a non-leaf's grad_fn.
    targets: dict[tuple[Node, int], list[int]] | None = None
    if inputs is not None:
        targets = {}
        for position, t in enumerate(inputs):
            node = edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault((node, t._output_nr), []).append(position)
    captured: list[Tensor | None] = [None] * (len(inputs) if inputs is not None else 0)

    dependencies = _count_dependencies(roots)
    ready = [root for root in dict.fromkeys(roots) if root not in dependencies]
    # With inputs, only the part of the graph that leads to them runs (no other hooks fire,
    # nothing else is freed).
    needed = None if targets is None else _leading_to({node for node, _ in targets}, ready, dependencies)
    previous_mode = _grad_mode.is_grad_enabled()
    _grad_mode._set_grad_enabled(create_graph)
    # The walk makes no reference cycles (the graph is acyclic and every buffer is freed by
    # reference counting), so the cyclic collector is paused for it, and resumed after, if it
    # was on: otherwise its full collections rescan the whole live graph, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while ready:
            node = ready.pop()
            grad = buffers.pop(node, None)
            if needed is not None and node not in needed:
                grad = None
            is_leaf = type(node) is AccumulateGrad
            if node.multi_output:
                grad = _arrived_at_outputs(node, grad, targets, inputs, captured, accumulate, create_graph)
            elif grad is not None and (is_leaf or targets is not None or node._tensor_meta is not None):
                grad = _arrived(node, 0, grad, targets, inputs, captured, accumulate, create_graph)
            if is_leaf:
                continue
            if needed is not None and not any(nxt in needed for nxt in node._next):
                grad = None  # a wanted input's own node: its gradient is captured, not propagated
            grads_in = None
            if grad is not None:  # run the rule (inline: this loop is the engine's hot path)
                saved = node._saved
                unpack = (saved or saved is None) and not node.unpacks_on_access
                grads_in = node.vjp(grad, *(node.unpack_saved() if unpack else ()))
                if saved and not keep_graph:
                    node.release_saved()
                if len(grads_in) != len(node._next):
                    raise RuntimeError(
                        f"function {node.name()} returned an incorrect number of gradients "
                        f"(expected {len(node._next)}, got {len(grads_in)})"
                    )
            numbers = node._next_nr
            for i, nxt in enumerate(node._next):
                if nxt is None:
                    continue
                g = None if grads_in is None else grads_in[i]
                if g is not None:
                    if numbers is None and not nxt.multi_output:  # the common case, inline
                        data = g._data
                        if data.shape != nxt._shape or data.dtype is not nxt._dtype:
                            g = _conform(g, nxt._shape, nxt._dtype, node.name(), i)
                        prev = buffers.get(nxt)
                        buffers[nxt] = g if prev is None else prev + g
                    else:
                        _add_gradient(buffers, nxt, 0 if numbers is None else numbers[i], g, node.name(), i)
                remaining = dependencies[nxt] - 1
                dependencies[nxt] = remaining
                if remaining == 0:
                    ready.append(nxt)
    finally:
        _grad_mode._set_grad_enabled(previous_mode)
        if collecting:
            gc.enable()
    return tuple(captured)


def _add_gradient(buffers: dict[Node, Any], node: Node, output_nr: int, g: Tensor, producer: str, index: int) -> None:
    """Sum ``g`` into what ``node`` will receive for its output ``output_nr``."""
    if isinstance(node, MultiOutputNode):
        shape, dtype = node._outputs[output_nr]
        slots = buffers.setdefault(node, [None] * len(node._outputs))
    else:
        shape, dtype = node._shape, node._dtype
        slots = None
    g = _conform(g, shape, dtype, producer, index)
    if slots is None:
        prev = buffers.get(node)
        buffers[node] = g if prev is None else prev + g
    else:
        prev = slots[output_nr]
        slots[output_nr] = g if prev is None else prev + g


def _arrived(
    node: Node,
    output_nr: int,
    grad: Tensor,
    targets: dict[tuple[Node, int], list[int]] | None,
    inputs: Sequence[Tensor] | None,
    captured: list[Tensor | None],
    accumulate: bool,
    create_graph: bool,
) -> Tensor:
    """The summed gradient of output ``output_nr`` of ``node`` is complete: run the hooks of
    the tensor it belongs to, keep it where it is wanted (a leaf's ``.grad``, a retained
    ``.grad``, the listed ``inputs``), and pass it on."""
    grad = _run_tensor_hooks(node, output_nr, grad, create_graph)
    if targets is None or inputs is None:
        if isinstance(node, AccumulateGrad):
            _accumulate_into_leaf(node.variable, grad, create_graph)
        return grad
    for position in targets.get((node, output_nr), ()):
        if not accumulate:
            captured[position] = grad
        elif isinstance(node, AccumulateGrad):
            _accumulate_into_leaf(inputs[position], grad, create_graph)
        else:
            _accumulate(inputs[position], grad, create_graph)
    return grad


def _arrived_at_outputs(
    node: Node,
    grads: list[Tensor | None] | None,
    targets: dict[tuple[Node, int], list[int]] | None,
    inputs: Sequence[Tensor] | None,
    captured: list[Tensor | None],
    accumulate: bool,
    create_graph: bool,
) -> list[Tensor | None] | None:
    if grads is None:
        return None
    return [
        None if g is None else _arrived(node, nr, g, targets, inputs, captured, accumulate, create_graph)
        for nr, g in enumerate(grads)
    ]


def _leading_to(wanted: set[Node], ready: list[Node], dependencies: dict[Node, int]) -> set[Node]:
    """The nodes from which one of ``wanted`` can be reached (``wanted`` included)."""
    remaining = dict(dependencies)
    order, stack = [], list(ready)
    while stack:  # a topological order of the graph
        node = stack.pop()
        order.append(node)
        for nxt in node._next:
            if nxt is not None:
                remaining[nxt] -= 1
                if remaining[nxt] == 0:
                    stack.append(nxt)
    leading: set[Node] = set()
    for node in reversed(order):
        if node in wanted or any(nxt in leading for nxt in node._next):
            leading.add(node)
    return leading


def _count_dependencies(roots: list[Node]) -> dict[Node, int]:
    """How many edges lead into each node reachable from ``roots`` (iteratively)."""
    dependencies: dict[Node, int] = {}
    root_set = set(roots)
    stack = list(root_set)
    while stack:
        node = stack.pop()
        for nxt in node._next:
            if nxt is None:
                continue
            if nxt in dependencies:
                dependencies[nxt] += 1
            else:
                dependencies[nxt] = 1
                if nxt not in root_set:
                    stack.append(nxt)
    return dependencies


def _conform(g: Tensor, shape: tuple[int, ...], dtype: np.dtype[Any], producer: str, index: int) -> Tensor:
    """``g`` with exactly the shape and dtype of the tensor it is the gradient of."""
    if not isinstance(g, Tensor):
        raise TypeError(f"Function {producer} returned a gradient of type {type(g).__name__} at index {index}, not a Tensor")
    if g._data.shape != shape:
        if not is_expandable_to(shape, g._data.shape):
            raise RuntimeError(
                f"Function {producer} returned an invalid gradient at index {index} - got {list(g._data.shape)} "
                f"but expected shape compatible with {list(shape)}"
            )
        g = sum_to(g, shape)
    if g._data.dtype is not dtype and g._data.dtype != dtype:
        g = to(g, _dtype.from_numpy_dtype(dtype))
    return g


def _run_tensor_hooks(node: Node, output_nr: int, grad: Tensor, create_graph: bool) -> Tensor:
    """Hooks registered on the tensor whose gradient this is (a leaf keeps them itself), in
    registration order, each seeing the previous one's result; then its retained ``.grad``."""
    if isinstance(node, AccumulateGrad):
        meta = node.variable._meta
    else:
        meta = node._tensor_meta.get(output_nr) if node._tensor_meta is not None else None
    if meta is None:
        return grad
    for hook in list(meta.hooks.values()):
        replaced = hook(grad)
        if replaced is not None:
            if not isinstance(replaced, Tensor) or replaced._data.shape != grad._data.shape:
                raise RuntimeError(f"hook '{getattr(hook, '__name__', '<unknown>')}' has changed the size of value")
            grad = replaced
    tensor = meta.retained() if meta.retained is not None else None
    if tensor is not None:
        _accumulate(tensor, grad, create_graph)
    return grad


def _accumulate_into_leaf(leaf: Tensor, grad: Tensor, create_graph: bool) -> None:
    """Accumulate into a leaf's ``.grad``, then run its post-accumulate-grad hooks."""
    _accumulate(leaf, grad, create_graph)
    if leaf._meta is not None:
        for hook in list(leaf._meta.post_accumulate.values()):
            if hook(leaf) is not None:
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")


def _accumulate(tensor: Tensor, grad: Tensor, create_graph: bool) -> None:
    """Add ``grad`` into ``tensor.grad``: in place when it exists (and no graph is being built
    through it), as a fresh copy otherwise, so ``.grad`` never aliases another tensor."""
    old = tensor._grad
    if old is None:  # made in inference mode, it is an inference tensor (as in PyTorch)
        tensor._grad = clone(grad) if create_graph else Tensor._make(grad._data.astype(tensor._data.dtype, copy=True), None, new_counter())
    elif create_graph or old._requires_grad:
        tensor._grad = old + grad
    else:
        if old._vc is INFERENCE_COUNTER and not _grad_mode._state.inference:  # made in inference mode
            raise RuntimeError(INFERENCE_INPLACE)
        np.add(old._data, grad._data, out=old._data, casting="unsafe")
        counter(old)[0] += 1
