"""The typing tests (tests/typing) are checked by mypy --strict and basedpyright (strict) in
CI; this module checks what makes those checks mean something:

- every file there runs: the user code it type-checks is real code that works;
- every expected error is marked for both checkers on the same line, each with its own
  error code (mypy: ``# type: ignore[code]``, basedpyright: ``# pyright: ignore[rule]``),
  so the two agree on what must be rejected (files under pyright_only/ hold what mypy
  cannot type, and are marked for pyright alone);
- the configuration turns a mark whose error has gone into a failure for each checker
  (mypy --strict has warn_unused_ignores; basedpyright reportUnnecessaryTypeIgnoreComment,
  reading only its own marks), so a regression that makes refgrad accept what it rejected
  fails CI.
"""

from __future__ import annotations

import io
import re
import runpy
import tokenize
import tomllib
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"
PYRIGHT_ONLY = TYPING / "pyright_only"

MYPY_MARK = re.compile(r"#\s*type:\s*ignore(\[[a-z-]+(?:,\s*[a-z-]+)*\])?")
PYRIGHT_MARK = re.compile(r"#\s*pyright:\s*ignore(\[[A-Za-z]+(?:,\s*[A-Za-z]+)*\])?")


def typing_files() -> list[Path]:
    return sorted(TYPING.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(TYPING).as_posix()


def comments(source: str) -> dict[int, str]:
    """The comment of each line that has one (docstrings and strings are not comments)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def mark_problems(source: str, pyright_only: bool) -> list[str]:
    """Lines whose expected-error marks are not one coded mark per checker."""
    problems: list[str] = []
    for number, comment in sorted(comments(source).items()):
        mypy, pyright = MYPY_MARK.search(comment), PYRIGHT_MARK.search(comment)
        if mypy and mypy.group(1) is None:
            problems.append(f"{number}: a mypy mark without an error code")
        if pyright and pyright.group(1) is None:
            problems.append(f"{number}: a pyright mark without a rule")
        if pyright_only and mypy:
            problems.append(f"{number}: a mypy mark in a file mypy does not check")
        elif not pyright_only and bool(mypy) != bool(pyright):
            problems.append(f"{number}: marked for {'mypy' if mypy else 'pyright'} only")
    return problems


def test_there_are_typing_tests() -> None:
    assert len(typing_files()) >= 5


@pytest.mark.usefixtures("restore_refgrad_state")
@pytest.mark.parametrize("path", typing_files(), ids=_name)
def test_typing_test_runs(path: Path) -> None:
    runpy.run_path(str(path), run_name="typing_test")


@pytest.mark.parametrize("path", typing_files(), ids=_name)
def test_expected_errors_are_marked_for_both_checkers(path: Path) -> None:
    assert mark_problems(path.read_text(encoding="utf-8"), PYRIGHT_ONLY in path.parents) == []


def test_every_typing_test_has_expected_errors() -> None:
    """Each file states what must be rejected too, not only what must be accepted."""
    unmarked = [p for p in typing_files() if not any(PYRIGHT_MARK.search(c) for c in comments(p.read_text(encoding="utf-8")).values())]
    assert [_name(p) for p in unmarked] == []


def test_checkers_fail_on_marks_no_longer_needed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    mypy = config["mypy"]
    assert mypy["strict"] is True  # implies warn_unused_ignores
    assert "tests" in mypy["files"]
    assert mypy.get("warn_unused_ignores", True) is True
    assert [re.compile(pattern).search("tests/typing/typing_tensor.py") for pattern in mypy["exclude"]] == [None]
    pyright = config["basedpyright"]
    assert pyright["include"] == ["tests/typing"]
    assert pyright["typeCheckingMode"] == "strict"
    assert pyright["enableTypeIgnoreComments"] is False  # it reads its own marks only
    assert pyright["reportUnnecessaryTypeIgnoreComment"] == "error"
    assert pyright["reportAny"] == "error"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x + 'a'  # type: ignore[operator]\n", "1: marked for mypy only"),
        ("x + 'a'  # pyright: ignore[reportOperatorIssue]\n", "1: marked for pyright only"),
        ("x + 'a'  # type: ignore  # pyright: ignore[reportOperatorIssue]\n", "1: a mypy mark without an error code"),
        ("x + 'a'  # type: ignore[operator]  # pyright: ignore\n", "1: a pyright mark without a rule"),
    ],
)
def test_mark_checker_flags(source: str, problem: str) -> None:
    assert problem in mark_problems(source, pyright_only=False)


def test_mark_checker_passes_both_marks_and_pyright_only_files() -> None:
    both = "x + 'a'  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue, reportCallIssue]\n"
    assert mark_problems(both, pyright_only=False) == []
    assert mark_problems("f('x')  # pyright: ignore[reportArgumentType]\n", pyright_only=True) == []
    assert mark_problems("f('x')  # type: ignore[arg-type]\n", pyright_only=True) == [
        "1: a mypy mark in a file mypy does not check"
    ]
