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

from collections.abc import Sequence

import numpy as np

from refgrad import _dtype, _grad_mode
from refgrad._node import AccumulateGrad, Node, edge
from refgrad._pointwise import clone, to
from refgrad._shape import is_expandable_to, sum_to
from refgrad._tensor import Tensor

NOGRAD = "element {} of tensors does not require grad and does not have a grad_fn"


def backward(
    tensor: Tensor,
    gradient: Tensor | None,
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | Tensor | None,
) -> None:
    """``tensor.backward(...)``: accumulate into the ``.grad`` of the leaves (or of ``inputs``)."""
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    grads = (gradient,) if gradient is None or isinstance(gradient, Tensor) else tuple(gradient)
    run_backward((tensor,), grads, retain_graph, create_graph, inputs, accumulate=True)


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
    buffers: dict[Node, Tensor] = {}
    for i, (out, seed) in enumerate(zip(outputs, seeds)):
        root = edge(out)
        if root is None or seed is None:
            raise RuntimeError(NOGRAD.format(i))
        roots.append(root)
        seed = _conform(seed, root, "", i)
        buffers[root] = seed if root not in buffers else buffers[root] + seed

    # Where gradients are wanted: a leaf's accumulator, or the grad_fn of a non-leaf input.
    targets: dict[Node, Tensor] | None = None
    if inputs is not None:
        targets = {}
        for t in inputs:
            node = edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets[node] = t
    captured: dict[Node, Tensor] = {}

    dependencies = _count_dependencies(roots)
    ready = [root for root in dict.fromkeys(roots) if root not in dependencies]
    previous_mode = _grad_mode.is_grad_enabled()
    _grad_mode._set_grad_enabled(create_graph)
    try:
        while ready:
            node = ready.pop()
            grad = buffers.pop(node, None)
            if grad is not None and (targets is not None or node._tensor_meta is not None):
                grad = _run_tensor_hooks(node, grad, create_graph)
                if targets is not None and node in targets:
                    if accumulate:
                        _accumulate(targets[node], grad, create_graph)
                    else:
                        captured[node] = grad
            if type(node) is AccumulateGrad:
                if grad is not None and targets is None:
                    _accumulate(node.variable, grad, create_graph)
                continue
            grads_in = _apply(node, grad, keep_graph)
            for i, nxt in enumerate(node._next):
                if nxt is None:
                    continue
                g = grads_in[i]
                if g is not None:
                    data = g._data
                    if data.shape != nxt._shape or data.dtype is not nxt._dtype:
                        g = _conform(g, nxt, node.name(), i)
                    prev = buffers.get(nxt)
                    buffers[nxt] = g if prev is None else prev + g
                remaining = dependencies[nxt] - 1
                dependencies[nxt] = remaining
                if remaining == 0:
                    ready.append(nxt)
    finally:
        _grad_mode._set_grad_enabled(previous_mode)
    if targets is None:
        return ()
    return tuple(captured.get(node) for node in targets)


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


def _apply(node: Node, grad: Tensor | None, keep_graph: bool) -> tuple[Tensor | None, ...]:
    """Run the node's rule on its summed gradient and check the count of what it returns."""
    edges = len(node._next)
    if grad is None:
        return (None,) * edges
    saved = node._saved
    grads_in = node.vjp(grad, *(node.unpack_saved() if saved or saved is None else ()))
    if saved and not keep_graph:
        node.release_saved()
    if len(grads_in) != edges:
        raise RuntimeError(
            f"function {node.name()} returned an incorrect number of gradients (expected {edges}, got {len(grads_in)})"
        )
    return grads_in


def _conform(g: Tensor, target: Node, producer: str, index: int) -> Tensor:
    """``g`` with exactly the shape and dtype of the tensor it is the gradient of."""
    if not isinstance(g, Tensor):
        raise TypeError(f"Function {producer} returned a gradient of type {type(g).__name__} at index {index}, not a Tensor")
    shape = target._shape
    if g._data.shape != shape:
        if not is_expandable_to(shape, g._data.shape):
            raise RuntimeError(
                f"Function {producer} returned an invalid gradient at index {index} - got {list(g._data.shape)} "
                f"but expected shape compatible with {list(shape)}"
            )
        g = sum_to(g, shape)
    if g._data.dtype is not target._dtype and g._data.dtype != target._dtype:
        g = to(g, _dtype.from_numpy_dtype(target._dtype))
    return g


def _run_tensor_hooks(node: Node, grad: Tensor, create_graph: bool) -> Tensor:
    """Hooks registered on the tensor this node produced, then its retained ``.grad``."""
    meta = node._tensor_meta
    if meta is None:
        return grad
    for hook in meta.hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
    tensor = meta.retained() if meta.retained is not None else None
    if tensor is not None:
        _accumulate(tensor, grad, create_graph)
    return grad


def _accumulate(tensor: Tensor, grad: Tensor, create_graph: bool) -> None:
    """Add ``grad`` into ``tensor.grad``: in place when it exists (and no graph is being built
    through it), as a fresh copy otherwise, so ``.grad`` never aliases another tensor."""
    old = tensor._grad
    if old is None:
        tensor._grad = clone(grad) if create_graph else Tensor._make(grad._data.astype(tensor._data.dtype, copy=True))
    elif create_graph or old._requires_grad:
        tensor._grad = old + grad
    else:
        np.add(old._data, grad._data, out=old._data, casting="unsafe")
        old._vc[0] += 1
