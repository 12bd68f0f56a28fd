"""oracles.graph: the DOT text of a computation graph, read back and checked as a graph
(nodes, labels, edges); the built-in SVG renderer, read back as XML; and render's handling
of the Graphviz ``dot`` program."""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import refgrad as rg
from oracles.graph import (
    MISSING_MESSAGE, Arrow, Box, Diagram, GraphvizFailed, GraphvizMissing, collect, escape, layers, render, to_dot, to_svg,
    write_dot,
)  # fmt: skip

_NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"(, fillcolor=(\w+))?\];$')
_EDGE = re.compile(r'^  (\w+) -> (\w+)( \[label="output (\d+)"\])?;$')


@dataclass
class Graph:
    labels: dict[str, str]
    """node id -> label (unescaped)"""
    colours: dict[str, str]
    edges: list[tuple[str, str]]

    def name(self, node: str) -> str:
        """The first line of a node's label: an operation's class name, a leaf's name, ``output``."""
        return self.labels[node].split("\n")[0]

    def names(self) -> Counter[str]:
        return Counter(self.name(n) for n in self.labels)

    def edge_names(self) -> Counter[tuple[str, str]]:
        return Counter((self.name(a), self.name(b)) for a, b in self.edges)

    def path_from(self, node: str) -> list[str]:
        """The names along the only path from ``node`` on (each node on it has one successor)."""
        path = [self.name(node)]
        while successors := [b for a, b in self.edges if a == node]:
            assert len(successors) == 1, f"{path}: several successors {successors}"
            node = successors[0]
            path.append(self.name(node))
        return path

    def node_named(self, name: str) -> str:
        (node,) = [n for n in self.labels if self.name(n) == name]
        return node


def parse(dot: str) -> Graph:
    """A minimal reader for what to_dot writes: every line is a known header, a node or an edge."""
    lines = dot.splitlines()
    assert lines[0] == "digraph {" and lines[-1] == "}"
    graph = Graph({}, {}, [])
    for line in lines[1:-1]:
        if node := _NODE.match(line):
            assert node[1] not in graph.labels, f"node {node[1]} drawn twice"
            graph.labels[node[1]] = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], node[2])
            if node[4]:
                graph.colours[node[1]] = node[4]
        elif edge := _EDGE.match(line):
            graph.edges.append((edge[1], edge[2]))
        else:
            assert line.startswith(("  node [", "  graph [")), f"unexpected line {line!r}"
    assert {n for edge in graph.edges for n in edge} <= graph.labels.keys(), "an edge to an undrawn node"
    return graph


def seed() -> tuple[rg.Tensor, rg.Tensor, rg.Tensor]:
    a = rg.tensor([2.0, 3.0], requires_grad=True)
    b = rg.tensor([6.0, 4.0], requires_grad=True)
    return a, b, 3 * a**3 - b**2


def test_seed_graph_has_exactly_its_nodes_and_edges() -> None:
    a, b, Q = seed()
    graph = parse(to_dot(Q.sum(), {"a": a, "b": b}))
    assert graph.names() == Counter(
        ["output", "SumBackward0", "SubBackward0", "MulBackward0", "PowBackward0", "PowBackward0"]
        + ["AccumulateGrad", "AccumulateGrad", "a", "b"]
    )
    assert len(graph.edges) == 9
    # Edges run from the inputs toward the output (torchviz's direction).
    assert graph.path_from(graph.node_named("a")) == [
        "a", "AccumulateGrad", "PowBackward0", "MulBackward0", "SubBackward0", "SumBackward0", "output"
    ]  # fmt: skip
    assert graph.path_from(graph.node_named("b")) == [
        "b", "AccumulateGrad", "PowBackward0", "SubBackward0", "SumBackward0", "output"
    ]  # fmt: skip
    colours = {graph.name(node): colour for node, colour in graph.colours.items()}
    assert colours == {"output": "darkolivegreen1", "a": "lightblue", "b": "lightblue"}
    assert graph.labels[graph.node_named("SubBackward0")] == "SubBackward0\n[2]"
    assert graph.labels[graph.node_named("output")] == "output\n[]"


