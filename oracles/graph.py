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
from typing import Any, Literal, Protocol

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
LEAF_STYLE = "fillcolor=lightblue"
OUTPUT_STYLE = "fillcolor=darkolivegreen1"
UNNAMED_LEAF = "leaf"


def to_dot(output: TensorLike, inputs: Mapping[str, TensorLike], *, title: str | None = None) -> str:
    """The graph that backward from ``output`` would walk, as DOT text (see the module's doc).

    ``inputs`` names leaves (matched by identity); a name for a tensor that is not a leaf of
    this graph is not drawn."""
    names = {id(t): name for name, t in inputs.items()}
    lines = ["digraph {", f"  {GRAPH_STYLE}"]
    if title is not None:
        lines.append(f'  graph [label="{escape(title)}", labelloc=t];')
    lines.append(f'  n0 [label="{_tensor_label(output, names, "output")}", {OUTPUT_STYLE}];')
    root = output.grad_fn
    if root is None:
        # A leaf: nothing was recorded.
        return "\n".join([*lines, "}", ""])

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

    edges: list[str] = []
    for node in walked:
        lines.append(f'  {ids[node]} [label="{_node_label(node)}"];')
        variable: TensorLike | None = getattr(node, "variable", None)  # an AccumulateGrad's leaf
        if variable is not None:
            lines.append(f'  {ids[node]}v [label="{_tensor_label(variable, names, UNNAMED_LEAF)}", {LEAF_STYLE}];')
            edges.append(f"  {ids[node]}v -> {ids[node]};")
        for child, nr in node.next_functions:
            if child is not None:
                attrs = f' [label="output {nr}"]' if _output_count(child) > 1 else ""
                edges.append(f"  {ids[child]} -> {ids[node]}{attrs};")
    lines += edges
    lines.append(f"  {ids[root]} -> n0;")
    return "\n".join([*lines, "}", ""])


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


def _tensor_label(t: TensorLike, names: Mapping[int, str], default: str) -> str:
    lines = [names.get(id(t), default), _shape_text(t.shape)]
    if t.is_leaf and t.grad is not None:  # (a non-leaf's .grad is not read: torch warns)
        lines.append("grad " + format_values(t.grad))
    return escape("\n".join(lines))


def _node_label(node: object) -> str:
    lines = [type(node).__name__]  # PyTorch's class name; name() differs for AccumulateGrad in torch
    shapes = _output_shapes(node) if getattr(node, "variable", None) is None else None
    if shapes:
        lines.append(" ".join(_shape_text(shape) for shape in shapes))
    return escape("\n".join(lines))


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
