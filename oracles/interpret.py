"""Interpreters of programs: numpy (the oracles' own float64 forward), an engine (refgrad, or
torch: any module with PyTorch's API) and Python source (standalone reproducers).

The numpy interpreter can also record the *branch signature* of a run: every decision a
non-smooth op took (the side of a kink, the chosen maximum, a comparison's outcome). Two
points with the same signature lie in the same smooth piece of the program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from oracles.ops import OPS
from oracles.program import Array, Op, Program, Ref, check_inputs, evaluate

_KINKS: dict[str, Callable[..., Any]] = {
    "relu": lambda x: np.sign(x),
    "abs": lambda x: np.sign(x),
    "sign": lambda x: np.sign(x),
    "clamp": lambda x, min=None, max=None: np.sign(np.clip(x, min, max) - x) + 2 * (x == min) + 3 * (x == max),
    "clamp_min": lambda x, min: np.sign(x - min),
    "clamp_max": lambda x, max: np.sign(x - max),
    "maximum": lambda x, y: np.sign(np.asarray(x) - np.asarray(y)),
    "minimum": lambda x, y: np.sign(np.asarray(x) - np.asarray(y)),
    "gt": np.greater,
    "lt": np.less,
    "ge": np.greater_equal,
    "le": np.less_equal,
}
"""For each non-smooth op: which piece of its definition each element is on."""


def _extremum_piece(x: Array, kwargs: dict[str, Any], largest: bool) -> Array:
    dim = kwargs.get("dim")
    axis = tuple(dim) if isinstance(dim, (list, tuple)) and dim else (dim if isinstance(dim, int) else None)
    extreme = np.max(x, axis=axis, keepdims=True) if largest else np.min(x, axis=axis, keepdims=True)
    return np.asarray(x == extreme)


def _norm_piece(x: Array, kwargs: dict[str, Any]) -> Array:
    """A p-norm is not smooth where an element is 0 (p <= 1, or the whole norm is 0) and, for
    p = ±inf, where the extreme element changes."""
    p = kwargs.get("p", 2)
    if p in (np.inf, -np.inf):
        magnitude = np.abs(x)
        return _extremum_piece(magnitude, kwargs, p > 0) * np.sign(x)
    return np.sign(x)  # |x| is not smooth at 0 (for one element, or a zero vector, nor is the norm)


def run_numpy(
    program: Program,
    values: Mapping[str, Array],
    signature: list[Array] | None = None,
    intermediates: list[Array] | None = None,
) -> Array:
    """The program's output in float64 numpy; with ``signature``, append the piece of every
    non-smooth op to it; with ``intermediates``, every operation's value."""

    def apply(op: Op, args: list[Any]) -> Any:
        value = _apply(op, args)
        if intermediates is not None:
            intermediates.append(np.asarray(value, dtype=np.float64))
        return value

    def _apply(op: Op, args: list[Any]) -> Any:
        spec = OPS[op.name]
        kwargs = op.kwargs()
        if signature is not None:
            if op.name in _KINKS:
                signature.append(np.asarray(_KINKS[op.name](*args, **kwargs)))
            elif op.name in ("amax", "amin"):
                signature.append(_extremum_piece(np.asarray(args[0]), kwargs, op.name == "amax"))
            elif op.name == "norm":
                signature.append(_norm_piece(np.asarray(args[0]), kwargs))
        if spec.operator is not None:
            return spec.operator(*args)
        return spec.forward(*args, **kwargs)

    return np.asarray(evaluate(program, check_inputs(program, values), apply), dtype=np.float64)


def run_engine(
    program: Program, values: Mapping[str, Array], engine: ModuleType, dtype: Any = None, requires_grad: bool = True
) -> tuple[Any, dict[str, Any]]:
    """The program run by ``engine`` (refgrad or torch) on tensors made from ``values``
    (float64 unless ``dtype``): returns (output, input tensors by name)."""
    dtype = engine.float64 if dtype is None else dtype
    tensors = {
        name: engine.tensor(np.array(value, dtype=np.float64), dtype=dtype, requires_grad=requires_grad)
        for name, value in check_inputs(program, values).items()
    }

    def apply(op: Op, args: list[Any]) -> Any:
        spec = OPS[op.name]
        kwargs = op.kwargs()
        if spec.operator is not None:
            return spec.operator(*args)
        if spec.variadic:
            return getattr(engine, op.name)(list(args), **kwargs)
        if spec.method_varargs is not None:
            varargs = kwargs.pop(spec.method_varargs)
            assert isinstance(varargs, tuple)
            return getattr(args[0], op.name)(*varargs, *args[1:], **kwargs)
        function = getattr(engine, op.name, None)
        if function is None:  # e.g. torch has expand only as a method
            return getattr(args[0], op.name)(*args[1:], **kwargs)
        return function(*args, **kwargs)

    return evaluate(program, tensors, apply), tensors


_OPERATOR_SPELLING = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}


def to_source(program: Program, module: str = "rg") -> list[str]:
    """Python statements computing the program with ``module`` (``import refgrad as rg``):
    one assignment per operation, ``out`` last."""
    names = list(program.input_names)
    lines = []
    for index, op in program.values():
        args = [names[a.index] if isinstance(a, Ref) else f"({a!r})" if a < 0 else repr(a) for a in op.args]
        if op.name in _OPERATOR_SPELLING:
            text = f"{args[0]} {_OPERATOR_SPELLING[op.name]} {args[1]}"
        elif op.name == "neg":
            text = f"-{args[0]}"
        else:
            spec = OPS[op.name]
            call_args = [f"[{', '.join(args)}]"] if spec.variadic else args
            call_args += [f"{key}={value!r}" for key, value in op.attrs]
            text = f"{module}.{op.name}({', '.join(call_args)})"
        name = "out" if index == len(program.inputs) + len(program.ops) - 1 else f"v{index}"
        names.append(name)
        lines.append(f"{name} = {text}")
    return lines
