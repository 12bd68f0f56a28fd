"""Reference section 5, item 28 (and item 30 for inference_mode): grad mode and inference mode
are per thread, and separate graphs can be differentiated in two threads at the same time.

Every test runs on refgrad and on torch (the ``engine`` fixture). Threads that must overlap
meet at a ``threading.Barrier``; a failing thread aborts the barrier so that the other one
stops waiting, and its exception is re-raised in the main thread.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import FloatArray, as_array

#: Iterations of the overlapping loops (each one meets the other thread at the barrier).
ITERATIONS = 300
TIMEOUT = 60.0


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Let the interpreter switch threads every few bytecodes instead of every 5 ms, so
    that the two threads' operations really interleave (not just their loop iterations)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_threads(*targets: Callable[[], None], barrier: threading.Barrier | None = None) -> None:
    """Run each target in its own thread, wait for all, re-raise the first failure."""
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                errors.append(exc)
                if barrier is not None:
                    barrier.abort()

        return body

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    # A thread that only saw the barrier broken is not the cause: report the real failure.
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        raise (real or errors)[0]


@contextlib.contextmanager
def entered(engine: ModuleType, mode: str) -> Iterator[None]:
    """Enter one of the modes that turn tracking off, by name."""
    if mode == "no_grad":
        with engine.no_grad():
            yield
    elif mode == "set_grad_enabled(False)":
        with engine.set_grad_enabled(False):
            yield
    elif mode == "inference_mode":
        with engine.inference_mode():
            yield
    else:
        raise AssertionError(mode)


OFF_MODES = ["no_grad", "set_grad_enabled(False)", "inference_mode"]


def leaf(engine: ModuleType) -> Any:
    return engine.tensor([1.0, 2.0, 3.0], requires_grad=True)


def assert_tracked_normal(t: Any) -> None:
    assert t.requires_grad is True
    assert t.grad_fn is not None
    assert t.is_inference() is False


def assert_untracked(t: Any, mode: str) -> None:
    assert (t.requires_grad, t.grad_fn, t.is_leaf) == (False, None, True)
    assert t.is_inference() is (mode == "inference_mode")


# ---------------------------------------------------------------------------
# A new thread starts in the default modes


@pytest.mark.parametrize("mode", OFF_MODES)
def test_thread_started_inside_a_mode_has_default_modes(engine: ModuleType, mode: str) -> None:
    x = leaf(engine)
    seen: dict[str, Any] = {}

    def worker() -> None:
        seen["grad"] = engine.is_grad_enabled()
        seen["inference"] = engine.is_inference_mode_enabled()
        y = x * 2.0
        seen["requires_grad"] = y.requires_grad
        seen["is_inference"] = y.is_inference()
        y.sum().backward()

    with entered(engine, mode):
        run_threads(worker)
        assert engine.is_grad_enabled() is False
        assert engine.is_inference_mode_enabled() is (mode == "inference_mode")
    assert seen == {"grad": True, "inference": False, "requires_grad": True, "is_inference": False}
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0, 2.0])


def test_thread_started_after_set_grad_enabled_false_has_grad_enabled(engine: ModuleType) -> None:
    seen: dict[str, bool] = {}

    def worker() -> None:
        seen["grad"] = engine.is_grad_enabled()

    try:
        engine.set_grad_enabled(False)
        run_threads(worker)
        assert engine.is_grad_enabled() is False
    finally:
        engine.set_grad_enabled(True)
    assert seen == {"grad": True}


# ---------------------------------------------------------------------------
# A mode set in a thread stays in that thread


def test_set_grad_enabled_false_in_a_thread_does_not_leak(engine: ModuleType) -> None:
    seen: dict[str, bool] = {}

    def worker() -> None:
        engine.set_grad_enabled(False)  # never restored: the thread just ends
        seen["grad"] = engine.is_grad_enabled()
        seen["requires_grad"] = (leaf(engine) * 2.0).requires_grad

    run_threads(worker)
    assert seen == {"grad": False, "requires_grad": False}
    assert engine.is_grad_enabled() is True
    assert_tracked_normal(leaf(engine) * 2.0)


@pytest.mark.parametrize("mode", OFF_MODES)
def test_mode_held_by_another_thread_does_not_affect_main_thread(engine: ModuleType, mode: str) -> None:
    x = leaf(engine)
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, Any] = {}

    def worker() -> None:
        with entered(engine, mode):
            inside.set()
            assert release.wait(timeout=TIMEOUT)
            seen["grad"] = engine.is_grad_enabled()
            seen["inference"] = engine.is_inference_mode_enabled()
            seen["out"] = x * 2.0

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(timeout=TIMEOUT)
        assert engine.is_grad_enabled() is True
        assert engine.is_inference_mode_enabled() is False
        out = x * 2.0
        assert_tracked_normal(out)
    finally:
        release.set()
        thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()
    assert seen["grad"] is False
    assert seen["inference"] is (mode == "inference_mode")
    assert_untracked(seen["out"], mode)
    out.sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("mode", OFF_MODES)
@pytest.mark.usefixtures("frequent_thread_switches")
def test_mode_in_one_thread_while_another_tracks_concurrently(engine: ModuleType, mode: str) -> None:
    """One thread stays in the mode for the whole loop; the other builds graphs and runs
    backward at the same moments. Neither sees the other's mode."""
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def untracking() -> None:
        x = leaf(engine)
        with entered(engine, mode):
            for i in range(ITERATIONS):
                barrier.wait()
                assert engine.is_grad_enabled() is False
                out = x * float(i)
                assert_untracked(out, mode)
                barrier.wait()
                assert engine.is_inference_mode_enabled() is (mode == "inference_mode")

    def tracking() -> None:
        for i in range(ITERATIONS):
            x = leaf(engine)
            barrier.wait()
            assert engine.is_grad_enabled() is True
            out = x * x * float(i)
            assert_tracked_normal(out)
            barrier.wait()
            assert engine.is_inference_mode_enabled() is False
            out.sum().backward()
            np.testing.assert_array_equal(as_array(x.grad), [2.0 * i, 4.0 * i, 6.0 * i])

    run_threads(untracking, tracking, barrier=barrier)


