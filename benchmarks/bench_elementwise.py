"""Per-op overhead: a chain of elementwise ops on a float64 tensor of shape (4,), forward and
backward, for refgrad, the numpy floor (forward only) and PyTorch when installed.

Engines are timed interleaved in one process (these machines are noisy); each figure is the
median over repeats of the best-of-N inner loop, and ratios are against the same run.

    python benchmarks/bench_elementwise.py [--ops 1000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import refgrad as rg

Workload = Callable[[], None]


def chain(x: Any, ops: int, sin: Callable[[Any], Any]) -> Any:
    """The same mix of ops for every engine: multiply, add, sine, divide, subtract."""
    y = x
    for i in range(ops // 5):
        y = y * 1.0001
        y = y + 0.5
        y = sin(y)
        y = y / 1.5
        y = y - 0.25
    return y


def numpy_floor(ops: int) -> Workload:
    x = np.array([0.1, 0.2, 0.3, 0.4])

    def run() -> None:
        chain(x, ops, np.sin)

    return run


def refgrad_fwd_bwd(ops: int) -> Workload:
    def run() -> None:
        x = rg.tensor([0.1, 0.2, 0.3, 0.4], dtype=rg.float64, requires_grad=True)
        chain(x, ops, rg.sin).sum().backward()

    return run


def refgrad_no_grad(ops: int) -> Workload:
    x = rg.tensor([0.1, 0.2, 0.3, 0.4], dtype=rg.float64, requires_grad=True)

    def run() -> None:
        with rg.no_grad():
            chain(x, ops, rg.sin)

    return run


def torch_workloads(ops: int) -> dict[str, Workload]:
    if importlib.util.find_spec("torch") is None:
        return {}
    import torch

    torch.set_num_threads(1)

    def fwd_bwd() -> None:
        x = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64, requires_grad=True)
        chain(x, ops, torch.sin).sum().backward()

    def no_grad() -> None:
        x = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
        with torch.no_grad():
            chain(x, ops, torch.sin)

    return {"torch fwd+bwd": fwd_bwd, "torch no_grad fwd": no_grad}


def best_of(fn: Workload, inner: int) -> float:
    best = float("inf")
    for _ in range(inner):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--inner", type=int, default=5)
    args = parser.parse_args()
    workloads = {
        "numpy forward (floor)": numpy_floor(args.ops),
        "refgrad fwd+bwd": refgrad_fwd_bwd(args.ops),
        "refgrad no_grad fwd": refgrad_no_grad(args.ops),
        **torch_workloads(args.ops),
    }
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(args.repeats):
        for name, fn in workloads.items():  # interleaved: each engine sees the same noise
            samples[name].append(best_of(fn, args.inner) / args.ops * 1e6)
    floor = statistics.median(samples["numpy forward (floor)"])
    torch_fb = statistics.median(samples["torch fwd+bwd"]) if "torch fwd+bwd" in samples else None
    print(f"{args.ops} elementwise ops on float64 (4,); µs per op, median of {args.repeats} (min)")
    print(f"{'workload':<24}{'µs/op':>8}{'min':>8}{'× numpy':>9}{'× torch f+b':>13}")
    for name, values in samples.items():
        median = statistics.median(values)
        vs_torch = f"{median / torch_fb:13.2f}" if torch_fb else f"{'-':>13}"
        print(f"{name:<24}{median:8.2f}{min(values):8.2f}{median / floor:9.2f}{vs_torch}")


if __name__ == "__main__":
    main()
