"""The safe expression language: user text (``"3*a**3 - b**2"``) to a :class:`Program`.

The text is a small subset of Python's expression syntax, read with :func:`ast.parse` and
translated node by node from a whitelist; nothing of it is ever evaluated, executed or
compiled to code. Everything outside the subset is rejected before anything runs, with one
exception type, :class:`ExpressionError`, whose message names the problem and its position
(``a.sum()`` gives ``"column 3: attribute access (.sum) is not allowed"``; text of several
lines gives ``"line 2, column 3: ..."``; columns count characters from 1).

Grammar (Python syntax and precedence)::

    expression := number | input | "(" expression ")"
                | expression ("+" | "-" | "*" | "/" | "**" | "@") expression
                | ("-" | "+") expression
                | op "(" arguments ")"
    condition  := expression ("<" | "<=" | ">" | ">=") expression   # only where's 1st argument
    arguments  := operands ["," positional attributes] ["," name "=" constant]...
    constant   := [-] number | True | False | None | tuple or list of [-] ints

- Numbers: int and float literals (``2``, ``0.5``, ``1e-3``, ``1_000``, ``0x10``); each becomes
  a Python float in the program. Integers larger than 2**53 (the largest a float64 holds
  exactly) and float literals that overflow to inf are rejected (there is no NaN or inf
  literal; the names ``nan``/``inf`` are ordinary input names). Arithmetic on numbers alone
  (``2**0.5``, ``-1``, ``1/3``) is folded into one float, so every operation of the program
  depends on an input; a constant that divides by zero, overflows or is not real is rejected.
- Inputs: names that are keys of ``shapes``. The program's inputs are the names the
  expression uses, **in order of first appearance** (left to right), not in the order of
  ``shapes``; keys of ``shapes`` the expression does not use are left out. Names are
  NFKC-normalized as Python does.
- Operators: ``+ - * / ** @`` and unary ``-`` become the ops of ``OPS`` whose
  ``OpSpec.operator`` spells them (``add sub mul div pow matmul neg``); unary ``+`` is no op.
  ``@`` needs a tensor on both sides.
- Calls: only the op names of ``oracles.ops.OPS`` (``sin(a)``, ``sum(a * b, dim=1)``,
  ``clamp(x, min=0, max=1)``). The first arguments are the op's operands (one; the ufunc's
  ``nin`` for numpy ufuncs; three for ``where``); further positional arguments and keyword
  arguments are the op's attributes: constants, named and checked against the parameters
  of the op's numpy forward (``inspect.signature``), stored as keyword attributes in the
  order of that signature. Ops called by name need tensors (expressions of the inputs) as
  operands, except: ops spelled by an operator take numbers too (at least one operand must
  be a tensor), a comparison takes a number on one side, and ``where`` takes numbers as its
  second and third arguments. Variadic ops (``cat``, ``stack``) take a list literal of
  tensors as their first argument (``cat([a, b], dim=0)``), the only place a list of
  expressions is allowed.
- Comparisons ``< <= > >=`` (and ``gt lt ge le`` called by name) give booleans: they are
  allowed only as the condition (first argument) of ``where``, which must be one. A number
  on the left is moved to the right (``0 < a`` becomes ``gt(a, 0.0)``). ``==``, ``!=``,
  ``is``, ``in`` and chained comparisons are rejected.
- Rejected, among others: attribute access, subscripts, lambdas, comprehensions, starred
  arguments, strings, bytes, f-strings, the walrus operator, conditional expressions,
  ``and``/``or``/``not``, ``% // << >> & | ^ ~``, calls of anything but ops, unknown
  variables, an expression that is a bare input or uses no input.

Limits: at most :data:`MAX_LENGTH` (10,000) characters; at most :data:`MAX_DEPTH` (100)
levels of nesting, counted as the nodes (operators, calls, comparisons, lists, tuples, names,
numbers) on the longest path from the whole expression down to a leaf: ``sin(a)`` has 2,
``-`` written 99 times before ``a`` has 100, and so does a chain ``a+b+c+...`` of 100 terms
(parentheses are not nodes; Python's parser allows 200 of them). The depth is measured by
walking the syntax tree iteratively, and a text too deep for Python's own parser
(``RecursionError``, ``MemoryError``) is reported as too deeply nested. Integers are at
most 2**53 in magnitude (and Python refuses literals of more than 4300 digits). Warnings of
Python's parser (``SyntaxWarning``...) are silenced, so the answer does not depend on the
warning filters.

:func:`unparse` writes a program back as text. For a program made by :func:`parse` the round
trip ``parse(unparse(p), shapes) == p`` holds. A program from elsewhere is written as one
expression computing the same output, but it parses back to an equal program only if it has
parse's form (each value used once, ops in left-to-right evaluation order, inputs in order of
first use, attributes named and in signature order).
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
import operator
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from oracles.ops import COMPARISONS, OPS, OpSpec
from oracles.program import Arg, AttrValue, Input, Op, Program, Ref

__all__ = ["MAX_DEPTH", "MAX_INTEGER", "MAX_LENGTH", "ExpressionError", "names", "parse", "unparse"]

MAX_LENGTH = 10_000
"""The longest text accepted, in characters."""
MAX_DEPTH = 100
"""The deepest nesting of operators and calls accepted."""
MAX_INTEGER = 2**53
"""The largest integer magnitude accepted (every integer up to it is exactly a float64)."""


class ExpressionError(ValueError):
    """A text that is not an expression of the language; the message names the problem and
    where it is. ``problem``, ``line`` and ``column`` (1-based, in characters) hold the parts."""

    def __init__(self, problem: str, line: int, column: int, multiline: bool = False) -> None:
        where = f"line {line}, column {column}" if multiline else f"column {column}"
        super().__init__(f"{where}: {problem}")
        self.problem = problem
        self.line = line
        self.column = column
        self.multiline = multiline

    def __reduce__(self) -> tuple[type[ExpressionError], tuple[str, int, int, bool]]:
        return type(self), (self.problem, self.line, self.column, self.multiline)


# --- the op vocabulary, read from OPS -------------------------------------------------------

"""Operands of ops whose forward is a plain Python function taking more than one (for numpy
ufuncs the count is ``nin``, for the rest 1)."""
_NUMBER_OPERANDS = {"where": frozenset({1, 2})}
"""Operand positions that take a number, for ops called by name (besides operator ops and
comparisons)."""


@dataclass(frozen=True)
class _Signature:
    operands: int
    """Positional operands (for a variadic op: the list, counted as one)."""
    attrs: tuple[str, ...]
    """Attribute names in the forward's order."""
    positional: tuple[str, ...]
    """Attributes that may be given positionally after the operands, in order."""
    required: frozenset[str]
    any_keyword: bool
    """The forward takes ``**kwargs`` (or has no readable signature): names are not checked."""
    usage: str


