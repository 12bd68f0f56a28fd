"""The conformance suite as a product: choosing the engine (properties/engines.py) and the
map of reference items to tests (properties/coverage.py).

Runs of pytest on a few selected tests go through a subprocess, with tests/ on PYTHONPATH so
that the third-party engine of the examples, tests/fake_engine.py, can be imported.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fake_engine
from properties.coverage import (
    CHECKS,
    Item,
    check_problems,
    coverage_table,
    documented_table,
    gaps,
    items_of,
    load_reference,
    reference_items,
)
from properties.engines import BUILTIN, EngineError, ModuleAdapter, base_id, engine_names, load_engine

ROOT = Path(__file__).resolve().parents[1]
GRAPH_DEVIATIONS = "vector_matrix_product_node_name or batched_matrix_product_node_name or accumulate_grad_name"


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


def test_default_is_refgrad_and_torch_when_installed() -> None:
    pytest.importorskip("torch")
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


def test_pytest_engine_option_runs_that_engine_only() -> None:
    result = run_pytest("-rA", "tests/test_semantics_graph.py", "-k", GRAPH_DEVIATIONS, "--engine", "torch")
    assert result.returncode == 0, result.stdout
    assert set(outcomes(result).values()) == {"PASSED"} and len(outcomes(result)) == 3
    assert all(node.endswith("[torch]") for node in outcomes(result))


def test_refgrad_deviations_are_strict_xfails_with_their_reason() -> None:
    result = run_pytest("-rA", "tests/test_semantics_graph.py", "-k", GRAPH_DEVIATIONS, env={"REFGRAD_ENGINE": "refgrad"})
    assert result.returncode == 0, result.stdout
    assert set(outcomes(result).values()) == {"XFAIL"} and len(outcomes(result)) == 3
    assert "PyTorch returns its C++ qualified name" in result.stdout


def test_third_party_engine_lists_its_own_deviations() -> None:
    """The fake engine is refgrad: refgrad's markers do not excuse it, its own list does."""
    result = run_pytest("-rA", "tests/test_semantics_graph.py", "-k", GRAPH_DEVIATIONS, "--engine", "fake_engine")
    assert result.returncode == 1
    assert outcomes(result) == {
        "tests/test_semantics_graph.py::test_vector_matrix_product_node_name[fake]": "XFAIL",
        "tests/test_semantics_graph.py::test_batched_matrix_product_node_name[fake]": "XFAIL",
        "tests/test_semantics_graph.py::test_accumulate_grad_name[fake]": "FAILED",
    }
    assert "fake folds batched @ 2-D as refgrad does" in result.stdout


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

