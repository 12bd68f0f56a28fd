"""Reference section 5: grad modes (items 25-29; inference_mode, item 30, is tested elsewhere).

Every test runs on refgrad and on torch (the ``engine`` fixture). Tests that switch the
mode with the plain-function form of set_grad_enabled restore it in ``finally``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pytest

from helpers import as_array, as_decorator


F = TypeVar("F", bound=Callable[..., Any])


def assert_untracked(t: Any) -> None:
    assert t.requires_grad is False
    assert t.grad_fn is None
    assert t.is_leaf is True


def assert_tracked(t: Any) -> None:
    assert t.requires_grad is True
    assert t.grad_fn is not None
    assert t.is_leaf is False


def leaf(engine: ModuleType) -> Any:
    return engine.tensor([1.0, 2.0, 3.0], requires_grad=True)


class Boom(Exception):
    pass


# ---------------------------------------------------------------------------
# Item 25: no_grad


def test_grad_is_enabled_by_default(engine: ModuleType) -> None:
    assert engine.is_grad_enabled() is True
    assert_tracked(leaf(engine) * 2.0)


UNDER_NO_GRAD: list[tuple[str, Callable[[ModuleType, Any], Any]]] = [
    ("x*2", lambda e, x: x * 2.0),
    ("x*x", lambda e, x: x * x),
    ("exp", lambda e, x: e.exp(x)),
    ("sum", lambda e, x: x.sum()),
    ("x[[0,2]]", lambda e, x: x[[0, 2]]),
    ("clone", lambda e, x: x.clone()),
    ("cat", lambda e, x: e.cat([x, x])),
    ("chain", lambda e, x: (x.exp() * x).sum()),
]


@pytest.mark.parametrize("build", [b for _, b in UNDER_NO_GRAD], ids=[i for i, _ in UNDER_NO_GRAD])
def test_no_grad_results_are_untracked_leaves(engine: ModuleType, build: Callable[[ModuleType, Any], Any]) -> None:
    x = leaf(engine)
    with engine.no_grad():
        assert engine.is_grad_enabled() is False
        out = build(engine, x)
    assert_untracked(out)
    assert engine.is_grad_enabled() is True
    assert_tracked(build(engine, x))


def test_no_grad_values_are_computed(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.no_grad():
        y = x * x + 1.0
    np.testing.assert_array_equal(as_array(y), [2.0, 5.0, 10.0])


def test_nested_no_grad_keeps_grad_off_until_outermost_exit(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.no_grad():
        with engine.no_grad():
            assert engine.is_grad_enabled() is False
        assert engine.is_grad_enabled() is False
        assert_untracked(x * 2.0)
    assert engine.is_grad_enabled() is True


def test_no_grad_restores_after_an_exception(engine: ModuleType) -> None:
    with pytest.raises(Boom):
        with engine.no_grad():
            assert engine.is_grad_enabled() is False
            raise Boom()
    assert engine.is_grad_enabled() is True
    assert_tracked(leaf(engine) * 2.0)


def test_no_grad_decorated_function_restores_after_an_exception(engine: ModuleType) -> None:
    @as_decorator(engine.no_grad())
    def fail() -> None:
        assert engine.is_grad_enabled() is False
        raise Boom()

    with pytest.raises(Boom):
        fail()
    assert engine.is_grad_enabled() is True


# ---------------------------------------------------------------------------
# Item 26: enable_grad, decorators


def test_enable_grad_inside_no_grad_tracks(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.no_grad():
        with engine.enable_grad():
            assert engine.is_grad_enabled() is True
            y = x * x
        assert engine.is_grad_enabled() is False
        assert_untracked(x * x)
    assert_tracked(y)
    y.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])


def test_enable_grad_restores_after_an_exception(engine: ModuleType) -> None:
    with engine.no_grad():
        with pytest.raises(Boom):
            with engine.enable_grad():
                assert engine.is_grad_enabled() is True
                raise Boom()
        assert engine.is_grad_enabled() is False
    assert engine.is_grad_enabled() is True


def test_enable_grad_decorator_tracks_inside_no_grad(engine: ModuleType) -> None:
    x = leaf(engine)

    @as_decorator(engine.enable_grad())
    def square(t: Any) -> Any:
        assert engine.is_grad_enabled() is True
        return t * t

    with engine.no_grad():
        y = square(x)
        assert engine.is_grad_enabled() is False
    assert_tracked(y)
    y.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 4.0, 6.0])


@pytest.mark.parametrize("form", ["no_grad()", "no_grad"])
def test_no_grad_as_decorator(engine: ModuleType, form: str) -> None:
    x = leaf(engine)
    decorator = engine.no_grad() if form == "no_grad()" else engine.no_grad

    @as_decorator(decorator)
    def double(t: Any) -> tuple[Any, bool]:
        return t * 2.0, engine.is_grad_enabled()

    out, enabled_inside = double(x)
    assert enabled_inside is False
    assert_untracked(out)
    np.testing.assert_array_equal(as_array(out), [2.0, 4.0, 6.0])
    assert engine.is_grad_enabled() is True
    assert_tracked(x * 2.0)


@pytest.mark.parametrize("form", ["no_grad()", "no_grad"])
def test_no_grad_decorator_on_generator_function(engine: ModuleType, form: str) -> None:
    x = leaf(engine)
    decorator = engine.no_grad() if form == "no_grad()" else engine.no_grad

    @as_decorator(decorator)
    def multiples(t: Any) -> Iterator[tuple[Any, bool]]:
        for k in (1.0, 2.0, 3.0):
            yield t * k, engine.is_grad_enabled()

    gen = multiples(x)
    seen = []
    for out, enabled_inside in gen:
        assert enabled_inside is False
        assert_untracked(out)
        # Between two steps the caller runs in its own (enabled) mode.
        assert engine.is_grad_enabled() is True
        assert_tracked(x * 2.0)
        seen.append(as_array(out))
    assert len(seen) == 3
    np.testing.assert_array_equal(np.stack(seen), [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]])
    assert engine.is_grad_enabled() is True


def test_enable_grad_decorator_on_generator_function(engine: ModuleType) -> None:
    x = leaf(engine)

    @as_decorator(engine.enable_grad())
    def squares(t: Any) -> Iterator[tuple[Any, bool]]:
        yield t * t, engine.is_grad_enabled()
        yield t * t * t, engine.is_grad_enabled()

    outs = []
    with engine.no_grad():
        for out, enabled_inside in squares(x):
            assert enabled_inside is True
            assert engine.is_grad_enabled() is False
            outs.append(out)
    for out in outs:
        assert_tracked(out)
    (outs[0] + outs[1]).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [5.0, 16.0, 33.0])  # 2x + 3x**2


def test_no_grad_generator_restores_after_an_exception(engine: ModuleType) -> None:
    @as_decorator(engine.no_grad())
    def failing() -> Iterator[bool]:
        yield engine.is_grad_enabled()
        raise Boom()

    gen = failing()
    assert next(gen) is False
    assert engine.is_grad_enabled() is True
    with pytest.raises(Boom):
        next(gen)
    assert engine.is_grad_enabled() is True


# ---------------------------------------------------------------------------
# Item 27: set_grad_enabled


def test_set_grad_enabled_as_plain_function_takes_effect_immediately(engine: ModuleType) -> None:
    x = leaf(engine)
    try:
        engine.set_grad_enabled(False)
        assert engine.is_grad_enabled() is False
        assert_untracked(x * 2.0)
        engine.set_grad_enabled(True)
        assert engine.is_grad_enabled() is True
        assert_tracked(x * 2.0)
    finally:
        engine.set_grad_enabled(True)


def test_set_grad_enabled_true_as_plain_function_inside_no_grad(engine: ModuleType) -> None:
    x = leaf(engine)
    with engine.no_grad():
        engine.set_grad_enabled(True)
        assert engine.is_grad_enabled() is True
        assert_tracked(x * 2.0)
    assert engine.is_grad_enabled() is True


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_context_manager(engine: ModuleType, mode: bool) -> None:
    x = leaf(engine)
    with engine.set_grad_enabled(mode):
        assert engine.is_grad_enabled() is mode
        out = x * 2.0
    assert out.requires_grad is mode
    assert engine.is_grad_enabled() is True


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_context_manager_restores_previous_mode(engine: ModuleType, mode: bool) -> None:
    x = leaf(engine)
    with engine.no_grad():
        with engine.set_grad_enabled(mode):
            assert engine.is_grad_enabled() is mode
            assert (x * 2.0).requires_grad is mode
        assert engine.is_grad_enabled() is False
    assert engine.is_grad_enabled() is True


def test_set_grad_enabled_restores_after_an_exception(engine: ModuleType) -> None:
    with pytest.raises(Boom):
        with engine.set_grad_enabled(False):
            assert engine.is_grad_enabled() is False
            raise Boom()
    assert engine.is_grad_enabled() is True


# ---------------------------------------------------------------------------
# Item 28: thread-locality


def run_in_thread(target: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def test_thread_started_inside_no_grad_has_grad_enabled(engine: ModuleType) -> None:
    x = leaf(engine)
    seen: dict[str, bool] = {}

    def worker() -> None:
        seen["enabled"] = engine.is_grad_enabled()
        seen["requires_grad"] = (x * 2.0).requires_grad

    with engine.no_grad():
        run_in_thread(worker)
        assert engine.is_grad_enabled() is False
    assert seen == {"enabled": True, "requires_grad": True}


def test_set_grad_enabled_in_a_thread_does_not_affect_main_thread(engine: ModuleType) -> None:
    seen: dict[str, bool] = {}

    def worker() -> None:
        engine.set_grad_enabled(False)
        seen["enabled"] = engine.is_grad_enabled()

    run_in_thread(worker)
    assert seen == {"enabled": False}
    assert engine.is_grad_enabled() is True
    assert_tracked(leaf(engine) * 2.0)


def test_no_grad_held_by_another_thread_does_not_affect_main_thread(engine: ModuleType) -> None:
    x = leaf(engine)
    entered = threading.Event()
    release = threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with engine.no_grad():
            entered.set()
            assert release.wait(timeout=30)
            seen["worker_enabled"] = engine.is_grad_enabled()
            seen["worker_requires_grad"] = (x * 2.0).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert entered.wait(timeout=30)
        assert engine.is_grad_enabled() is True
        assert_tracked(x * 2.0)
    finally:
        release.set()
        thread.join(timeout=30)
    assert seen == {"worker_enabled": False, "worker_requires_grad": False}
    assert engine.is_grad_enabled() is True


# ---------------------------------------------------------------------------
# Item 29: leaves created and updated under no_grad


def test_leaf_requiring_grad_can_be_created_inside_no_grad(engine: ModuleType) -> None:
    with engine.no_grad():
        w = engine.tensor([1.0, 2.0], requires_grad=True)
    assert w.requires_grad is True
    assert w.is_leaf is True
    assert w.grad_fn is None
    (w * w).sum().backward()
    np.testing.assert_array_equal(as_array(w.grad), [2.0, 4.0])


def test_in_place_update_of_leaf_inside_no_grad_is_allowed_and_bumps_version(engine: ModuleType) -> None:
    w = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    start = w._version
    with engine.no_grad():
        w.add_(1.0)
        assert w._version == start + 1
        w.mul_(2.0)
        assert w._version == start + 2
        w -= 1.0
        assert w._version == start + 3
    assert w.requires_grad is True
    assert w.is_leaf is True
    assert w.grad_fn is None
    np.testing.assert_array_equal(as_array(w), [3.0, 5.0, 7.0])


def test_optimizer_step_pattern(engine: ModuleType) -> None:
    w = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    original = w
    (w * w).sum().backward()  # grad 2w = [2, 4, 6]
    with engine.no_grad():
        w -= 0.1 * w.grad  # w = 0.8 * [1, 2, 3]
    assert w is original
    assert w.is_leaf is True
    assert w.requires_grad is True
    np.testing.assert_allclose(as_array(w), [0.8, 1.6, 2.4], rtol=1e-6)
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(as_array(w.grad), [1.6, 3.2, 4.8], rtol=1e-6)


@pytest.mark.parametrize(
    "make_view",
    [lambda x: x[0], lambda x: x[1:], lambda x: x.view(3, 1), lambda x: x.unsqueeze(0), lambda x: x.expand(2, 3)],
    ids=["select", "slice", "view", "unsqueeze", "expand"],
)
def test_view_made_under_no_grad_requires_grad_as_a_new_leaf(engine: ModuleType, make_view: Any) -> None:
    """A view of a tensor that requires grad keeps requires_grad under no_grad, but has no
    history and no accumulator: ops on it record no edge to it, and gradients reach neither
    the view nor its base."""
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with engine.no_grad():
        v = make_view(x)
    assert (v.requires_grad, v.is_leaf, v.grad_fn) == (True, True, None)
    w = v * 2
    assert w.requires_grad
    assert [node for node, _ in w.grad_fn.next_functions] == [None, None]
    w.sum().backward()
    assert x.grad is None
    assert v.grad is None