# ---------------------------------------------------------------------------
# Two graphs differentiated at the same time


def expected_gradients(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """f = sum(w * x**3) + sum(w * x) + sum(x * x); by hand:
    df/dx = 3 w x**2 + w + 2 x, df/dw = x**3 + x."""
    return 3 * w * x**2 + w + 2 * x, x**3 + x


@pytest.mark.usefixtures("frequent_thread_switches")
def test_two_threads_forward_and_backward_on_separate_graphs(engine: ModuleType) -> None:
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    checked = [0, 0]

    def worker(k: int) -> Callable[[], None]:
        def body() -> None:
            for i in range(ITERATIONS):
                x_values = np.array([1.0, 2.0, 3.0]) * (k + 1) + 0.01 * i
                w_values = np.array([0.5, -1.0, 2.0]) * (1 - 2 * k) + 0.001 * i
                x = engine.tensor(x_values, requires_grad=True)
                w = engine.tensor(w_values, requires_grad=True)
                barrier.wait()  # both forwards at the same time
                cube = x * x * x
                f = (w * cube).sum() + (w * x).sum() + (x * x).sum()
                assert f.requires_grad is True
                barrier.wait()  # both backwards at the same time
                f.backward()
                assert engine.is_grad_enabled() is True
                gx, gw = expected_gradients(x_values, w_values)
                np.testing.assert_allclose(as_array(x.grad), gx, rtol=1e-12)
                np.testing.assert_allclose(as_array(w.grad), gw, rtol=1e-12)
                checked[k] += 1

        return body

    run_threads(worker(0), worker(1), barrier=barrier)
    assert checked == [ITERATIONS, ITERATIONS]


@pytest.mark.usefixtures("frequent_thread_switches")
def test_backward_in_one_thread_while_the_other_builds_graphs(engine: ModuleType) -> None:
    """Backward runs its formulas with grad mode off (create_graph=False): that must not
    switch grad mode off for a thread that is recording a graph at the same moment."""
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def backward_loop() -> None:
        for i in range(ITERATIONS):
            x = engine.tensor([1.0, 2.0, 3.0], dtype=engine.float64, requires_grad=True)
            y = x
            for _ in range(20):
                y = y * 1.0 + x  # 20 additions of x: y = 21 x
            total = (y * float(i)).sum()
            barrier.wait()
            total.backward()
            barrier.wait()
            np.testing.assert_array_equal(as_array(x.grad), [21.0 * i] * 3)

    def forward_loop() -> None:
        for i in range(ITERATIONS):
            x = engine.tensor([1.0, 2.0, 3.0], dtype=engine.float64, requires_grad=True)
            barrier.wait()
            y = x
            for _ in range(20):
                y = y * 2.0
                assert y.requires_grad is True
            barrier.wait()
            (y * float(i)).sum().backward()
            np.testing.assert_array_equal(as_array(x.grad), [2.0**20 * i] * 3)

    run_threads(backward_loop, forward_loop, barrier=barrier)
