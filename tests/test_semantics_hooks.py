"""Reference section 9: tensor hooks (items 42-43), post-accumulate-grad hooks,
retain_grad next to a hook, hooks with autograd.grad, and grad mode inside a hook (item 24).

Every test runs on refgrad and on torch (the ``engine`` fixture). Expected numbers are
worked out by hand from the inputs, never read back from the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import as_array, raises_exactly

NO_GRAD_HOOK = "cannot register a hook on a tensor that doesn't require gradient"
POST_ACCUMULATE_NON_LEAF = "post accumulate grad hooks cannot be registered on non-leaf tensors"
POST_ACCUMULATE_RETURN = "Tensor post accumulate grad hooks should return None."

X0 = [0.5, 1.0, 2.0]


def leaf(engine: ModuleType, data: list[float] | None = None) -> Any:
    return engine.tensor(X0 if data is None else data, requires_grad=True)


def values(t: Any) -> list[float]:
    return [float(v) for v in as_array(t).ravel()]


def snapshot(t: Any) -> list[float] | None:
    """Values of a tensor at this moment (None stays None)."""
    return None if t is None else values(t)


# ---------------------------------------------------------------------------
# Item 42: leaf hooks


def test_leaf_hook_return_value_replaces_the_gradient(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: list[list[float] | None] = []

    def times_ten(g: Any) -> Any:
        seen.append(snapshot(g))
        return g * 10.0

    x.register_hook(times_ten)
    (x * x).sum().backward()
    assert seen == [[1.0, 2.0, 4.0]]  # 2x before the hook
    assert values(x.grad) == [10.0, 20.0, 40.0]


def test_leaf_hook_runs_before_accumulation(engine: ModuleType) -> None:
    x = leaf(engine)
    grad_when_called: list[list[float] | None] = []

    def record(g: Any) -> Any:
        grad_when_called.append(snapshot(x.grad))
        return g * 10.0

    x.register_hook(record)
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert grad_when_called == [None, [10.0, 20.0, 40.0]]  # .grad not yet updated when the hook runs
    assert values(x.grad) == [20.0, 40.0, 80.0]  # both hooked gradients accumulated


def test_leaf_hook_returning_none_keeps_the_gradient(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: list[list[float] | None] = []
    x.register_hook(lambda g: seen.append(snapshot(g)))
    (x * 3.0).sum().backward()
    assert seen == [[3.0, 3.0, 3.0]]
    assert values(x.grad) == [3.0, 3.0, 3.0]


def test_register_hook_returns_a_handle_with_remove(engine: ModuleType) -> None:
    x = leaf(engine)
    handle = x.register_hook(lambda g: g)
    assert callable(handle.remove)
    handle.remove()


# ---------------------------------------------------------------------------
# Item 42: non-leaf hooks


def test_non_leaf_hook_changes_what_flows_upstream(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    seen: list[list[float] | None] = []
    mask = engine.tensor([1.0, 0.0, -1.0])

    def masked(g: Any) -> Any:
        seen.append(snapshot(g))
        return g * mask

    y.register_hook(masked)
    (y * y).sum().backward()
    assert seen == [[2.0, 4.0, 8.0]]  # 2y, y = 2x
    assert values(x.grad) == [4.0, 0.0, -16.0]  # 2 * 2y * mask


def test_non_leaf_hook_returning_none_keeps_the_gradient(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.exp()
    seen: list[list[float] | None] = []
    y.register_hook(lambda g: seen.append(snapshot(g)))
    (y * 3.0).sum().backward()
    assert seen == [[3.0, 3.0, 3.0]]
    np.testing.assert_allclose(values(x.grad), 3.0 * np.exp(np.array(X0)), rtol=1e-6)


def test_non_leaf_hook_zeroing_the_gradient(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x.exp()
    y.register_hook(lambda g: g * 0.0)
    (y * 2.0).sum().backward()
    assert values(x.grad) == [0.0, 0.0, 0.0]


def test_non_leaf_hook_does_not_populate_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    y.register_hook(lambda g: g * 10.0)
    (y * y).sum().backward()
    assert y.retains_grad is False
    assert values(x.grad) == [40.0, 80.0, 160.0]


def test_hook_may_use_tensors_of_the_graph(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    y.register_hook(lambda g: g * y)
    y.sum().backward()
    assert values(x.grad) == [2.0, 4.0, 8.0]  # 2 * (1 * y)


# ---------------------------------------------------------------------------
# Item 42: once per backward, with the summed gradient


def test_non_leaf_used_twice_fires_once_with_the_sum(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0  # [1, 2, 4]
    seen: list[list[float] | None] = []
    y.register_hook(lambda g: seen.append(snapshot(g)))
    (y * 3.0 + y * y).sum().backward()
    assert seen == [[5.0, 7.0, 11.0]]  # 3 + 2y
    assert values(x.grad) == [10.0, 14.0, 22.0]


def test_leaf_used_twice_fires_once_with_the_sum(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: list[list[float] | None] = []
    x.register_hook(lambda g: seen.append(snapshot(g)))
    (x * 3.0 + x * x).sum().backward()
    assert seen == [[4.0, 5.0, 7.0]]  # 3 + 2x
    assert values(x.grad) == [4.0, 5.0, 7.0]


def test_hooked_sum_reaches_upstream_once(engine: ModuleType) -> None:
    """The hook's result replaces the summed gradient (not each contribution)."""
    x = leaf(engine)
    y = x * 1.0
    y.register_hook(lambda g: g + 100.0)
    (y + y).sum().backward()
    assert values(x.grad) == [102.0, 102.0, 102.0]  # (1 + 1) + 100, not (1 + 100) + (1 + 100)


