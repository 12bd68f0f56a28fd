"""Grad modes: thread-local switches that are context managers and decorators."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, cast, overload

P = ParamSpec("P")
R = TypeVar("R")


class _ThreadState(threading.local):
    """Each thread starts with grad mode on and inference mode off, whatever the thread that
    started it had."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.inference = False
        self.recording = True
        """Whether ops are recorded now: grad mode on and inference mode off (in inference mode
        nothing is recorded, even where ``enable_grad`` turned grad mode back on)."""


_state = _ThreadState()


def _set(grad_enabled: bool, inference: bool) -> None:
    _state.grad_enabled, _state.inference, _state.recording = grad_enabled, inference, grad_enabled and not inference


def is_grad_enabled() -> bool:
    """Whether operations on tensors that require grad are recorded for backward."""
    return _state.grad_enabled


def _set_grad_enabled(mode: bool) -> None:
    _set(mode, _state.inference)


def is_inference_mode_enabled() -> bool:
    """Whether tensors made now are inference tensors (inside ``inference_mode()``)."""
    return _state.inference


class _GradModeContext:
    """Base of the grad modes: ``with mode():`` or ``@mode()`` on a function or a generator
    function. Entering saves the current mode and sets the new one; leaving, by any exit,
    restores what was saved."""

    def __init__(self) -> None:
        self._saved: list[tuple[bool, bool]] = []

    def _mode(self) -> bool:
        raise NotImplementedError

    def _inference(self) -> bool:
        """The inference mode inside (grad modes keep the current one)."""
        return _state.inference

    def __enter__(self) -> None:
        self._saved.append((_state.grad_enabled, _state.inference))
        _set(self._mode(), self._inference())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _set(*self._saved.pop())

    def _fresh(self) -> _GradModeContext:
        """A new context with the same effect, so that each call of a decorated function
        (and each recursive call) saves its own state."""
        return _FixedMode(self._mode(), self._inference())

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(func):
            return cast(Callable[P, R], self._wrap_generator(func))

        @functools.wraps(func)
        def in_mode(*args: P.args, **kwargs: P.kwargs) -> R:
            with self._fresh():
                return func(*args, **kwargs)

        return in_mode

    def _wrap_generator(
        self, func: Callable[P, Generator[Any, Any, Any]]
    ) -> Callable[P, Generator[Any, Any, Any]]:
        """The mode is on while the generator runs, off while its caller does."""

        @functools.wraps(func)
        def in_mode(*args: P.args, **kwargs: P.kwargs) -> Generator[Any, Any, Any]:
            gen = func(*args, **kwargs)
            try:
                with self._fresh():
                    item = gen.send(None)
                while True:
                    try:
                        sent = yield item
                    except GeneratorExit:
                        with self._fresh():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with self._fresh():
                            item = gen.throw(exc)
                    else:
                        with self._fresh():
                            item = gen.send(sent)
            except StopIteration as stop:
                return stop.value

        return in_mode


class _FixedMode(_GradModeContext):
    def __init__(self, mode: bool, inference: bool) -> None:
        super().__init__()
        self._target = mode
        self._target_inference = inference

    def _mode(self) -> bool:
        return self._target

    def _inference(self) -> bool:
        return self._target_inference


class _NoArgumentMode(_GradModeContext):
    """A mode without arguments, also usable as a bare decorator (``@no_grad``)."""

    # ``@no_grad`` gives back the function itself, wrapped: pyright reads that from these
    # overloads; mypy insists that ``__new__`` returns an instance (python/mypy#15182), so
    # under mypy write ``@no_grad()`` (docs/typing.md).
    @overload
    def __new__(cls) -> Self: ...
    @overload
    def __new__(cls, func: Callable[P, R]) -> Callable[P, R]: ...  # type: ignore[misc]
    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is not None:  # ``@no_grad`` without parentheses: decorate directly
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        super().__init__()


class no_grad(_NoArgumentMode):
    """Disable gradient recording: results of ops do not require grad and have no grad_fn.
    Usable as ``with no_grad():``, ``@no_grad()`` and ``@no_grad``."""

    def _mode(self) -> bool:
        return False


class enable_grad(_NoArgumentMode):
    """Enable gradient recording, also inside ``no_grad``."""

    def _mode(self) -> bool:
        return True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode`` at once (usable as a plain call); as a context manager it
    restores the previous mode on exit; as a decorator it applies ``mode`` to each call."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._target = mode
        self._saved.append((_state.grad_enabled, _state.inference))
        _set(mode, _state.inference)

    def _mode(self) -> bool:
        return self._target

    def __enter__(self) -> None:
        pass  # the mode was set when the object was made

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        # Used as a decorator: undo the effect the constructor had, apply it per call.
        _set(*self._saved.pop())
        return super().__call__(func)


class inference_mode(_GradModeContext):
    """Inference mode: no recording (like ``no_grad``) and the tensors made inside are
    *inference tensors*, which cannot later be saved for backward, require grad or be
    changed in place outside the mode. ``inference_mode(False)`` inside turns it off (and
    grad mode on). Usable as ``with inference_mode():``, ``@inference_mode()``, ``@inference_mode``."""

    @overload
    def __new__(cls, mode: bool = True) -> Self: ...
    @overload
    def __new__(cls, mode: Callable[P, R]) -> Callable[P, R]: ...  # type: ignore[misc]  # as for no_grad
    def __new__(cls, mode: bool | Callable[..., Any] = True) -> Any:
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool | Callable[..., Any] = True) -> None:
        super().__init__()
        self._enabled = bool(mode) if not callable(mode) else True

    def _mode(self) -> bool:
        return not self._enabled

    def _inference(self) -> bool:
        return self._enabled
