"""The benchmarks measure the same computation on every engine: each workload gives the same
loss and the same gradients on refgrad, the numpy floor (forward), the hand-written numpy MLP,
and each other engine that is installed. (No timing here: performance is only measured by
``python -m benchmarks``.)"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from benchmarks import probe, svg, wrapper_floor
from benchmarks.engines import Engine, available, numpy_engine, refgrad_engine
from benchmarks.workloads import Workload, elementwise, fan_out, mlp, mlp_numpy_step, saving_chain, while_loop

ENGINES, _ = available()
WORKLOADS = {
    "elementwise": elementwise(20),
    "fan_out_add": fan_out(7, "add"),
    "fan_out_stack": fan_out(7, "stack"),
    "fan_out_cat": fan_out(7, "cat"),
    "while_loop": while_loop(30),
    "saving_chain": saving_chain(6),
    "mlp": mlp(),
}


def _reference(work: Workload) -> tuple[float, list[np.ndarray]]:
    return refgrad_engine().step(work.fn, work.arrays, work.wrt)()


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_numpy_floor_computes_the_same_loss(name: str) -> None:
    work = WORKLOADS[name]
    forward = numpy_engine().forward
    assert forward is not None
    assert forward(work.fn, work.arrays)() == pytest.approx(_reference(work)[0], rel=1e-12)


@pytest.mark.parametrize("engine", [e for e in ENGINES if e.name not in ("numpy", "refgrad")], ids=lambda e: e.name)
@pytest.mark.parametrize("name", WORKLOADS)
def test_every_engine_computes_the_same_loss_and_gradients(engine: Engine, name: str) -> None:
    work = WORKLOADS[name]
    loss, grads = engine.step(work.fn, work.arrays, work.wrt)()
    expected_loss, expected_grads = _reference(work)
    assert loss == pytest.approx(expected_loss, rel=1e-10)
    assert len(grads) == len(expected_grads) == len(work.wrt)
    for got, expected in zip(grads, expected_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    if engine.forward is not None:
        assert engine.forward(work.fn, work.arrays)() == pytest.approx(expected_loss, rel=1e-10)


def test_the_hand_written_numpy_mlp_matches_refgrad() -> None:
    work = WORKLOADS["mlp"]
    loss, grads = mlp_numpy_step(work)()
    expected_loss, expected_grads = _reference(work)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for got, expected in zip(grads, expected_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


def test_the_while_loop_takes_the_stated_number_of_trips() -> None:
    work = while_loop(30)
    y = work.arrays[0]
    for _ in range(30):
        y = y * 1.001 + 0.001
    assert _reference(work)[0] == float(np.sum(y))


def test_the_graph_probe_reports_no_error_on_refgrad() -> None:
    result = probe.graph(refgrad_engine(), 100_000)  # enough nodes for the resident set to show them
    assert result["errors"] == []
    assert 50 < result["bytes_per_node"] < 1000  # a node, its edges and saved values, under the 1 KB target


def test_the_plot_is_well_formed_svg() -> None:
    text = svg.loglog("t", "x", "y", {"a": [(1e3, 2.0), (1e6, 5.0)], "b": [(1e3, 20.0), (1e6, 60.0)]})
    root = ElementTree.fromstring(text)
    assert root.tag.endswith("svg")
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 2


def test_the_wrapper_floor_computes_what_numpy_and_refgrad_compute() -> None:
    """The floor is only a floor if it does the same work: the three values are one value."""
    values = [run() for run in wrapper_floor.runs(50).values()]
    assert values[1] == values[0] and values[2] == pytest.approx(values[0], rel=1e-12)
