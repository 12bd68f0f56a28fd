"""The dependency rules of refgrad, enforced by reading its source (ast), never by importing it.

(a) every module imports only numpy, the standard library and refgrad itself;
(b) no ``eval``/``exec`` call anywhere;
(c) ``__all__`` is a literal list whose names all exist, and every public name of the
    package is in it (no ``import *``);
(d) the package ships ``py.typed``.

Each checker is a plain function over source text (or a directory) and is also run on a
small synthetic input that breaks its rule, so every rule is shown able to fail.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "refgrad"

#: Top-level modules refgrad may import besides the standard library.
ALLOWED_THIRD_PARTY = frozenset({"numpy", "refgrad"})
#: Never, whatever else changes: the test-side oracles and the reference engine.
FORBIDDEN = ("sympy", "hypothesis", "torch", "oracles", "properties")


def package_sources() -> dict[str, str]:
    """Every ``.py`` file under refgrad/, by its path relative to the project root."""
    files = sorted(PACKAGE.rglob("*.py"))
    assert files, f"no sources found under {PACKAGE}"
    return {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in files}


def _allowed(top: str) -> bool:
    return top in ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names


def _dynamic_import_target(node: ast.Call) -> str | None:
    """``__import__("x")`` / ``importlib.import_module("x")`` with a literal name: ``x``."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name not in ("__import__", "import_module") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return "<computed>"


def imported_modules(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Every absolute import, wherever it is (function bodies, ``if TYPE_CHECKING:`` blocks,
    ``try:`` blocks, ``__import__``/``import_module`` with a literal name): (line, module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Call)):
            continue
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            modules = [node.module]
        elif isinstance(node, ast.Call):
            target = _dynamic_import_target(node)
            modules = [] if target is None else [target]
        found.extend((node.lineno, m) for m in modules)
    return found


def bad_imports(source: str, filename: str = "<source>") -> list[str]:
    """Each import of anything but numpy, the standard library or refgrad, as ``line: module``
    (relative imports are refgrad itself)."""
    return [f"{line}: {m}" for line, m in imported_modules(source, filename) if not _allowed(m.split(".")[0])]


#: The comparison layer and the CLI run the engine beside the oracles; every other oracle
#: module knows ops only by their forward meaning and must never reach the engine's rules.
ORACLE_COMPARISON_LAYER = frozenset(
    {
        "oracles/compare.py",
        "oracles/cli.py",
        "oracles/gradcheck.py",
        "oracles/trace.py",
    }
)


def engine_imports(source: str, filename: str = "<source>") -> list[str]:
    return [f"{line}: {m}" for line, m in imported_modules(source, filename) if m.split(".")[0] == "refgrad"]


def eval_exec_calls(source: str, filename: str = "<source>") -> list[str]:
    """Each call of ``eval``/``exec`` (bare or as an attribute, e.g. ``builtins.eval``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name in ("eval", "exec"):
            found.append(f"{node.lineno}: {name}(")
    return found


def star_imports(source: str, filename: str = "<source>") -> list[str]:
    """Each ``from x import *``."""
    return [
        f"{node.lineno}: from {'.' * node.level}{node.module or ''} import *"
        for node in ast.walk(ast.parse(source, filename))
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)
    ]


def _bound_in(statements: list[ast.stmt]) -> Iterator[str]:
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    yield alias.asname or alias.name.split(".")[0]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        yield sub.id
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            # Module-level blocks still bind module names (not function or class bodies).
            yield from _bound_in(node.body)
            yield from _bound_in(getattr(node, "orelse", []))
            yield from _bound_in(getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                yield from _bound_in(handler.body)


def top_level_names(source: str, filename: str = "<source>") -> set[str]:
    """Names a module binds at its top level."""
    return set(_bound_in(ast.parse(source, filename).body))


def literal_all(source: str, filename: str = "<source>") -> list[str] | None:
    """The module's ``__all__`` if it is assigned once, as a literal list/tuple of strings."""
    values: list[list[str] | None] = []
    for node in ast.parse(source, filename).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError):
                values.append(None)
                continue
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
            values.append(list(value) if ok else None)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and ast.unparse(node.target) == "__all__":
            values.append(None)
    return values[0] if len(values) == 1 else None


