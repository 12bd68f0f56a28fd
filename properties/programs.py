"""Random programs with Python control flow decided by the data.

A ``Script`` is a small structured program over named tensors: assignments of ops to
variables, ``if`` on a data value, loops whose trip count comes from the data (``for`` over
thresholds, so each extra trip is itself a decision), ``while`` loops with a bound, nested.
It runs on any engine with PyTorch's API (``run``), prints as a standalone Python function
(``source``), and reaches the oracles through ``oracles.trace`` (the path it took, with its
decisions kept as comparisons, so the numeric oracle knows when a step would change it).

Every op keeps values finite and inside its domain: inputs are drawn from [-2, 2], values
are squashed (tanh, sigmoid, sin, cos, softmax) before anything that grows, and no op
divides or takes a logarithm of an unconstrained value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeAlias

from hypothesis import strategies as st

__all__ = ["BINARY", "REDUCE_KEEP", "SHAPE", "UNARY", "Assign", "If", "Loop", "Script", "Statement", "features", "inputs", "run", "scripts"]

UNARY = ("sin", "cos", "tanh", "sigmoid", "square", "neg", "abs", "relu")
BINARY = ("add", "sub", "mul", "maximum", "minimum")
REDUCE_KEEP = ("sum", "mean", "amax", "logsumexp")
SHAPE = (2, 3)


@dataclass(frozen=True)
class Assign:
    target: str
    op: str
    args: tuple[str, ...]
    dim: int | None = None  # for reductions (keepdim=True) and softmax


@dataclass(frozen=True)
class If:
    variable: str
    threshold: float
    then: tuple[Statement, ...]
    otherwise: tuple[Statement, ...]


@dataclass(frozen=True)
class Loop:
    """``for t in thresholds: if variable.mean() > t: body`` — the trip count is the number of
    thresholds the data exceeds; or, with ``bound``, ``while variable.mean() < limit`` for at
    most ``bound`` trips."""

    variable: str
    thresholds: tuple[float, ...]
    body: tuple[Statement, ...]
    bound: int | None = None


Statement: TypeAlias = "Assign | If | Loop"


@dataclass(frozen=True)
class Script:
    inputs: tuple[str, ...]
    body: tuple[Statement, ...]
    output: str

    def reproducer(self, values: dict[str, Any], expected: dict[str, Any]) -> str:
        """A standalone script: the program, its inputs, and an assertion that refgrad's
        gradients equal ``expected`` (the oracles' values), to run on its own."""
        lines = ["import numpy as np", "import refgrad as rg", "", "", self.source(), ""]
        for name in self.inputs:
            lines.append(f"{name} = rg.tensor({values[name]!r}, dtype=rg.float64, requires_grad=True)")
        lines.append(f"program({', '.join(self.inputs)}).backward()")
        for name in self.inputs:  # an input the program does not use has no .grad: its gradient is 0
            grad = f"np.zeros({name}.shape) if {name}.grad is None else {name}.grad.numpy()"
            lines.append(f"np.testing.assert_allclose({grad}, {expected[name]!r}, rtol=1e-9, atol=1e-12)")
        return "\n".join(lines) + "\n"

    def source(self, module: str = "rg") -> str:
        """A standalone Python function computing the script (a reproducer)."""
        lines = [f"def program({', '.join(self.inputs)}):"]
        lines += _source_block(self.body, 1, module)
        lines.append(f"    return {self.output}.sum()")
        return "\n".join(lines)


def _call(statement: Assign, module: str) -> str:
    args = ", ".join(statement.args)
    if statement.op in REDUCE_KEEP:
        return f"{module}.{statement.op}({args}, {statement.dim}, keepdim=True)"
    if statement.op in ("softmax", "log_softmax"):
        return f"{module}.{statement.op}({args}, {statement.dim})"
    return f"{module}.{statement.op}({args})"


def _source_block(body: Sequence[Statement], depth: int, module: str) -> list[str]:
    pad = "    " * depth
    lines: list[str] = []
    for statement in body:
        if isinstance(statement, Assign):
            lines.append(f"{pad}{statement.target} = {_call(statement, module)}")
        elif isinstance(statement, If):
            lines.append(f"{pad}if {statement.variable}.mean() > {statement.threshold!r}:")
            lines += _source_block(statement.then, depth + 1, module) or [f"{pad}    pass"]
            lines.append(f"{pad}else:")
            lines += _source_block(statement.otherwise, depth + 1, module) or [f"{pad}    pass"]
        elif statement.bound is None:
            lines.append(f"{pad}for threshold in {list(statement.thresholds)!r}:")
            lines.append(f"{pad}    if {statement.variable}.mean() > threshold:")
            lines += _source_block(statement.body, depth + 2, module) or [f"{pad}        pass"]
        else:
            lines.append(f"{pad}for _ in range({statement.bound}):")
            lines.append(f"{pad}    if not {statement.variable}.mean() < {statement.thresholds[0]!r}:")
            lines.append(f"{pad}        break")
            lines += _source_block(statement.body, depth + 1, module) or [f"{pad}    pass"]
    return lines


def features(script: Script) -> set[str]:
    """What a script exercises (its ops, control-flow kinds and nesting depth), for the
    distribution report (``pytest properties --hypothesis-show-statistics``)."""
    found: set[str] = set()

    def visit(body: Sequence[Statement], depth: int) -> None:
        found.add(f"depth {depth}")
        for statement in body:
            if isinstance(statement, Assign):
                found.add(f"op {statement.op}")
            elif isinstance(statement, If):
                found.add("if")
                visit(statement.then, depth + 1)
                visit(statement.otherwise, depth + 1)
            else:
                found.add("for" if statement.bound is None else "while")
                visit(statement.body, depth + 1)

    visit(script.body, 0)
    return found


def run(script: Script, engine: ModuleType, tensors: dict[str, Any], total: bool = True) -> Any:
    """The script's output, computed by ``engine`` (the same code the source shows): summed to
    a scalar as the source returns it, or (``total=False``) the output variable itself."""
    scope = dict(tensors)
    _run_block(script.body, engine, scope)
    return scope[script.output].sum() if total else scope[script.output]


def _run_block(body: Sequence[Statement], engine: ModuleType, scope: dict[str, Any]) -> None:
    for statement in body:
        if isinstance(statement, Assign):
            function = getattr(engine, statement.op)
            args = [scope[a] for a in statement.args]
            if statement.op in REDUCE_KEEP:
                scope[statement.target] = function(*args, statement.dim, keepdim=True)
            elif statement.op in ("softmax", "log_softmax"):
                scope[statement.target] = function(*args, statement.dim)
            else:
                scope[statement.target] = function(*args)
        elif isinstance(statement, If):
            branch = statement.then if scope[statement.variable].mean() > statement.threshold else statement.otherwise
            _run_block(branch, engine, scope)
        elif statement.bound is None:
            for threshold in statement.thresholds:
                if scope[statement.variable].mean() > threshold:
                    _run_block(statement.body, engine, scope)
        else:
            for _ in range(statement.bound):
                if not scope[statement.variable].mean() < statement.thresholds[0]:
                    break
                _run_block(statement.body, engine, scope)


@st.composite
def scripts(draw: st.DrawFn, max_statements: int = 6, max_depth: int = 2) -> Script:
    """Random scripts over inputs a and b of shape (2, 3): fan-out (any earlier variable may be
    reused), broadcasting (reductions keep their dim), nested control flow."""
    names = ["a", "b"]
    counter = [0]

    def fresh() -> str:
        counter[0] += 1
        return f"v{counter[0]}"

    def statement(depth: int) -> Statement:
        kind = draw(st.sampled_from(["assign"] * 4 + (["if", "for", "while"] if depth < max_depth else [])))
        if kind == "assign":
            family = draw(st.sampled_from(["unary", "binary", "reduce", "softmax"]))
            target = fresh()
            if family == "unary":
                result = Assign(target, draw(st.sampled_from(UNARY)), (draw(st.sampled_from(names)),))
            elif family == "binary":
                left, right = draw(st.sampled_from(names)), draw(st.sampled_from(names))
                result = Assign(target, draw(st.sampled_from(BINARY)), (left, right))
            elif family == "reduce":
                result = Assign(target, draw(st.sampled_from(REDUCE_KEEP)), (draw(st.sampled_from(names)),), draw(st.sampled_from([0, 1])))
            else:
                result = Assign(target, draw(st.sampled_from(["softmax", "log_softmax"])), (draw(st.sampled_from(names)),), draw(st.sampled_from([0, 1])))
            names.append(target)
            return result
        variable = draw(st.sampled_from(names))
        threshold = draw(st.floats(-1.0, 1.0).map(lambda t: round(t, 3)))
        if kind == "if":
            return If(variable, threshold, block(depth + 1), block(depth + 1))
        if kind == "for":
            thresholds = tuple(sorted(draw(st.lists(st.floats(-1.5, 1.5).map(lambda t: round(t, 3)), min_size=1, max_size=3))))
            return Loop(variable, thresholds, block(depth + 1))
        return Loop(variable, (threshold,), block(depth + 1), bound=draw(st.integers(1, 3)))

    def block(depth: int) -> tuple[Statement, ...]:
        # A nested block reassigns existing names only through fresh variables; names made in
        # a branch are not visible after it (the scope of the caller is what the output uses).
        saved = list(names)
        body = tuple(statement(depth) for _ in range(draw(st.integers(1, 3))))
        names[:] = saved
        return body

    body = tuple(statement(0) for _ in range(draw(st.integers(1, max_statements))))
    output = draw(st.sampled_from(names))
    return Script(("a", "b"), body, output)


inputs: st.SearchStrategy[list[list[float]]] = st.lists(
    st.lists(st.floats(-2.0, 2.0).map(lambda v: round(v, 4)), min_size=SHAPE[1], max_size=SHAPE[1]),
    min_size=SHAPE[0],
    max_size=SHAPE[0],
)
"""Values for one input of shape SHAPE."""
