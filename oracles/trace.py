"""Tracing: a Python function written with refgrad becomes a program for the oracles.

``trace(fn, inputs)`` runs ``fn`` once on refgrad tensors made from ``inputs`` and records
every operation it applies, as plain data (op names and attributes from the oracles'
vocabulary; no derivative rule). Ordinary Python control flow is allowed: the program is the
straight-line path this run took. Its decisions are kept in the program too: a comparison
whose result steered an ``if`` stays in the program (after the output's own ops), so the
numeric oracle's branch signature sees when a step would take the other path.

Tensors the function makes itself (``rg.tensor([...])``) become constant inputs, named
``_c0``, ``_c1``... (they do not require grad). A tensor that requires grad but did not come
from a recorded operation (an op outside the vocabulary, such as ``max`` or ``clone``) makes
the trace fail with ``TraceError``: silently treating it as a constant would give a wrong
program.

The recording wraps refgrad's public functions and ``Tensor`` methods for the duration of
the call (one trace at a time; a lock serializes traces).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

import refgrad
from oracles.ops import OPS, OpSpec
from oracles.program import Arg, AttrValue, Input, Op, Program, Ref

__all__ = ["TraceError", "Traced", "trace"]

_OPERATORS: dict[str, tuple[str, bool]] = {
    "__add__": ("add", False),
    "__radd__": ("add", True),
    "__sub__": ("sub", False),
    "__rsub__": ("sub", True),
    "__mul__": ("mul", False),
    "__rmul__": ("mul", True),
    "__truediv__": ("div", False),
    "__rtruediv__": ("div", True),
    "__pow__": ("pow", False),
    "__rpow__": ("pow", True),
    "__matmul__": ("matmul", False),
    "__neg__": ("neg", False),
    "__gt__": ("gt", False),
    "__lt__": ("lt", False),
    "__ge__": ("ge", False),
    "__le__": ("le", False),
}
"""Tensor operators: the op they spell, and whether the tensor is the right operand."""
_VARARG_METHODS = {"reshape": "shape", "permute": "dims", "expand": "size"}
"""Methods that take a shape as separate arguments (``x.reshape(2, 3)``)."""
_LOCK = threading.Lock()


class TraceError(ValueError):
    """The function cannot be turned into a program (see the module docstring)."""


@dataclass(frozen=True)
class Traced:
    program: Program
    values: dict[str, npt.NDArray[np.float64]]
    """Values of every program input: the function's inputs and its constants."""
    constants: tuple[str, ...]
    """Which inputs are constants the function made itself."""
    output: Any
    """What the traced run returned (a refgrad tensor)."""


def _operand_count(spec: OpSpec) -> int:
    nin = getattr(spec.forward, "nin", None)
    return nin if isinstance(nin, int) else spec.operands


def _attribute_names(spec: OpSpec) -> list[str]:
    try:
        parameters = list(inspect.signature(spec.forward).parameters.values())
    except (TypeError, ValueError):
        return []
    named = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return [p.name for p in named[0 if spec.variadic else _operand_count(spec) :]]


