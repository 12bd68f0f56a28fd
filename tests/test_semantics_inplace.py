"""Reference section 7: in-place ops and the version counter (items 35-39), plus item
assignment (``__setitem__``), augmented assignment and in-place dtype errors.

Every test runs on refgrad and on torch (the ``engine`` fixture). Expected numbers are
worked out by hand (or with numpy from the inputs), never read back from the engine.
Tests of recorded in-place ops on *views* of tensors that take part in a graph are
deviation-marked: refgrad refuses them with a clear RuntimeError for now.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import as_array, raises_exactly, raises_prefix

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = "a view of a leaf Variable that requires grad is being used in an in-place operation."
# The VER message up to (excluding) the bracket that names the tensor type and shape.
VER_PREFIX = "one of the variables needed for gradient computation has been modified by an inplace operation: "
FLOAT_INTO_LONG = "result type Float can't be cast to the desired output type Long"
OVERLAPPING = (
    "unsupported operation: more than one element of the written-to tensor refers to a single memory location. "
    "Please clone() the tensor before performing the operation."
)

X0 = [-1.0, 0.5, 2.0]  # the usual leaf values
WEIGHTS = [1.0, 10.0, 100.0]  # backward of (t * WEIGHTS).sum() sends WEIGHTS to t


def leaf(engine: ModuleType, data: list[float] | None = None) -> Any:
    return engine.tensor(X0 if data is None else data, requires_grad=True)


def weighted_sum(engine: ModuleType, t: Any) -> Any:
    return (t * engine.tensor(WEIGHTS)).sum()


def values(t: Any) -> list[float]:
    return [float(v) for v in as_array(t).ravel()]


def backward_raises_ver(
    run: Callable[[], object], now: int, expected: int, output_of: str | None, check_clause: bool = True
) -> None:
    """``run`` raises VER: checked by prefix (up to the bracket), then by its version clause and,
    unless ``check_clause`` is off, by its ``, which is output 0 of <Op>,`` clause (absent for a leaf)."""
    message = ""
    with raises_prefix(RuntimeError, VER_PREFIX):
        try:
            run()
        except RuntimeError as error:
            message = str(error)
            raise
    assert f"is at version {now}; expected version {expected} instead" in message
    if not check_clause:
        return
    if output_of is None:
        assert "which is output" not in message
    else:
        assert f", which is output 0 of {output_of}, is at version {now};" in message


# ---------------------------------------------------------------------------
# In-place ops on plain tensors: values, identity, version


INPLACE_OPS: list[tuple[str, Callable[[ModuleType, Any], Any], list[float]]] = [
    ("add_", lambda e, t: t.add_(1.5), [0.5, 2.0, 3.5]),
    ("add_tensor", lambda e, t: t.add_(e.tensor([1.0, 2.0, 3.0])), [0.0, 2.5, 5.0]),
    ("sub_", lambda e, t: t.sub_(0.5), [-1.5, 0.0, 1.5]),
    ("mul_", lambda e, t: t.mul_(4.0), [-4.0, 2.0, 8.0]),
    ("mul_tensor", lambda e, t: t.mul_(e.tensor([2.0, 4.0, -1.0])), [-2.0, 2.0, -2.0]),
    ("div_", lambda e, t: t.div_(4.0), [-0.25, 0.125, 0.5]),
    ("pow_", lambda e, t: t.pow_(2.0), [1.0, 0.25, 4.0]),
    ("exp_", lambda e, t: t.exp_(), [float(v) for v in np.exp(np.array(X0, dtype=np.float32))]),
    ("relu_", lambda e, t: t.relu_(), [0.0, 0.5, 2.0]),
    ("clamp_", lambda e, t: t.clamp_(0.0, 1.0), [0.0, 0.5, 1.0]),
    ("zero_", lambda e, t: t.zero_(), [0.0, 0.0, 0.0]),
    ("fill_", lambda e, t: t.fill_(7.0), [7.0, 7.0, 7.0]),
    ("copy_", lambda e, t: t.copy_(e.tensor([4.0, 5.0, 6.0])), [4.0, 5.0, 6.0]),
]


@pytest.mark.parametrize(("op", "expected"), [(f, v) for _, f, v in INPLACE_OPS], ids=[n for n, _, _ in INPLACE_OPS])
def test_inplace_op_writes_returns_self_and_bumps_version(
    engine: ModuleType, op: Callable[[ModuleType, Any], Any], expected: list[float]
) -> None:
    t = engine.tensor(X0)
    assert t._version == 0
    result = op(engine, t)
    assert result is t
    assert t._version == 1
    np.testing.assert_allclose(values(t), expected, rtol=1e-6)
    assert t.requires_grad is False
    assert t.is_leaf is True


AUGMENTED: list[tuple[str, Callable[[Any, Any], Any], list[float]]] = [
    ("iadd", lambda t, o: t.__iadd__(o), [1.0, 2.5, 4.0]),
    ("isub", lambda t, o: t.__isub__(o), [-3.0, -1.5, 0.0]),
    ("imul", lambda t, o: t.__imul__(o), [-2.0, 1.0, 4.0]),
    ("itruediv", lambda t, o: t.__itruediv__(o), [-0.5, 0.25, 1.0]),
]


@pytest.mark.parametrize("operand", ["number", "tensor"])
@pytest.mark.parametrize(("op", "expected"), [(f, v) for _, f, v in AUGMENTED], ids=[n for n, _, _ in AUGMENTED])
def test_augmented_assignment_is_in_place(
    engine: ModuleType, op: Callable[[Any, Any], Any], expected: list[float], operand: str
) -> None:
    t = engine.tensor(X0)
    alias = t
    other = 2.0 if operand == "number" else engine.tensor([2.0, 2.0, 2.0])
    result = op(t, other)
    assert result is alias
    assert alias._version == 1
    assert values(alias) == expected


def test_augmented_assignment_statements_keep_the_object(engine: ModuleType) -> None:
    t = engine.tensor([1.0, 2.0, 4.0])
    alias = t
    t += 1.0
    t -= 0.5
    t *= 2.0
    t /= 4.0
    assert t is alias
    assert t._version == 4
    assert values(t) == [0.75, 1.25, 2.25]


# ---------------------------------------------------------------------------
# In-place dtype errors


@pytest.mark.parametrize(
    "op",
    [
        lambda e, i: i.__iadd__(0.5),
        lambda e, i: i.add_(0.5),
        lambda e, i: i.__imul__(1.5),
        lambda e, i: i.mul_(1.5),
        lambda e, i: i.__itruediv__(2),
        lambda e, i: i.div_(2),
        lambda e, i: i.sub_(e.tensor([0.5, 0.5, 0.5])),
    ],
    ids=["iadd", "add_", "imul", "mul_", "itruediv_int", "div_int", "sub_float_tensor"],
)
def test_float_result_into_int_tensor_raises(engine: ModuleType, op: Callable[[ModuleType, Any], Any]) -> None:
    i = engine.tensor([1, 2, 3])
    with raises_exactly(RuntimeError, FLOAT_INTO_LONG):
        op(engine, i)
    assert i.numpy().tolist() == [1, 2, 3]
    assert i._version == 0


def test_float_into_int_tensor_with_plus_equals_statement(engine: ModuleType) -> None:
    i = engine.tensor([1, 2, 3])
    with raises_exactly(RuntimeError, FLOAT_INTO_LONG):
        i += 0.5
    assert i.numpy().tolist() == [1, 2, 3]


def test_int_tensor_times_int_stays_int(engine: ModuleType) -> None:
    i = engine.tensor([1, 2, 3])
    i *= 2
    i.add_(1)
    assert i.dtype == engine.int64
    assert i.numpy().tolist() == [3, 5, 7]
    assert i._version == 2


# ---------------------------------------------------------------------------
# Item 36: the version counter


def test_version_starts_at_zero(engine: ModuleType) -> None:
    x = leaf(engine)
    assert engine.tensor([1.0, 2.0])._version == 0
    assert engine.zeros(3)._version == 0
    assert engine.tensor(1.0)._version == 0
    assert x._version == 0
    assert (x * 2.0)._version == 0


def test_version_counts_each_inplace_op(engine: ModuleType) -> None:
    t = engine.tensor([1.0, 2.0, 3.0])
    t.add_(1.0)
    t.mul_(2.0)
    t.zero_()
    assert t._version == 3
    t[0] = 5.0
    t[t > 100.0] = 0.0  # no element selected: still a write
    t[1:] = engine.tensor([1.0, 1.0])
    assert t._version == 6
    assert values(t) == [5.0, 1.0, 1.0]


def test_views_share_the_version_counter(engine: ModuleType) -> None:
    t = engine.tensor([1.0, 2.0, 3.0])
    v = t[1:]
    w = t.view(3)
    assert v._version == w._version == t._version == 0
    v.add_(1.0)
    assert t._version == v._version == w._version == 1
    t.mul_(2.0)
    assert t._version == v._version == w._version == 2
    w[0] = 0.0
    assert t._version == v._version == w._version == 3
    assert values(t) == [0.0, 6.0, 8.0]
    assert values(v) == [6.0, 8.0]


def test_detach_shares_the_version_counter_and_inplace_through_it_is_allowed(engine: ModuleType) -> None:
    x = leaf(engine)
    d = x.detach()
    d.add_(1.0)  # not an error: d does not require grad
    assert x._version == d._version == 1
    assert values(x) == [0.0, 1.5, 3.0]
    assert x.is_leaf is True
    assert x.requires_grad is True


def test_failed_inplace_on_leaf_leaves_value_and_version(engine: ModuleType) -> None:
    x = leaf(engine)
    with raises_exactly(RuntimeError, LEAF_INPLACE):
        x.add_(1.0)
    with raises_exactly(RuntimeError, VIEW_OF_LEAF_INPLACE):
        x[0] = 5.0
    assert x._version == 0
    assert values(x) == X0


# ---------------------------------------------------------------------------
# Item 35: in-place on a leaf that requires grad


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.add_(1.0),
        lambda x: x.__iadd__(1.0),
        lambda x: x.zero_(),
        lambda x: x.mul_(2.0),
        lambda x: x.exp_(),
        lambda x: x.fill_(1.0),
        lambda x: x.copy_(x.detach() * 2.0),
        lambda x: x.__setitem__(x.detach() > 0.0, 0.0),
        lambda x: x.__setitem__([0, 1], 0.0),
    ],
    ids=["add_", "iadd", "zero_", "mul_", "exp_", "fill_", "copy_", "setitem_mask", "setitem_list"],
)
def test_inplace_on_leaf_that_requires_grad_raises(engine: ModuleType, op: Callable[[Any], Any]) -> None:
    x = leaf(engine)
    with raises_exactly(RuntimeError, LEAF_INPLACE):
        op(x)


def test_plus_equals_statement_on_leaf_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    with raises_exactly(RuntimeError, LEAF_INPLACE):
        x += 1.0


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.__setitem__(0, 5.0),
        lambda x: x.__setitem__(slice(1, None), 0.0),
        lambda x: x[:2].mul_(2.0),
        lambda x: x[0].fill_(1.0),
        lambda x: x.view(3).add_(1.0),
        lambda x: x[1:].zero_(),
    ],
    ids=["setitem_int", "setitem_slice", "slice_mul_", "select_fill_", "view_add_", "slice_zero_"],
)
def test_inplace_on_view_of_leaf_that_requires_grad_raises(engine: ModuleType, op: Callable[[Any], Any]) -> None:
    x = leaf(engine)
    with raises_exactly(RuntimeError, VIEW_OF_LEAF_INPLACE):
        op(x)


def test_item_assignment_statement_on_leaf_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    with raises_exactly(RuntimeError, VIEW_OF_LEAF_INPLACE):
        x[0] = 5.0


def test_inplace_on_leaf_is_allowed_under_no_grad(engine: ModuleType) -> None:
    """Item 29: the optimizer-step pattern."""
    x = leaf(engine)
    with engine.no_grad():
        x[0] = 5.0
        x.zero_()
        x.add_(1.0)
        x *= 2.0
        x[1:].add_(1.0)
    assert x._version == 5
    assert values(x) == [2.0, 3.0, 3.0]
    assert x.is_leaf is True
    assert x.requires_grad is True
    assert x.grad_fn is None


def test_optimizer_step_then_new_backward(engine: ModuleType) -> None:
    x = leaf(engine, [0.5, 1.0, 2.0])
    (x * x).sum().backward()
    with engine.no_grad():
        x -= 0.1 * x.grad  # x - 0.2x = 0.8x
    assert x._version == 1
    np.testing.assert_allclose(values(x), [0.4, 0.8, 1.6], rtol=1e-6)
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), [0.8, 1.6, 3.2], rtol=1e-6)


# ---------------------------------------------------------------------------
# Item 37: VER at backward time; what each op saves


@pytest.mark.parametrize(
    ("fn", "op_name"),
    [("exp", "Exp"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh"), ("relu", "Relu")],
)
def test_modifying_a_saved_output_raises_at_backward(engine: ModuleType, fn: str, op_name: str) -> None:
    x = leaf(engine)
    y = getattr(x, fn)()
    y.add_(1.0)  # no error here
    assert y._version == 1
    z = y.sum()  # forward still works
    backward_raises_ver(z.backward, 1, 0, op_name)


@pytest.mark.parametrize(
    ("write", "creator"),
    [
        (lambda e, y: y.__setitem__(slice(0, 2), 5.0), "torch::autograd::CopySlices"),
        (lambda e, y: y.copy_(e.ones(3)), "torch::autograd::CopyBackwards"),
    ],
    ids=["setitem", "copy_"],
)
def test_ver_message_names_an_in_place_copy_by_its_qualified_name(
    engine: ModuleType, write: Callable[[ModuleType, Any], object], creator: str
) -> None:
    y = leaf(engine) * 1.0
    z = y.sin()
    write(engine, y)
    backward_raises_ver(lambda: z.sum().backward(), 1, 0, creator)


def test_ver_message_for_exp_reference_text(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.exp()
    y.mul_(2.0)
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, "Exp")


@pytest.mark.parametrize("fn", ["exp", "sigmoid", "tanh", "relu"])
def test_modifying_the_input_of_an_op_that_saves_its_output_is_fine(engine: ModuleType, fn: str) -> None:
    x = leaf(engine, [0.5, 1.0, 2.0])
    a = x * 1.0
    y = getattr(a, fn)()
    a.add_(1.0)
    y.sum().backward()
    v = np.array([0.5, 1.0, 2.0])
    expected = {
        "exp": np.exp(v),
        "sigmoid": 1.0 / (1.0 + np.exp(-v)) * (1.0 - 1.0 / (1.0 + np.exp(-v))),
        "tanh": 1.0 - np.tanh(v) ** 2,
        "relu": np.ones(3),
    }[fn]
    np.testing.assert_allclose(values(x.grad), expected, rtol=1e-5)


@pytest.mark.parametrize("fn", ["sin", "pow"])
def test_modifying_a_saved_input_raises_at_backward(engine: ModuleType, fn: str) -> None:
    x = leaf(engine)
    a = x * 1.0
    y = a.sin() if fn == "sin" else a**2.0
    a.add_(1.0)
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, None, check_clause=False)


@pytest.mark.parametrize("fn", ["sin", "pow"])
def test_modifying_the_output_of_an_op_that_saves_its_input_is_fine(engine: ModuleType, fn: str) -> None:
    x = leaf(engine, [0.5, 1.0, 2.0])
    y = x.sin() if fn == "sin" else x**2.0
    y.add_(1.0)
    y.sum().backward()
    v = np.array([0.5, 1.0, 2.0])
    expected = np.cos(v) if fn == "sin" else 2.0 * v
    np.testing.assert_allclose(values(x.grad), expected, rtol=1e-5)


def test_saved_input_modified_names_the_inplace_node(engine: ModuleType) -> None:
    """PyTorch names the tensor's current grad_fn: after ``a.add_``, that is Add (not Mul)."""
    x = leaf(engine)
    a = x * 1.0
    y = a.sin()
    a.add_(1.0)
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, "Add")