def _signature(spec: OpSpec) -> _Signature:
    forward = spec.forward
    nin = getattr(forward, "nin", None)  # a numpy ufunc: nin operands, no attributes
    if isinstance(nin, int):
        names = ["x", "y", "z"][:nin] if nin <= 3 else [f"x{i}" for i in range(nin)]
        return _Signature(nin, (), (), frozenset(), False, f"{spec.name}({', '.join(names)})")
    operands = 1 if spec.variadic else spec.operands
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return _Signature(operands, (), (), frozenset(), True, f"{spec.name}(...)")
    kinds = inspect.Parameter
    if spec.variadic:
        operand_names = ["[x, ...]"]
        rest = [p for p in parameters if p.kind is kinds.KEYWORD_ONLY]
        positional = tuple(p.name for p in rest)
    else:
        operand_names = [p.name for p in parameters[:operands]]
        rest = [p for p in parameters[operands:] if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)]
        positional = tuple(p.name for p in rest if p.kind is kinds.POSITIONAL_OR_KEYWORD)
    any_keyword = any(p.kind is kinds.VAR_KEYWORD for p in parameters)
    required = frozenset(p.name for p in rest if p.default is inspect.Parameter.empty)
    shown = [p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in rest]
    usage = f"{spec.name}({', '.join(operand_names + shown)})"
    return _Signature(operands, tuple(p.name for p in rest), positional, required, any_keyword, usage)


def _by_operator(function: Callable[..., object]) -> str:
    return next(name for name, spec in OPS.items() if spec.operator is function)