class _Recorder:
    def __init__(self, inputs: Mapping[str, refgrad.Tensor]) -> None:
        self.refs: dict[int, tuple[str, int]] = {id(t): ("input", k) for k, t in enumerate(inputs.values())}
        self.keep: list[Any] = list(inputs.values())  # ids stay unique while recorded
        self.inputs = [Input(name, tuple(t.shape)) for name, t in inputs.items()]
        self.constants: list[tuple[str, npt.NDArray[np.float64]]] = []
        self.ops: list[tuple[str, tuple[Any, ...], tuple[tuple[str, AttrValue], ...]]] = []
        self.depth = 0

    def arg(self, value: Any, op: str) -> Any:
        if isinstance(value, refgrad.Tensor):
            known = self.refs.get(id(value))
            if known is not None:
                return known
            if value.requires_grad:
                raise TraceError(
                    f"a tensor that requires grad reached {op}() without coming from a recorded operation "
                    "(was it made by an op outside the oracles' vocabulary?)"
                )
            index = len(self.inputs)
            name = f"_c{len(self.constants)}"
            self.inputs.append(Input(name, tuple(value.shape)))
            self.constants.append((name, np.asarray(value.numpy(), dtype=np.float64)))
            self.refs[id(value)] = ("input", index)
            self.keep.append(value)
            return ("input", index)
        if isinstance(value, (bool, int, float)):
            return float(value)
        raise TraceError(f"{op}() got an argument of type {type(value).__name__}, which a program cannot hold")

    def record(self, name: str, operands: list[Any], attrs: dict[str, Any], result: Any) -> None:
        args = tuple(self.arg(a, name) for a in operands)
        clean: list[tuple[str, AttrValue]] = []
        for key, value in attrs.items():
            clean.append((key, tuple(value) if isinstance(value, list) else value))
        self.ops.append((name, args, tuple(clean)))
        if isinstance(result, refgrad.Tensor):
            self.refs[id(result)] = ("op", len(self.ops) - 1)
            self.keep.append(result)

    def program(self, output: Any, source: str) -> Program:
        if not isinstance(output, refgrad.Tensor) or id(output) not in self.refs:
            raise TraceError("the function must return a tensor computed from its inputs")
        kind, index = self.refs[id(output)]
        ops = list(self.ops)
        if kind == "input" or index != len(ops) - 1:
            ops.append(("add", (self.refs[id(output)], 0.0), ()))  # the output last (x + 0.0 is exact)
        offset = len(self.inputs)

        def ref(arg: Any) -> Arg:
            if isinstance(arg, tuple):
                where, k = arg
                return Ref(k if where == "input" else offset + k)
            return float(arg)

        return Program(
            tuple(self.inputs), tuple(Op(name, tuple(ref(a) for a in args), attrs) for name, args, attrs in ops), source
        )


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], method: bool) -> tuple[list[Any], dict[str, Any]]:
    """Operands and named attributes of a call, in the vocabulary of ``OPS[name]``."""
    spec = OPS[name]
    if spec.variadic:  # cat([x, y], 1): the list, then attributes (positional or named)
        return list(args[0]), {**dict(zip(_attribute_names(spec), args[1:])), **kwargs}
    count = _operand_count(spec)
    operands, rest = list(args[:count]), list(args[count:])
    attrs = dict(kwargs)
    if method and name in _VARARG_METHODS and rest and all(isinstance(r, int) for r in rest):
        attrs[_VARARG_METHODS[name]] = tuple(rest)
        return operands, attrs
    if method and name in _VARARG_METHODS and len(rest) == 1:
        attrs[_VARARG_METHODS[name]] = tuple(rest[0])
        return operands, attrs
    for key, value in zip(_attribute_names(spec), rest):
        attrs[key] = value
    return operands, attrs


def _wrapped(original: Callable[..., Any], recorder: _Recorder, name: str, method: bool, reflected: bool = False) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        recorder.depth += 1
        try:
            result = original(*args, **kwargs)
        finally:
            recorder.depth -= 1
        if recorder.depth == 0 and result is not NotImplemented:
            ordered = (args[1], args[0]) if reflected else args
            operands, attrs = _bind(name, tuple(ordered), kwargs, method)
            recorder.record(name, operands, attrs, result)
        return result

    return call


@contextmanager
def _recording(recorder: _Recorder) -> Iterator[None]:
    patched: list[tuple[Any, str, Any]] = []
    for name in OPS:
        if hasattr(refgrad, name):
            patched.append((refgrad, name, getattr(refgrad, name)))
        if hasattr(refgrad.Tensor, name):
            patched.append((refgrad.Tensor, name, getattr(refgrad.Tensor, name)))
    for dunder in _OPERATORS:
        patched.append((refgrad.Tensor, dunder, getattr(refgrad.Tensor, dunder)))
    try:
        for owner, attribute, original in patched:
            if attribute in _OPERATORS:
                op, reflected = _OPERATORS[attribute]
                setattr(owner, attribute, _wrapped(original, recorder, op, True, reflected))
            else:
                setattr(owner, attribute, _wrapped(original, recorder, attribute, owner is refgrad.Tensor))
        yield
    finally:
        for owner, attribute, original in patched:
            setattr(owner, attribute, original)


def trace(fn: Callable[..., Any], inputs: Mapping[str, npt.ArrayLike], *, name: str | None = None) -> Traced:
    """Run ``fn(**tensors)`` once (float64 tensors that require grad, one per input, passed by
    name) and return the program of what it did (see the module docstring)."""
    tensors = {
        key: refgrad.tensor(np.array(value, dtype=np.float64), dtype=refgrad.float64, requires_grad=True)
        for key, value in inputs.items()
    }
    recorder = _Recorder(tensors)
    with _LOCK, _recording(recorder):
        output = fn(**tensors)
    program = recorder.program(output, name if name is not None else str(getattr(fn, "__name__", "<function>")))
    values = {key: np.asarray(value, dtype=np.float64) for key, value in inputs.items()}
    values.update(recorder.constants)
    return Traced(program, values, tuple(n for n, _ in recorder.constants), output)
