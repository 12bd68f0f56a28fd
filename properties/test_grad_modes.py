"""Grad modes never leak: whatever nesting of no_grad / enable_grad / set_grad_enabled /
inference_mode a program goes through, with exceptions leaving blocks at random depths,
recording happens exactly when the innermost mode says so, and every mode is restored on
the way out. Compared against a model: a stack of (grad enabled, inference) states."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st


@dataclass(frozen=True)
class Mode:
    kind: str  # no_grad, enable_grad, set_grad_enabled, inference_mode
    flag: bool

    def enter(self, engine: ModuleType) -> Any:
        if self.kind == "no_grad":
            return engine.no_grad()
        if self.kind == "enable_grad":
            return engine.enable_grad()
        if self.kind == "set_grad_enabled":
            return engine.set_grad_enabled(self.flag)
        return engine.inference_mode(self.flag)

    def model(self, state: tuple[bool, bool]) -> tuple[bool, bool]:
        """(grad enabled, inference) inside the block, given the state outside."""
        grad, inference = state
        if self.kind == "no_grad":
            return (False, inference)
        if self.kind == "enable_grad":
            return (True, inference)
        if self.kind == "set_grad_enabled":
            return (self.flag, inference)
        return (not self.flag, self.flag)


class Escape(Exception):
    """Raised inside a block to leave several levels at once."""


modes: st.SearchStrategy[Mode] = st.builds(Mode, st.sampled_from(["no_grad", "enable_grad", "set_grad_enabled", "inference_mode"]), st.booleans())


def _run(engine: ModuleType, nest: list[Mode], raise_at: int | None, state: tuple[bool, bool], seen: list[str]) -> None:
    """Enter ``nest[0]``, check the state and what an op records there, recurse; raise at depth
    ``raise_at``."""
    if not nest:
        return
    mode, rest = nest[0], nest[1:]
    inner = mode.model(state)
    with mode.enter(engine):
        assert (engine.is_grad_enabled(), engine.is_inference_mode_enabled()) == inner
        x = engine.tensor([1.0, 2.0], requires_grad=True) if not inner[1] else None
        if x is not None:
            y = x * 2
            assert y.requires_grad is inner[0]
            assert (y.grad_fn is not None) is inner[0]
        seen.append(mode.kind)
        if raise_at == len(seen):
            raise Escape
        _run(engine, rest, raise_at, inner, seen)
        assert (engine.is_grad_enabled(), engine.is_inference_mode_enabled()) == inner


@given(nest=st.lists(modes, min_size=1, max_size=6), raise_at=st.none() | st.integers(1, 6))
def test_nested_modes_record_exactly_as_the_model_says_and_restore(engine: ModuleType, nest: list[Mode], raise_at: int | None) -> None:
    before = (engine.is_grad_enabled(), engine.is_inference_mode_enabled())
    seen: list[str] = []
    try:
        _run(engine, nest, raise_at, before, seen)
    except Escape:
        pass
    assert (engine.is_grad_enabled(), engine.is_inference_mode_enabled()) == before


@given(flags=st.lists(st.booleans(), min_size=1, max_size=5))
def test_decorated_generators_hold_their_mode_only_while_running(engine: ModuleType, flags: list[bool]) -> None:
    """A generator decorated with no_grad records nothing while it runs; its caller, between
    the items, keeps its own mode; abandoning the generator restores everything."""

    no_grad: Callable[[Callable[[Any], Generator[Any, None, None]]], Callable[[Any], Generator[Any, None, None]]] = engine.no_grad()

    @no_grad
    def produce(x: Any) -> Generator[Any, None, None]:
        for _ in flags:
            yield x * 2

    x = engine.tensor([1.0], requires_grad=True)
    items = produce(x)
    for flag in flags:
        with engine.set_grad_enabled(flag):
            item = next(items)
            assert item.requires_grad is False
            assert engine.is_grad_enabled() is flag
            assert (x * 2).requires_grad is flag
    items.close()
    assert engine.is_grad_enabled() is True


@given(depth=st.integers(0, 4))
def test_detach_cuts_exactly_the_detached_path(engine: ModuleType, depth: int) -> None:
    """y = f(x) + g(x.detach()): the gradient is f'(x) alone, however deep the detached path."""
    x = engine.tensor([0.5, 1.5], dtype=engine.float64, requires_grad=True)
    cut = x.detach()
    for _ in range(depth):
        cut = cut * 3.0 + 1.0
    (x * x + cut * 5.0).sum().backward()
    assert x.grad.tolist() == [1.0, 3.0]  # d/dx x² = 2x