@pytest.mark.parametrize("modified", ["left", "right"])
def test_mul_saves_both_operands_when_both_require_grad(engine: ModuleType, modified: str) -> None:
    a = leaf(engine) * 1.0
    b = leaf(engine, [1.0, 2.0, 3.0]) * 1.0
    y = a * b
    (a if modified == "left" else b).add_(1.0)
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, None, check_clause=False)


def test_mul_by_plain_tensor_saves_only_the_plain_operand(engine: ModuleType) -> None:
    x = leaf(engine)
    a = x * 1.0
    c = engine.tensor([1.0, 2.0, 3.0])
    y = a * c
    a.add_(1.0)  # not needed: d(a*c)/da = c
    y.sum().backward()
    assert values(x.grad) == [1.0, 2.0, 3.0]


def test_mul_by_plain_tensor_modified_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    c = engine.tensor([1.0, 2.0, 3.0])
    y = x * c
    c.add_(1.0)
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, None)


@pytest.mark.parametrize("op", ["+", "-"])
def test_add_and_sub_save_nothing(engine: ModuleType, op: str) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    a = x * 1.0
    b = w * 1.0
    y = a + b if op == "+" else a - b
    a.add_(1.0)
    b.mul_(3.0)
    y.sum().backward()
    assert values(x.grad) == [1.0, 1.0, 1.0]
    assert values(w.grad) == ([1.0, 1.0, 1.0] if op == "+" else [-1.0, -1.0, -1.0])