_BINARY: dict[type[ast.operator], tuple[str, Callable[[float, float], object]]] = {
    ast.Add: (_by_operator(operator.add), operator.add),
    ast.Sub: (_by_operator(operator.sub), operator.sub),
    ast.Mult: (_by_operator(operator.mul), operator.mul),
    ast.Div: (_by_operator(operator.truediv), operator.truediv),
    ast.Pow: (_by_operator(operator.pow), operator.pow),
    ast.MatMult: (_by_operator(operator.matmul), operator.matmul),
}
_NEG = _by_operator(operator.neg)
_MATMUL = _BINARY[ast.MatMult][0]
_COMPARE: dict[type[ast.cmpop], str] = {ast.Gt: "gt", ast.Lt: "lt", ast.GtE: "ge", ast.LtE: "le"}
_MIRROR = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}
assert set(_COMPARE.values()) == set(COMPARISONS), "the comparison operators must cover oracles.ops.COMPARISONS"
_OPERATOR_OPS = frozenset(name for name, spec in OPS.items() if spec.operator is not None)
_VARIADIC = tuple(name for name, spec in OPS.items() if spec.variadic)

_UNSUPPORTED_OPERATORS: dict[type[ast.AST], str] = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Not: "not",
    ast.Invert: "~",
}

_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Subscript: "subscripts ([...]) are not allowed",
    ast.Starred: "starred arguments (*x) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "the walrus operator (:=) is not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed; use where(condition, x, y)",
    ast.BoolOp: "boolean operators (and, or) are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}


# --- positions ------------------------------------------------------------------------------


class _Source:
    """The text and how to turn the parser's positions into 1-based character columns."""

    def __init__(self, text: str, indent: int) -> None:
        self.text = text
        self.indent = indent
        """Characters stripped from the start of line 1 before parsing."""
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.multiline = len(self.lines) > 1

    def error(self, problem: str, line: int = 1, column: int = 1) -> ExpressionError:
        return ExpressionError(problem, line, max(column, 1), self.multiline)

    def at_index(self, problem: str, index: int) -> ExpressionError:
        """An error at character ``index`` of the text."""
        before = self.text[:index].replace("\r\n", "\n").replace("\r", "\n")
        line = before.count("\n") + 1
        return self.error(problem, line, index - (before.rfind("\n") + 1) + 1)

    def column(self, line: int, byte_offset: int) -> int:
        """The 1-based character column of the parser's UTF-8 ``byte_offset`` on ``line``."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if line == 1:
            text = text[self.indent :]
        chars = len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))
        return chars + 1 + (self.indent if line == 1 else 0)

    def at(self, node: ast.AST, problem: str) -> ExpressionError:
        line = getattr(node, "lineno", 1)
        return self.error(problem, line, self.column(line, getattr(node, "col_offset", 0)))

    def after(self, node: ast.expr, problem: str) -> ExpressionError:
        """An error at the first significant character after ``node`` (an operator, ``[``, ``.``)."""
        line = node.end_lineno or node.lineno
        column = self.column(line, node.end_col_offset or 0)
        while line <= len(self.lines):
            text = self.lines[line - 1]
            while column <= len(text) and text[column - 1] in " \t\f)\\":
                column += 1
            if column <= len(text) and text[column - 1] != "#":
                return self.error(problem, line, column)
            line, column = line + 1, 1
        return self.at(node, problem)

    def segment(self, node: ast.AST, limit: int = 40) -> str:
        stripped = self.text.lstrip(" \t\f")
        text = ast.get_source_segment(stripped, node) or "?"
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


# --- reading the text -------------------------------------------------------------------------


def _read(text: str) -> tuple[ast.expr, _Source]:
    """The checked syntax tree of ``text``: length, characters, syntax and depth."""
    if not isinstance(text, str):
        raise ExpressionError(f"the expression must be text, not {type(text).__name__}", 1, 1)
    source = _Source(text, 0)
    if len(text) > MAX_LENGTH:
        raise source.at_index(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}", MAX_LENGTH)
    for index, char in enumerate(text):
        if char == "\x00":
            raise source.at_index("the null character is not allowed", index)
        if "\ud800" <= char <= "\udfff":
            raise source.at_index(f"invalid character {char!r} (a lone surrogate)", index)
    stripped = text.lstrip(" \t\f")
    source = _Source(text, len(text) - len(stripped))
    if not stripped.strip():
        raise source.error("the expression is empty")
    try:
        with warnings.catch_warnings():  # the same answer whatever the warning filters say
            warnings.simplefilter("ignore")
            tree = ast.parse(stripped + "\n", mode="eval")  # the newline: errors at the end get a position
    except SyntaxError as error:
        raise _syntax_error(error, source) from None
    except (RecursionError, MemoryError):
        raise source.error(f"the expression is nested too deeply to parse (the limit is {MAX_DEPTH} levels)") from None
    except ValueError as error:  # e.g. characters the tokenizer refuses
        raise source.error(f"the text cannot be read: {error}") from None
    _check_depth(tree.body, source)
    return tree.body, source


def _syntax_error(error: SyntaxError, source: _Source) -> ExpressionError:
    message = error.msg or "invalid syntax"
    limit = sys.get_int_max_str_digits()
    if message.startswith("Exceeds the limit") and limit:
        match = re.search(r"\d{%d,}" % (limit + 1), source.text)
        problem = f"integer too large (more than {limit} digits)"
        return source.at_index(problem, match.start()) if match else source.error(problem)
    line = error.lineno or 1
    column = (error.offset or 1) + (source.indent if line == 1 else 0)
    if line > len(source.lines) or (line == len(source.lines) and column > len(source.lines[-1].rstrip())):
        message += " (the expression ends too early)"
    return source.error(f"syntax error: {message}", line, column)


def _check_depth(root: ast.expr, source: _Source) -> None:
    """Rejects nesting deeper than MAX_DEPTH, walking the tree without recursion (depth-first,
    left to right, so the first node reported is the leftmost too deep)."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise source.at(node, f"the expression is nested more than {MAX_DEPTH} levels deep")
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, depth + isinstance(child, ast.expr)) for child in reversed(children))


