"""Programs: what the engine and the oracles all run.

A program is straight-line code over named input arrays: a list of operations, each
applied to earlier values (inputs, earlier operations' results) and Python numbers, with
keyword attributes (``dim=1``, ``keepdim=True``). The last operation's result is the output.
It is plain data: no derivative rule is in it, so every interpreter (the engine, numpy for
finite differences, SymPy, PyTorch, Python source) gives it its own meaning.

Control flow is resolved before a program exists: a traced run of Python code with ``if``
and loops becomes the straight-line program of the path it took (the branch margins are
recorded beside it, so the numeric oracle can tell when a step would change the path).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["Arg", "AttrValue", "Input", "Op", "Program", "Ref", "check_inputs", "evaluate"]

Array = npt.NDArray[Any]
AttrValue: TypeAlias = "int | float | bool | str | None | tuple[int, ...] | tuple[float, ...]"


@dataclass(frozen=True)
class Ref:
    """A reference to an earlier value: inputs are numbered first, then operations' results."""

    index: int


Arg: TypeAlias = "Ref | float"


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Op:
    """``name(*args, **attrs)``: ``name`` is an op of ``oracles.ops.OPS``."""

    name: str
    args: tuple[Arg, ...]
    attrs: tuple[tuple[str, AttrValue], ...] = ()

    def kwargs(self) -> dict[str, AttrValue]:
        return dict(self.attrs)


@dataclass(frozen=True)
class Program:
    inputs: tuple[Input, ...]
    ops: tuple[Op, ...]
    source: str = field(default="", compare=False)
    """The text it was made from (an expression), for reports."""

    def __post_init__(self) -> None:
        for position, op in enumerate(self.ops):
            for arg in op.args:
                if isinstance(arg, Ref) and not 0 <= arg.index < len(self.inputs) + position:
                    raise ValueError(f"operation {position} ({op.name}) refers to value {arg.index}, not defined before it")
        if not self.ops:
            raise ValueError("a program needs at least one operation")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def values(self) -> Iterator[tuple[int, Op]]:
        """Each operation with the index of the value it defines."""
        for position, op in enumerate(self.ops):
            yield len(self.inputs) + position, op

    def op_names(self) -> set[str]:
        return {op.name for op in self.ops}


def evaluate(program: Program, inputs: Mapping[str, Any], apply: Any) -> Any:
    """Run ``program`` with ``apply(op, args)`` giving each operation's meaning (the one loop
    that every interpreter shares); returns the output value."""
    values: list[Any] = [inputs[i.name] for i in program.inputs]
    for _, op in program.values():
        args = [values[a.index] if isinstance(a, Ref) else a for a in op.args]
        values.append(apply(op, args))
    return values[-1]


def check_inputs(program: Program, values: Mapping[str, Array]) -> dict[str, Array]:
    """The input values as float64 arrays of the declared shapes (a clear error otherwise)."""
    checked = {}
    for spec in program.inputs:
        if spec.name not in values:
            raise ValueError(f"no value given for input {spec.name!r}")
        array = np.asarray(values[spec.name], dtype=np.float64)
        if array.shape != spec.shape:
            raise ValueError(f"input {spec.name!r} has shape {list(array.shape)}, the program expects {list(spec.shape)}")
        checked[spec.name] = array
    return checked
