"""refgrad's memory behaviour (engine internals, so refgrad only): a node keeps only what its
rule needs, releases it after backward unless retain_graph, and graphs hold no reference
cycles, so they are freed by reference counting alone, the moment the last handle goes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

import refgrad as rg


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_saved_intermediate_is_released_by_backward(no_cyclic_gc: None) -> None:
    x = rg.tensor([0.5, 1.5], requires_grad=True)
    h = x * 2
    y = h.sin()  # SinBackward0 saves h
    saved = weakref.ref(h)
    del h
    assert saved() is not None
    y.sum().backward()
    assert saved() is None


def test_retain_graph_keeps_what_the_rules_saved(no_cyclic_gc: None) -> None:
    x = rg.tensor([0.5, 1.5], requires_grad=True)
    h = x * 2
    y = h.sin()
    saved = weakref.ref(h)
    del h
    y.sum().backward(retain_graph=True)
    assert saved() is not None
    y.sum().backward()
    assert saved() is None


def test_ops_that_need_no_input_save_nothing() -> None:
    x = rg.tensor([0.5, 1.5], requires_grad=True)
    for result in (x + x, x - 1.0, -x, x.sum(), x.reshape(2, 1), x[0]):
        assert result.grad_fn is not None
        assert result.grad_fn._saved == ()


def test_output_saving_ops_keep_the_output_values_not_the_output_tensor() -> None:
    """exp/tanh/sigmoid save their result; keeping the result *tensor* would be a cycle
    (tensor -> grad_fn -> tensor)."""
    x = rg.tensor([0.5, 1.5], requires_grad=True)
    for result in (x.exp(), x.tanh(), x.sigmoid(), x.relu(), x.sqrt()):
        node = result.grad_fn
        assert node is not None and node._saved is not None
        (kept,) = node._saved
        assert kept is not result and isinstance(kept, rg.Tensor)
        assert kept._data is result._data  # the same values, no copy


def test_a_graph_is_freed_without_the_cycle_collector(no_cyclic_gc: None) -> None:
    x = rg.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = x
    for _ in range(100):
        y = (y * 1.01).tanh() + y.exp() / 3
    node = weakref.ref(y.grad_fn) if y.grad_fn is not None else None
    y.sum().backward()
    del y
    assert node is not None and node() is None
    assert x.grad is not None


@pytest.mark.parametrize("collecting", [True, False])
def test_backward_pauses_the_cycle_collector_and_restores_it(collecting: bool) -> None:
    """The walk runs with the cyclic collector off (it makes no cycles) and leaves the
    collector as it found it, also when a rule raises."""
    seen: list[bool] = []
    x = rg.tensor([0.5, 1.5], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: seen.append(gc.isenabled()))
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        y.sum().backward()
        assert seen == [False]
        assert gc.isenabled() is collecting
        with pytest.raises(RuntimeError):
            y.sum().backward()  # the graph was freed: TWICE
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()


def test_a_long_chain_is_torn_down_and_printed_without_recursion(no_cyclic_gc: None) -> None:
    x = rg.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(200_000):
        y = y * 1.0
    assert "grad_fn=<MulBackward0>" in repr(y)
    assert "MulBackward0" in repr(y.grad_fn)
    first = weakref.ref(y.grad_fn) if y.grad_fn is not None else None
    del y  # freed by reference counting; CPython's trashcan keeps the C stack flat
    assert first is not None and first() is None
