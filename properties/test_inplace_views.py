"""In-place operations through views, on random sequences: refgrad computes the same values
and the same gradients as PyTorch.

Each sequence starts from a non-leaf ``base = x * 1.0`` of shape (2, 3) and applies steps:
take a view of the base (or of a view taken earlier: a row, a column, a slice, a transpose,
a ``select``, a ``view``) and change it in place (``mul_``/``add_`` by a number or by a 0-d
leaf ``s`` that requires grad, ``zero_``, item assignment), or replace the base by a new
result (also one whose memory is in column-major order, as numpy leaves the product of a
transposed array). Views taken earlier stay around and are used at the end, after later in-place
operations changed their base (PyTorch regenerates their history; so must refgrad). The loss
weighs every element differently, so a gradient landing on the wrong element is seen.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import refgrad as rg

VIEWS: dict[str, Callable[[Any], Any]] = {
    "row 0": lambda t: t[0],
    "column 1": lambda t: t[:, 1] if t.dim() == 2 else t[1:],
    "tail": lambda t: t[..., 1:],
    "transpose": lambda t: t.t() if t.dim() == 2 else t,
    "select last": lambda t: t.select(-1, -1),
    "flat": lambda t: t.view(-1) if t.is_contiguous() else t[...],
    "all": lambda t: t[...],
}
"""View functions that apply to any tensor of rank ≥ 1 that is (a view of) the base."""

INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "mul_ 2.5": lambda v, s: v.mul_(2.5),
    "add_ -1": lambda v, s: v.add_(-1.0),
    "mul_ s": lambda v, s: v.mul_(s),
    "add_ s": lambda v, s: v.add_(s),
    "zero_": lambda v, s: v.zero_(),
    "v[...] = s * 3": lambda v, s: v.__setitem__(..., s * 3.0),
}

Step = tuple[str, int, str, bool]
"""(view, which earlier view it is taken of (0: the base), in-place op, keep the view)."""

steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(VIEWS) + ["new base", "new base in column-major order"]),
        st.integers(0, 3),
        st.sampled_from(sorted(INPLACE)),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


def run(engine: ModuleType, plan: list[Step]) -> tuple[list[float], list[float], list[float]]:
    """The plan on ``engine``: the base's final values and the gradients of x and s."""
    x = engine.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
    s = engine.tensor(1.25, requires_grad=True)
    base = x * 1.0
    taken = [base]
    kept = []
    for view_name, source, op_name, keep in plan:
        if view_name.startswith("new base"):
            # numpy keeps the transposed layout: a base whose memory is in column-major order
            base = base * 1.5 if view_name == "new base" else (base.t() * 1.5).t()
            taken = [base]
            continue
        parent = taken[source % len(taken)]
        if parent.dim() == 0:
            parent = base
        if view_name == "column 1" and parent.shape[-1] < 2:
            view_name = "all"  # no second column to take
        view = VIEWS[view_name](parent)
        if view.dim() == 0 and op_name.startswith("v["):
            op_name = "mul_ s"  # item assignment to a 0-d view with `...` is the same write
        INPLACE[op_name](view, s)
        taken.append(view)
        if keep:
            kept.append(view)
    weights = engine.tensor(np.arange(1.0, 7.0).reshape(2, 3))
    loss = (base * weights).sum()
    for k, view in enumerate(kept):
        loss = loss + view.sum() * (k + 2)
    loss.backward()
    return (
        [float(v) for v in np.asarray(base.detach().numpy()).ravel()],
        [float(v) for v in np.asarray(x.grad.numpy()).ravel()],
        [0.0 if s.grad is None else float(s.grad)],
    )


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@given(plan=steps)
def test_inplace_through_views_matches_pytorch(plan: list[Step]) -> None:
    import torch

    note(repr(plan))
    ours, theirs = run(rg, plan), run(torch, plan)
    for got, expected in zip(ours, theirs):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_a_copyslices_that_forgets_the_overwritten_elements_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import settings

    from refgrad import _inplace

    right = _inplace.CopySlices.vjp
    monkeypatch.setattr(_inplace.CopySlices, "vjp", lambda self, grad: (grad, right(self, grad)[1]))
    with pytest.raises(AssertionError):
        settings(max_examples=200, database=None, derandomize=True)(test_inplace_through_views_matches_pytorch)()