def test_leaves_show_their_gradients_after_backward() -> None:
    a, b, Q = seed()
    before = parse(to_dot(Q, {"a": a, "b": b}))
    assert before.labels[before.node_named("a")] == "a\n[2]"
    Q.backward(gradient=rg.tensor([1.0, 1.0]))
    after = parse(to_dot(Q, {"a": a, "b": b}))
    assert after.labels[after.node_named("a")] == "a\n[2]\ngrad [36, 81]"
    assert after.labels[after.node_named("b")] == "b\n[2]\ngrad [-12, -8]"
    assert after.edges == before.edges


def test_gradients_are_rounded_and_long_ones_elided() -> None:
    w = rg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = rg.ones(100, requires_grad=True)
    ((w / 3).sum() + (v * 0.1).sum()).backward()
    graph = parse(to_dot(w.sum(), {"w": w, "v": v}))
    assert graph.labels[graph.node_named("w")] == "w\n[2, 2]\ngrad [[0.3333, 0.3333], [0.3333, 0.3333]]"
    graph = parse(to_dot(v.sum(), {"v": v}))
    assert graph.labels[graph.node_named("v")] == "v\n[100]\ngrad [0.1, 0.1, ..., 0.1, 0.1]"


def test_a_node_used_several_times_is_drawn_once() -> None:
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y * y + x  # y feeds the product twice; x feeds exp and the sum
    graph = parse(to_dot(z, {"x": x}))
    assert graph.names() == Counter(["output", "AddBackward0", "MulBackward0", "ExpBackward0", "AccumulateGrad", "x"])
    # One edge per entry of next_functions.
    assert graph.edge_names() == Counter(
        {
            ("ExpBackward0", "MulBackward0"): 2,
            ("MulBackward0", "AddBackward0"): 1,
            ("AccumulateGrad", "AddBackward0"): 1,
            ("AccumulateGrad", "ExpBackward0"): 1,
            ("x", "AccumulateGrad"): 1,
            ("AddBackward0", "output"): 1,
        }
    )


def test_node_ids_follow_the_walk_and_repeat() -> None:
    a, b, Q = seed()
    dot = to_dot(Q, {"a": a, "b": b})
    graph = parse(dot)
    assert [graph.name(n) for n in graph.labels] == [
        "output", "SubBackward0", "MulBackward0", "PowBackward0", "AccumulateGrad", "a", "PowBackward0", "AccumulateGrad", "b"
    ]  # fmt: skip
    assert list(graph.labels) == ["n0", "n1", "n2", "n3", "n4", "n4v", "n5", "n6", "n6v"]
    assert to_dot(Q, {"a": a, "b": b}) == dot


def test_a_chain_of_100000_nodes() -> None:
    x = rg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    graph = parse(to_dot(y, {"x": x}))
    assert graph.names() == Counter({"MulBackward0": 100_000, "AccumulateGrad": 1, "x": 1, "output": 1})
    assert len(graph.edges) == 100_002


def test_odd_names_and_titles_are_escaped() -> None:
    odd = ['say "hi"', "back\\slash", "two\nlines", "{record|<port>}", "trailing\\"]
    leaves = {name: rg.tensor([1.0], requires_grad=True) for name in odd}
    anonymous = rg.tensor([1.0], requires_grad=True)
    total = anonymous.sum()
    for leaf in leaves.values():
        total = total + leaf.sum()
    dot = to_dot(total, leaves, title='the "odd" graph\\')
    graph = parse(dot)
    assert sorted(graph.name(n) for n in graph.colours if graph.colours[n] == "lightblue") == sorted(
        [*(name.split("\n")[0] for name in odd), "leaf"]
    )
    assert graph.labels[graph.node_named("two")] == "two\nlines\n[1]"
    assert '  graph [label="the \\"odd\\" graph\\\\ ", labelloc=t];' in dot.splitlines()
    assert escape('a"b\\c\nd\r\ne') == 'a\\"b\\\\c\\nd\\ne'
    assert escape("ends in \\") == "ends in \\\\ "  # (old Graphviz rejects a string ending in \\)


