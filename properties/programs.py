"""Random programs with Python control flow decided by the data.

A ``Script`` is a small structured program over named tensors: assignments of ops to
variables, ``if`` on a data value, loops whose trip count comes from the data (``for`` over
thresholds, so each extra trip is itself a decision), ``while`` loops with a bound, nested.
It runs on any engine with PyTorch's API (``run``), prints as a standalone Python function
(``source``), and reaches the oracles through ``oracles.trace`` (the path it took, with its
decisions kept as comparisons, so the numeric oracle knows when a step would change it).

Values flow through the control flow: a statement inside a branch or a loop body may
reassign a variable of the enclosing scope (``v1 = rg.sin(v1)`` in a loop), so the path
taken changes what the output computes; the output adds up every top-level variable
(broadcasting: reductions keep their dimension), so no statement is dead unless a branch
skips it.

Every op keeps values finite and inside its domain: inputs are drawn from [-2, 2], values
are squashed (tanh, sigmoid, sin, cos, softmax) before anything that grows, and no op
divides or takes a logarithm of an unconstrained value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeAlias

from hypothesis import strategies as st

__all__ = ["BINARY", "REDUCE_KEEP", "SHAPE", "UNARY", "Assign", "If", "Loop", "Script", "Statement", "cases", "features", "inputs", "run", "scripts", "values"]

UNARY = ("sin", "cos", "tanh", "sigmoid", "square", "neg", "abs", "relu")
BINARY = ("add", "sub", "mul", "maximum", "minimum")
REDUCE_KEEP = ("sum", "mean", "amax", "logsumexp")
SHAPE = (2, 3)

COMPOUND: dict[str, tuple[str, Callable[..., Any]]] = {
    # name: (source, with {m} the module and {0} {1} the arguments; the same computation)
    "gram": ("{m}.matmul({0}, {m}.matmul({m}.t({1}), {1}))", lambda m, x, y: m.matmul(x, m.matmul(m.t(y), y))),
    "scramble": ("{m}.reshape({m}.t({0}), (2, 3))", lambda m, x: m.reshape(m.t(x), (2, 3))),
    "stack_sum": ("{m}.sum({m}.stack([{0}, {1}]), 0)", lambda m, x, y: m.sum(m.stack([x, y]), 0)),
    "choose": ("{m}.where({0} > {1}, {0}, {1})", lambda m, x, y: m.where(x > y, x, y)),
    "flip": ("{m}.flip({0}, (1,))", lambda m, x: m.flip(x, (1,))),
    "rotate": (  # indexing: the columns rotated left by one
        "{m}.cat([{0}.narrow(1, 1, 2), {0}.select(1, 0).unsqueeze(1)], 1)",
        lambda m, x: m.cat([x.narrow(1, 1, 2), x.select(1, 0).unsqueeze(1)], 1),
    ),
}
"""Ops made of several (shape ops, indexing, matmul, stack, where): (2, 3) values in, (2, 3) out."""


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
    outputs: tuple[str, ...]
    """Variables added up (broadcasting) into the output, which the program returns summed."""
    shapes: tuple[tuple[int, ...], ...] = (SHAPE, SHAPE)
    """The shape of each input: ``a`` is (2, 3), ``b`` any shape that broadcasts with it."""

    def reproducer(self, values: dict[str, Any], expected: dict[str, Any] | None, order: int = 1) -> str:
        """A standalone script: the program, its inputs, and an assertion that refgrad's
        gradients (``order=2``: second derivatives along ones) equal ``expected`` (the
        oracles' values), to run on its own; with ``expected`` None, just the run (for a
        program that raises)."""
        lines = ["import numpy as np", "import refgrad as rg", "", "", self.source(), ""]
        for name in self.inputs:
            lines.append(f"{name} = rg.tensor({values[name]!r}, dtype=rg.float64, requires_grad=True)")
        inputs = ", ".join(self.inputs)
        if order == 1:
            lines.append(f"program({inputs}).backward()")
        else:
            lines.append(f"grads = rg.autograd.grad(program({inputs}), ({inputs},), create_graph=True, allow_unused=True)")
            lines.append("along_ones = [g.sum() for g in grads if g is not None and g.requires_grad]")
            lines.append("if along_ones:")
            lines.append("    sum(along_ones).backward()")
        for name, want in (expected or {}).items():  # an unused input has no .grad: its gradient is 0
            grad = f"np.zeros({name}.shape) if {name}.grad is None else {name}.grad.numpy()"
            lines.append(f"np.testing.assert_allclose({grad}, {want!r}, rtol=1e-9, atol=1e-12)")
        return "\n".join(lines) + "\n"

    def source(self, module: str = "rg") -> str:
        """A standalone Python function computing the script (a reproducer)."""
        lines = [f"def program({', '.join(self.inputs)}):"]
        lines += _source_block(self.body, 1, module)
        total = " + ".join(self.outputs)
        lines.append(f"    return {total if len(self.outputs) == 1 else f'({total})'}.sum()")
        return "\n".join(lines)


def _call(statement: Assign, module: str) -> str:
    if statement.op in COMPOUND:
        return COMPOUND[statement.op][0].format(*statement.args, m=module)
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


Decision = tuple[bool, float]
"""A branch decision as a run made it: its outcome, and the distance of the mean it compared
from the threshold (``mean - threshold``)."""


def run(script: Script, engine: ModuleType, tensors: dict[str, Any], total: bool = True, decisions: list[Decision] | None = None) -> Any:
    """The script's output, computed by ``engine`` (the same code the source shows): summed to
    a scalar as the source returns it, or (``total=False``) the sum of the output variables.
    ``decisions``, when given, receives every decision in the order made."""
    scope = dict(tensors)
    _run_block(script.body, engine, scope, [] if decisions is None else decisions)
    output = scope[script.outputs[0]]
    for name in script.outputs[1:]:
        output = output + scope[name]
    return output.sum() if total else output


def _run_block(body: Sequence[Statement], engine: ModuleType, scope: dict[str, Any], decisions: list[Decision]) -> None:
    def decide(variable: str, threshold: float, above: bool) -> bool:
        """Whether the mean of ``variable`` is above (else: below) ``threshold``, as the engine compares."""
        mean = scope[variable].mean()
        decisions.append((bool(mean > threshold if above else mean < threshold), mean.item() - threshold))
        return decisions[-1][0]

    for statement in body:
        if isinstance(statement, Assign):
            args = [scope[a] for a in statement.args]
            if statement.op in COMPOUND:
                scope[statement.target] = COMPOUND[statement.op][1](engine, *args)
                continue
            function = getattr(engine, statement.op)
            if statement.op in REDUCE_KEEP:
                scope[statement.target] = function(*args, statement.dim, keepdim=True)
            elif statement.op in ("softmax", "log_softmax"):
                scope[statement.target] = function(*args, statement.dim)
            else:
                scope[statement.target] = function(*args)
        elif isinstance(statement, If):
            branch = statement.then if decide(statement.variable, statement.threshold, above=True) else statement.otherwise
            _run_block(branch, engine, scope, decisions)
        elif statement.bound is None:
            for threshold in statement.thresholds:
                if decide(statement.variable, threshold, above=True):
                    _run_block(statement.body, engine, scope, decisions)
        else:
            for _ in range(statement.bound):
                if not decide(statement.variable, statement.thresholds[0], above=False):
                    break
                _run_block(statement.body, engine, scope, decisions)


@st.composite
def scripts(draw: st.DrawFn, max_statements: int = 6, max_depth: int = 2) -> Script:
    """Random scripts over inputs a of shape (2, 3) and b of a shape that broadcasts with it:
    fan-out (any earlier variable may be reused), broadcasting (of b, and reductions keep
    their dim), nested control flow whose blocks may reassign the variables around them
    (keeping their shapes, so every path leaves them usable), and an output adding up every
    top-level variable."""
    b_shape = draw(st.sampled_from([SHAPE, SHAPE, (1, 3), (2, 1), (1, 1)]))
    shapes: dict[str, tuple[int, ...]] = {"a": SHAPE, "b": b_shape}
    counter = [0]

    def target(depth: int, shape: tuple[int, ...]) -> str:
        """A fresh variable, or (inside a block) one of the enclosing scope's of that shape."""
        outer = [n for n, s in shapes.items() if n.startswith("v") and s == shape]
        if depth > 0 and outer and draw(st.booleans()):
            return draw(st.sampled_from(outer))
        counter[0] += 1
        shapes[f"v{counter[0]}"] = shape
        return f"v{counter[0]}"

    def assign(depth: int) -> Assign:
        family = draw(st.sampled_from(["unary", "binary", "reduce", "softmax", "compound"]))
        operand = st.sampled_from(list(shapes))
        dim = None
        args: tuple[str, ...]
        if family == "unary":
            op, args = draw(st.sampled_from(UNARY)), (draw(operand),)
        elif family == "binary":
            op, args = draw(st.sampled_from(BINARY)), (draw(operand), draw(operand))
        elif family == "compound":  # on full-shape values only
            op = draw(st.sampled_from(sorted(COMPOUND)))
            full = st.sampled_from([n for n, s in shapes.items() if s == SHAPE])
            args = tuple(draw(full) for _ in range(2 if "{1}" in COMPOUND[op][0] else 1))
        else:
            op = draw(st.sampled_from(REDUCE_KEEP if family == "reduce" else ("softmax", "log_softmax")))
            args, dim = (draw(operand),), draw(st.sampled_from([0, 1]))
        shape = tuple(max(sizes) for sizes in zip(*(shapes[a] for a in args)))
        if op in REDUCE_KEEP:
            shape = tuple(1 if d == dim else n for d, n in enumerate(shape))
        return Assign(target(depth, shape), op, args, dim)

    def statement(depth: int) -> Statement:
        kind = draw(st.sampled_from(["assign"] * 4 + (["if", "for", "while"] if depth < max_depth else [])))
        if kind == "assign":
            return assign(depth)
        variable = draw(st.sampled_from(list(shapes)))
        threshold = draw(st.floats(-1.0, 1.0).map(lambda t: round(t, 3)))
        if kind == "if":
            return If(variable, threshold, block(depth + 1), block(depth + 1))
        if kind == "for":
            thresholds = tuple(sorted(draw(st.lists(st.floats(-1.5, 1.5).map(lambda t: round(t, 3)), min_size=1, max_size=3))))
            return Loop(variable, thresholds, block(depth + 1))
        return Loop(variable, (threshold,), block(depth + 1), bound=draw(st.integers(1, 3)))

    def block(depth: int) -> tuple[Statement, ...]:
        # Fresh variables made in a block are not visible after it; reassigned ones are.
        saved = dict(shapes)
        body = tuple(statement(depth) for _ in range(draw(st.integers(1, 3))))
        shapes.clear()
        shapes.update(saved)
        return body

    body = tuple(statement(0) for _ in range(draw(st.integers(1, max_statements))))
    outputs = tuple(n for n in shapes if n.startswith("v")) or ("a",)
    return Script(("a", "b"), body, outputs, (SHAPE, b_shape))


def values(shape: tuple[int, int]) -> st.SearchStrategy[list[list[float]]]:
    """Values for one input of a 2-D ``shape``, in [-2, 2]."""
    row = st.lists(st.floats(-2.0, 2.0).map(lambda v: round(v, 4)), min_size=shape[1], max_size=shape[1])
    return st.lists(row, min_size=shape[0], max_size=shape[0])


inputs = values(SHAPE)
"""Values for one input of shape SHAPE."""


@st.composite
def cases(draw: st.DrawFn, max_statements: int = 6) -> tuple[Script, dict[str, list[list[float]]]]:
    """A random script and values for its inputs, of their shapes."""
    script = draw(scripts(max_statements=max_statements))
    return script, {name: draw(values((shape[0], shape[1]))) for name, shape in zip(script.inputs, script.shapes)}
