"""The tutorial's control-flow example: how many times the loop runs depends on x, and so
does the graph that the forward pass records.

    refgrad graph docs/examples/loop.py:grow --at x=1.5,2 --format svg -o docs/images/loop-graph.svg
"""

from __future__ import annotations

import refgrad as rg


def grow(x: rg.Tensor) -> rg.Tensor:
    """Multiply by x until the sum reaches 10."""
    y = x
    while y.sum() < 10:
        y = y * x
    return y