def test_hook_fires_on_every_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: list[list[float] | None] = []
    x.register_hook(lambda g: seen.append(snapshot(g)))
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert seen == [[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]]
    assert values(x.grad) == [2.0, 4.0, 8.0]


def test_hook_on_unused_tensor_is_not_called(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    calls: list[str] = []
    w.register_hook(lambda g: calls.append("w"))
    (x * 2.0).sum().backward()
    assert calls == []
    assert w.grad is None


# ---------------------------------------------------------------------------
# Item 42: chaining


def test_hooks_chain_in_registration_order(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: list[tuple[str, list[float] | None]] = []

    def first(g: Any) -> Any:
        seen.append(("first", snapshot(g)))
        return g + 1.0

    def second(g: Any) -> Any:
        seen.append(("second", snapshot(g)))
        return g * 10.0

    x.register_hook(first)
    x.register_hook(second)
    x.sum().backward()
    assert seen == [("first", [1.0, 1.0, 1.0]), ("second", [2.0, 2.0, 2.0])]
    assert values(x.grad) == [20.0, 20.0, 20.0]


def test_hooks_chain_on_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    y.register_hook(lambda g: g * 10.0)
    y.register_hook(lambda g: g + 1.0)
    y.sum().backward()
    assert values(x.grad) == [22.0, 22.0, 22.0]  # 2 * (1 * 10 + 1)


def test_none_in_the_middle_of_a_chain_passes_the_previous_value_on(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: list[list[float] | None] = []
    x.register_hook(lambda g: g * 2.0)
    x.register_hook(lambda g: seen.append(snapshot(g)))
    x.register_hook(lambda g: g + 1.0)
    x.sum().backward()
    assert seen == [[2.0, 2.0, 2.0]]
    assert values(x.grad) == [3.0, 3.0, 3.0]


# ---------------------------------------------------------------------------
# Item 42: handle.remove()


def test_removed_hook_is_not_called(engine: ModuleType) -> None:
    x = leaf(engine)
    calls: list[str] = []

    def times_ten(g: Any) -> Any:
        calls.append("hook")
        return g * 10.0

    handle = x.register_hook(times_ten)
    handle.remove()
    (x * x).sum().backward()
    assert calls == []
    assert values(x.grad) == [1.0, 2.0, 4.0]


def test_remove_is_idempotent(engine: ModuleType) -> None:
    x = leaf(engine)
    first = x.register_hook(lambda g: g * 10.0)
    x.register_hook(lambda g: g + 1.0)
    first.remove()
    first.remove()  # no error, and the other hook stays
    x.sum().backward()
    assert values(x.grad) == [2.0, 2.0, 2.0]


def test_remove_after_a_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    handle = x.register_hook(lambda g: g * 10.0)
    x.sum().backward()
    assert values(x.grad) == [10.0, 10.0, 10.0]
    handle.remove()
    x.sum().backward()
    assert values(x.grad) == [11.0, 11.0, 11.0]


def test_remove_on_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    handle = y.register_hook(lambda g: g * 0.0)
    handle.remove()
    handle.remove()
    (y * y).sum().backward()
    assert values(x.grad) == [4.0, 8.0, 16.0]  # 8x


# ---------------------------------------------------------------------------
# Item 43: errors


def test_hook_on_tensor_without_grad_raises(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, NO_GRAD_HOOK):
        engine.tensor([1.0, 2.0]).register_hook(lambda g: g)


def test_hook_on_detached_tensor_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    with raises_exactly(RuntimeError, NO_GRAD_HOOK):
        x.detach().register_hook(lambda g: g)


def test_hook_on_no_grad_result_raises(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.no_grad():
        y = x * 2.0
    with raises_exactly(RuntimeError, NO_GRAD_HOOK):
        y.register_hook(lambda g: g)


def shrink_to_sum(g: Any) -> Any:
    return g.sum()


class SumHook:
    """A callable object: it has no ``__name__``."""

    def __call__(self, g: Any) -> Any:
        return g.sum()


SHAPE_HOOKS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("def", shrink_to_sum, "shrink_to_sum"),
    ("lambda", lambda g: g[:2], "<lambda>"),
    ("callable_object", SumHook(), "<unknown>"),
]


@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
@pytest.mark.parametrize(("hook", "name"), [(h, n) for _, h, n in SHAPE_HOOKS], ids=[k for k, _, _ in SHAPE_HOOKS])
def test_hook_changing_the_shape_raises(
    engine: ModuleType, hook: Callable[[Any], Any], name: str, where: str
) -> None:
    x = leaf(engine)
    t = x if where == "leaf" else x * 2.0
    t.register_hook(hook)
    with raises_exactly(RuntimeError, f"hook '{name}' has changed the size of value"):
        (t * t).sum().backward()
    assert x.grad is None


def test_hook_changing_the_shape_reference_text_for_a_def_function(engine: ModuleType) -> None:
    def myhook(g: Any) -> Any:
        return g.sum()

    x = leaf(engine)
    x.register_hook(myhook)
    with raises_exactly(RuntimeError, "hook 'myhook' has changed the size of value"):
        (x * x).sum().backward()


# ---------------------------------------------------------------------------
# register_post_accumulate_grad_hook


def test_post_accumulate_hook_sees_the_updated_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    calls: list[tuple[bool, list[float] | None]] = []

    def record(t: Any) -> None:
        calls.append((t is x, snapshot(t.grad)))

    x.register_post_accumulate_grad_hook(record)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    assert calls == [(True, [1.0, 2.0, 4.0]), (True, [4.0, 5.0, 7.0])]  # 2x, then 2x + 3


def test_post_accumulate_hook_runs_after_tensor_hooks(engine: ModuleType) -> None:
    x = leaf(engine)
    order: list[tuple[str, list[float] | None]] = []

    def post(t: Any) -> None:
        order.append(("post", snapshot(t.grad)))

    def pre(g: Any) -> Any:
        order.append(("pre", snapshot(g)))
        return g * 2.0

    x.register_post_accumulate_grad_hook(post)  # registered first, still runs last
    x.register_hook(pre)
    (x * x).sum().backward()
    assert order == [("pre", [1.0, 2.0, 4.0]), ("post", [2.0, 4.0, 8.0])]


def test_post_accumulate_hook_can_update_the_leaf(engine: ModuleType) -> None:
    """The per-parameter optimizer pattern: step and clear .grad inside the hook."""
    x = leaf(engine)

    def step(t: Any) -> None:
        with engine.no_grad():
            t.sub_(0.5 * t.grad)
        t.grad = None

    x.register_post_accumulate_grad_hook(step)
    (x * x).sum().backward()  # grad 2x: x - x = 0
    assert values(x) == [0.0, 0.0, 0.0]
    assert x.grad is None
    assert x._version == 1


def test_post_accumulate_hook_on_non_leaf_raises(engine: ModuleType) -> None:
    y = leaf(engine) * 2.0
    with raises_exactly(RuntimeError, POST_ACCUMULATE_NON_LEAF):
        y.register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_hook_on_tensor_without_grad_raises(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, NO_GRAD_HOOK):
        engine.tensor([1.0, 2.0]).register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_hook_must_return_none(engine: ModuleType) -> None:
    x = leaf(engine)
    x.register_post_accumulate_grad_hook(lambda t: t.grad * 100.0)
    with raises_exactly(RuntimeError, POST_ACCUMULATE_RETURN):
        (x * x).sum().backward()


def test_post_accumulate_hook_handle_remove(engine: ModuleType) -> None:
    x = leaf(engine)
    calls: list[str] = []
    handle = x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    x.sum().backward()
    handle.remove()
    handle.remove()
    x.sum().backward()
    assert calls == ["post"]
    assert values(x.grad) == [2.0, 2.0, 2.0]


def test_post_accumulate_hook_not_called_by_autograd_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    calls: list[str] = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    (g,) = engine.autograd.grad((x * x).sum(), [x])
    assert calls == []
    assert values(g) == [1.0, 2.0, 4.0]


def test_post_accumulate_hook_only_for_leaves_that_accumulate(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    calls: list[str] = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append("x"))
    w.register_post_accumulate_grad_hook(lambda t: calls.append("w"))
    (x * w).sum().backward(inputs=[w])
    assert calls == ["w"]
    assert x.grad is None


# ---------------------------------------------------------------------------
# retain_grad next to a hook on the same non-leaf


@pytest.mark.parametrize("order", ["retain_grad_first", "hook_first"])
def test_retained_grad_sees_the_hooked_value(engine: ModuleType, order: str) -> None:
    x = leaf(engine)
    y = x * 2.0
    if order == "retain_grad_first":
        y.retain_grad()
        y.register_hook(lambda g: g * 10.0)
    else:
        y.register_hook(lambda g: g * 10.0)
        y.retain_grad()
    (y * y).sum().backward()
    assert values(y.grad) == [20.0, 40.0, 80.0]  # 10 * 2y, in both orders
    assert values(x.grad) == [40.0, 80.0, 160.0]


def test_retained_grad_with_hook_returning_none(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    y.retain_grad()
    seen: list[list[float] | None] = []
    y.register_hook(lambda g: seen.append(snapshot(g)))
    (y * y).sum().backward()
    assert seen == [[2.0, 4.0, 8.0]]
    assert values(y.grad) == [2.0, 4.0, 8.0]


# ---------------------------------------------------------------------------
# Hooks with autograd.grad


def test_autograd_grad_runs_hooks_on_the_way_and_on_the_inputs(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    seen: list[tuple[str, list[float] | None]] = []

    def on_y(g: Any) -> Any:
        seen.append(("y", snapshot(g)))
        return g + 1.0

    def on_x(g: Any) -> Any:
        seen.append(("x", snapshot(g)))
        return g * 10.0

    x.register_hook(on_x)
    y.register_hook(on_y)
    (g,) = engine.autograd.grad((y * y).sum(), [x])
    assert seen == [("y", [2.0, 4.0, 8.0]), ("x", [6.0, 10.0, 18.0])]  # 2y; then 2 * (2y + 1)
    assert values(g) == [60.0, 100.0, 180.0]  # the returned gradient is the hooked one
    assert x.grad is None


def test_autograd_grad_with_respect_to_a_hooked_non_leaf(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    y.register_hook(lambda g: g * 10.0)
    (g,) = engine.autograd.grad((y * y).sum(), [y])
    assert values(g) == [20.0, 40.0, 80.0]


def test_autograd_grad_does_not_run_hooks_of_tensors_it_does_not_reach(engine: ModuleType) -> None:
    x = leaf(engine)
    w = leaf(engine, [1.0, 2.0, 3.0])
    calls: list[str] = []
    x.register_hook(lambda g: calls.append("x"))
    w.register_hook(lambda g: calls.append("w"))
    (g,) = engine.autograd.grad((x * w).sum(), [w])
    assert calls == ["w"]
    assert values(g) == X0


def test_hooked_gradient_is_differentiable_with_create_graph(engine: ModuleType) -> None:
    x = leaf(engine)
    x.register_hook(lambda g: g * 3.0)
    (g,) = engine.autograd.grad((x**3.0).sum(), [x], create_graph=True)
    assert g.requires_grad is True
    assert values(g) == [2.25, 9.0, 36.0]  # 3 * 3x^2
    (g2,) = engine.autograd.grad(g.sum(), [x])
    assert values(g2) == [27.0, 54.0, 108.0]  # the hook runs again: 3 * d(9x^2)/dx = 54x


# ---------------------------------------------------------------------------
# Item 24: grad mode inside a hook equals create_graph


def test_grad_mode_in_hook_during_plain_backward(engine: ModuleType) -> None:
    x = leaf(engine)
    modes: list[tuple[bool, bool]] = []
    x.register_hook(lambda g: modes.append((engine.is_grad_enabled(), g.requires_grad)))
    (x * x).sum().backward()
    assert modes == [(False, False)]
    assert engine.is_grad_enabled() is True


@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
def test_grad_mode_in_hook_with_create_graph(engine: ModuleType, where: str) -> None:
    x = leaf(engine)
    t = x if where == "leaf" else x * 2.0
    modes: list[tuple[bool, bool]] = []
    t.register_hook(lambda g: modes.append((engine.is_grad_enabled(), g.requires_grad)))
    engine.autograd.grad((t * t).sum(), [x], create_graph=True)
    assert modes == [(True, True)]


def test_grad_mode_in_hook_with_create_graph_inside_no_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    y = (x * x).sum()
    modes: list[tuple[bool, bool]] = []
    x.register_hook(lambda g: modes.append((engine.is_grad_enabled(), g.requires_grad)))
    with engine.no_grad():
        (g,) = engine.autograd.grad(y, [x], create_graph=True)
        assert engine.is_grad_enabled() is False
    assert modes == [(True, True)]
    assert g.requires_grad is True


def test_grad_mode_in_hook_with_autograd_grad_without_create_graph(engine: ModuleType) -> None:
    x = leaf(engine)
    y = x * 2.0
    modes: list[tuple[bool, bool]] = []
    y.register_hook(lambda g: modes.append((engine.is_grad_enabled(), g.requires_grad)))
    engine.autograd.grad((y * y).sum(), [x], retain_graph=True)  # y's node is used again below
    engine.autograd.grad((y * y).sum(), [x], create_graph=True)
    assert modes == [(False, False), (True, True)]
