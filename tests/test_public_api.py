"""The public surface, as Hypothesis checks its own: each public module's ``__all__`` is
exactly the intended set written out here (adding, removing or renaming a public name is a
deliberate change in two places), every name in it exists, and every name is documented: it
has a row in its module's section of docs/api.md, and no row there names something that is
not public. The types of these names are checked by the typing tests (tests/typing) and by
``pyright --verifytypes refgrad`` in CI.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

import refgrad as rg

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = ROOT / "docs" / "api.md"

INTENDED: dict[str, frozenset[str]] = {
    "refgrad": frozenset(
        {
            "Size", "Tensor", "abs", "add", "amax", "amin", "arange", "argmax", "argmin", "autograd", "bitwise_and",
            "bitwise_not", "bitwise_or", "bmm", "bool", "broadcast_to", "cat", "chunk", "clamp", "clamp_max",
            "clamp_min", "clone", "cos", "div", "dot", "double", "dtype", "enable_grad", "eq", "exp", "expm1",
            "eye", "flatten", "flip", "float32", "floor", "float64", "from_numpy", "full", "ge", "get_default_dtype", "gt",
            "inference_mode", "int32", "int64", "is_grad_enabled", "is_inference_mode_enabled", "le", "linspace",
            "log", "log1p", "log_softmax", "logical_and", "logical_not", "logical_or", "logsumexp", "long", "lt",
            "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul", "mv", "ne", "neg",
            "no_grad", "norm", "ones", "ones_like", "outer", "permute", "pow", "prod", "rand", "randn",
            "reciprocal", "relu", "reshape", "round", "rsqrt", "set_default_dtype", "set_grad_enabled", "sigmoid", "sign",
            "sin", "softmax", "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "t", "tan",
            "tanh", "tensor", "transpose", "unsqueeze", "var", "where", "zeros", "zeros_like"
        }
    ),
    "refgrad.autograd": frozenset(
        {
            "Function", "backward", "function", "functional", "grad", "graph"
        }
    ),
    "refgrad.autograd.function": frozenset(
        {
            "BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"
        }
    ),
    "refgrad.autograd.functional": frozenset(
        {
            "hessian", "hvp", "jacobian", "jvp", "vjp"
        }
    ),
    "refgrad.autograd.graph": frozenset(
        {
            "Node", "RemovableHandle"
        }
    ),
    "oracles.compare": frozenset(
        {
            "InputReport", "ROUNDING_FACTOR", "Report", "SEVERITY", "Verdict", "compare"
        }
    ),
    "oracles.gradcheck": frozenset(
        {
            "FAST_MODE_SEED", "FailedCheck", "GRAD_OUTPUTS_SEED", "GradcheckError", "LEVELS", "gradcheck",
            "gradgradcheck"
        }
    ),
    "oracles.expression": frozenset(
        {
            "ExpressionError", "MAX_DEPTH", "MAX_INTEGER", "MAX_LENGTH", "names", "parse", "unparse"
        }
    ),
    "oracles.symbolic": frozenset(
        {
            "CONVENTIONS", "Convention", "DPS", "NumericFunction", "ObjectArray", "SYMBOLIC", "SymbolicForward",
            "SymbolicUnsupported", "elementwise", "expressions", "forward", "gradient", "hessian_vector",
            "input_symbols"
        }
    ),
    "oracles.numeric": frozenset(
        {
            "EPS64", "Forward", "NumericGradient", "ProjectedCheck", "Signature", "TaylorResult", "TaylorVerdict",
            "central_gradient", "projected", "taylor_test"
        }
    ),
    "oracles.trace": frozenset(
        {
            "TraceError", "Traced", "trace"
        }
    ),
    "oracles.program": frozenset(
        {
            "Arg", "AttrValue", "Input", "Op", "Program", "Ref", "check_inputs", "evaluate"
        }
    ),
    "properties.programs": frozenset(
        {
            "Assign", "BINARY", "If", "Loop", "REDUCE_KEEP", "SHAPE", "Script", "Statement", "UNARY", "cases",
            "features", "inputs", "run", "scripts", "values"
        }
    ),
}

_SECTION = re.compile(r"^## `([\w.]+)`\s*$")
_ROW = re.compile(r"^\| `(\w+)` \|")


def documented_names(text: str) -> dict[str, list[str]]:
    """The names in the first column of each ``## `module` `` section's table."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if heading := _SECTION.match(line):
            current = sections.setdefault(heading.group(1), [])
        elif line.startswith("## "):
            current = None
        elif current is not None and (row := _ROW.match(line)):
            current.append(row.group(1))
    return sections


@pytest.mark.parametrize("module", sorted(INTENDED))
def test_all_is_the_intended_set(module: str) -> None:
    exported = importlib.import_module(module).__all__
    assert len(exported) == len(set(exported)), "a name is listed twice"
    assert sorted(set(exported) - INTENDED[module]) == [], "public but not intended"
    assert sorted(INTENDED[module] - set(exported)) == [], "intended but not public"


@pytest.mark.parametrize("module", sorted(INTENDED))
def test_every_public_name_exists(module: str) -> None:
    imported = importlib.import_module(module)
    assert [name for name in imported.__all__ if not hasattr(imported, name)] == []


@pytest.mark.parametrize("module", sorted(INTENDED))
def test_every_public_name_is_documented(module: str) -> None:
    documented = documented_names(API_PAGE.read_text(encoding="utf-8")).get(module, [])
    assert len(documented) == len(set(documented)), f"a name has two rows in docs/api.md's section {module}"
    assert sorted(INTENDED[module] - set(documented)) == [], f"public names without a row in docs/api.md's section {module}"
    assert sorted(set(documented) - INTENDED[module]) == [], f"rows in docs/api.md's section {module} for names that are not public"


def test_api_page_has_no_other_sections() -> None:
    assert sorted(set(documented_names(API_PAGE.read_text(encoding="utf-8"))) - set(INTENDED)) == []


def test_documented_names_reads_sections_and_rows() -> None:
    text = "## `m`\n\n| name | what |\n|---|---|\n| `a` | x |\n| `b` | `\\|` y |\n## Other\n| `c` | z |\n## `n`\n| `d` | w |\n"
    assert documented_names(text) == {"m": ["a", "b"], "n": ["d"]}


@pytest.mark.parametrize("package", ["refgrad", "oracles", "properties"])
def test_packages_are_marked_typed(package: str) -> None:
    """PEP 561: without py.typed a user's mypy --strict rejects ``import oracles.compare``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (ROOT / package / "py.typed").is_file()
    assert "py.typed" in config["tool"]["setuptools"]["package-data"][package]


def test_every_function_torch_also_has_as_a_method_is_a_method() -> None:
    """x.sin() as well as rg.sin(x): a function of refgrad's API that is also a torch.Tensor
    method must be a refgrad.Tensor method (adding an op without its method fails here)."""
    torch = pytest.importorskip("torch")
    functions = [name for name in rg.__all__ if callable(getattr(rg, name)) and not isinstance(getattr(rg, name), type)]
    assert [name for name in functions if hasattr(torch.Tensor, name) and not hasattr(rg.Tensor, name)] == []
