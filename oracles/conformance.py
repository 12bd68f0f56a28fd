"""``refgrad conformance``: run the conformance suite on an engine and report, per section of
the semantics reference, how many tests pass, fail or are listed deviations, with the reasons.

The suite is the tests of a refgrad source checkout (tests/ and properties/) that run on an
engine. It runs in a pytest subprocess with the plugin properties/outcomes.py, which writes
each test's outcome to a JSON file read back here. Exit code: 0 when every test passes but
for listed deviations, 1 otherwise, 2 for bad usage (an engine that cannot be loaded, no
suite found, a selection with no test).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

Parser = TypeVar("Parser", bound=argparse.ArgumentParser)

OUTCOMES = ("passed", "failed", "deviation")
#: pytest's exit codes (pytest.ExitCode; pytest is only needed once the suite runs).
PYTEST_PASSED, PYTEST_FAILED, PYTEST_USAGE_ERROR, PYTEST_NO_TESTS = 0, 1, 4, 5
SUITE_PATHS = ("tests", "properties")


class UsageError(Exception):
    """Bad usage: the message is printed as one line on stderr and the exit code is 2."""


class SuiteError(Exception):
    """The suite did not run (a test module that cannot be imported, pytest's internal error)."""


@dataclass(frozen=True)
class Outcome:
    id: str  # pytest's node id: tests/test_x.py::test_y[torch]
    outcome: str  # one of OUTCOMES
    detail: str  # the deviation's reason, or what failed
    sections: tuple[str, ...]  # the reference sections of the items it checks; () for none


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    deviation: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in OUTCOMES}


@dataclass(frozen=True)
class Report:
    engine: str
    version: str | None
    command: str
    sections: list[str]  # the reference's sections, in order
    tests: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.tests) and all(t.outcome != "failed" for t in self.tests)

    def total(self) -> Tally:
        tally = Tally()
        for test in self.tests:
            tally.add(test.outcome)
        return tally

    def rows(self) -> list[tuple[str, Tally]]:
        """A tally per reference section (a test of several sections counts in each), then one
        per file for the tests that check no numbered item."""
        tallies: dict[str, Tally] = {}
        for test in self.tests:
            for group in test.sections or (f"other: {test.id.split('::')[0]}",):
                tallies.setdefault(group, Tally()).add(test.outcome)
        order = [s for s in self.sections if s in tallies] + sorted(g for g in tallies if g not in self.sections)
        return [(group, tallies[group]) for group in order]

    def by_detail(self, outcome: str) -> dict[str, list[str]]:
        """Tests with ``outcome`` grouped by their detail (the reason or the error)."""
        grouped: dict[str, list[str]] = {}
        for test in self.tests:
            if test.outcome == outcome:
                grouped.setdefault(test.detail, []).append(test.id)
        return grouped

    def verdict(self) -> str:
        total = self.total()
        if self.ok:
            return f"PASS: every test passes but for {_count(total.deviation, 'listed deviation')}" if total.deviation else "PASS: every test passes"
        return f"FAIL: {_count(total.failed, 'test')} failed" if self.tests else "FAIL: no test ran"

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "version": self.version,
            "command": self.command,
            "ok": self.ok,
            "total": self.total().as_dict(),
            "sections": [{"section": group, **tally.as_dict()} for group, tally in self.rows()],
            "deviations": [{"reason": reason, "tests": ids} for reason, ids in self.by_detail("deviation").items()],
            "failures": [{"error": error, "tests": ids} for error, ids in self.by_detail("failed").items()],
            "tests": [{"id": t.id, "outcome": t.outcome, "detail": t.detail} for t in self.tests],
        }

    def to_text(self) -> str:
        total = self.total()
        width = max([len("section"), *(len(group) for group, _ in self.rows())])
        lines = [
            f"Conformance of {self.engine}{' ' + self.version if self.version else ''}: {_count(len(self.tests), 'test')}, "
            f"{total.passed} passed, {total.failed} failed, {_count(total.deviation, 'deviation')}",
            f"(pytest command: {self.command})",
            "",
            f"{'section':<{width}}  passed  failed  deviation",
        ]
        for group, tally in [*self.rows(), ("total (each test once)", total)]:
            lines.append(f"{group:<{width}}  {tally.passed:>6}  {tally.failed:>6}  {tally.deviation:>9}")
        for title, outcome in (("Deviations", "deviation"), ("Failures", "failed")):
            grouped = self.by_detail(outcome)
            if grouped:
                lines += ["", f"{title} ({_count(sum(len(ids) for ids in grouped.values()), 'test')}):"]
                for detail, ids in grouped.items():
                    lines += [f"- {detail}", *(f"    {i}" for i in ids)]
        return "\n".join([*lines, "", self.verdict()])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def find_suite(given: Path | None) -> Path:
    """The source checkout holding the suite: ``given``, else the current directory or one of
    its parents, else the checkout this module was installed from (editable installs)."""

    def holds_suite(root: Path) -> bool:
        return (root / "tests" / "conftest.py").is_file() and (root / "properties" / "engines.py").is_file()

    if given is not None:
        if not holds_suite(given):
            raise UsageError(f"{given} holds no conformance suite (tests/ and properties/ of a refgrad source checkout)")
        return given.resolve()
    cwd = Path.cwd().resolve()
    for root in (cwd, *cwd.parents, Path(__file__).resolve().parents[1]):
        if holds_suite(root):
            return root
    raise UsageError(
        "no conformance suite found: run from a refgrad source checkout (it holds tests/ and properties/) or pass --suite DIR"
    )


