"""The conformance suite as a product: choosing the engine (properties/engines.py).

Runs of pytest on a few selected tests go through a subprocess, with tests/ on PYTHONPATH so
that the third-party engine of the examples, tests/fake_engine.py, can be imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fake_engine
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