# --- translation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    name: str


@dataclass(frozen=True)
class _Result:
    position: int


_Value: TypeAlias = "float | _Input | _Result"


@dataclass(frozen=True)
class _PendingOp:
    name: str
    args: tuple[_Value, ...]
    attrs: tuple[tuple[str, AttrValue], ...]


def _is_tensor(value: _Value) -> bool:
    return not isinstance(value, float)


class _Translator:
    def __init__(self, source: _Source, shapes: Mapping[str, Sequence[int]] | None) -> None:
        self.source = source
        self.keys = None if shapes is None else {unicodedata.normalize("NFKC", key): key for key in shapes}
        """The caller's input names by the spelling the parser gives them (NFKC, as Python)."""
        self.names: list[str] = []
        self.ops: list[_PendingOp] = []

    # values

    def expression(self, node: ast.expr) -> _Value:
        """The whole expression: an operation (not a number, bare input or boolean)."""
        value = self.operand(node)
        if isinstance(value, float):
            raise self.source.error(f"the expression uses no input (its value is the constant {value!r})")
        if isinstance(value, _Input):
            raise self.source.error(f"the expression is just the input {value.name!r}; it needs at least one operation")
        return value

    def operand(self, node: ast.expr, condition: bool = False) -> _Value:
        """A value used as an operand: a boolean (comparison) only if ``condition``."""
        value = self.value(node)
        boolean = isinstance(value, _Result) and self.ops[value.position].name in COMPARISONS
        if boolean and not condition:
            raise self.source.at(node, "a comparison gives booleans; it is only allowed as the condition of where(...)")
        if condition and not boolean:
            raise self.source.at(node, "the condition of where must be a comparison (<, <=, >, >=, or gt, lt, ge, le)")
        return value

    def value(self, node: ast.expr) -> _Value:
        if isinstance(node, ast.Constant):
            return float(self.number(node, node.value, "numbers"))
        if isinstance(node, ast.Name):
            return self.variable(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.forbidden(node)

    def forbidden(self, node: ast.expr) -> ExpressionError:
        if isinstance(node, ast.Attribute):
            attribute = self.source.column(node.end_lineno or 1, node.end_col_offset or 0) - len(node.attr)
            return self.source.error(f"attribute access (.{node.attr}) is not allowed", node.end_lineno or 1, attribute)
        if isinstance(node, ast.Subscript):
            return self.source.after(node.value, _FORBIDDEN[ast.Subscript])
        if isinstance(node, ast.List):
            return self.source.at(node, f"a list is only allowed as the first argument of {' or '.join(_VARIADIC)}")
        if isinstance(node, ast.Tuple):
            return self.source.at(node, "a tuple is only allowed as a constant argument, like dim=(0, 1)")
        for kind, problem in _FORBIDDEN.items():
            if isinstance(node, kind):
                return self.source.at(node, problem)
        return self.source.at(node, f"{type(node).__name__} is not allowed")

    def number(self, node: ast.expr, value: object, what: str) -> int | float:
        """A literal's number (int or float), checked; ``what`` says where other constants go."""
        if isinstance(value, bool) or value is None:
            raise self.source.at(node, f"{value} is only allowed as a keyword value, not as an operand")
        if isinstance(value, str):
            raise self.source.at(node, "strings are not allowed")
        if isinstance(value, bytes):
            raise self.source.at(node, "bytes are not allowed")
        if isinstance(value, complex):
            raise self.source.at(node, "complex numbers are not allowed")
        if isinstance(value, int):
            if abs(value) > MAX_INTEGER:
                raise self.source.at(node, "integer too large: the limit is 2**53 (write a float such as 1e20)")
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.source.at(node, "number too large: it overflows to inf")
            return value
        raise self.source.at(node, f"{value!r} is not allowed; {what} only")

    def variable(self, node: ast.Name) -> _Input:
        name = node.id
        if self.keys is not None:
            if name not in self.keys:
                known = ", ".join(self.keys.values()) if self.keys else "none were given"
                hint = f" ({name} is a function: call it as {name}(...))" if name in OPS else ""
                raise self.source.at(node, f"unknown variable {name!r}{hint}; the inputs are: {known}")
            name = self.keys[name]
        if name not in self.names:
            self.names.append(name)
        return _Input(name)

    def emit(self, name: str, args: Sequence[_Value], attrs: Sequence[tuple[str, AttrValue]] = ()) -> _Result:
        self.ops.append(_PendingOp(name, tuple(args), tuple(attrs)))
        return _Result(len(self.ops) - 1)

    def fold(self, node: ast.expr, function: Callable[..., object], *numbers: float) -> float:
        """Arithmetic on numbers alone, in Python floats (what every interpreter would do)."""
        constant = self.source.segment(node)
        try:
            result = function(*numbers)
        except ZeroDivisionError:
            raise self.source.at(node, f"the constant {constant} divides by zero") from None
        except OverflowError:
            raise self.source.at(node, f"the constant {constant} overflows") from None
        if not isinstance(result, float):
            raise self.source.at(node, f"the constant {constant} is not a real number")
        if not math.isfinite(result):
            raise self.source.at(node, f"the constant {constant} overflows")
        return result

    def unary(self, node: ast.UnaryOp) -> _Value:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise self.source.at(node, f"the operator '{_UNSUPPORTED_OPERATORS[type(node.op)]}' is not allowed")
        value = self.operand(node.operand)
        if isinstance(value, float):
            return self.fold(node, operator.neg if isinstance(node.op, ast.USub) else operator.pos, value)
        return self.emit(_NEG, [value]) if isinstance(node.op, ast.USub) else value

    def binary(self, node: ast.BinOp) -> _Value:
        kind = type(node.op)
        if kind not in _BINARY:
            problem = f"the operator '{_UNSUPPORTED_OPERATORS[kind]}' is not allowed (use + - * / ** @)"
            raise self.source.after(node.left, problem)
        name, function = _BINARY[kind]
        left, right = self.operand(node.left), self.operand(node.right)
        if name == _MATMUL and not (_is_tensor(left) and _is_tensor(right)):
            raise self.source.after(node.left, "@ needs a tensor on both sides, not a number")
        if isinstance(left, float) and isinstance(right, float):
            return self.fold(node, function, left, right)
        return self.emit(name, [left, right])

    def compare(self, node: ast.Compare) -> _Value:
        if len(node.ops) > 1:
            raise self.source.at(node, "chained comparisons (a < b < c) are not allowed")
        kind = type(node.ops[0])
        if kind not in _COMPARE:
            problem = f"the comparison '{_UNSUPPORTED_OPERATORS[kind]}' is not allowed (use <, <=, > or >=)"
            raise self.source.after(node.left, problem)
        return self.comparison(node, _COMPARE[kind], self.operand(node.left), self.operand(node.comparators[0]))

    def comparison(self, node: ast.expr, name: str, left: _Value, right: _Value) -> _Value:
        if isinstance(left, float) and isinstance(right, float):
            raise self.source.at(node, "a comparison of two numbers is not allowed")
        if isinstance(left, float):
            name, left, right = _MIRROR[name], right, left
        return self.emit(name, [left, right])

    # calls

    def call(self, node: ast.Call) -> _Value:
        """An op called by name; problems are reported left to right: the function, the
        argument counts, the operands, then the attributes."""
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, (ast.Attribute, ast.Lambda, ast.Subscript)) or type(func) in _FORBIDDEN:
                raise self.forbidden(func)
            raise self.source.at(func, "only the ops of oracles.ops.OPS can be called, not an expression")
        name = func.id
        if name not in OPS:
            if self.keys is not None and name in self.keys:
                raise self.source.at(func, f"{name!r} is an input, not a function")
            close = difflib.get_close_matches(name, list(OPS), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise self.source.at(func, f"unknown function {name!r}{hint}")
        spec, signature = OPS[name], _SIGNATURES[name]
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.source.at(argument, _FORBIDDEN[ast.Starred])
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.source.at(keyword, "**keyword arguments are not allowed")
        operand_nodes, attribute_nodes = node.args[: signature.operands], node.args[signature.operands :]
        count, given = signature.operands, len(node.args)
        if given < count or (given > count and not signature.positional):
            at: ast.AST = func if given < count else node.args[count]
            plural = "s" * (count > 1)
            raise self.source.at(at, f"{name} takes {count} argument{plural} ({given} given); usage: {signature.usage}")
        if len(attribute_nodes) > len(signature.positional):
            most = count + len(signature.positional)
            raise self.source.at(
                attribute_nodes[len(signature.positional)],
                f"{name} takes at most {most} positional arguments ({given} given); usage: {signature.usage}",
            )
        if spec.variadic:
            operands = self.tensor_list(operand_nodes[0], name)
        else:
            conditions = [name == "where" and index == 0 for index in range(len(operand_nodes))]
            operands = [self.operand(child, condition) for child, condition in zip(operand_nodes, conditions)]
            self.check_numbers(node, name, operand_nodes, operands)
        attrs = self.attributes(node, name, signature, attribute_nodes)
        if name in COMPARISONS:
            return self.comparison(node, name, operands[0], operands[1])
        return self.emit(name, operands, attrs)

    def check_numbers(
        self, node: ast.Call, name: str, children: Sequence[ast.expr], operands: Sequence[_Value]
    ) -> None:
        """Numbers only where every interpreter takes them (see the module docstring)."""
        if name in COMPARISONS:
            return  # one side may be a number; two numbers are refused by comparison()
        if name in _OPERATOR_OPS:
            if name == _MATMUL and not all(_is_tensor(value) for value in operands):
                raise self.source.at(node, f"{name} needs tensors, not numbers")
            if not any(_is_tensor(value) for value in operands):
                raise self.source.at(node, f"{name} needs a tensor (an expression of the inputs) among its arguments")
            return
        allowed = _NUMBER_OPERANDS.get(name, frozenset())
        for index, (child, value) in enumerate(zip(children, operands)):
            if isinstance(value, float) and index not in allowed:
                raise self.source.at(child, f"{name} needs a tensor (an expression of the inputs) here, not a number")

    def attributes(
        self, node: ast.Call, name: str, signature: _Signature, positional: Sequence[ast.expr]
    ) -> list[tuple[str, AttrValue]]:
        """The call's attributes, checked, in the order of the forward's signature."""
        attrs: dict[str, AttrValue] = {}
        for attr_name, attr_node in zip(signature.positional, positional):
            attrs[attr_name] = self.constant(attr_node, attr_name)
        for keyword in node.keywords:
            assert keyword.arg is not None
            if keyword.arg in attrs:
                raise self.source.at(keyword, f"{name} got two values for {keyword.arg!r}")
            if keyword.arg not in signature.attrs and not signature.any_keyword:
                if not signature.attrs:
                    problem = f"{name} takes no keyword arguments; usage: {signature.usage}"
                else:
                    problem = f"{name} has no keyword {keyword.arg!r}; usage: {signature.usage}"
                raise self.source.at(keyword, problem)
            attrs[keyword.arg] = self.constant(keyword.value, keyword.arg)
        missing = [attr for attr in signature.attrs if attr in signature.required and attr not in attrs]
        if missing:
            raise self.source.at(node.func, f"{name} is missing the argument {missing[0]!r}; usage: {signature.usage}")
        ordered = [(attr, attrs[attr]) for attr in signature.attrs if attr in attrs]
        return ordered + [(attr, value) for attr, value in attrs.items() if attr not in signature.attrs]

    def tensor_list(self, node: ast.expr, name: str) -> list[_Value]:
        if not isinstance(node, ast.List):
            raise self.source.at(node, f"{name} takes a list of tensors first: {name}([a, b], dim=0)")
        if not node.elts:
            raise self.source.at(node, f"{name} needs at least one tensor in its list")
        values: list[_Value] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                raise self.source.at(element, _FORBIDDEN[ast.Starred])
            value = self.operand(element)
            if isinstance(value, float):
                raise self.source.at(element, f"{name} takes tensors (expressions of the inputs), not numbers")
            values.append(value)
        return values

    def constant(self, node: ast.expr, name: str) -> AttrValue:
        """An attribute's value: a signed number, True, False, None, or a tuple/list of ints."""
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool)):
            value: AttrValue = node.value
            return value
        if isinstance(node, (ast.Tuple, ast.List)):
            items = []
            for element in node.elts:
                item = self.signed(element, name)
                if not isinstance(item, int):
                    raise self.source.at(element, f"the tuple given for {name!r} may hold only integers")
                items.append(item)
            return tuple(items)
        return self.signed(node, name)

    def signed(self, node: ast.expr, name: str) -> int | float:
        sign = 1
        inner = node
        while isinstance(inner, ast.UnaryOp) and isinstance(inner.op, (ast.USub, ast.UAdd)):
            sign = -sign if isinstance(inner.op, ast.USub) else sign
            inner = inner.operand
        if isinstance(inner, ast.Constant) and not isinstance(inner.value, bool) and inner.value is not None:
            value = self.number(inner, inner.value, "constants")
            return -value if sign < 0 else value
        if isinstance(inner, ast.Constant) and isinstance(inner.value, (str, bytes)):
            kind = "strings" if isinstance(inner.value, str) else "bytes"
            raise self.source.at(inner, f"{kind} are not allowed")
        raise self.source.at(
            node, f"the value of {name!r} must be a constant: a number, True, False, None, or a tuple of integers"
        )

    # the program

    def program(self, shapes: Mapping[str, Sequence[int]], text: str) -> Program:
        inputs = tuple(Input(name, tuple(int(size) for size in shapes[name])) for name in self.names)
        index = {name: position for position, name in enumerate(self.names)}

        def ref(value: _Value) -> Arg:
            if isinstance(value, _Input):
                return Ref(index[value.name])
            if isinstance(value, _Result):
                return Ref(len(inputs) + value.position)
            return value

        ops = tuple(Op(op.name, tuple(ref(arg) for arg in op.args), op.attrs) for op in self.ops)
        return Program(inputs, ops, source=text)


