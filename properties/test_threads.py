"""Grad modes are per thread: threads switching modes at random never see each other's
mode, and the main thread's mode is untouched."""

from __future__ import annotations

import threading
from types import ModuleType

from hypothesis import given
from hypothesis import strategies as st


@given(plans=st.lists(st.lists(st.booleans(), min_size=1, max_size=6), min_size=2, max_size=4))
def test_modes_set_in_threads_stay_in_their_threads(engine: ModuleType, plans: list[list[bool]]) -> None:
    barrier = threading.Barrier(len(plans))
    wrong: list[str] = []

    def worker(plan: list[bool]) -> None:
        try:
            if not engine.is_grad_enabled():
                wrong.append("a new thread started with grad mode off")
            for flag in plan:
                engine.set_grad_enabled(flag)
                barrier.wait(timeout=10)  # every thread has set its mode: now each reads its own
                x = engine.tensor([1.0], requires_grad=True)
                if engine.is_grad_enabled() is not flag or (x * 2).requires_grad is not flag:
                    wrong.append(f"a thread expected grad mode {flag}")
                barrier.wait(timeout=10)
        except Exception as error:  # a failure in a thread must reach the test
            wrong.append(repr(error))
            barrier.abort()

    longest = max(len(plan) for plan in plans)
    plans[:] = [plan + [plan[-1]] * (longest - len(plan)) for plan in plans]  # equal lengths for the barrier
    threads = [threading.Thread(target=worker, args=(plan,)) for plan in plans]
    with engine.no_grad():  # the main thread's own mode is not what the threads see
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert engine.is_grad_enabled() is False
    assert wrong == []
    assert engine.is_grad_enabled() is True