def test_modifying_a_leaf_input_of_add_under_no_grad_is_fine(engine: ModuleType) -> None:
    x = leaf(engine)
    y = (x + 2.0).sum()
    with engine.no_grad():
        x.mul_(10.0)
    y.backward()
    assert values(x.grad) == [1.0, 1.0, 1.0]


def test_error_is_raised_even_if_the_modification_is_undone(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.exp()
    y.add_(1.0)
    y.sub_(1.0)
    backward_raises_ver(lambda: y.sum().backward(), 2, 0, "Exp")


# ---------------------------------------------------------------------------
# Item 39: modifying a saved leaf under no_grad


def test_modifying_a_saved_leaf_under_no_grad_raises_at_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    y = (x * x).sum()
    with engine.no_grad():
        x.sub_(0.1)  # the "optimizer step before backward" bug
    assert x._version == 1
    backward_raises_ver(y.backward, 1, 0, None)


def test_item_assignment_into_a_saved_leaf_under_no_grad_raises_at_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.sin().sum()
    with engine.no_grad():
        x[0] = 0.0
    backward_raises_ver(y.backward, 1, 0, None)


def test_modifying_a_saved_leaf_through_detach_raises_at_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.pow(2.0).sum()
    x.detach().mul_(2.0)
    backward_raises_ver(y.backward, 1, 0, None)


# ---------------------------------------------------------------------------
# Item 38: in-place on a non-leaf rebases its grad_fn


def test_inplace_on_non_leaf_rebases_grad_fn_reference_example(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 2.0
    first = z.grad_fn
    result = z.mul_(2.0)
    assert result is z
    assert type(z.grad_fn).__name__ == "MulBackward0"
    assert z.grad_fn is not first
    assert z.grad_fn.next_functions[0][0] is first
    assert z._version == 1
    assert z.is_leaf is False
    z.sum().backward()
    assert values(x.grad) == [4.0, 4.0, 4.0]


_Z = [-2.0, 1.0, 4.0]  # z = 2 * X0
REBASE_CASES: list[tuple[str, Callable[[ModuleType, Any], Any], str, list[float]]] = [
    ("add_", lambda e, z: z.add_(1.0), "AddBackward0", [2.0, 2.0, 2.0]),
    ("sub_", lambda e, z: z.sub_(1.0), "SubBackward0", [2.0, 2.0, 2.0]),
    ("mul_", lambda e, z: z.mul_(3.0), "MulBackward0", [6.0, 6.0, 6.0]),
    ("div_", lambda e, z: z.div_(2.0), "DivBackward0", [1.0, 1.0, 1.0]),
    ("pow_", lambda e, z: z.pow_(2.0), "PowBackward0", [8.0 * v for v in X0]),  # d(2x)^2/dx = 8x
    ("exp_", lambda e, z: z.exp_(), "ExpBackward0", [2.0 * float(np.exp(v)) for v in _Z]),
    ("relu_", lambda e, z: z.relu_(), "ReluBackward0", [0.0, 2.0, 2.0]),
    ("clamp_", lambda e, z: z.clamp_(0.0, 3.0), "ClampBackward1", [0.0, 2.0, 0.0]),
    ("zero_", lambda e, z: z.zero_(), "ZeroBackward0", [0.0, 0.0, 0.0]),
    ("fill_", lambda e, z: z.fill_(3.0), "FillBackward2", [0.0, 0.0, 0.0]),
    ("copy_", lambda e, z: z.copy_(e.ones(3)), "CopyBackwards", [0.0, 0.0, 0.0]),
]


@pytest.mark.parametrize(
    ("op", "expected"), [(f, g) for _, f, _, g in REBASE_CASES], ids=[n for n, _, _, _ in REBASE_CASES]
)
def test_inplace_on_non_leaf_gradients(
    engine: ModuleType, op: Callable[[ModuleType, Any], Any], expected: list[float]
) -> None:
    x = leaf(engine)
    z = x * 2.0
    assert op(engine, z) is z
    assert z.requires_grad is True
    assert z.is_leaf is False
    assert z._version == 1
    z.sum().backward()
    np.testing.assert_allclose(values(x.grad), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("op", "name"), [(f, n) for _, f, n, _ in REBASE_CASES], ids=[n for n, _, _, _ in REBASE_CASES]
)
def test_inplace_on_non_leaf_grad_fn_name(engine: ModuleType, op: Callable[[ModuleType, Any], Any], name: str) -> None:
    z = leaf(engine) * 2.0
    op(engine, z)
    assert type(z.grad_fn).__name__ == name


def test_augmented_assignment_on_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine)
    z = x * 2.0
    alias = z
    z += 1.0
    z *= 3.0
    z -= 2.0
    z /= 4.0  # z = (3(2x+1) - 2) / 4: dz/dx = 1.5
    assert z is alias
    assert type(z.grad_fn).__name__ == "DivBackward0"
    assert z._version == 4
    z.sum().backward()
    assert values(x.grad) == [1.5, 1.5, 1.5]


def test_augmented_assignment_with_a_tensor_that_requires_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 2.0
    z /= w  # z = 2x / w
    z.sum().backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 1.0, 2.0 / 3.0], rtol=1e-6)  # 2 / w
    np.testing.assert_allclose(values(w.grad), [2.0, -0.25, -4.0 / 9.0], rtol=1e-6)  # -2x / w^2