_SIGNATURES = {name: _signature(spec) for name, spec in OPS.items()}


def parse(text: str, shapes: Mapping[str, tuple[int, ...]]) -> Program:
    """The program of the expression ``text`` over inputs of the given shapes (see the module
    docstring for the language and the limits); raises :class:`ExpressionError` for anything
    else, before anything runs. The program's inputs are the used names in order of first
    appearance. Shapes are not checked against the ops here (an interpreter's first run does
    that)."""
    body, source = _read(text)
    translator = _translate(body, source, shapes)
    return translator.program(shapes, text)


def names(text: str) -> list[str]:
    """The input names ``text`` uses, in order of first appearance (what :func:`parse` will
    make its inputs); raises :class:`ExpressionError` exactly as :func:`parse` does, except
    that any name is accepted as an input."""
    body, source = _read(text)
    return _translate(body, source, None).names


def _translate(body: ast.expr, source: _Source, shapes: Mapping[str, Sequence[int]] | None) -> _Translator:
    """The translation recurses (about 3 frames per level, so at most ~300 after the depth
    check); a caller already deep in its stack gets the same error as for too deep text."""
    translator = _Translator(source, shapes)
    try:
        translator.expression(body)
    except RecursionError:
        raise source.error(f"the expression is nested too deeply to parse (the limit is {MAX_DEPTH} levels)") from None
    return translator


