"""The ``refgrad`` command: the engine next to the oracles, from a shell.

``refgrad compare EXPR --at a=2,3 --at b=6,4`` differentiates an expression (or a Python
function, ``file.py:function``) with the engine, the symbolic and the numeric oracle and
prints them side by side with a verdict; ``fuzz`` runs a campaign of random programs;
``graph`` prints the computation graph (DOT text, or an SVG picture drawn without Graphviz when
``dot`` is not installed); ``gradcheck`` runs gradcheck/gradgradcheck on a
function. Text by default, ``--json`` for machines. Exit codes: 0 all agree (or success), 1
a mismatch was found, 2 bad usage or input (one line on stderr, never a traceback).

User text is never evaluated: expressions go through ``oracles.expression`` (a whitelist
parser) and values through ``json``/``float``. ``file.py:function`` imports the user's own
file, as ``python file.py`` would.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, NoReturn

import numpy as np
import numpy.typing as npt

from oracles import conformance
from oracles.conformance import UsageError

if TYPE_CHECKING:
    from oracles.program import Program

FloatArray = npt.NDArray[np.float64]
JSON_SCHEMA_VERSION = 1
"""Bumped when a field of the ``--json`` output changes meaning or disappears."""
MAX_ELEMENTS = 10_000
"""The most elements one value may have: the numeric oracle differentiates element by element,
and the report has a row per element."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- input values

_RANDOM = re.compile(r"random:(\d+(?:x\d+)*|scalar)(?::([^:]+):([^:]+))?")


def parse_value(text: str, what: str, rng: np.random.Generator) -> FloatArray:
    """A value given on the command line: ``2``, ``2,3`` (a vector), ``[[1,2],[3,4]]`` (nested
    lists), ``file.npy``, or ``random:2x3`` / ``random:2x3:LO:HI`` (uniform in [LO, HI),
    default [-1, 1); ``random:scalar`` for a 0-d value). Must be finite."""
    text = text.strip()
    random = _RANDOM.fullmatch(text)
    if random is not None:
        shape = () if random[1] == "scalar" else tuple(int(n) for n in random[1].split("x"))
        _check_size(math.prod(shape), what)
        low, high = (_number(random[2], what), _number(random[3], what)) if random[2] else (-1.0, 1.0)
        if not (math.isfinite(low) and math.isfinite(high) and low < high and math.isfinite(high - low)):
            raise UsageError(f"{what}: random range needs finite LO < HI, got {low:g}:{high:g}")
        array = rng.uniform(low, high, shape)
    elif text.endswith(".npy"):
        try:
            array = np.asarray(np.load(text, allow_pickle=False), dtype=np.float64)
        except (OSError, ValueError, TypeError) as error:
            raise UsageError(f"{what}: cannot read {text}: {error}") from None
    elif text.startswith("["):
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"{what}: not a list of numbers: {text!r} ({error.msg})") from None
        if not _numbers_only(decoded):
            raise UsageError(f"{what}: not a list of numbers: {text!r}")
        try:
            array = np.array(decoded, dtype=np.float64)
        except ValueError:
            raise UsageError(f"{what}: not a rectangular list of numbers: {text!r}") from None
    elif "," in text:
        array = np.array([_number(part, what) for part in text.split(",")])
    else:
        array = np.array(_number(text, what))
    if array.size == 0:
        raise UsageError(f"{what}: the value is empty")
    _check_size(array.size, what)
    if not np.all(np.isfinite(array)):
        raise UsageError(f"{what}: inputs must be finite, got {text!r} with NaN or infinity")
    return array


def _check_size(elements: int, what: str) -> None:
    if elements > MAX_ELEMENTS:
        raise UsageError(f"{what}: {elements} elements; the limit is {MAX_ELEMENTS}")


def _numbers_only(decoded: object) -> bool:
    """Nested lists of JSON numbers only (no strings, booleans or nulls)."""
    stack = [decoded]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return False
    return True


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{what}: not a number: {text.strip()!r}") from None


