"""The computation graph behind a tensor, as Graphviz DOT text (and, with Graphviz, a picture).

``to_dot(output, inputs)`` walks ``output.grad_fn`` and its ``next_functions`` and draws what
torchviz draws for PyTorch:

* one box per node: each operation's node (``MulBackward0``...) with the shape of the
  tensor it produced, each leaf's ``AccumulateGrad``, and one box per leaf tensor
  (light blue: its name from ``inputs``, or ``leaf`` when it has none; its shape; its
  ``.grad`` when set, rounded to 4 significant digits);
* the output tensor, in green, labelled ``output`` and its shape;
* edges pointing from the inputs toward the output, as torchviz draws them (the reverse of
  ``next_functions``, which point from a node to the nodes of its inputs):
  leaf -> AccumulateGrad -> ... -> root node -> output. A node that several others use is
  drawn once; one edge is drawn per entry of ``next_functions`` (``a * a`` has two edges
  from a's AccumulateGrad). An edge from a node with several outputs names the output.

Nodes are numbered ``n0, n1, ...`` in depth-first order from the output (inputs in
``next_functions`` order), so the same graph always gives the same text. The walk keeps its
own stack: a chain of any length needs no recursion.

Only the tensor and node API that refgrad shares with PyTorch is used (``grad_fn``,
``next_functions``, ``AccumulateGrad.variable``, ``is_leaf``, ``shape``, ``grad``), so a torch
tensor works as well; this module does not import refgrad. The one exception: neither
library publishes the shape of what an operation's node produced, so it is read from
refgrad's ``Node._shape`` slot (``_outputs`` for a node with several outputs) or torch's
``Node._input_metadata``, and left out when neither is there.

``render(dot_source, fmt)`` runs Graphviz's ``dot`` program to make an SVG or a PNG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from xml.sax.saxutils import escape as xml_escape

import numpy as np


class GradFn(Protocol):
    """A node of the backward graph (refgrad's ``Node``, PyTorch's ``torch.autograd.graph.Node``)."""

    @property
    def next_functions(self) -> Sequence[tuple[GradFn | None, int]]: ...


class Values(Protocol):
    def tolist(self) -> Any: ...


class TensorLike(Protocol):
    """What ``to_dot`` reads of a tensor (refgrad's ``Tensor`` or ``torch.Tensor``)."""

    @property
    def grad_fn(self) -> GradFn | None: ...

    @property
    def grad(self) -> Values | None: ...

    @property
    def is_leaf(self) -> bool: ...

    @property
    def shape(self) -> Sequence[int]: ...


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not on the PATH."""


class GraphvizFailed(RuntimeError):
    """``dot`` ran and failed (its message is in the exception's)."""


MISSING_MESSAGE = "the Graphviz 'dot' program is not installed; use --format dot to get DOT text"

GRAPH_STYLE = "node [shape=box, style=filled, fillcolor=white, fontname=monospace, fontsize=10];"
LEAF_FILL = "lightblue"
OUTPUT_FILL = "darkolivegreen1"
UNNAMED_LEAF = "leaf"


@dataclass(frozen=True)
class Box:
    """A node of a drawing: its id (``n0``, ``n1``, ``n1v``...), its label's lines (plain
    text) and its fill colour (a Graphviz colour name; None for white)."""

    id: str
    lines: tuple[str, ...]
    fill: str | None = None


@dataclass(frozen=True)
class Arrow:
    """An edge of a drawing, from ``tail`` toward ``head`` (box ids), with an optional label."""

    tail: str
    head: str
    label: str | None = None


@dataclass(frozen=True)
class Diagram:
    """What ``to_dot`` and ``to_svg`` draw: boxes in walk order (the output's first), arrows
    in the order DOT lists them, and an optional title. ``collect`` makes one."""

    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    title: str | None = None


def collect(output: TensorLike, inputs: Mapping[str, TensorLike], *, title: str | None = None) -> Diagram:
    """The graph that backward from ``output`` would walk, as boxes and arrows (see the
    module's doc). ``inputs`` names leaves (matched by identity); a name for a tensor that is
    not a leaf of this graph is not drawn."""
    names = {id(t): name for name, t in inputs.items()}
    boxes = [Box("n0", _tensor_label(output, names, "output"), OUTPUT_FILL)]
    root = output.grad_fn
    if root is None:
        # A leaf: nothing was recorded.
        return Diagram(tuple(boxes), (), title)

    ids: dict[GradFn, str] = {}
    walked: list[GradFn] = []
    stack: list[GradFn] = [root]
    while stack:
        node = stack.pop()
        if node in ids:
            continue
        ids[node] = f"n{len(ids) + 1}"
        walked.append(node)
        stack.extend(child for child, _ in reversed(node.next_functions) if child is not None)

    arrows: list[Arrow] = []
    for node in walked:
        boxes.append(Box(ids[node], _node_label(node)))
        variable: TensorLike | None = getattr(node, "variable", None)  # an AccumulateGrad's leaf
        if variable is not None:
            boxes.append(Box(f"{ids[node]}v", _tensor_label(variable, names, UNNAMED_LEAF), LEAF_FILL))
            arrows.append(Arrow(f"{ids[node]}v", ids[node]))
        for child, nr in node.next_functions:
            if child is not None:
                arrows.append(Arrow(ids[child], ids[node], f"output {nr}" if _output_count(child) > 1 else None))
    arrows.append(Arrow(ids[root], "n0"))
    return Diagram(tuple(boxes), tuple(arrows), title)


def to_dot(output: TensorLike, inputs: Mapping[str, TensorLike], *, title: str | None = None) -> str:
    """The graph that backward from ``output`` would walk, as DOT text: ``write_dot(collect(...))``."""
    return write_dot(collect(output, inputs, title=title))


def write_dot(diagram: Diagram) -> str:
    """A diagram as Graphviz DOT text."""
    lines = ["digraph {", f"  {GRAPH_STYLE}"]
    if diagram.title is not None:
        lines.append(f'  graph [label="{escape(diagram.title)}", labelloc=t];')
    for box in diagram.boxes:
        fill = "" if box.fill is None else f", fillcolor={box.fill}"
        lines.append(f'  {box.id} [label="{escape(chr(10).join(box.lines))}"{fill}];')
    for arrow in diagram.arrows:
        attrs = "" if arrow.label is None else f' [label="{escape(arrow.label)}"]'
        lines.append(f"  {arrow.tail} -> {arrow.head}{attrs};")
    return "\n".join([*lines, "}", ""])


# --------------------------------------------------------------------------- SVG without Graphviz

_FILLS = {None: "#ffffff", LEAF_FILL: "#add8e6", OUTPUT_FILL: "#caff70"}
_CHAR_WIDTH = 6.0  # an average monospace glyph at font-size 10
_LINE_HEIGHT = 13.0
_PAD_X, _PAD_Y = 8.0, 6.0
_GAP_X, _GAP_Y, _MARGIN, _TITLE_HEIGHT = 24.0, 36.0, 12.0, 24.0
_PARALLEL = 8.0  # horizontal offset between arrows joining the same two boxes
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def layers(diagram: Diagram) -> list[list[str]]:
    """The boxes' ids by layer: layer 0 holds the boxes no arrow leaves (the output), and a
    box sits one layer above the highest of the boxes its arrows point to (longest-path
    layering), so every arrow points to a lower layer. Within a layer, boxes are in walk
    order. Iterative (Kahn's algorithm on the reversed arrows): any depth works."""
    order = {box.id: i for i, box in enumerate(diagram.boxes)}
    tails: dict[str, list[str]] = {box.id: [] for box in diagram.boxes}
    waiting = dict.fromkeys(order, 0)  # arrows leaving a box whose head has no layer yet
    for arrow in diagram.arrows:
        tails[arrow.head].append(arrow.tail)
        waiting[arrow.tail] += 1
    layer = dict.fromkeys(order, 0)
    ready = [box_id for box_id in order if waiting[box_id] == 0]
    placed = 0
    while ready:
        box_id = ready.pop()
        placed += 1
        for tail in tails[box_id]:
            layer[tail] = max(layer[tail], layer[box_id] + 1)
            waiting[tail] -= 1
            if waiting[tail] == 0:
                ready.append(tail)
    if placed != len(order):
        raise ValueError("the diagram has a cycle: a computation graph never does")
    result: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for box_id in sorted(order, key=order.__getitem__):
        result[layer[box_id]].append(box_id)
    return result


def to_svg(diagram: Diagram) -> str:
    """A diagram drawn as an SVG picture, without Graphviz.

    The output is at the bottom, the leaves above: each box sits in the layer ``layers``
    gives it. Layers are placed from the output up; within a layer, boxes are ordered by the
    mean x of the boxes their arrows point to (a barycentre pass; walk order breaks ties) and
    pushed right only as far as needed not to overlap. Boxes are ``<g class="node">`` groups
    (a ``<rect>`` and one ``<text>`` per label line), arrows are straight ``<path
    class="edge">`` lines with an arrowhead (an arrow that skips layers goes around them on
    the right); parallel arrows are drawn side by side. The
    same diagram always gives the same text."""
    by_id = {box.id: box for box in diagram.boxes}
    order = {box.id: i for i, box in enumerate(diagram.boxes)}
    size = {
        box.id: (max(len(line) for line in box.lines) * _CHAR_WIDTH + 2 * _PAD_X, len(box.lines) * _LINE_HEIGHT + 2 * _PAD_Y)
        for box in diagram.boxes
    }
    heads: dict[str, list[str]] = {box.id: [] for box in diagram.boxes}
    for arrow in diagram.arrows:
        heads[arrow.tail].append(arrow.head)

    rows = layers(diagram)
    centre_x: dict[str, float] = {}
    for row in rows:
        def barycentre(box_id: str) -> float:
            targets = heads[box_id]
            return sum(centre_x[t] for t in targets) / len(targets) if targets else 0.0

        right = -float("inf")
        for box_id in sorted(row, key=lambda b: (barycentre(b), order[b])):
            width = size[box_id][0]
            left = max(barycentre(box_id) - width / 2, right + _GAP_X)
            centre_x[box_id] = left + width / 2
            right = left + width

    row_height = max(h for _, h in size.values())
    top = _MARGIN + (_TITLE_HEIGHT if diagram.title is not None else 0.0)
    centre_y = {box_id: top + (len(rows) - 1 - r) * (row_height + _GAP_Y) + row_height / 2 for r, row in enumerate(rows) for box_id in row}
    shift = _MARGIN - min(centre_x[b] - size[b][0] / 2 for b in by_id)
    for box_id in centre_x:
        centre_x[box_id] += shift
    layer_of = {box_id: r for r, row in enumerate(rows) for box_id in row}
    width = max(centre_x[b] + size[b][0] / 2 for b in by_id) + _GAP_X / 2 + _PARALLEL + _MARGIN
    height = top + len(rows) * row_height + (len(rows) - 1) * _GAP_Y + _MARGIN
    if diagram.title is not None:
        width = max(width, len(diagram.title) * _CHAR_WIDTH * 1.2 + 2 * _MARGIN)

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="monospace" font-size="10">',
        "<defs>",
        '  <marker id="arrowhead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">',
        '    <polygon points="0,0 10,5 0,10" fill="#000000"/>',
        "  </marker>",
        "</defs>",
        f'<rect class="background" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
    ]
    if diagram.title is not None:
        out.append(f'<text class="title" x="{_n(width / 2)}" y="{_n(_MARGIN + 12)}" text-anchor="middle" font-size="12">{_xml(diagram.title)}</text>')

    pairs: dict[tuple[str, str], int] = {}
    for arrow in diagram.arrows:
        pairs[arrow.tail, arrow.head] = pairs.get((arrow.tail, arrow.head), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    for arrow in diagram.arrows:
        pair = (arrow.tail, arrow.head)
        k = seen[pair] = seen.get(pair, -1) + 1
        offset = (k - (pairs[pair] - 1) / 2) * _PARALLEL
        x1, y1 = centre_x[arrow.tail] + offset, centre_y[arrow.tail] + size[arrow.tail][1] / 2
        x2, y2 = centre_x[arrow.head] + offset, centre_y[arrow.head] - size[arrow.head][1] / 2
        points = [(x1, y1), (x2, y2)]
        between = [b for r in range(layer_of[arrow.head] + 1, layer_of[arrow.tail]) for b in rows[r]]
        if between:  # skipping layers: go around their boxes on the right
            side = max(centre_x[b] + size[b][0] / 2 for b in between) + _GAP_X / 2 + offset
            points[1:1] = [(side, y1 + _GAP_Y / 2), (side, y2 - _GAP_Y / 2)]
        path = " L".join(f"{_n(x)},{_n(y)}" for x, y in points)
        out.append(f'<path class="edge" d="M{path}" fill="none" stroke="#000000" marker-end="url(#arrowhead)"/>')
        if arrow.label is not None:
            out.append(f'<text class="edge-label" x="{_n((x1 + x2) / 2 + 4)}" y="{_n((y1 + y2) / 2)}" font-size="9">{_xml(arrow.label)}</text>')

    for box in diagram.boxes:
        w, h = size[box.id]
        x, y = centre_x[box.id] - w / 2, centre_y[box.id] - h / 2
        out.append(f'<g class="node" id="{box.id}">')
        out.append(f'  <rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{_FILLS.get(box.fill, "#ffffff")}" stroke="#000000"/>')
        for i, line in enumerate(box.lines):
            baseline = y + _PAD_Y + (i + 1) * _LINE_HEIGHT - 3
            out.append(f'  <text x="{_n(centre_x[box.id])}" y="{_n(baseline)}" text-anchor="middle">{_xml(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _n(value: float) -> str:
    """A coordinate to one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _xml(text: str) -> str:
    """Text as XML character data: markup escaped, characters XML cannot hold replaced."""
    return xml_escape(_NOT_XML.sub("\ufffd", text))


def escape(text: str) -> str:
    """``text`` as the inside of a DOT double-quoted string: backslashes and quotes escaped,
    line breaks as DOT's centred-line escape ``\\n``. A trailing backslash gets a space after
    it: Graphviz 2.36 to 2.40 reject a quoted string that ends in an escaped backslash."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if text.endswith("\\"):
        text += " "
    return re.sub(r"\r\n|\r|\n", r"\\n", text)


def format_values(values: Values) -> str:
    """A tensor's values on one line, each to 4 significant digits (``[36, 81]``); the
    middle of a tensor with more than 8 elements is elided."""
    array = np.asarray(values.tolist(), dtype=np.float64)
    text = np.array2string(
        array, separator=", ", threshold=8, edgeitems=2, max_line_width=10**6, formatter={"float": _number}
    )
    return " ".join(text.split())


def _number(value: np.floating[Any]) -> str:
    return f"{value:.4g}"


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _tensor_label(t: TensorLike, names: Mapping[int, str], default: str) -> tuple[str, ...]:
    lines = [*re.split(r"\r\n|\r|\n", names.get(id(t), default)), _shape_text(t.shape)]
    if t.is_leaf and t.grad is not None:  # (a non-leaf's .grad is not read: torch warns)
        lines.append("grad " + format_values(t.grad))
    return tuple(lines)


def _node_label(node: object) -> tuple[str, ...]:
    lines = [type(node).__name__]  # PyTorch's class name; name() differs for AccumulateGrad in torch
    shapes = _output_shapes(node) if getattr(node, "variable", None) is None else None
    if shapes:
        lines.append(" ".join(_shape_text(shape) for shape in shapes))
    return tuple(lines)


def _output_count(node: object) -> int:
    return len(_output_shapes(node) or ())


def _output_shapes(node: object) -> list[Sequence[int]] | None:
    """The shapes of the tensors an operation's node produced, from private attributes (no
    public one exists): refgrad's ``_outputs`` (several outputs) or ``_shape`` (one), torch's
    ``_input_metadata``; None if none of them is there."""
    outputs = getattr(node, "_outputs", None)
    if outputs is not None:
        return [shape for shape, _ in outputs]
    shape = getattr(node, "_shape", None)
    if shape is not None:
        return [shape]
    metadata = getattr(node, "_input_metadata", None)
    if metadata is not None:
        return [getattr(m, "shape", ()) for m in metadata]
    return None


def render(dot_source: str, fmt: Literal["svg", "png"]) -> bytes:
    """The picture of ``dot_source`` made by Graphviz's ``dot`` program.

    Raises ``GraphvizMissing`` when ``dot`` is not installed and ``GraphvizFailed`` when it
    rejects the source."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"unknown image format {fmt!r}: expected 'svg' or 'png'")
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(MISSING_MESSAGE)
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_source.encode(), capture_output=True, check=False)
    except FileNotFoundError as error:
        raise GraphvizMissing(MISSING_MESSAGE) from error
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise GraphvizFailed(f"Graphviz 'dot' failed: {message}")
    return done.stdout
