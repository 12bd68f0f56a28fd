"""User code on tensors, as the type checkers see it.

Each ``assert_type`` states the type a user's checker gives an expression. The functions
named ``rejected_*`` are never called: each line in them is code a checker must reject,
marked with the error code mypy reports (``# type: ignore[code]``) and the rule pyright
reports (``# pyright: ignore[rule]``). mypy (``warn_unused_ignores``) and basedpyright
(``reportUnnecessaryTypeIgnoreComment``) fail when such a line stops being an error.
"""

from __future__ import annotations

from typing import assert_type

import numpy as np

import refgrad as rg

a = rg.tensor([2.0, 3.0], requires_grad=True)
b = rg.tensor([6.0, 4.0], requires_grad=True)
assert_type(a, rg.Tensor)

# Arithmetic with tensors, and with Python int, float and bool on either side.
Q = 3 * a**3 - b**2
assert_type(Q, rg.Tensor)
assert_type(a + b, rg.Tensor)
assert_type(a + 1, rg.Tensor)
assert_type(1.5 + a, rg.Tensor)
assert_type(a - True, rg.Tensor)
assert_type(2 - a, rg.Tensor)
assert_type(a * 2.0, rg.Tensor)
assert_type(a / 2, rg.Tensor)
assert_type(1 / a, rg.Tensor)
assert_type(a**2, rg.Tensor)
assert_type(2**a, rg.Tensor)
assert_type(a**b, rg.Tensor)
assert_type(-a, rg.Tensor)
assert_type(+a, rg.Tensor)
assert_type(abs(a), rg.Tensor)
assert_type(a @ b, rg.Tensor)

# Comparisons are elementwise and give tensors; == with anything else is plain equality.
assert_type(a < b, rg.Tensor)
assert_type(a <= 1, rg.Tensor)
assert_type(a > 0.5, rg.Tensor)
assert_type(a >= b, rg.Tensor)
assert_type(a == b, rg.Tensor)
assert_type(a == 2.0, rg.Tensor)
assert_type(a != 3, rg.Tensor)
assert_type(a == "2", bool)
mask = (a > 2) & (b < 5) | ~(a == b)
assert_type(mask, rg.Tensor)

# In place.
c = rg.zeros(2)
c += 1
c *= a.detach()
assert_type(c, rg.Tensor)
assert_type(c.add_(1).mul_(2.0).clamp_(min=0), rg.Tensor)

# Indexing: ints, slices, None, Ellipsis, lists, tensors, masks, and tuples of those.
m = rg.arange(12).reshape(3, 4)
assert_type(m[0], rg.Tensor)
assert_type(m[1:, ::2], rg.Tensor)
assert_type(m[None, ..., 0], rg.Tensor)
assert_type(m[[0, 2]], rg.Tensor)
assert_type(m[rg.tensor([0, 1])], rg.Tensor)
assert_type(m[m > 5], rg.Tensor)
assert_type(m[[True, False, True]], rg.Tensor)
m[0, 1] = 7
m[m > 10] = rg.tensor(0)

# Metadata.
assert_type(a.shape, rg.Size)
assert_type(a.size(), rg.Size)
assert_type(a.size(0), int)
assert_type(a.shape[0], int)
assert_type(a.dtype, rg.dtype)
assert_type(a.dtype.is_floating_point, bool)
assert_type(a.requires_grad, bool)
assert_type(a.is_leaf, bool)
assert_type(a.grad, rg.Tensor | None)
assert_type(a.ndim, int)
assert_type(a.numel(), int)
assert_type(len(a), int)

# Conversions.
assert_type(a.item() if a.numel() == 1 else 0.0, float)
assert_type(float(a.sum()), float)
assert_type(a.detach().numpy(), np.ndarray)


def as_floats(t: rg.Tensor) -> list[float]:
    """tolist() gives a number for a 0-d tensor, else nested lists: narrow before use."""
    values = t.tolist()
    assert isinstance(values, list)
    return [v for v in values if isinstance(v, float)]


assert_type(as_floats(a), list[float])
assert_type(a.to(rg.float64), rg.Tensor)
assert_type(a.double().long().bool(), rg.Tensor)

# Reductions: max and min with a dim give (values, indices).
assert_type(m.sum(), rg.Tensor)
assert_type(m.sum(dim=(0, 1), keepdim=True), rg.Tensor)
assert_type(m.max(), rg.Tensor)
values_, indices = m.max(dim=1)
assert_type(values_, rg.Tensor)
assert_type(m.min(1).indices, rg.Tensor)
assert_type(rg.max(m, 0).values, rg.Tensor)
assert_type(rg.maximum(a, b), rg.Tensor)
assert_type(m.split(2), tuple[rg.Tensor, ...])
for row in m:
    assert_type(row, rg.Tensor)

# Factories: nested lists of numbers or tensors, numpy arrays and scalars.
assert_type(rg.tensor(1), rg.Tensor)
assert_type(rg.tensor([[1, 2], [3, 4]]), rg.Tensor)
assert_type(rg.tensor([a.detach(), b.detach()]), rg.Tensor)
assert_type(rg.tensor(np.zeros((2, 3))), rg.Tensor)
assert_type(rg.tensor(np.float32(1.5)), rg.Tensor)
assert_type(rg.zeros(2, 3, dtype=rg.float64), rg.Tensor)
assert_type(rg.ones((2, 3)), rg.Tensor)
assert_type(rg.full((2,), 7), rg.Tensor)
assert_type(rg.from_numpy(np.ones(3)), rg.Tensor)

# dtypes are objects of one class; rg.bool, rg.double and rg.long are aliases.
assert_type(rg.float32, rg.dtype)
assert_type(rg.bool, rg.dtype)
assert_type(rg.get_default_dtype(), rg.dtype)
assert_type(rg.float64.name, str)


def rejected_operands(t: rg.Tensor) -> None:
    t + "a"  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
    "a" - t  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
    t < "a"  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
    t @ 2  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
    t & 1.5  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
    t.add_("1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def rejected_indices(t: rg.Tensor) -> None:
    t["a"]  # type: ignore[index]  # pyright: ignore[reportArgumentType]
    t[1.5]  # type: ignore[index]  # pyright: ignore[reportArgumentType]


def rejected_calls(t: rg.Tensor) -> None:
    rg.tensor("abc")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    rg.tensor([1, "2"])  # type: ignore[list-item]  # pyright: ignore[reportArgumentType]
    rg.zeros(2, dtype="float32")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    t.to("float64")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    t.sum(dim="0")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    t.requires_grad = 1.0  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    _n: int = t.size()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    rg.float32.name = "f"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