def _assignments(pairs: Sequence[str], option: str, rng: np.random.Generator) -> dict[str, FloatArray]:
    """``NAME=VALUE`` pairs (``--at a=2,3``) as arrays by name."""
    values: dict[str, FloatArray] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise UsageError(f"{option} {pair!r}: expected NAME=VALUE, e.g. {option} a=2,3")
        if name in values:
            raise UsageError(f"{option} {name}: given twice")
        values[name] = parse_value(text, f"{option} {name}", rng)
    return values


def _check_names(
    wanted: Sequence[str], given: dict[str, FloatArray], option: str = "--at", optional: Sequence[str] = ()
) -> None:
    for name in wanted:
        if name not in given:
            raise UsageError(f"no value for {name!r}: add {option} {name}=VALUE")
    for name in given:
        if name not in wanted and name not in optional:
            known = [*wanted, *optional]
            raise UsageError(f"{option} {name}: there is no input named {name!r} (inputs: {', '.join(known) or 'none'})")


# --------------------------------------------------------------------------- targets

_FUNCTION_TARGET = re.compile(r"(?P<file>.+\.py):(?P<function>[A-Za-z_]\w*)")


def load_function(target: str) -> Callable[..., Any]:
    """``path/to/file.py:function``: the function, from the user's file (imported as a module)."""
    match = _FUNCTION_TARGET.fullmatch(target)
    if match is None:
        raise UsageError(f"{target!r}: expected FILE.py:FUNCTION")
    path = Path(match["file"])
    if not path.is_file():
        raise UsageError(f"cannot read {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_refgrad_user_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        raise UsageError(f"importing {path} raised {type(error).__name__}: {error}") from None
    function = getattr(module, match["function"], None)
    if not callable(function):
        raise UsageError(f"{path} has no function {match['function']!r}")
    return function  # type: ignore[no-any-return]  # a user's function: its type is unknown


def _is_function_target(target: str) -> bool:
    return _FUNCTION_TARGET.fullmatch(target) is not None


def _check_parameters(function: Callable[..., Any], given: dict[str, FloatArray], target: str) -> None:
    """The ``--at`` values must name the function's parameters: every one without a default,
    and no other."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in parameters):
        raise UsageError(f"{target}: the inputs must be named parameters (no *args, **kwargs or positional-only ones)")
    _check_names([p.name for p in parameters if p.default is p.empty], given, optional=[p.name for p in parameters if p.default is not p.empty])


def _user_function(target: str, values: dict[str, FloatArray]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """``FILE.py:FUNCTION`` loaded and checked against the ``--at`` values; and those values as
    float64 tensors that require grad, in the order of its parameters."""
    import refgrad

    function = load_function(target)
    _check_parameters(function, values, target)
    order = [name for name in inspect.signature(function).parameters if name in values]
    return function, {name: refgrad.tensor(values[name], dtype=refgrad.float64, requires_grad=True) for name in order}


def _call(function: Callable[..., Any], tensors: dict[str, Any], target: str, several: bool = False) -> Any:
    """The user's function on ``tensors``: its output, which must be a tensor computed from them
    (with ``several``, a tuple of tensors may be, when at least one is)."""
    import refgrad

    try:
        output = function(**tensors)
    except (Exception, SystemExit) as error:
        raise UsageError(f"{target} raised {type(error).__name__}: {error}") from None
    outputs = output if several and isinstance(output, tuple) else (output,)
    if not all(isinstance(o, refgrad.Tensor) for o in outputs) or not any(o.requires_grad for o in outputs):
        wanted = "a tensor or a tuple of tensors, at least one" if several else "one floating-point tensor"
        raise UsageError(f"{target} must return {wanted} computed from its inputs, got {_describe(output)}")
    return output


def _describe(value: object) -> str:
    if isinstance(value, tuple):
        return f"a tuple ({', '.join(_describe(v) for v in value)})"
    return f"a tensor that does not require grad (dtype {getattr(value, 'dtype')})" if hasattr(value, "requires_grad") else type(value).__name__


@dataclass(frozen=True)
class _Target:
    """What to differentiate: a program for the oracles and the values of its inputs."""

    program: Program
    values: dict[str, FloatArray]


def _target(args: argparse.Namespace, rng: np.random.Generator) -> _Target:
    """The expression or ``file.py:function`` of ``args.target`` at the ``--at`` values."""
    from oracles.expression import ExpressionError, names, parse

    values = _assignments(args.at, "--at", rng)
    if _is_function_target(args.target):
        from oracles.trace import TraceError, trace

        function, _ = _user_function(args.target, values)
        try:
            traced = trace(lambda **tensors: _call(function, tensors, args.target), values, name=function.__name__)
        except TraceError as error:
            raise UsageError(f"{args.target}: {error}") from None
        return _Target(traced.program, traced.values)
    try:
        _check_names(names(args.target), values)
        program = parse(args.target, {name: value.shape for name, value in values.items()})
    except ExpressionError as error:
        raise UsageError(f"expression: {error}") from None
    _check_shapes(program, values)
    return _Target(program, values)


def _check_shapes(program: Program, values: dict[str, FloatArray]) -> None:
    """Run the program once on the engine so that shapes that do not fit are reported in
    PyTorch's words before any oracle starts."""
    import refgrad
    from oracles.interpret import run_engine

    try:
        with refgrad.no_grad():
            run_engine(program, values, refgrad)
    except (RuntimeError, ValueError, IndexError, TypeError) as error:
        raise UsageError(f"the inputs do not fit the expression: {error}") from None


def _engine(name: str) -> ModuleType:
    if name == "torch":
        try:
            import torch
        except ImportError:
            raise UsageError("--engine torch: PyTorch is not installed (pip install torch==2.13.0)") from None
        return torch
    import refgrad

    return refgrad


# --------------------------------------------------------------------------- output


class _Style:
    """ANSI colours for verdict words, only when asked or writing to a terminal."""

    COLOURS = {"agree": "32", "passed": "32", "mismatch": "31", "non-finite": "31", "error": "31", "failed": "31"}
    VERDICT = re.compile(r"(?m)(?<=check: )(passed|failed)|\b(agree|mismatch|non-finite|not-smooth|unsupported|error)$")
    """Verdict words where a report puts them: at the end of a line, or a check's result."""

    def __init__(self, mode: str, stream: IO[str]) -> None:
        if mode == "auto":
            self.enabled = stream.isatty() and "NO_COLOR" not in os.environ
        else:
            self.enabled = mode == "always"

    def text(self, report_text: str) -> str:
        if not self.enabled:
            return report_text
        return self.VERDICT.sub(lambda m: f"\033[{self.COLOURS.get(m[0], '33')}m{m[0]}\033[0m", report_text)


def _emit_json(document: dict[str, Any]) -> None:
    print(json.dumps({"schema_version": JSON_SCHEMA_VERSION, **document}, indent=2, allow_nan=False))


# --------------------------------------------------------------------------- subcommands


def _compare(args: argparse.Namespace) -> int:
    from oracles.compare import compare

    rng = np.random.default_rng(args.seed)
    target = _target(args, rng)
    grad_output = None if args.grad_output is None else parse_value(args.grad_output, "--grad-output", rng)
    direction = None
    if args.direction:
        if args.order != 2:
            raise UsageError("--direction is for second derivatives: add --order 2")
        direction = _assignments(args.direction, "--direction", rng)
        _check_names([i.name for i in target.program.inputs], direction, "--direction")
    try:
        report = compare(
            target.program,
            target.values,
            grad_output=grad_output,
            engine=_engine(args.engine),
            dtype=args.dtype,
            seed=args.seed,
            order=args.order,
            direction=direction,
            rounding_factor=args.rounding_factor,
            atol=args.atol,
        )
    except ValueError as error:  # a grad_output or direction that does not broadcast
        raise UsageError(str(error)) from None
    if args.json:
        _emit_json({"command": "compare", "engine": args.engine, **report.to_json()})
    else:
        print(_Style(args.color, sys.stdout).text(report.to_text()))
    return 1 if report.verdict in ("mismatch", "non-finite") else 0


def _fuzz(args: argparse.Namespace) -> int:
    from properties.campaign import Summary, campaign

    if args.programs < 1:
        raise UsageError("--programs must be at least 1")
    show_progress = sys.stderr.isatty() and not args.json

    def progress(summary: Summary) -> None:
        if show_progress:
            print(f"\rfuzz: {summary.programs}/{args.programs} programs, {summary.failures} failures", end="", file=sys.stderr)

    out = None if args.out is None else Path(args.out)
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"--out {out}: {error.strerror or error}") from None
    summary = campaign(args.programs, args.seed, out, progress)
    if show_progress:
        print(file=sys.stderr)
    if args.json:
        _emit_json({"command": "fuzz", **summary.to_json()})
    else:
        print(_Style(args.color, sys.stdout).text(summary.to_text()))
    return 1 if summary.failures else 0