def test_a_leaf_output_is_one_node() -> None:
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    graph = parse(to_dot(x, {"x": x}))
    assert graph.labels == {"n0": "x\n[2]"} and graph.edges == []


def test_edges_from_a_node_with_several_outputs_name_the_output() -> None:
    x = rg.ones(4, requires_grad=True)
    first, second = x.split(2)
    dot = to_dot(first * second, {"x": x})
    assert '  n2 -> n1 [label="output 0"];' in dot.splitlines()
    assert '  n2 -> n1 [label="output 1"];' in dot.splitlines()
    graph = parse(dot)
    assert graph.labels["n2"] == "SplitBackward0\n[2] [2]"


def torch_seed() -> tuple[Any, Any, Any]:
    """The seed example on torch (skips the test when torch is not installed)."""
    torch = pytest.importorskip("torch")
    ta = torch.tensor([2.0, 3.0], requires_grad=True)
    tb = torch.tensor([6.0, 4.0], requires_grad=True)
    return ta, tb, 3 * ta**3 - tb**2


def test_torch_graphs_draw_the_same() -> None:
    a, b, Q = seed()
    ta, tb, tQ = torch_seed()
    ours, theirs = parse(to_dot(Q, {"a": a, "b": b})), parse(to_dot(tQ, {"a": ta, "b": tb}))
    assert [ours.name(n) for n in ours.labels] == [theirs.name(n) for n in theirs.labels]
    assert ours.edges == theirs.edges
    Q.backward(gradient=rg.tensor([1.0, 1.0]))
    tQ.backward(gradient=tQ.new_ones(2))
    assert to_dot(Q, {"a": a, "b": b}, title="seed") == to_dot(tQ, {"a": ta, "b": tb}, title="seed")


def _fake_dot(directory: Path, script: str) -> None:
    program = directory / "dot"
    program.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)


def test_render_without_graphviz_says_how_to_get_dot_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizMissing) as raised:
        render("digraph {}", "svg")
    assert isinstance(raised.value, RuntimeError)
    assert str(raised.value) == MISSING_MESSAGE == "the Graphviz 'dot' program is not installed; use --format dot to get DOT text"


def test_render_passes_the_format_and_source_to_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dot(tmp_path, 'echo "$@"\ncat\n')
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    assert render("digraph {}\n", "png") == b"-Tpng\ndigraph {}\n"