# --- writing programs back ----------------------------------------------------------------------

_ATOM, _POWER, _UNARY, _PRODUCT, _SUM, _COMPARISON = 16, 14, 13, 12, 11, 6
_SPELLING: dict[str, tuple[str, int]] = {
    _BINARY[ast.Add][0]: ("+", _SUM),
    _BINARY[ast.Sub][0]: ("-", _SUM),
    _BINARY[ast.Mult][0]: ("*", _PRODUCT),
    _BINARY[ast.Div][0]: ("/", _PRODUCT),
    _BINARY[ast.MatMult][0]: ("@", _PRODUCT),
    _BINARY[ast.Pow][0]: ("**", _POWER),
    "gt": (">", _COMPARISON),
    "lt": ("<", _COMPARISON),
    "ge": (">=", _COMPARISON),
    "le": ("<=", _COMPARISON),
}


def _number_text(value: float) -> tuple[str, int]:
    if not math.isfinite(value):
        raise ValueError(f"unparse: the number {value!r} has no expression syntax")
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0.0", _UNARY
    text = str(int(value)) if value.is_integer() and abs(value) <= MAX_INTEGER else repr(value)
    return text, _UNARY if value < 0 else _ATOM


def _attr_text(value: AttrValue) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"unparse: the attribute value {value!r} has no expression syntax")
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return repr(tuple(value))
    raise ValueError(f"unparse: the attribute value {value!r} has no expression syntax")