def test_inplace_mul_by_tensor_that_requires_grad_keeps_what_it_needs(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 2.0
    z.mul_(w)  # z's old value (2x) is needed for w.grad: no VER although z was overwritten
    assert type(z.grad_fn).__name__ == "MulBackward0"
    z.sum().backward()
    assert values(x.grad) == [2.0, 4.0, 6.0]  # 2w
    assert values(w.grad) == [-2.0, 1.0, 4.0]  # 2x


def test_inplace_mul_by_tensor_twice(engine: ModuleType) -> None:
    x = leaf(engine, [0.5, 1.0, 2.0])
    w = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 1.0
    z.mul_(w)
    z.mul_(w)  # z = x w^2
    z.sum().backward()
    assert values(x.grad) == [1.0, 4.0, 9.0]  # w^2
    assert values(w.grad) == [1.0, 4.0, 12.0]  # 2 x w


def test_inplace_mul_then_modifying_the_other_operand_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 2.0
    z.mul_(w)
    with engine.no_grad():
        w.add_(1.0)
    backward_raises_ver(lambda: z.sum().backward(), 1, 0, None)


def test_inplace_exp_saves_its_own_output_after_the_bump(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 1.0
    y.exp_()  # saves y at version 1
    assert y._version == 1
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), np.exp(np.array(X0)), rtol=1e-5)