def test_render_reports_what_dot_said_when_it_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dot(tmp_path, 'echo "Error: syntax error in line 1" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    with pytest.raises(GraphvizFailed, match="^Graphviz 'dot' failed: Error: syntax error in line 1$"):
        render("digraph {", "svg")


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown image format 'pdf'"):
        render("digraph {}", "pdf")  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's 'dot' program is not installed")
def test_render_with_graphviz() -> None:
    a, b, Q = seed()
    Q.sum().backward()
    dot = to_dot(Q, {"a": a, "b": b}, title="seed")
    svg = render(dot, "svg")
    assert svg.lstrip().startswith((b"<?xml", b"<svg")) and b"MulBackward0" in svg
    assert render(dot, "png").startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(GraphvizFailed):
        render("digraph {", "svg")


# --------------------------------------------------------------------------- the built-in SVG renderer

SVG = "{http://www.w3.org/2000/svg}"


def svg_parts(svg: str) -> tuple[list[ElementTree.Element], list[ElementTree.Element]]:
    """The node groups and edge paths of what to_svg wrote (which must be well-formed XML)."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert len(list(root.iter(f"{SVG}g"))) == len(nodes) and len(list(root.iter(f"{SVG}path"))) == len(edges)
    return nodes, edges


def test_svg_has_a_box_per_node_and_a_path_per_edge() -> None:
    a, b, Q = seed()
    Q.sum().backward()
    diagram = collect(Q, {"a": a, "b": b}, title="seed")
    nodes, edges = svg_parts(to_svg(diagram))
    assert [g.get("id") for g in nodes] == [box.id for box in diagram.boxes]
    for g, box in zip(nodes, diagram.boxes, strict=True):
        assert len(g.findall(f"{SVG}rect")) == 1
        assert tuple(t.text for t in g.findall(f"{SVG}text")) == box.lines
    assert len(edges) == len(diagram.arrows) == 8
    assert all(p.get("marker-end") == "url(#arrowhead)" for p in edges)
    labels = [" ".join(t.text or "" for t in g.findall(f"{SVG}text")) for g in nodes]
    assert "a [2] grad [36, 81]" in labels and "b [2] grad [-12, -8]" in labels


def _boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    nodes, _ = svg_parts(svg)
    result = {}
    for g in nodes:
        rect = g.find(f"{SVG}rect")
        assert rect is not None
        result[str(g.get("id"))] = tuple(float(str(rect.get(k))) for k in ("x", "y", "width", "height"))
    return result  # type: ignore[return-value]


def test_svg_layers_point_down_to_the_output_and_boxes_do_not_overlap() -> None:
    a, b, Q = seed()
    diagram = collect(Q, {"a": a, "b": b})
    assert layers(diagram) == [["n0"], ["n1"], ["n2", "n5"], ["n3", "n6"], ["n4", "n6v"], ["n4v"]]
    boxes = _boxes(to_svg(diagram))
    for arrow in diagram.arrows:  # every arrow goes down the picture
        assert boxes[arrow.tail][1] + boxes[arrow.tail][3] < boxes[arrow.head][1]
    for one, (x1, y1, w1, h1) in boxes.items():
        for other, (x2, y2, w2, h2) in boxes.items():
            if one < other:
                assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, (one, other)


def test_svg_is_deterministic_and_escapes_text() -> None:
    odd = {'<b> & "c"': rg.tensor([1.0], requires_grad=True), "nul\x00byte": rg.tensor([2.0], requires_grad=True)}
    total = odd['<b> & "c"'] * odd["nul\x00byte"]
    first = to_svg(collect(total, odd, title="x < y"))
    assert first == to_svg(collect(total, odd, title="x < y"))
    nodes, _ = svg_parts(first)
    texts = [t.text for g in nodes for t in g.findall(f"{SVG}text")]
    assert '<b> & "c"' in texts and "nul\ufffdbyte" in texts


def test_svg_draws_parallel_edges_and_output_labels_apart() -> None:
    x = rg.ones(4, requires_grad=True)
    first, second = x.split(2)
    y = first * second * first
    svg = to_svg(collect(y, {"x": x}))
    _, edges = svg_parts(svg)
    assert len({p.get("d") for p in edges}) == len(edges)
    labels = [t.text for t in ElementTree.fromstring(svg).iter(f"{SVG}text") if t.get("class") == "edge-label"]
    assert sorted(labels) == ["output 0", "output 0", "output 1"]  # type: ignore[type-var]


def test_svg_of_a_leaf_and_of_a_long_chain() -> None:
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = svg_parts(to_svg(collect(x, {"x": x})))
    assert len(nodes) == 1 and edges == []
    y = x
    for _ in range(20_000):
        y = y * 1.0
    nodes, edges = svg_parts(to_svg(collect(y, {"x": x})))
    assert len(nodes) == 20_003 and len(edges) == 20_002


def test_a_diagram_can_be_built_by_hand() -> None:
    diagram = Diagram((Box("o", ("out",), "darkolivegreen1"), Box("i", ("in",))), (Arrow("i", "o", "edge"),), "t")
    assert write_dot(diagram).splitlines()[2:5] == [
        '  graph [label="t", labelloc=t];', '  o [label="out", fillcolor=darkolivegreen1];', '  i [label="in"];'
    ]  # fmt: skip
    nodes, edges = svg_parts(to_svg(diagram))
    assert len(nodes) == 2 and len(edges) == 1
    with pytest.raises(ValueError, match="cycle"):
        layers(Diagram((Box("p", ("p",)), Box("q", ("q",))), (Arrow("p", "q"), Arrow("q", "p"))))


def test_torch_graphs_draw_the_same_svg() -> None:
    a, b, Q = seed()
    ta, tb, tQ = torch_seed()
    assert to_svg(collect(Q, {"a": a, "b": b})) == to_svg(collect(tQ, {"a": ta, "b": tb}))
