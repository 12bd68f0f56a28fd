"""How close to numpy can any pure-Python tensor wrapper get with grad disabled?

The floor: a wrapper that does nothing but hold the array, one object per result with
refgrad's nine slots, its operators plain functions with no check of any kind (no dtype
promotion, no grad mode, no type test). It runs the grad-disabled elementwise workload of
``python -m benchmarks`` beside numpy and refgrad, interleaved in one run; the ratios say how
much of the target "≤ 2× numpy" is left for the checks a real engine must make.

    python -m benchmarks.wrapper_floor [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import refgrad as rg
from benchmarks.engines import NUMPY_OPS, refgrad_engine
from benchmarks.workloads import elementwise


class Floor:
    """An array and eight empty slots: all a tensor wrapper cannot do without."""

    __slots__ = ("data", "grad_fn", "requires_grad", "grad", "output_nr", "version", "base", "meta", "accumulator")

    def __init__(self, data: Any) -> None:
        self.data = data
        self.grad_fn = self.grad = self.version = self.base = self.meta = self.accumulator = None
        self.requires_grad = False
        self.output_nr = 0

    def __mul__(self, other: float) -> Floor:
        return Floor(self.data * other)

    def __add__(self, other: float) -> Floor:
        return Floor(self.data + other)

    def __sub__(self, other: float) -> Floor:
        return Floor(self.data - other)

    def __truediv__(self, other: float) -> Floor:
        return Floor(self.data / other)


FLOOR_OPS = NUMPY_OPS._replace(sin=lambda x: Floor(np.sin(x.data)), sum=lambda x: Floor(np.sum(x.data)))
"""The functions the elementwise workload calls, on the floor wrapper."""


def runs(ops: int) -> dict[str, Callable[[], float]]:
    """The grad-disabled workload through numpy, the floor wrapper and refgrad."""
    work = elementwise(ops)
    (array,) = work.arrays
    refgrad_forward = refgrad_engine().forward
    assert refgrad_forward is not None
    return {
        "numpy": lambda: float(work.fn(NUMPY_OPS, array)),
        "floor wrapper": lambda: float(work.fn(FLOOR_OPS, Floor(array)).data),
        "refgrad": refgrad_forward(work.fn, work.arrays),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--ops", type=int, default=1000)
    args = parser.parse_args(argv)
    candidates = runs(args.ops)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.repeats):  # interleaved: each engine sees the same noise
        for name, run in candidates.items():
            samples[name].append(min(timeit.repeat(run, number=5, repeat=3)) / 5 / args.ops * 1e6)
    floor = statistics.median(samples["numpy"])
    print(f"grad disabled, {args.ops} elementwise ops on float64 (4,), rg {rg.__version__}: median µs/op (min), × numpy")
    for name, values in samples.items():
        print(f"  {name:<14} {statistics.median(values):6.3f} ({min(values):.3f})  {statistics.median(values) / floor:5.2f}×")


if __name__ == "__main__":
    main()
