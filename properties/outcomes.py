"""A pytest plugin for ``refgrad conformance`` (``-p properties.outcomes --conformance-json
PATH``): the run keeps only the conformance suite, the tests that run on an engine, and
writes the outcome of each to PATH as JSON, with the sections of the semantics reference
its items are in (properties/coverage.py). With ``--collect-only`` nothing runs, and the
outcomes written are the ones a run in which every test holds gives (its listed deviations
failing as marked): the report that docs/conformance.md shows, checked by a test.

An outcome is ``passed``, ``deviation`` (a listed deviation, failing as expected, with its
reason) or ``failed`` (with the error's first line). A test skipped for any reason is
``failed``: a conformance run states what was checked, and a skip checks nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from properties.coverage import items_of, load_reference, reference_items, reference_sections
from properties.engines import base_id, engines_of


def _detail(report: pytest.TestReport) -> str:
    """The first line of what went wrong: the exception for a failure, the reason for a skip."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0]
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    lines = str(report.longrepr).strip().splitlines()
    return lines[-1] if lines else report.outcome


def _outcome(report: pytest.TestReport) -> tuple[str, str]:
    if report.skipped and hasattr(report, "wasxfail"):
        return ("deviation", str(report.wasxfail))
    if report.skipped:
        return ("failed", f"skipped: {_detail(report)}")
    if report.failed:
        return ("failed", _detail(report) if report.when == "call" else f"error in {report.when}: {_detail(report)}")
    return ("passed", "")


class Recorder:
    """Collects the outcome of each conformance test and writes them when the session ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine_of: dict[str, str] = {}
        self.outcomes: dict[str, tuple[str, str]] = {}  # node id -> (outcome, detail)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        suite = [item for item in items if "adapter" in getattr(item, "fixturenames", ())]
        config.hook.pytest_deselected(items=[item for item in items if item not in suite])
        items[:] = suite
        self.engine_of = {item.nodeid: getattr(item, "callspec").params["adapter"].name for item in suite}
        if config.option.collectonly:  # nothing runs: record what a run in which every test holds gives
            for item in suite:
                deviation = item.get_closest_marker("xfail")
                self.outcomes[item.nodeid] = ("passed", "") if deviation is None else ("deviation", str(deviation.kwargs["reason"]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """One report per phase (setup, call, teardown): the first one that is not a pass decides."""
        if report.nodeid not in self.engine_of:
            return
        outcome = _outcome(report)
        current = self.outcomes.get(report.nodeid)
        if current is None or (current[0] == "passed" and outcome[0] != "passed"):
            self.outcomes[report.nodeid] = outcome

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        reference = load_reference()
        section_of = {item.number: item.section for item in reference_items(reference)}
        tests: list[dict[str, Any]] = []
        for nodeid, (outcome, detail) in self.outcomes.items():
            items = items_of(base_id(nodeid))
            sections = sorted({section_of[n] for n in items}, key=lambda s: int(s.split(".")[0]))
            tests.append({"id": nodeid, "engine": self.engine_of[nodeid], "outcome": outcome, "detail": detail, "items": list(items), "sections": sections})
        engines = [{"name": e.name, "version": getattr(e.module, "__version__", None)} for e in engines_of(session.config)]
        document = {"engines": engines, "sections": reference_sections(reference), "tests": tests}
        self.path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("conformance").addoption(
        "--conformance-json", metavar="PATH", help="run the conformance suite only and write each test's outcome to PATH"
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("conformance_json")
    if path:
        config.pluginmanager.register(Recorder(Path(path)), "conformance-json")