def _graph(args: argparse.Namespace) -> int:
    if args.format != "dot" and args.output is None:
        raise UsageError(f"--format {args.format} writes a file: add --output FILE.{args.format}")
    import refgrad
    from oracles.graph import GraphvizFailed, GraphvizMissing, collect, render, to_svg, write_dot
    from oracles.interpret import run_engine

    rng = np.random.default_rng(args.seed)
    if _is_function_target(args.target):  # the function itself runs: the graph is what it records
        function, tensors = _user_function(args.target, _assignments(args.at, "--at", rng))
        output = _call(function, tensors, args.target)
    else:
        target = _target(args, rng)
        output, tensors = run_engine(target.program, target.values, refgrad)
    if args.backward:
        output.backward(refgrad.ones_like(output))
    diagram = collect(output, tensors, title=args.target)
    dot = write_dot(diagram)
    if args.format == "dot" and args.output is None:
        print(dot, end="")
        return 0
    try:
        if args.format == "dot":
            picture: str | bytes = dot
        elif args.format == "svg" and shutil.which("dot") is None:  # the built-in renderer
            picture = to_svg(diagram)
        else:
            picture = render(dot, args.format)
        Path(args.output).write_bytes(picture.encode() if isinstance(picture, str) else picture)
    except (GraphvizMissing, GraphvizFailed) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"--output {args.output}: {error.strerror or error}") from None
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    from oracles.gradcheck import GradcheckError, gradcheck, gradgradcheck

    function, tensors = _user_function(args.target, _assignments(args.at, "--at", np.random.default_rng(args.seed)))
    _call(function, tensors, args.target, several=True)  # a clear error for what gradcheck cannot check
    names, inputs = list(tensors), tuple(tensors.values())

    def by_position(*positional: Any) -> Any:  # gradcheck passes the inputs positionally
        return function(**dict(zip(names, positional)))

    results: dict[str, str] = {}
    checks: list[tuple[str, Callable[..., bool]]] = [("gradcheck", gradcheck)]
    if not args.no_gradgrad:
        checks.append(("gradgradcheck", gradgradcheck))
    for name, check in checks:
        try:
            check(by_position, inputs, eps=args.eps, atol=args.atol, rtol=args.rtol, fast_mode=args.fast_mode)
            results[name] = "passed"
        except GradcheckError as error:
            results[name] = f"failed: {error}"
        except (Exception, SystemExit) as error:
            raise UsageError(f"{args.target} raised {type(error).__name__}: {error}") from None
    passed = all(r == "passed" for r in results.values())
    if args.json:
        _emit_json({"command": "gradcheck", "target": args.target, "passed": passed, "checks": results})
    else:
        style = _Style(args.color, sys.stdout)
        for name, result in results.items():
            print(style.text(f"{name}: {result}"))
    return 0 if passed else 1


