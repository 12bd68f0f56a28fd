"""``matmul`` on random operands, against PyTorch: the same values, the same gradients and the
same graph, node for node.

PyTorch's ``matmul`` picks among dot, mv, mm (with its operands folded into matrices, and
transposed when the right one is the larger) and bmm (with broadcast batch dims), depending on
the ranks, on which operand requires grad and on how its memory is laid out; each choice
records a different graph (``SqueezeBackward4``, ``ReshapeAliasBackward0``, ``CloneBackward0``
after a transpose...). The operands here have 1 to 4 dims, broadcastable batch dims (often of
size 1), any of the three requires-grad combinations, and row-major, step-sliced, expanded
(stride 0), transposed or batch-permuted memory.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import refgrad as rg

LAYOUTS = ("row-major", "sliced", "expanded", "transposed", "batch dims swapped")

Operand = tuple[tuple[int, ...], str, bool]
"""(shape, memory layout, requires grad)."""


@st.composite
def operands(draw: st.DrawFn) -> tuple[Operand, Operand]:
    k, n, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    shapes: list[tuple[int, ...]] = []
    for rows in ((n, k), (k, m)):
        rank = draw(st.integers(1, 2 + len(batch)))
        if rank == 1:
            shapes.append((k,))
            continue
        own = batch[len(batch) - (rank - 2) :] if rank > 2 else []
        shapes.append((*(draw(st.sampled_from([size, 1])) for size in own), *rows))
    grads = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
    layouts = [draw(st.sampled_from(LAYOUTS[: min(len(shape) + 2, 5)])) for shape in shapes]
    return (shapes[0], layouts[0], grads[0]), (shapes[1], layouts[1], grads[1])


def leaf(engine: ModuleType, operand: Operand, seed: int) -> Any:
    """A leaf of ``shape`` whose memory is laid out as asked (a transposed or permuted view of
    row-major values, detached to be a leaf)."""
    shape, layout, requires_grad = operand
    values = np.random.default_rng(seed).uniform(-1, 1, shape)
    if layout == "sliced":  # every other element of a row-major tensor twice as long
        made = engine.tensor(np.repeat(values, 2, axis=-1), dtype=engine.float64)[..., ::2]
    elif layout == "expanded":  # the last dimension repeated from one (stride 0)
        made = engine.tensor(values[..., :1], dtype=engine.float64).expand(*shape)
    elif layout == "transposed":
        made = engine.tensor(np.swapaxes(values, -1, -2).copy(), dtype=engine.float64).transpose(-1, -2)
    elif layout == "batch dims swapped":
        made = engine.tensor(np.swapaxes(values, 0, 1).copy(), dtype=engine.float64).transpose(0, 1)
    else:
        made = engine.tensor(values, dtype=engine.float64)
    return made.detach().requires_grad_(requires_grad)


def graph(output: Any) -> str:
    """The graph behind ``output`` as nested node names (AccumulateGrad without its C++ prefix)."""

    def node(fn: Any) -> str:
        name = fn.name().removeprefix("torch::autograd::")
        inputs = [node(next_fn) for next_fn, _ in fn.next_functions if next_fn is not None]
        return f"{name}({', '.join(inputs)})" if inputs else name

    return node(output.grad_fn)


def product(engine: ModuleType, a: Operand, b: Operand) -> tuple[str, Any, list[Any]]:
    x, y = leaf(engine, a, 0), leaf(engine, b, 1)
    out = x @ y
    weights = engine.tensor(np.random.default_rng(2).uniform(-1, 1, tuple(out.shape)), dtype=engine.float64)
    (out * weights).sum().backward()
    return graph(out), out.detach().numpy(), [None if t.grad is None else t.grad.numpy() for t in (x, y)]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@given(operands())
def test_matmul_records_pytorchs_graph(pair: tuple[Operand, Operand]) -> None:
    import torch

    note(f"a: {pair[0]}, b: {pair[1]}")
    ours, theirs = product(rg, *pair), product(torch, *pair)
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-14)
    for mine, reference in zip(ours[2], theirs[2]):
        assert (mine is None) == (reference is None)
        if mine is not None:
            np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-14)