def unparse(program: Program, max_length: int | None = MAX_LENGTH) -> str:
    """An expression computing ``program``'s output: ``parse(unparse(p), shapes) == p`` for
    every program ``p`` that :func:`parse` made. A value used more than once is written out
    at each use. Raises ValueError for what the language cannot write (a string attribute, a
    non-finite number, an op not in OPS) and, when ``max_length`` is not None, as soon as the
    text grows longer than it (a program reusing values can grow exponentially when written
    out; with None there is no bound)."""
    count = len(program.inputs) + len(program.ops)
    live = [False] * count
    live[-1] = True
    for index, op in reversed(list(program.values())):  # which values the output uses
        if live[index]:
            for arg in op.args:
                if isinstance(arg, Ref):
                    live[arg.index] = True
    texts: list[tuple[str, int]] = [(name, _ATOM) for name in program.input_names]
    for index, op in program.values():
        if not live[index]:
            texts.append(("", _ATOM))
            continue
        text = _op_text(op, [texts[arg.index] if isinstance(arg, Ref) else _number_text(float(arg)) for arg in op.args])
        if max_length is not None and len(text[0]) > max_length:
            raise ValueError(f"unparse: the expression would be longer than {max_length} characters")
        texts.append(text)
    return texts[-1][0]


def _op_text(op: Op, args: list[tuple[str, int]]) -> tuple[str, int]:
    def wrap(arg: tuple[str, int], least: int) -> str:
        return arg[0] if arg[1] >= least else f"({arg[0]})"

    if op.name not in OPS:
        raise ValueError(f"unparse: {op.name!r} is not an op of oracles.ops.OPS")
    if not op.attrs and op.name in _SPELLING and len(args) == 2:
        symbol, precedence = _SPELLING[op.name]
        if precedence == _POWER:
            return f"{wrap(args[0], _ATOM)} ** {wrap(args[1], _UNARY)}", _POWER
        left = precedence + 1 if precedence == _COMPARISON else precedence
        return f"{wrap(args[0], left)} {symbol} {wrap(args[1], precedence + 1)}", precedence
    if op.name == _NEG and not op.attrs and len(args) == 1 and isinstance(op.args[0], Ref):
        return f"-{wrap(args[0], _UNARY)}", _UNARY  # -number would be read as a number: neg(...) below
    parts = [arg[0] for arg in args]
    if OPS[op.name].variadic:
        parts = [f"[{', '.join(parts)}]"]
    parts += [f"{key}={_attr_text(value)}" for key, value in op.attrs]
    return f"{op.name}({', '.join(parts)})", _ATOM