def export_problems(source: str, filename: str = "<source>") -> list[str]:
    """What is wrong with a package ``__init__``'s exports: the empty list if nothing is."""
    problems = [f"star import {s}" for s in star_imports(source, filename)]
    exported = literal_all(source, filename)
    if exported is None:
        return [*problems, "__all__ is not assigned exactly once as a literal list of strings"]
    bound = top_level_names(source, filename)
    problems += [f"duplicate in __all__: {n}" for n in sorted({n for n in exported if exported.count(n) > 1})]
    problems += [f"in __all__ but not defined: {n}" for n in exported if n not in bound]
    problems += [f"public but not in __all__: {n}" for n in sorted(bound - set(exported)) if not n.startswith("_")]
    return problems


def imported_names_missing(init_source: str, modules: dict[str, str]) -> list[str]:
    """``from refgrad.<mod> import name`` in the package ``__init__`` where ``<mod>`` does not define name.

    ``modules`` maps ``refgrad.<mod>`` to its source.
    """
    missing: list[str] = []
    for node in ast.parse(init_source).body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
            defined = top_level_names(modules[node.module], node.module)
            missing += [f"{node.module}.{a.name}" for a in node.names if a.name != "*" and a.name not in defined]
    return missing


def typed_marker_problems(package: Path, pyproject: Path) -> list[str]:
    """PEP 561: ``py.typed`` is in the package directory and listed as package data."""
    problems: list[str] = []
    if not (package / "py.typed").is_file():
        problems.append(f"no {package.name}/py.typed")
    config = tomllib.loads(pyproject.read_text(encoding="utf-8")) if pyproject.is_file() else {}
    data = config.get("tool", {}).get("setuptools", {}).get("package-data", {}).get(package.name, [])
    if "py.typed" not in data:
        problems.append(f"py.typed is not in [tool.setuptools.package-data] {package.name}")
    return problems


# ---------------------------------------------------------------------------
# The rules, on refgrad


def test_forbidden_modules_are_not_standard_library() -> None:
    # Otherwise rule (a) would let them through.
    assert [m for m in FORBIDDEN if _allowed(m)] == []


def test_imports_only_numpy_stdlib_and_refgrad() -> None:
    bad = {name: found for name, text in package_sources().items() if (found := bad_imports(text, name))}
    assert bad == {}


def test_no_eval_or_exec() -> None:
    bad = {name: found for name, text in package_sources().items() if (found := eval_exec_calls(text, name))}
    assert bad == {}


def test_no_star_imports() -> None:
    bad = {name: found for name, text in package_sources().items() if (found := star_imports(text, name))}
    assert bad == {}


def test_public_names_are_all_exported_explicitly() -> None:
    sources = package_sources()
    assert export_problems(sources["refgrad/__init__.py"], "refgrad/__init__.py") == []


def test_exported_names_exist_in_their_modules() -> None:
    sources = package_sources()
    modules = {name.removesuffix(".py").replace("/", "."): text for name, text in sources.items()}
    assert imported_names_missing(sources["refgrad/__init__.py"], modules) == []