# --------------------------------------------------------------------------- the parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refgrad")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _seed(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {text!r}")
    return int(text)


def _at_least(bound: float, strict: bool) -> Callable[[str], float]:
    """An argparse type: a finite number ≥ ``bound`` (> with ``strict``)."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < bound or (strict and value == bound):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>' if strict else '≥'} {bound:g}, got {text!r}")
        return value

    return number


def _common(parser: argparse.ArgumentParser, target_help: str) -> None:
    parser.add_argument("target", metavar="TARGET", help=target_help)
    parser.add_argument(
        "--at", action="append", default=[], metavar="NAME=VALUE",
        help="an input's value: 2 | 2,3 | [[1,2],[3,4]] | file.npy | random:2x3[:LO:HI] (repeat per input)",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="seed for random: values (default 0)")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (schema in docs/cli.md) instead of text")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="colour verdicts (default: on a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="refgrad", description="refgrad: the engine's gradients next to the symbolic and numeric oracles.")
    parser.add_argument("--version", action="version", version=f"refgrad {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    compare = commands.add_parser(
        "compare",
        help="engine vs symbolic vs numeric gradients of an expression or function",
        epilog='example: refgrad compare "3*a**3 - b**2" --at a=2,3 --at b=6,4   (exit code 0 agree, 1 mismatch, 2 bad input)',
    )
    _common(compare, 'an expression such as "3*a**3 - b**2", or FILE.py:FUNCTION written with refgrad')
    compare.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="the engine's dtype")
    compare.add_argument("--grad-output", metavar="VALUE", help="the vector v of vᵀJ (default: ones of the output's shape)")
    compare.add_argument("--order", type=int, choices=[1, 2], default=1, help="2: second derivatives along --direction")
    compare.add_argument("--direction", action="append", default=[], metavar="NAME=VALUE", help="u for --order 2 (default: ones)")
    compare.add_argument("--engine", choices=["refgrad", "torch"], default="refgrad", help="the engine checked (default refgrad)")
    compare.add_argument("--rounding-factor", type=_at_least(0, strict=False), default=16.0, metavar="ULPS", help="ulps allowed per operation (default 16)")
    compare.add_argument("--atol", type=_at_least(0, strict=False), default=0.0, help="absolute slack added to every tolerance (default 0)")
    _output_options(compare)
    compare.set_defaults(run=_compare)

    fuzz = commands.add_parser(
        "fuzz",
        help="a campaign of random programs with control flow against the oracles",
        epilog="example: refgrad fuzz --programs 200 --seed 1 --out failures/   (exit code 1 if a program fails)",
    )
    fuzz.add_argument("--programs", type=int, default=100, help="how many programs (default 100)")
    fuzz.add_argument("--seed", type=_seed, default=0, help="the campaign's seed: the same seed, the same programs")
    fuzz.add_argument("--out", metavar="DIR", help="write a standalone reproducer per failure here")
    _output_options(fuzz)
    fuzz.set_defaults(run=_fuzz)

    graph = commands.add_parser(
        "graph",
        help="the computation graph as Graphviz DOT, SVG (Graphviz's, or built in) or PNG (needs Graphviz)",
        epilog='example: refgrad graph "3*a**3 - b**2" --at a=2,3 --at b=6,4 --format svg -o seed.svg',
    )
    _common(graph, 'an expression such as "3*a**3 - b**2", or FILE.py:FUNCTION written with refgrad')
    graph.add_argument("--format", choices=["dot", "svg", "png"], default="dot", help="dot text (default), svg (drawn by Graphviz when installed, else built in) or png (needs Graphviz)")
    graph.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    graph.add_argument("--no-backward", dest="backward", action="store_false", help="do not run backward (leaves show no .grad)")
    graph.set_defaults(run=_graph)

    check = commands.add_parser(
        "gradcheck",
        help="gradcheck and gradgradcheck of a Python function written with refgrad",
        epilog="example: refgrad gradcheck model.py:loss --at w=random:3x2 --at x=1,2,3",
    )
    _common(check, "FILE.py:FUNCTION")
    check.add_argument("--eps", type=_at_least(0, strict=True), default=1e-6, help="finite-difference step (default 1e-6)")
    check.add_argument("--atol", type=_at_least(0, strict=False), default=1e-5, help="absolute tolerance (default 1e-5)")
    check.add_argument("--rtol", type=_at_least(0, strict=False), default=1e-3, help="relative tolerance (default 1e-3)")
    check.add_argument("--fast-mode", action="store_true", help="check random projections instead of whole Jacobians")
    check.add_argument("--no-gradgrad", action="store_true", help="skip gradgradcheck (second derivatives)")
    _output_options(check)
    check.set_defaults(run=_gradcheck)

    conformance.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with np.errstate(all="ignore"):  # inf and nan are values the reports show, not warnings
            code: int = args.run(args)
    except UsageError as error:
        print(f"refgrad {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refgrad {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