def pytest_arguments(engine: str, keyword: str | None, paths: Sequence[str]) -> list[str]:
    """What selects the run: the engine, ``-k``, the test paths."""
    return ["--engine", engine, *(["-k", keyword] if keyword else []), *(paths or SUITE_PATHS)]


def _environment() -> dict[str, str]:
    """This process's environment, with PYTHONPATH made absolute and the current directory on it
    (pytest runs in the checkout: a third-party engine stays importable as it is from here)."""
    paths = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd().resolve()), *paths])}


def run_suite(root: Path, engine: str, keyword: str | None, paths: Sequence[str], collect_only: bool = False) -> Report:
    """Runs the suite on ``engine`` in a pytest subprocess and reads its outcomes back (with
    ``collect_only``, runs nothing: the report of a run in which every test holds)."""
    if "," in engine:
        raise UsageError(f"one engine per run, got {engine!r}")
    selection = pytest_arguments(engine, keyword, paths)
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "outcomes.json"
        plugin = ["-p", "properties.outcomes", "--conformance-json", str(json_path)]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, *selection, *(["--collect-only"] if collect_only else [])]
        done = subprocess.run(command, cwd=root, env=_environment(), capture_output=True, text=True, check=False)
        if done.returncode == PYTEST_USAGE_ERROR:  # e.g. an engine that cannot be loaded
            errors = [line.removeprefix("ERROR: ") for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
            raise UsageError(errors[0] if errors else done.stderr.strip() or "pytest refused the command")
        if done.returncode == PYTEST_NO_TESTS:
            raise UsageError("no conformance test matches the selection")
        if done.returncode not in (PYTEST_PASSED, PYTEST_FAILED) or not json_path.exists():
            output = (done.stdout + done.stderr).strip()
            raise SuiteError(f"the suite did not run (pytest exit code {done.returncode}):\n{output[-4000:]}")
        document = json.loads(json_path.read_text(encoding="utf-8"))
    (engine_info,) = document["engines"]
    tests = [Outcome(t["id"], t["outcome"], t["detail"], tuple(t["sections"])) for t in document["tests"]]
    shown = shlex.join(["python", "-m", "pytest", *selection])
    return Report(engine_info["name"], engine_info["version"], shown, document["sections"], tests)


def _run(args: argparse.Namespace) -> int:
    try:
        report = run_suite(find_suite(args.suite), args.engine, args.k, args.tests)
    except UsageError as error:
        print(f"refgrad conformance: error: {error}", file=sys.stderr)
        return 2
    except SuiteError as error:
        print(f"refgrad conformance: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=1) if args.json else report.to_text())
    return 0 if report.ok else 1


def add_command(subparsers: argparse._SubParsersAction[Parser]) -> None:
    """Adds ``conformance`` to the ``refgrad`` command's subcommands."""
    parser = subparsers.add_parser(
        "conformance",
        help="run the conformance suite on an engine and report passes, failures and deviations",
        description=(
            "Run the conformance suite (the engine tests of a refgrad source checkout) on one engine and "
            "report, per section of the semantics reference, the tests that pass, fail, or are listed "
            "deviations with their reasons. Exit code 0 when every test passes but for listed "
            "deviations, 1 otherwise, 2 for bad usage."
        ),
        epilog="example: refgrad conformance --engine torch -k backward",
    )
    parser.add_argument(
        "--engine",
        default="refgrad",
        metavar="NAME_OR_MODULE",
        help="refgrad (default), torch, or the module path of another engine: a module defining ENGINE "
        "(a properties.engines.EngineAdapter) or itself the PyTorch-like API",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-k", metavar="EXPRESSION", help="only the tests that pytest's -k EXPRESSION selects")
    parser.add_argument(
        "--suite",
        type=Path,
        metavar="DIR",
        help="the refgrad source checkout holding the suite (default: the current directory or a parent, "
        "else the checkout refgrad was installed from)",
    )
    parser.add_argument(
        "tests", nargs="*", metavar="TEST", help="test files or node ids, relative to the checkout (default: tests properties)"
    )
    parser.set_defaults(run=_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m oracles.conformance ...``: the subcommand on its own."""
    parser = argparse.ArgumentParser(prog="refgrad")
    add_command(parser.add_subparsers(required=True))
    args = parser.parse_args(["conformance", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
