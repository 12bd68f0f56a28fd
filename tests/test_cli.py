"""The ``refgrad`` console script, driven as a user drives it: a subprocess per run, its exit
code, its standard output (text, or JSON checked against docs/cli-schema.json) and its
standard error (one line, never a traceback, for bad input).

A wrong engine rule is injected into the subprocess with a ``sitecustomize`` module on its
PYTHONPATH (Python imports it at startup), so the real command is shown to report a mismatch
with exit code 1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "cli-schema.json").read_text())
SEED = ["compare", "3*a**3 - b**2", "--at", "a=2,3", "--at", "b=6,4"]
WRONG_TANH = "from refgrad import _pointwise\n_pointwise.TanhBackward0.vjp = lambda self, grad, result: (grad * (1 - result),)\n"
"""A sitecustomize that breaks tanh's rule (1 - tanh instead of 1 - tanh²)."""


def console_script() -> str:
    script = Path(sys.executable).parent / "refgrad"
    assert script.exists(), f"the console script is not installed next to {sys.executable} (pip install -e .)"
    return str(script)


def refgrad(
    *args: str, cwd: Path | None = None, inject: str | None = None, tmp: Path | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NO_COLOR")}
    if path is not None:
        env["PATH"] = path
    if inject is not None:
        assert tmp is not None
        (tmp / "sitecustomize.py").write_text(inject)
        env["PYTHONPATH"] = str(tmp)
    return subprocess.run([console_script(), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


# --------------------------------------------------------------------------- a JSON Schema subset


def schema_errors(instance: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Violations of the JSON Schema keywords docs/cli-schema.json uses (type, const, enum,
    required, properties, additionalProperties, items, oneOf, local $ref)."""
    if "$ref" in schema:
        target: Any = SCHEMA
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(instance, target, where)
    errors: list[str] = []
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if "type" in schema:
        wanted = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        numeric = isinstance(instance, (int, float)) and not isinstance(instance, bool)
        if not any(
            (t == "number" and numeric) or (t == "integer" and numeric and float(instance).is_integer())
            or (t in types and isinstance(instance, types[t]) and not (t != "boolean" and isinstance(instance, bool)))
            for t in wanted
        ):
            return [f"{where}: {instance!r:.60} is not of type {wanted}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{where}: {instance!r} is not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{where}: {instance!r} is not one of {schema['enum']}")
    if "oneOf" in schema:
        failures: list[list[str]] = [schema_errors(instance, s, where) for s in schema["oneOf"]]
        matching = failures.count([])
        if matching != 1:
            errors.append(f"{where}: matches {matching} of the oneOf schemas, not exactly one")
        if matching == 0:  # the closest candidate says what is wrong
            errors.extend(sorted(failures, key=len)[0])
    if isinstance(instance, dict):
        errors += [f"{where}: {key!r} is required" for key in schema.get("required", []) if key not in instance]
        properties = schema.get("properties", {})
        for key, value in instance.items():
            if key in properties:
                errors += schema_errors(value, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected property {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(value, schema["additionalProperties"], f"{where}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for k, item in enumerate(instance):
            errors += schema_errors(item, schema["items"], f"{where}[{k}]")
    return errors


def valid_json(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    assert schema_errors(document, SCHEMA) == []
    return document


@pytest.mark.parametrize(
    "mutation, problem",
    [
        (lambda d: d.pop("verdict"), "'verdict' is required"),
        (lambda d: d.update(verdict="fine"), "is not one of"),
        (lambda d: d.update(extra=1), "unexpected property 'extra'"),
        (lambda d: d["inputs"][0].update(shape=["2"]), "is not of type ['integer']"),
        (lambda d: d["forward"].update(agrees="yes"), "is not of type ['boolean']"),
    ],
)
def test_the_schema_checker_rejects_broken_documents(mutation: Any, problem: str) -> None:
    document = json.loads(refgrad(*SEED, "--json").stdout)
    assert schema_errors(document, SCHEMA) == []
    mutation(document)
    assert any(problem in error for error in schema_errors(document, SCHEMA))


# --------------------------------------------------------------------------- compare


def test_the_seed_example_prints_the_table_and_agrees() -> None:
    result = refgrad(*SEED)
    assert result.returncode == 0 and result.stderr == ""
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  [")]
    assert [(row[1], row[2], row[-1]) for row in rows] == [
        ("36", "36", "agree"), ("81", "81", "agree"), ("-12", "-12", "agree"), ("-8", "-8", "agree")
    ]
    assert result.stdout.rstrip().endswith("verdict: agree")
    assert "\033[" not in result.stdout  # no colour when not on a terminal


def test_json_output_follows_the_schema() -> None:
    document = valid_json(refgrad(*SEED, "--json").stdout)
    assert document["verdict"] == "agree"
    assert [i["engine"] for i in document["inputs"]] == [[36.0, 81.0], [-12.0, -8.0]]


def test_a_wrong_rule_is_a_mismatch_with_exit_code_1(tmp_path: Path) -> None:
    result = refgrad("compare", "sum(tanh(a) * b)", "--at", "a=0.5,-1", "--at", "b=2,3", "--json", inject=WRONG_TANH, tmp=tmp_path)
    assert result.returncode == 1
    document = valid_json(result.stdout)
    assert document["verdict"] == "mismatch" and document["inputs"][0]["element_verdicts"] == ["mismatch", "mismatch"]


def test_second_order_grad_output_dtype_and_colour(tmp_path: Path) -> None:
    result = refgrad(
        "compare", "3*a**3 - b**2", "--at", "a=[2,3]", "--at", "b=random:2:1:5", "--seed", "3", "--order", "2",
        "--direction", "a=1,0", "--direction", "b=0,1", "--grad-output", "2", "--dtype", "float32", "--json",
    )
    document = valid_json(result.stdout)
    assert result.returncode == 0 and document["order"] == 2 and document["dtype"] == "float32"
    assert document["inputs"][0]["symbolic"] == [72.0, 0.0]  # 2·18a along (1, 0)
    assert document["inputs"][1]["symbolic"] == [0.0, -4.0]  # 2·(-2) along (0, 1)
    coloured = refgrad(*SEED, "--color", "always").stdout
    assert "\033[32magree\033[0m" in coloured


def test_values_from_npy_files(tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "m.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    result = refgrad("compare", "sum(m @ m)", "--at", f"m={tmp_path / 'm.npy'}", "--json")
    assert result.returncode == 0
    assert valid_json(result.stdout)["inputs"][0]["shape"] == [2, 2]


FUNCTION = '''import refgrad as rg


def f(x, y):
    if (x * y).sum() > 0:  # data-dependent control flow
        return (rg.sin(x) * y).sum()
    return (x * x).sum()
'''


def test_a_python_function_with_control_flow(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(FUNCTION)
    result = refgrad("compare", "model.py:f", "--at", "x=0.5,1", "--at", "y=2,-1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "verdict: agree" in result.stdout


# --------------------------------------------------------------------------- fuzz, gradcheck, graph


def test_fuzz_summarizes_a_reproducible_campaign(tmp_path: Path) -> None:
    first = refgrad("fuzz", "--programs", "8", "--seed", "5", "--json", "--out", str(tmp_path / "out"))
    again = refgrad("fuzz", "--programs", "8", "--seed", "5", "--json")
    assert first.returncode == 0 and again.returncode == 0
    summary = valid_json(first.stdout)
    assert summary["programs"] == 8 and summary["failures"] == 0 and summary["ops"]
    assert summary["ops"] == valid_json(again.stdout)["ops"]  # same seed, same programs
    assert list((tmp_path / "out").iterdir()) == []  # no failure, no reproducer


WRONG_SIN = "from refgrad import _pointwise\n_pointwise.SinBackward0.vjp = lambda self, grad, x: (grad * _pointwise.sin(x),)\n"
"""A sitecustomize that breaks sin's rule (sin instead of cos)."""


def test_fuzz_writes_failing_reproducers_that_fail_on_their_own(tmp_path: Path) -> None:
    inject = tmp_path / "inject"
    inject.mkdir()
    result = refgrad("fuzz", "--programs", "20", "--seed", "1", "--out", str(tmp_path / "out"), inject=WRONG_SIN, tmp=inject)
    assert result.returncode == 1, result.stderr
    assert "verdict: mismatch" in result.stdout
    reproducers = sorted((tmp_path / "out").glob("failure_*.py"))
    assert reproducers and all(f"reproducer: {path}" in result.stdout for path in reproducers)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    standalone = subprocess.run([sys.executable, str(reproducers[0])], capture_output=True, env=env)
    broken = subprocess.run([sys.executable, str(reproducers[0])], capture_output=True, env={**env, "PYTHONPATH": str(inject)})
    assert standalone.returncode == 0 and broken.returncode != 0


def test_gradcheck_passes_and_fails(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("import refgrad as rg\n\n\ndef f(x):\n    return rg.tanh(x) * x\n")
    passed = refgrad("gradcheck", "model.py:f", "--at", "x=0.5,-1", cwd=tmp_path)
    assert passed.returncode == 0 and passed.stdout.splitlines() == ["gradcheck: passed", "gradgradcheck: passed"]
    failed = refgrad("gradcheck", "model.py:f", "--at", "x=0.5,-1", "--json", cwd=tmp_path, inject=WRONG_TANH, tmp=tmp_path)
    document = valid_json(failed.stdout)
    assert failed.returncode == 1 and document["passed"] is False
    assert document["checks"]["gradcheck"].startswith("failed: Jacobian mismatch for output 0 with respect to input 0")


def test_graph_prints_dot_with_gradients(tmp_path: Path) -> None:
    result = refgrad("graph", "3*a**3 - b**2", "--at", "a=2,3", "--at", "b=6,4")
    assert result.returncode == 0 and result.stdout.startswith("digraph {")
    labels = re.findall(r'label="([^"]*)"', result.stdout)
    assert labels[0] == "3*a**3 - b**2"  # the title
    assert sorted(label.split("\\n")[0] for label in labels[1:]) == sorted(
        ["output", "SubBackward0", "MulBackward0", "PowBackward0", "PowBackward0", "AccumulateGrad", "AccumulateGrad", "a", "b"]
    )
    assert 'label="a\\n[2]\\ngrad [36, 81]"' in result.stdout
    (tmp_path / "model.py").write_text(FUNCTION)
    function = refgrad("graph", "model.py:f", "--at", "x=0.5,1", "--at", "y=2,1", "--no-backward", "-o", "g.dot", cwd=tmp_path)
    assert function.returncode == 0 and "SinBackward0" in (tmp_path / "g.dot").read_text()


def test_png_needs_graphviz_and_svg_is_built_in(tmp_path: Path) -> None:
    """Without the dot program (PATH holds only Python's directory): PNG is one line and exit
    code 2; SVG is drawn by the built-in renderer."""
    python_only = str(Path(sys.executable).parent)
    result = refgrad("graph", "sin(a)", "--at", "a=1", "--format", "png", "-o", "g.png", cwd=tmp_path, path=python_only)
    assert result.returncode == 2 and not (tmp_path / "g.png").exists()
    assert result.stderr.startswith("refgrad graph: error: the Graphviz 'dot' program is not installed") and result.stderr.count("\n") == 1
    result = refgrad("graph", "sin(a)", "--at", "a=1", "--format", "svg", "-o", "g.svg", cwd=tmp_path, path=python_only)
    assert result.returncode == 0 and result.stdout == result.stderr == ""
    svg = ElementTree.parse(tmp_path / "g.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["sin(a)", "output", "[]", "SinBackward0", "[]", "AccumulateGrad", "a", "[]", "grad 0.5403"]


def test_the_tutorials_pictures_are_what_the_command_draws(tmp_path: Path) -> None:
    """docs/images/*.svg are the built-in renderer's output of the commands in docs/tutorial.md."""
    python_only = str(Path(sys.executable).parent)
    for name, args in DOC_PICTURES.items():
        result = refgrad("graph", *args, "--format", "svg", "-o", str(tmp_path / name), cwd=ROOT, path=python_only)
        assert result.returncode == 0, result.stderr
        committed = ROOT / "docs" / "images" / name
        assert (tmp_path / name).read_text() == committed.read_text(), (
            f"{committed} is out of date: run refgrad graph {' '.join(args)} --format svg -o {committed.relative_to(ROOT)}"
        )
        assert " ".join(f'"{a}"' if " " in a else a for a in args) in (ROOT / "docs" / "tutorial.md").read_text()


DOC_PICTURES = {
    "seed-graph.svg": ["3*a**3 - b**2", "--at", "a=2,3", "--at", "b=6,4"],
    "loop-graph.svg": ["docs/examples/loop.py:grow", "--at", "x=1.5,2"],
}


@pytest.mark.parametrize("command", ["compare", "fuzz", "graph", "gradcheck", "conformance"])
def test_every_subcommand_has_help(command: str) -> None:
    result = refgrad(command, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: refgrad {command}")


def test_version() -> None:
    result = refgrad("--version")
    assert result.returncode == 0 and result.stdout.startswith("refgrad 0.")


# --------------------------------------------------------------------------- bad input

DEEP = "expression: column 397: the expression is nested more than 100 levels deep"
BAD_INPUT = [
    (["compare", "3*a**3 - b**2", "--at", "a=2,3"], "no value for 'b': add --at b=VALUE"),
    (["compare", "sin(a", "--at", "a=1"], "expression: column 4: syntax error: '(' was never closed"),
    (["compare", "foo(a)", "--at", "a=1"], "expression: column 1: unknown function 'foo'"),
    (["compare", "sin(c)", "--at", "a=1"], "no value for 'c': add --at c=VALUE"),
    (["compare", "a + b", "--at", "a=1,2", "--at", "b=1,2,3"], "the inputs do not fit the expression: The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
    (["compare", "sin(a)", "--at", "a=two"], "--at a: not a number: 'two'"),
    (["compare", "sin(a)", "--at", "a=1,nan"], "--at a: inputs must be finite, got '1,nan' with NaN or infinity"),
    (["compare", "sin(a)", "--at", "a=[[1,2],[3]]"], "--at a: not a rectangular list of numbers: '[[1,2],[3]]'"),
    (["compare", "sin(a)", "--at", "a=missing.npy"], "--at a: cannot read missing.npy: [Errno 2] No such file or directory: 'missing.npy'"),
    (["compare", "sin(a)", "--at", "a"], "--at 'a': expected NAME=VALUE, e.g. --at a=2,3"),
    (["compare", "nowhere.py:f", "--at", "a=1"], "cannot read nowhere.py: no such file"),
    (["compare", '__import__("os")', "--at", "a=1"], "expression: column 1: unknown function '__import__'"),
    (["compare", '__import__("os").system("true")', "--at", "a=1"], "expression: column 18: attribute access (.system) is not allowed"),
    (["compare", "a.__class__", "--at", "a=1"], "expression: column 3: attribute access (.__class__) is not allowed"),
    (["compare", "(lambda: a)()", "--at", "a=1"], "expression: column 2: lambda expressions are not allowed"),
    (["compare", "[a for a in a]", "--at", "a=1"], "expression: column 1: comprehensions are not allowed"),
    (["compare", "sin(" * 120 + "a" + ")" * 120, "--at", "a=1"], DEEP),
    (["compare", "sin(a) + " * 2000 + "a", "--at", "a=1"], "expression: column 10001: the expression is 18001 characters long; the limit is 10000"),
    (["compare", "sin(a)", "--at", "a=1", "--direction", "a=1"], "--direction is for second derivatives: add --order 2"),
    (["graph", "sin(a)", "--at", "a=1", "--format", "svg"], "--format svg writes a file: add --output FILE.svg"),
    (["fuzz", "--programs", "0"], "--programs must be at least 1"),
    (["compare", "a * a", "--at", "a=random:100000x100000"], "--at a: 10000000000 elements; the limit is 10000"),
    (["compare", "a * a", "--at", "a=random:3:-inf:inf"], "--at a: random range needs finite LO < HI, got -inf:inf"),
    (["compare", "a * a", "--at", "a=[]"], "--at a: the value is empty"),
    (["compare", "a * a", "--at", 'a=["1", "2"]'], """--at a: not a list of numbers: '["1", "2"]'"""),
    (["compare", "a * a", "--at", "a=1", "--seed", "-5"], "argument --seed: expected a whole number ≥ 0, got '-5' (see refgrad compare --help)"),
    (["compare", "a * a", "--at", "a=1", "--atol", "nan"], "argument --atol: expected a finite number ≥ 0, got 'nan' (see refgrad compare --help)"),
]


USER_FILE = '''import sys
import refgrad as rg


def number(a):
    return 3.0


def boolean(a):
    return a > 0


def quits(a):
    sys.exit(7)


def many(*xs):
    return xs[0]


def ok(a):
    return (rg.sin(a) * a).sum()
'''

BAD_FUNCTIONS = [
    (["compare", "f.py:number", "--at", "a=1,2"], "f.py:number must return one floating-point tensor computed from its inputs, got float"),
    (["compare", "f.py:boolean", "--at", "a=1,2"], "f.py:boolean must return one floating-point tensor computed from its inputs, got a tensor that does not require grad (dtype refgrad.bool)"),
    (["graph", "f.py:number", "--at", "a=1,2"], "f.py:number must return one floating-point tensor computed from its inputs, got float"),
    (["gradcheck", "f.py:number", "--at", "a=1,2"], "f.py:number must return a tensor or a tuple of tensors, at least one computed from its inputs, got float"),
    (["compare", "f.py:quits", "--at", "a=1"], "f.py:quits raised SystemExit: 7"),
    (["compare", "f.py:many", "--at", "xs=1"], "f.py:many: the inputs must be named parameters (no *args, **kwargs or positional-only ones)"),
    (["graph", "f.py:ok", "--at", "a=1", "-o", "missing/g.dot"], "--output missing/g.dot: No such file or directory"),
    (["fuzz", "--programs", "1", "--out", "f.py"], "--out f.py: File exists"),
    (["gradcheck", "f.py:ok", "--at", "a=1", "--eps", "0"], "argument --eps: expected a finite number > 0, got '0' (see refgrad gradcheck --help)"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT + BAD_FUNCTIONS, ids=[m[:40] for _, m in BAD_INPUT + BAD_FUNCTIONS])
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text(USER_FILE)  # the user file the function cases name
    result = refgrad(*args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"refgrad {args[0]}: error: {message}\n"


def test_usage_errors_are_one_line_too() -> None:
    result = refgrad("compare")
    assert result.returncode == 2
    assert result.stderr == "refgrad compare: error: the following arguments are required: TARGET (see refgrad compare --help)\n"
    unknown = refgrad("frobnicate")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1 and "invalid choice: 'frobnicate'" in unknown.stderr


def test_the_console_script_is_the_one_installed() -> None:
    assert shutil.which("refgrad", path=str(Path(sys.executable).parent)) is not None


def test_the_readme_shows_what_its_main_command_prints() -> None:
    """The README's main job is the seed example through `refgrad compare`; the output it
    shows is what the command prints now."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"pip install \. && refgrad (compare .*)\n", readme)
    shown = re.search(r"```console\n(.*?)```", readme, re.S)
    assert command is not None and shown is not None
    args = [arg.strip('"') for arg in re.findall(r'"[^"]*"|\S+', command[1])]
    assert args == SEED
    assert refgrad(*args).stdout == shown[1]


def test_on_a_terminal_fuzz_shows_progress_and_compare_colours() -> None:
    """Standard output and error on a pseudo-terminal: progress lines and colour appear."""
    import pty

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NO_COLOR")}
    outputs = []
    for args in (["fuzz", "--programs", "2", "--seed", "1"], SEED):
        leader, follower = pty.openpty()
        with subprocess.Popen([console_script(), *args], stdout=follower, stderr=follower, env=env) as process:
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command finished
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert process.wait(timeout=120) == 0
        os.close(leader)
        outputs.append(b"".join(chunks).decode())
    assert "\rfuzz: 1/2 programs, 0 failures" in outputs[0] and "\rfuzz: 2/2 programs, 0 failures" in outputs[0]
    assert "\033[32magree\033[0m" in outputs[1]
