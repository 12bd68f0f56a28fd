"""The conformance suite as a product: choosing the engine (properties/engines.py), the map
of reference items to tests (properties/coverage.py), each test's outcome (the pytest plugin
properties/outcomes.py) and the report of ``refgrad conformance`` (oracles/conformance.py).

Runs of pytest go through a subprocess on a few selected tests, with tests/ on PYTHONPATH so
that the third-party engine of the examples, tests/fake_engine.py, can be imported.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fake_engine
from oracles.conformance import Report, Outcome, add_command, find_suite, run_suite
from refgrad import __version__ as refgrad_version
from properties.coverage import (
    CHECKS,
    Item,
    check_problems,
    coverage_table,
    documented_table,
    semantics_body,
    gaps,
    items_of,
    load_reference,
    reference_items,
)
from properties.engines import BUILTIN, EngineError, ModuleAdapter, base_id, engine_names, load_engine

ROOT = Path(__file__).resolve().parents[1]
DEVIATING = "detach_of_inference_tensor_taken_outside"
"""refgrad's deviation (tests/test_semantics_inference.py)."""
DEVIATING_FILES = ["tests/test_semantics_graph.py", "tests/test_semantics_inference.py"]


def run_pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "REFGRAD_ENGINE"}
    environment.update({"PYTHONPATH": str(ROOT / "tests"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )


def outcomes(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """``-rA`` lines ``PASSED tests/x.py::test_y[refgrad]`` as {node id: outcome}."""
    return dict((m[2], m[1]) for m in re.finditer(r"^(PASSED|FAILED|XFAIL|XPASS|ERROR|SKIPPED) (\S+)", result.stdout, re.M))


# ---------------------------------------------------------------------------
# Which engines a run uses


def test_engine_option_wins_over_the_environment() -> None:
    assert engine_names(["torch"], {"REFGRAD_ENGINE": "refgrad"}) == ["torch"]
    assert engine_names(["refgrad,torch", "mine"], {}) == ["refgrad", "torch", "mine"]


def test_environment_variable_wins_over_the_default() -> None:
    assert engine_names(None, {"REFGRAD_ENGINE": " torch , fake_engine "}) == ["torch", "fake_engine"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_default_is_refgrad_and_torch_when_installed() -> None:
    assert engine_names(None, {}) == ["refgrad", "torch"] == engine_names([], {"REFGRAD_ENGINE": " "})


def test_builtin_engines() -> None:
    assert load_engine("refgrad") is BUILTIN["refgrad"]
    assert load_engine("refgrad").module.__name__ == "refgrad"
    assert load_engine("refgrad").type_prefix == "refgrad"


def test_module_path_with_an_adapter() -> None:
    assert load_engine("fake_engine") is fake_engine.ENGINE


def test_module_path_that_is_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "torchlike.py").write_text("from refgrad import autograd, tensor\n", encoding="utf-8")
    monkeypatch.syspath_prepend(tmp_path)
    assert load_engine("torchlike") == ModuleAdapter("torchlike", "torchlike")
    assert load_engine("torchlike").type_prefix == "torchlike"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "cannot import engine module 'notanengine': No module named 'notanengine'"),
        ("tensor = None\n", "module 'notanengine' has no ENGINE adapter and is not a PyTorch-like API (no autograd)"),
        ("ENGINE = 1\n", "notanengine.ENGINE is not an EngineAdapter (it has no name, module, type_prefix, deviations)"),
    ],
)
def test_a_name_that_gives_no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str | None, message: str) -> None:
    if source is not None:
        (tmp_path / "notanengine.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.delitem(sys.modules, "notanengine", raising=False)  # imported by the case before
    with pytest.raises(EngineError) as info:
        load_engine("notanengine")
    assert str(info.value) == message


def test_base_id_drops_the_parameters() -> None:
    assert base_id("tests/test_x.py::test_y[torch-[2, 3]]") == "tests/test_x.py::test_y"
    assert base_id("tests/test_x.py::TestC::test_y") == "tests/test_x.py::TestC::test_y"


# ---------------------------------------------------------------------------
# pytest --engine / REFGRAD_ENGINE, deviations


def test_refgrad_deviations_are_strict_xfails_with_their_reason() -> None:
    result = run_pytest("-rA", *DEVIATING_FILES, "-k", DEVIATING, env={"REFGRAD_ENGINE": "refgrad"})
    assert result.returncode == 0, result.stdout
    assert set(outcomes(result).values()) == {"XFAIL"} and len(outcomes(result)) == 1
    assert "refgrad applies the inference in-place rule to a detach() of an inference tensor too" in result.stdout


def test_unknown_engine_is_a_usage_error() -> None:
    result = run_pytest("tests/test_semantics_graph.py", "--engine", "notanengine")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "cannot import engine module 'notanengine'" in result.stderr


# ---------------------------------------------------------------------------
# Reference items -> tests (properties/coverage.py)


def test_reference_items_are_numbered_1_to_51_in_12_sections() -> None:
    items = reference_items(load_reference())
    assert [item.number for item in items] == list(range(1, 52))
    assert len({item.section for item in items}) == 12  # section 13 (gradcheck) has no numbered item
    assert items[6].section == "2. backward()" and items[6].text.startswith("Non-scalar output without")


def test_every_listed_test_and_item_exists() -> None:
    assert check_problems(CHECKS, reference_items(load_reference()), ROOT) == []


def test_the_map_checker_flags_what_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_x(): pass\ndef helper(): pass\n", encoding="utf-8")
    checks: dict[str, dict[str, tuple[int, ...]]] = {
        "tests/test_a.py": {"test_x": (1, 99), "test_gone": (1,), "helper": (1,), "test_x_again": ()},
        "tests/test_missing.py": {"test_y": (1,)},
    }
    assert check_problems(checks, reference_items(load_reference()), tmp_path) == [
        "tests/test_a.py::test_x: item 99 is not in the reference",
        "tests/test_a.py::test_gone: no such test",
        "tests/test_a.py::helper: no such test",
        "tests/test_a.py::test_x_again: no such test",
        "tests/test_a.py::test_x_again: no item listed",
        "tests/test_missing.py: no such file",
    ]


def test_no_test_is_listed_twice_in_a_file() -> None:
    """A repeated key in CHECKS' literal would silently drop the first entry."""
    tree = ast.parse((ROOT / "properties" / "coverage.py").read_text(encoding="utf-8"))
    repeated = [
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and [k.value for k in node.keys if isinstance(k, ast.Constant)].count(key.value) > 1
    ]
    assert repeated == []


def test_the_semantics_page_is_the_generated_one() -> None:
    page = documented_table((ROOT / "docs" / "semantics.md").read_text(encoding="utf-8"))
    assert page == semantics_body(reference_items(load_reference())), "run: python -m properties.coverage --write"
    assert "**parity: refgrad deviates** — refgrad applies the inference in-place rule to a detach() of an inference tensor too" in page


def test_the_docs_table_is_the_generated_one() -> None:
    documented = documented_table((ROOT / "docs" / "conformance.md").read_text(encoding="utf-8"))
    assert documented == coverage_table(reference_items(load_reference())), "run: python -m properties.coverage --write"


def test_an_item_without_tests_is_listed_as_a_gap() -> None:
    items = [*reference_items(load_reference()), Item(52, "12. Non-differentiable points", "A new statement.")]
    assert gaps(items) == items[-1:]
    table = coverage_table(items)
    assert "| 52 | A new statement. | **gap: no test** |" in table
    mapped = sum(len(tests) for tests in CHECKS.values())
    assert table.endswith(f"51 of 52 items are checked, by {mapped} test functions; gaps: 52.")


def test_items_of_a_test() -> None:
    assert items_of("tests/test_semantics_backward.py::test_accumulation_is_in_place") == (10,)
    assert items_of("tests/test_semantics_graph.py::test_scalar_divided_by_tensor_goes_through_reciprocal") == (3, 4)
    assert items_of("tests/test_bad_input.py::test_cat_of_nothing") == ()  # beyond the numbered items


# ---------------------------------------------------------------------------
# Each test's outcome (properties/outcomes.py), on a small suite of its own

OUTCOME_CASES = '''
import pytest

def test_passes(engine):
    assert engine.tensor([1.0]).tolist() == [1.0]

def test_fails(engine):
    assert engine.tensor([1.0]).tolist() == [2.0], "one is not two"

@pytest.mark.deviation("this engine says one is two")
def test_listed_deviation(engine):
    assert engine.tensor([1.0]).tolist() == [2.0]

@pytest.mark.deviation("listed, but it passes")
def test_listed_deviation_that_passes(engine):
    pass

def test_skipped(engine):
    pytest.skip("not today")

@pytest.fixture
def breaks_after():
    yield
    raise ValueError("teardown broke")

def test_teardown_fails(engine, breaks_after):
    pass

def test_without_engine():
    pass
'''


def test_outcomes_of_each_kind(tmp_path: Path) -> None:
    (tmp_path / "test_cases.py").write_text(OUTCOME_CASES, encoding="utf-8")
    out = tmp_path / "outcomes.json"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "properties.engines", "-p", "properties.outcomes",
         "--conformance-json", str(out), "--engine", "refgrad", "test_cases.py"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["engines"] == [{"name": "refgrad", "version": refgrad_version}]
    assert {t["id"]: (t["outcome"], t["detail"]) for t in document["tests"]} == {
        "test_cases.py::test_passes[refgrad]": ("passed", ""),
        "test_cases.py::test_fails[refgrad]": ("failed", "AssertionError: one is not two"),
        "test_cases.py::test_listed_deviation[refgrad]": ("deviation", "this engine says one is two"),
        "test_cases.py::test_listed_deviation_that_passes[refgrad]": ("failed", "[XPASS(strict)] listed, but it passes"),
        "test_cases.py::test_skipped[refgrad]": ("failed", "skipped: not today"),
        "test_cases.py::test_teardown_fails[refgrad]": ("failed", "error in teardown: ValueError: teardown broke"),
    }  # test_without_engine is not part of the suite


# ---------------------------------------------------------------------------
# The report (oracles/conformance.py)

S1, S2, S5 = "1. Leaves, grad_fn, next_functions", "2. backward()", "5. Grad modes"


def report_of(*tests: Outcome) -> Report:
    return Report("mine", "1.0", "python -m pytest --engine mine", [S1, S2, "3. autograd.grad"], list(tests))


def test_report_counts_a_test_in_each_of_its_sections_and_groups_the_others_by_file() -> None:
    report = report_of(
        Outcome("tests/test_a.py::test_x[mine]", "passed", "", (S1, S2)),
        Outcome("tests/test_a.py::test_y[mine]", "deviation", "on purpose", (S2,)),
        Outcome("tests/test_b.py::test_z[mine]", "passed", "", ()),
    )
    assert [(group, tally.as_dict()) for group, tally in report.rows()] == [
        (S1, {"passed": 1, "failed": 0, "deviation": 0}),
        (S2, {"passed": 1, "failed": 0, "deviation": 1}),
        ("other: tests/test_b.py", {"passed": 1, "failed": 0, "deviation": 0}),
    ]
    assert report.total().as_dict() == {"passed": 2, "failed": 0, "deviation": 1}
    assert report.ok and report.verdict() == "PASS: every test passes but for 1 listed deviation"


def test_report_fails_on_any_failure_and_on_an_empty_run() -> None:
    failing = report_of(
        Outcome("tests/test_a.py::test_x[mine]", "passed", "", (S1,)),
        Outcome("tests/test_a.py::test_y[mine]", "failed", "AssertionError: no", (S1,)),
    )
    assert not failing.ok and failing.verdict() == "FAIL: 1 test failed"
    assert not report_of().ok and report_of().verdict() == "FAIL: no test ran"


def test_report_text_lists_deviations_and_failures_with_their_reasons() -> None:
    text = report_of(
        Outcome("tests/test_a.py::test_x[mine]", "deviation", "mine rounds differently", (S1,)),
        Outcome("tests/test_a.py::test_y[mine]", "deviation", "mine rounds differently", (S1,)),
        Outcome("tests/test_a.py::test_z[mine]", "failed", "AssertionError: 1 != 2", (S2,)),
    ).to_text()
    assert text.splitlines()[0] == "Conformance of mine 1.0: 3 tests, 0 passed, 1 failed, 2 deviations"
    assert "Deviations (2 tests):\n- mine rounds differently\n    tests/test_a.py::test_x[mine]\n    tests/test_a.py::test_y[mine]\n" in text
    assert "Failures (1 test):\n- AssertionError: 1 != 2\n    tests/test_a.py::test_z[mine]\n" in text
    assert text.endswith("\nFAIL: 1 test failed")


# ---------------------------------------------------------------------------
# refgrad conformance, end to end on a few tests

SELECTION = [
    *DEVIATING_FILES, "-k",
    f"{DEVIATING} or accumulate_grad_name or vector_matrix_product_node_name or batched_matrix_product_node_name or test_tensor_without_grad_is_leaf",
]  # fmt: skip


def run_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``refgrad conformance ARGV`` as oracles/cli.py runs it: (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="refgrad")
    add_command(parser.add_subparsers())
    args = parser.parse_args(["conformance", *argv])
    code: int = args.run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_refgrad_passes_but_for_its_listed_deviations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_command(["--json", *SELECTION], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["engine"] == "refgrad"
    assert report["total"] == {"passed": 5, "failed": 0, "deviation": 1}
    sections = {row["section"]: row for row in report["sections"]}
    assert sections[S1] == {"section": S1, "passed": 3, "failed": 0, "deviation": 0}  # item 4: accumulate_grad_name
    assert sections[S5] == {"section": S5, "passed": 0, "failed": 0, "deviation": 1}
    assert {d["reason"]: d["tests"] for d in report["deviations"]}[
        "refgrad applies the inference in-place rule to a detach() of an inference tensor too; PyTorch lets it through"
    ] == ["tests/test_semantics_inference.py::test_detach_of_inference_tensor_taken_outside_can_be_updated_in_place[refgrad]"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_passes_everything(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_command(["--engine", "torch", "--json", *SELECTION], capsys)
    report = json.loads(out)
    assert code == 0 and report["total"] == {"passed": 6, "failed": 0, "deviation": 0}
    assert all(re.search(r"[\[-]torch[-\]]", t["id"]) for t in report["tests"])  # --engine torch: torch only


def test_third_party_engine_by_module_path() -> None:
    """``python -m oracles.conformance``, the engine importable from the caller's PYTHONPATH."""
    result = subprocess.run(
        [sys.executable, "-m", "oracles.conformance", "--engine", "fake_engine", *SELECTION],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": "tests"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("Conformance of fake 0.1.0: 6 tests, 4 passed, 1 failed, 1 deviation\n")
    assert (
        "- fake refuses to update a detach() of an inference tensor in place, as refgrad does\n"
        "    tests/test_semantics_inference.py::test_detach_of_inference_tensor_taken_outside_can_be_updated_in_place[fake]"
    ) in result.stdout
    assert "Failures (1 test):\n- [XPASS(strict)] fake lists a deviation it does not have\n    tests/test_semantics_graph.py::test_accumulate_grad_name[fake]" in result.stdout


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--engine", "notanengine", *SELECTION], "cannot import engine module 'notanengine': No module named 'notanengine'"),
        (["--engine", "refgrad,torch", *SELECTION], "one engine per run, got 'refgrad,torch'"),
        (["tests/test_numeric.py"], "no conformance test matches the selection"),  # no test there takes an engine
        (["--suite", "docs"], "docs holds no conformance suite (tests/ and properties/ of a refgrad source checkout)"),
    ],
)
def test_bad_usage_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str], argv: list[str], error: str) -> None:
    assert run_command(argv, capsys) == (2, "", f"refgrad conformance: error: {error}\n")


def test_suite_found_from_anywhere_in_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT / "docs")
    assert find_suite(None) == ROOT
    monkeypatch.chdir(tmp_path)  # outside: the checkout this module comes from
    assert find_suite(None) == ROOT


def pasted_report(page: str, title: str) -> str:
    """The report pasted under ``### title`` in docs/conformance.md, without the shell lines."""
    block = page.split(f"### {title}\n", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    return "\n".join(line for line in block.splitlines() if not line.startswith("$ ") and line != "0")


@pytest.mark.parametrize(
    ("engine", "title"),
    [
        ("refgrad", "refgrad"),
        pytest.param(
            "torch", "PyTorch 2.13", marks=pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
        ),
    ],
)
def test_the_pasted_reports_are_what_this_suite_gives(engine: str, title: str) -> None:
    """The reports in docs/conformance.md are those of a run of today's suite in which every test
    holds (collected, not run: the rest of CI checks that each one does), so they cannot go stale."""
    expected = run_suite(ROOT, engine, None, [], collect_only=True)
    assert len(expected.tests) > 1000
    page = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    assert pasted_report(page, title) == expected.to_text(), f"paste the output of: refgrad conformance --engine {engine}"
