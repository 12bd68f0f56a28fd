"""Reference section 6: detach, requires_grad_, .data, .grad assignment (items 31-34).

Every test runs on refgrad and on torch (the ``engine`` fixture). Writes through a
detached tensor use item assignment, which is what item 31 ("writes show in both") needs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import as_array, raises_exactly

NONLEAF_REQUIRES_GRAD = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed "
    "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
)


def values(t: Any) -> list[float]:
    """Plain values of a tensor that does not require grad (detached views, .data)."""
    return [float(v) for v in np.asarray(t.numpy(), dtype=np.float64).ravel()]


# ---------------------------------------------------------------------------
# Item 31: detach()


@pytest.mark.parametrize("source", ["leaf", "non-leaf"])
def test_detach_is_a_leaf_without_grad(engine: ModuleType, source: str) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = x if source == "leaf" else x * 2.0
    d = t.detach()
    assert d.requires_grad is False
    assert d.is_leaf is True
    assert d.grad_fn is None
    assert t.requires_grad is True  # the original is unchanged
    assert values(d) == ([1.0, 2.0, 3.0] if source == "leaf" else [2.0, 4.0, 6.0])


def test_writes_to_the_detached_tensor_show_in_the_original(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    d[0] = 10.0
    assert values(x.detach()) == [10.0, 2.0, 3.0]
    assert values(d) == [10.0, 2.0, 3.0]


def test_writes_to_the_original_show_in_the_detached_tensor(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    with engine.no_grad():
        x[1] = 20.0
    assert values(d) == [1.0, 20.0, 3.0]


def test_detach_shares_the_version_counter(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    assert d._version == x._version == 0
    d[0] = 10.0
    assert x._version == 1
    assert d._version == 1
    with engine.no_grad():
        x[1] = 20.0
    assert x._version == 2
    assert d._version == 2


def test_detach_cuts_the_graph(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    z = (y.detach() * x).sum()  # only the explicit x factor is differentiated
    z.backward()
    np.testing.assert_array_equal(as_array(x.grad), [1.0, 4.0, 9.0])


# ---------------------------------------------------------------------------
# Item 32: requires_grad_ / requires_grad on non-leaves


def test_requires_grad_false_on_non_leaf_raises(engine: ModuleType) -> None:
    y = engine.tensor([1.0, 2.0], requires_grad=True) * 2.0
    with raises_exactly(RuntimeError, NONLEAF_REQUIRES_GRAD):
        y.requires_grad_(False)
    assert y.requires_grad is True


def test_assigning_requires_grad_false_on_non_leaf_raises(engine: ModuleType) -> None:
    y = engine.tensor([1.0, 2.0], requires_grad=True).exp()
    with raises_exactly(RuntimeError, NONLEAF_REQUIRES_GRAD):
        y.requires_grad = False
    assert y.requires_grad is True


def test_requires_grad_true_on_non_leaf_that_requires_grad_is_no_change(engine: ModuleType) -> None:
    y = engine.tensor([1.0, 2.0], requires_grad=True) * 2.0
    assert y.requires_grad_(True) is y
    assert y.requires_grad is True
    assert y.is_leaf is False


def test_requires_grad_underscore_returns_self(engine: ModuleType) -> None:
    p = engine.tensor([1.0, 2.0])
    assert p.requires_grad_() is p
    assert p.requires_grad is True
    assert p.is_leaf is True
    assert p.grad_fn is None
    assert p.requires_grad_(False) is p
    assert p.requires_grad is False


def test_requires_grad_attribute_on_leaf(engine: ModuleType) -> None:
    p = engine.tensor([1.0, 2.0])
    p.requires_grad = True
    assert p.requires_grad is True
    (p * p).sum().backward()
    np.testing.assert_array_equal(as_array(p.grad), [2.0, 4.0])
    p.requires_grad = False
    assert p.requires_grad is False
    assert (p * p).requires_grad is False


# ---------------------------------------------------------------------------
# Item 33: assigning .grad


@pytest.mark.parametrize(
    ("shape", "grad_shape"),
    [([3], [2]), ([3], [1, 3]), ([3], []), ([2, 3], [3, 2]), ([2, 3], [6])],
    ids=str,
)
def test_assigning_grad_of_wrong_shape(engine: ModuleType, shape: list[int], grad_shape: list[int]) -> None:
    x = engine.tensor(np.ones(shape).tolist(), requires_grad=True)
    with raises_exactly(
        RuntimeError,
        f"attempting to assign a gradient of size '{grad_shape}' to a tensor of size '{shape}'. "
        "Please ensure that the gradient and the tensor are the same size",
    ):
        x.grad = engine.tensor(np.ones(grad_shape).tolist())
    assert x.grad is None


def test_assigning_grad_of_wrong_shape_reference_text(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with raises_exactly(
        RuntimeError,
        "attempting to assign a gradient of size '[2]' to a tensor of size '[3]'. "
        "Please ensure that the gradient and the tensor are the same size",
    ):
        x.grad = engine.tensor([1.0, 2.0])


@pytest.mark.parametrize(("value", "type_name"), [([1.0, 2.0, 3.0], "list"), (1.0, "float"), ((1.0, 2.0, 3.0), "tuple")])
def test_assigning_non_tensor_grad(engine: ModuleType, value: object, type_name: str) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with raises_exactly(TypeError, f"assigned grad expected to be a Tensor or None but got grad of type {type_name}"):
        x.grad = value
    assert x.grad is None


def test_assigned_grad_is_kept_and_accumulated_into(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = engine.tensor([7.0, 7.0, 7.0])
    x.grad = g
    assert x.grad is g
    (x * x).sum().backward()
    assert x.grad is g
    np.testing.assert_array_equal(as_array(g), [9.0, 11.0, 13.0])  # 7 + 2x
    x.grad = None
    assert x.grad is None


# ---------------------------------------------------------------------------
# Item 34: new leaves cut from a graph


def test_no_grad_result_made_to_require_grad_is_a_new_leaf(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with engine.no_grad():
        z = x * 2.0
    assert z.requires_grad_() is z
    assert z.is_leaf is True
    assert z.grad_fn is None
    (z * z).sum().backward()
    np.testing.assert_array_equal(as_array(z.grad), [4.0, 8.0, 12.0])  # 2z, z = 2x
    assert x.grad is None


def test_detach_then_requires_grad_is_a_new_leaf(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = (x * 3.0).detach().requires_grad_()
    assert w.is_leaf is True
    assert w.requires_grad is True
    (w * x).sum().backward()
    np.testing.assert_array_equal(as_array(w.grad), [1.0, 2.0, 3.0])  # d/dw = x
    np.testing.assert_array_equal(as_array(x.grad), [3.0, 6.0, 9.0])  # only through the explicit x


# ---------------------------------------------------------------------------
# .data


@pytest.mark.parametrize("source", ["leaf", "non-leaf"])
def test_data_is_a_leaf_without_grad(engine: ModuleType, source: str) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = x if source == "leaf" else x * 2.0
    d = t.data
    assert d.requires_grad is False
    assert d.is_leaf is True
    assert d.grad_fn is None
    assert values(d) == ([1.0, 2.0, 3.0] if source == "leaf" else [2.0, 4.0, 6.0])


def test_data_shares_storage(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.data
    d[0] = 5.0
    assert values(x.detach()) == [5.0, 2.0, 3.0]


def test_data_does_not_share_the_version_counter(engine: ModuleType) -> None:
    """What sets .data apart from detach(): writes through it are invisible to autograd checks."""
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.data
    d[0] = 5.0
    assert d._version == 1
    assert x._version == 0


def test_assigning_data_replaces_the_values_and_keeps_the_leaf(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.data = engine.tensor([7.0, 8.0, 9.0])
    assert values(x.detach()) == [7.0, 8.0, 9.0]
    assert x.requires_grad is True
    assert x.is_leaf is True
    (x * x).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [14.0, 16.0, 18.0])