def test_exp_then_inplace_exp_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.exp()
    y.exp_()  # overwrites the output that exp saved
    assert type(y.grad_fn).__name__ == "ExpBackward0"
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, "Exp")


def test_inplace_exp_twice_raises_with_versions(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 1.0
    y.exp_()
    y.exp_()  # the first exp_ saved y at version 1
    backward_raises_ver(lambda: y.sum().backward(), 2, 1, "Exp")


def test_copy_from_a_tensor_that_requires_grad_into_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 2.0
    z.copy_(w)
    assert values(z) == [1.0, 2.0, 3.0]
    weighted_sum(engine, z).backward()
    assert values(x.grad) == [0.0, 0.0, 0.0]
    assert values(w.grad) == WEIGHTS


@pytest.mark.parametrize("how", ["copy_", "mul_", "iadd"])
def test_plain_tensor_becomes_non_leaf_when_an_inplace_op_uses_a_tensor_that_requires_grad(
    engine: ModuleType, how: str
) -> None:
    p = engine.ones(3)
    w = leaf(engine, [1.0, 2.0, 3.0])
    if how == "copy_":
        p.copy_(w)
    elif how == "mul_":
        p.mul_(w)
    else:
        p += w
    assert p.requires_grad is True
    assert p.is_leaf is False
    assert p._version == 1
    assert type(p.grad_fn).__name__ == {"copy_": "CopyBackwards", "mul_": "MulBackward0", "iadd": "AddBackward0"}[how]
    weighted_sum(engine, p).backward()
    assert values(w.grad) == WEIGHTS  # d/dw of w, 1*w and 1+w


# ---------------------------------------------------------------------------
# __setitem__ recorded in the graph


def test_item_assignment_into_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 2.0
    mul_node = y.grad_fn
    y[0] = 5.0
    assert y._version == 1
    assert y.requires_grad is True
    assert y.is_leaf is False
    assert type(y.grad_fn).__name__ == "CopySlices"
    assert y.grad_fn.next_functions[0][0] is mul_node
    assert values(y) == [5.0, 4.0, 6.0]
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [0.0, 20.0, 200.0]  # the overwritten element gets nothing


def test_slice_assignment_of_a_plain_tensor_into_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * x
    y[1:] = engine.tensor([7.0, 8.0])
    assert type(y.grad_fn).__name__ == "CopySlices"
    assert values(y) == [1.0, 7.0, 8.0]
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [2.0, 0.0, 0.0]  # 2x at index 0 only


@pytest.mark.parametrize("key", ["mask", "list"])
def test_advanced_index_assignment_into_non_leaf(engine: ModuleType, key: str) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 2.0
    if key == "mask":
        y[engine.tensor([True, False, True])] = 0.0
    else:
        y[[0, 2]] = 0.0
    assert y._version == 1
    assert type(y.grad_fn).__name__ == "IndexPutBackward0"
    assert values(y) == [0.0, 4.0, 0.0]
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [0.0, 20.0, 0.0]


def test_mask_assignment_from_a_comparison_into_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 3.0
    y[y < 0.0] = 0.0  # a hand-written relu
    assert values(y) == [0.0, 1.5, 6.0]
    y.sum().backward()
    assert values(x.grad) == [0.0, 3.0, 3.0]


def test_slice_assignment_of_a_tensor_that_requires_grad_into_plain_tensor(engine: ModuleType) -> None:
    p = engine.zeros(3)
    w = leaf(engine, [2.0, 3.0])
    p[1:] = w
    assert p.requires_grad is True
    assert p.is_leaf is False
    assert p._version == 1
    assert type(p.grad_fn).__name__ == "CopySlices"
    assert values(p) == [0.0, 2.0, 3.0]
    weighted_sum(engine, p).backward()
    assert values(w.grad) == [10.0, 100.0]


@pytest.mark.parametrize("key", ["mask", "list"])
def test_advanced_assignment_of_a_tensor_that_requires_grad_into_plain_tensor(engine: ModuleType, key: str) -> None:
    p = engine.zeros(3)
    w = leaf(engine, [2.0, 3.0])
    if key == "mask":
        p[engine.tensor([True, False, True])] = w
    else:
        p[[0, 2]] = w
    assert p.requires_grad is True
    assert p.is_leaf is False
    assert type(p.grad_fn).__name__ == "IndexPutBackward0"
    assert values(p) == [2.0, 0.0, 3.0]
    weighted_sum(engine, p).backward()
    assert values(w.grad) == [1.0, 100.0]


def test_assigning_a_tensor_that_requires_grad_into_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    w = leaf(engine, [5.0, 7.0])
    y = x * x
    y[1:] = w * 3.0
    assert type(y.grad_fn).__name__ == "CopySlices"
    assert values(y) == [1.0, 15.0, 21.0]
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [2.0, 0.0, 0.0]  # 2x at index 0
    assert values(w.grad) == [30.0, 300.0]  # 3 * weights


def test_assigning_a_zero_dim_tensor_that_requires_grad_into_one_element(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    s = engine.tensor(4.0, requires_grad=True)
    y = x * 1.0
    y[0] = s
    assert type(y.grad_fn).__name__ == "CopySlices"
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [0.0, 10.0, 100.0]
    assert float(s.grad) == 1.0
    assert tuple(s.grad.shape) == ()


def test_assigning_a_broadcast_tensor_that_requires_grad_into_a_slice(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    s = engine.tensor(4.0, requires_grad=True)
    y = x * 1.0
    y[1:] = s
    assert values(y) == [1.0, 4.0, 4.0]
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [1.0, 0.0, 0.0]
    assert float(s.grad) == 110.0  # broadcast to two places: summed back
    assert tuple(s.grad.shape) == ()


def test_item_assignment_into_a_saved_non_leaf_raises_at_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.exp()
    y[0] = 0.0
    backward_raises_ver(lambda: y.sum().backward(), 1, 0, "Exp")


def test_item_assignment_into_plain_tensor_is_not_recorded(engine: ModuleType) -> None:
    p = engine.zeros(3)
    p[1:] = engine.tensor([2.0, 3.0])
    p[0] = 1.0
    assert p.requires_grad is False
    assert p.grad_fn is None
    assert p.is_leaf is True
    assert p._version == 2


def test_item_assignment_under_no_grad_is_not_recorded(engine: ModuleType) -> None:
    p = engine.zeros(3)
    w = leaf(engine, [2.0, 3.0])
    with engine.no_grad():
        p[1:] = w
    assert p.requires_grad is False
    assert p.grad_fn is None
    assert values(p) == [0.0, 2.0, 3.0]


# ---------------------------------------------------------------------------
# Recorded in-place ops on views (deviation: refgrad refuses them for now)


def test_inplace_on_slice_of_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 1.0
    y[:2].mul_(2.0)
    assert type(y.grad_fn).__name__ == "CopySlices"
    assert y._version == 1
    assert values(y) == [2.0, 4.0, 3.0]
    y.sum().backward()
    assert values(x.grad) == [2.0, 2.0, 1.0]


def test_inplace_on_kept_view_of_non_leaf_updates_the_base_history(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 1.0
    v = y[1:]
    v.mul_(3.0)
    assert y._version == v._version == 1
    assert type(y.grad_fn).__name__ == "CopySlices"
    weighted_sum(engine, y).backward()
    assert values(x.grad) == [1.0, 30.0, 300.0]


def test_backward_from_an_inplace_modified_view(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 1.0
    v = y[1:]
    v.mul_(3.0)
    v.sum().backward()
    assert values(x.grad) == [0.0, 3.0, 3.0]


def test_zero_on_element_of_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 2.0
    y[0].zero_()
    assert values(y) == [0.0, 4.0, 6.0]
    y.sum().backward()
    assert values(x.grad) == [0.0, 2.0, 2.0]


def test_inplace_on_reshaped_view_of_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * 2.0
    y.view(3).mul_(5.0)
    assert values(y) == [10.0, 20.0, 30.0]
    y.sum().backward()
    assert values(x.grad) == [10.0, 10.0, 10.0]


def test_inplace_with_tensor_that_requires_grad_on_view_of_plain_tensor(engine: ModuleType) -> None:
    p = engine.zeros(3)
    w = leaf(engine, [2.0, 3.0])
    p[1:].add_(w)
    assert p.requires_grad is True
    assert type(p.grad_fn).__name__ == "CopySlices"
    weighted_sum(engine, p).backward()
    assert values(w.grad) == [10.0, 100.0]


def test_the_regenerated_view_and_the_base_name_their_nodes_as_pytorch(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0, 4.0])
    base = x * 1.0
    y = base.reshape(2, 2)  # a view taken before the in-place op: regenerated after it
    v = y.t()  # a view with other strides than its base
    v.mul_(engine.tensor([[1.0, 10.0], [100.0, 1000.0]]))
    names = [type(t.grad_fn).__name__ for t in (v, y, base)]
    assert names == ["AsStridedBackward0", "AsStridedBackward0", "CopySlices"]
    assert values(y) == [1.0, 200.0, 30.0, 4000.0]
    y.sum().backward()
    assert values(x.grad) == [1.0, 100.0, 10.0, 1000.0]


def test_an_inplace_op_on_an_expanded_view_is_refused(engine: ModuleType) -> None:
    y = (leaf(engine) * 1.0).reshape(3, 1).expand(3, 2)
    with raises_exactly(RuntimeError, OVERLAPPING):
        y.add_(1.0)


def test_second_order_through_an_inplace_op_on_a_view(engine: ModuleType) -> None:
    x = leaf(engine, [1.0, 2.0, 3.0])
    y = x * x
    y[1:].mul_(x[1:])  # y = [x0², x1³, x2³]
    (g,) = engine.autograd.grad(y.sum(), x, create_graph=True)
    assert values(g) == [2.0, 12.0, 27.0]
    g.sum().backward()
    assert values(x.grad) == [2.0, 12.0, 18.0]


def test_an_inplace_op_through_a_view_taken_before_another_inplace_op(engine: ModuleType) -> None:
    """The view's old value is read through the base's new history (the multiplication by 10)."""
    x = leaf(engine, [1.0, 2.0, 3.0])
    z = x * 1
    v = z[:2]
    z.mul_(10.0)
    v.add_(1.0)
    assert values(z) == [11.0, 21.0, 30.0]
    z.sum().backward()
    assert values(x.grad) == [10.0, 10.0, 10.0]