def test_oracles_never_import_the_engine() -> None:
    sources = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in (ROOT / "oracles").rglob("*.py")}
    assert sources, "no oracle sources found"
    offenders = {
        name: engine_imports(source, name) for name, source in sources.items() if name not in ORACLE_COMPARISON_LAYER
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    assert {name: eval_exec_calls(source, name) for name, source in sources.items() if eval_exec_calls(source, name)} == {}


@pytest.mark.parametrize(
    "source", ["import refgrad", "from refgrad._pointwise import SinBackward0", "def f():\n    import refgrad._engine"]
)
def test_engine_import_checker_flags(source: str) -> None:
    assert engine_imports(source) != []


def test_ships_py_typed() -> None:
    assert typed_marker_problems(PACKAGE, ROOT / "pyproject.toml") == []


# ---------------------------------------------------------------------------
# Each rule can fail


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("import sympy\n", ["1: sympy"]),
        ("import numpy as np\nimport sympy.physics as sp\n", ["2: sympy.physics"]),
        ("from torch import nn\n", ["1: torch"]),
        ("from hypothesis import strategies as st\n", ["1: hypothesis"]),
        ("def f():\n    import oracles\n", ["2: oracles"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from properties import x\n", ["3: properties"]),
        ("try:\n    import torch\nexcept ImportError:\n    pass\n", ["2: torch"]),
        ("import importlib\nm = importlib.import_module('torch')\n", ["2: torch"]),
        ("m = __import__('sympy')\n", ["1: sympy"]),
        ("import os, scipy\n", ["1: scipy"]),
    ],
)
def test_import_checker_flags(source: str, flagged: list[str]) -> None:
    assert bad_imports(source) == flagged


def test_import_checker_passes_allowed() -> None:
    source = (
        "from __future__ import annotations\nimport math, collections.abc\nimport numpy.typing as npt\n"
        "from refgrad._dtype import dtype\nfrom . import _shape\nfrom ._tensor import Tensor\n"
    )
    assert bad_imports(source) == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("x = eval('1 + 1')\n", ["1: eval("]),
        ("exec('x = 1')\n", ["1: exec("]),
        ("import builtins\nbuiltins.eval('1')\n", ["2: eval("]),
        ("def f():\n    return [eval(s) for s in ()]\n", ["2: eval("]),
    ],
)
def test_eval_exec_checker_flags(source: str, flagged: list[str]) -> None:
    assert eval_exec_calls(source) == flagged


def test_eval_exec_checker_ignores_names_and_strings() -> None:
    assert eval_exec_calls("evaluate = 1\ns = 'eval(x)'\ndef executor(): pass\nexecutor()\n") == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from m import *\n__all__ = []\n", "star import 1: from m import *"),
        ("from m import a, b\n__all__ = ['a']\n", "public but not in __all__: b"),
        ("def f(): pass\n__all__ = ['f', 'g']\n", "in __all__ but not defined: g"),
        ("x = 1\n__all__ = ['x', 'x']\n", "duplicate in __all__: x"),
        ("x = 1\n", "__all__ is not assigned exactly once as a literal list of strings"),
        ("x = 1\n__all__ = ['x']\n__all__ += ['y']\n", "__all__ is not assigned exactly once as a literal list of strings"),
        ("x = 1\n__all__ = [n for n in dir()]\n", "__all__ is not assigned exactly once as a literal list of strings"),
    ],
)
def test_export_checker_flags(source: str, problem: str) -> None:
    assert problem in export_problems(source)


def test_export_checker_passes_a_clean_init() -> None:
    source = (
        "from m import a as b, c\nfrom m import _private\nd = b\n"
        "if True:\n    def e(): pass\nclass F: pass\n__version__ = '1'\n__all__ = ['F', 'b', 'c', 'd', 'e']\n"
    )
    assert export_problems(source) == []


def test_missing_import_source_is_flagged() -> None:
    modules = {"pkg._a": "def f(): pass\nG: int = 1\n"}
    assert imported_names_missing("from pkg._a import f, G, h\n", modules) == ["pkg._a.h"]


def test_missing_py_typed_is_flagged(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.setuptools.package-data]\npkg = ["py.typed"]\n', encoding="utf-8")
    assert typed_marker_problems(package, pyproject) == ["no pkg/py.typed"]
    (package / "py.typed").write_text("", encoding="utf-8")
    assert typed_marker_problems(package, pyproject) == []
    pyproject.write_text("[project]\nname = 'pkg'\n", encoding="utf-8")
    assert typed_marker_problems(package, pyproject) == ["py.typed is not in [tool.setuptools.package-data] pkg"]
