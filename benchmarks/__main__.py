"""Every workload on every engine, interleaved in one run, as one Markdown report.

    python -m benchmarks                 full run (a few minutes); writes benchmarks/results.md
                                         and docs/per-node-cost.svg
    python -m benchmarks --quick         small sizes, few repeats (CI: under a minute); writes nothing
    python -m benchmarks --engines torch only these optional engines (numpy and refgrad always run)

Engines: the numpy floor, refgrad, and torch, HIPS autograd and MyGrad when installed
(``pip install -e '.[bench]'``). BLAS runs on one thread. Each round measures every cell once,
engine after engine (the machines are noisy: each engine sees the same noise); a sample is the
best of a few calls (one for a call over 0.1 s), a cell stops taking samples after
``--cell-seconds``, and a figure is the median over its samples, its minimum in brackets.
Memory and graph-size figures come from fresh interpreters (``benchmarks.probe``).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks import svg  # noqa: E402
from benchmarks.engines import Engine, available  # noqa: E402
from benchmarks.workloads import Workload, elementwise, fan_out, mlp, mlp_numpy_step, while_loop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("numpy", "refgrad", "torch", "autograd", "mygrad")


@dataclass
class Row:
    """One workload: a way to take one sample per engine column, and the samples taken."""

    key: str
    label: str
    unit: str
    runs: dict[str, Callable[[], float]]
    samples: dict[str, list[float]] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def median(self, column: str) -> float | None:
        values = self.samples.get(column)
        return statistics.median(values) if values else None


def _per_call(call: Callable[[], object], count: int, scale: float) -> Callable[[], float]:
    """A sampler: the best of a few calls (a first, untimed call decides how many), per ``count``."""
    inner = 0

    def sample() -> float:
        nonlocal inner
        if not inner:
            start = time.perf_counter()
            call()
            first = time.perf_counter() - start
            inner = max(1, min(5, int(0.1 / max(first, 1e-9))))
            if first > 0.1:
                return first / count * scale  # a long call is its own sample
        best = float("inf")
        for _ in range(inner):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        return best / count * scale

    return sample


def _gradient_runs(work: Workload, engines: list[Engine], numpy_floor: Callable[[], object] | None = None) -> dict[str, Callable[[], float]]:
    """fwd+bwd for every engine; the numpy column is the forward pass (or ``numpy_floor``)."""
    runs = {}
    for engine in engines:
        if engine.name == "numpy":
            call: Callable[[], object] = numpy_floor or engine.step(work.fn, work.arrays, work.wrt)
        else:
            call = engine.step(work.fn, work.arrays, work.wrt)
        runs[engine.name] = _per_call(call, work.count, 1e6)
    return runs


def _forward_runs(work: Workload, engines: list[Engine]) -> dict[str, Callable[[], float]]:
    return {
        e.name: _per_call(e.forward(work.fn, work.arrays), work.count, 1e6) for e in engines if e.forward is not None
    }


@dataclass(frozen=True)
class Sizes:
    ops: int
    chain: tuple[int, ...]
    fan: tuple[int, ...]
    trips: int
    memory: int
    iterations: int
    graph: int


FULL = Sizes(ops=1000, chain=(10**3, 10**4, 10**5, 10**6), fan=(10**3, 10**4), trips=1000, memory=10**6, iterations=1000, graph=10**6)
QUICK = Sizes(ops=200, chain=(10**3, 10**4), fan=(10**2, 10**3), trips=200, memory=10**5, iterations=100, graph=10**5)


def timing_rows(engines: list[Engine], sizes: Sizes) -> list[Row]:
    work = elementwise(sizes.ops)
    network = mlp()
    rows = [
        Row("op", f"{sizes.ops} elementwise ops on float64 (4,), fwd+bwd (numpy: fwd)", "µs/op", _gradient_runs(work, engines)),
        Row("op_nograd", f"{sizes.ops} elementwise ops, grad disabled", "µs/op", _forward_runs(work, engines)),
        Row("mlp", "MLP step 256×512 @ 512×512 → tanh → @ 512×10 → softmax CE (numpy: by hand)", "ms/step", {
            name: _scaled(run, 1e-3) for name, run in _gradient_runs(network, engines, mlp_numpy_step(network)).items()
        }),
    ]
    rows += [Row(f"chain_{n}", f"deep chain of {n:,} ops, fwd+bwd", "µs/node", _gradient_runs(elementwise(n), engines)) for n in sizes.chain]
    for combine, what in (("add", "summed by +"), ("stack", "into stack"), ("cat", "into cat")):
        rows += [
            Row(f"fan_{combine}_{n}", f"fan-out: one input in {n:,} branches {what}", "µs/branch", _gradient_runs(fan_out(n, combine), engines))
            for n in sizes.fan
        ]
    rows.append(Row("while", f"data-dependent while loop, {sizes.trips} trips", "µs/trip", _gradient_runs(while_loop(sizes.trips), engines)))
    return rows


def _scaled(run: Callable[[], float], factor: float) -> Callable[[], float]:
    return lambda: run() * factor


def measure(rows: list[Row], repeats: int, cell_seconds: float) -> None:
    """Interleaved: each round takes one sample of every cell still within its time budget."""
    for round_ in range(repeats):
        for row in rows:
            for name, run in row.runs.items():
                if row.spent.get(name, 0.0) > cell_seconds and row.samples.get(name):
                    continue
                start = time.perf_counter()
                row.samples.setdefault(name, []).append(run())
                row.spent[name] = row.spent.get(name, 0.0) + time.perf_counter() - start
        print(f"round {round_ + 1}/{repeats} done", file=sys.stderr)


def probe(kind: str, engine: str, count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", kind, engine, str(count)],
        capture_output=True, text=True, cwd=ROOT, check=False,
        env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)},  # see benchmarks.probe
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def probe_rows(engines: list[Engine], sizes: Sizes, repeats: int) -> list[Row]:
    """Memory and graph-size rows (each sample a fresh interpreter)."""
    names = [e.name for e in engines]
    specs = [
        ("mem_peak", f"50 ops on {sizes.memory:,} float64, fwd+bwd: peak", "MiB", "memory", sizes.memory, "peak_mib"),
        ("mem_after", "… after backward, input, output and loss held", "MiB", "memory", sizes.memory, "after_mib"),
        ("growth", f"resident growth over {sizes.iterations} fwd+bwd iterations (10⁴ elements)", "KiB", "growth", sizes.iterations, "growth_kib"),
        ("node_bytes", f"graph of {sizes.graph:,} ops held: memory", "bytes/node", "graph", sizes.graph, "bytes_per_node"),
        ("teardown", f"… teardown (dropping the output)", "s", "graph", sizes.graph, "teardown_s"),
    ]
    cache: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    rows = []
    for key, label, unit, kind, count, field_ in specs:
        row = Row(key, label, unit, {})
        for name in names:
            for r in range(repeats if kind == "memory" else 1):
                probe_key = (kind, name, count, r)
                if probe_key not in cache:
                    cache[probe_key] = probe(kind, name, count)
                found = cache[probe_key]
                if field_ in found:
                    row.samples.setdefault(name, []).append(float(found[field_]))
        rows.append(row)
    errors = {name: found.get("errors") or found.get("error") for (kind, name, _, _), found in cache.items() if kind == "graph"}
    print("graph probe errors:", {k: v for k, v in errors.items() if v} or "none", file=sys.stderr)
    return rows


def _figure(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def table(rows: list[Row], columns: list[str]) -> str:
    lines = [
        "| workload | unit | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for row in rows:
        cells = []
        for name in columns:
            values = row.samples.get(name)
            cells.append(f"{_figure(statistics.median(values))} ({_figure(min(values))})" if values else "–")
        lines.append(f"| {row.label} | {row.unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    text: str
    value: Callable[[dict[str, Row]], float | None]
    bound: float
    unit: str = "×"


def _ratio(a: tuple[str, str], b: tuple[str, str]) -> Callable[[dict[str, Row]], float | None]:
    def value(rows: dict[str, Row]) -> float | None:
        top, bottom = rows[a[0]].median(a[1]), rows[b[0]].median(b[1])
        return None if top is None or bottom is None else top / bottom

    return value


def _cell(key: str, column: str) -> Callable[[dict[str, Row]], float | None]:
    return lambda rows: rows[key].median(column)


def targets(sizes: Sizes) -> list[Target]:
    small, big = sizes.chain[0], sizes.chain[-1]
    few, many = sizes.fan
    found = [
        Target("fwd+bwd per op ≤ PyTorch's (refgrad / torch)", _ratio(("op", "refgrad"), ("op", "torch")), 1.0),
        Target("grad disabled per op ≤ 2× numpy (refgrad / numpy)", _ratio(("op_nograd", "refgrad"), ("op_nograd", "numpy")), 2.0),
        Target("MLP step ≤ 1.10× hand-written numpy", _ratio(("mlp", "refgrad"), ("mlp", "numpy")), 1.10),
        Target(f"per-node cost at {big:,} ≤ 1.3× that at {small:,}", _ratio((f"chain_{big}", "refgrad"), (f"chain_{small}", "refgrad")), 1.3),
        Target(f"graph memory ≤ 1 KB per node ({sizes.graph:,} nodes)", _cell("node_bytes", "refgrad"), 1000, " bytes"),
        Target(f"teardown of {sizes.graph:,} nodes < 0.5 s", _cell("teardown", "refgrad"), 0.5, " s"),
    ]
    for combine in ("add", "stack", "cat"):
        found.append(Target(
            f"fan-out {combine}: per-branch cost at {many:,} ≤ 1.3× that at {few:,}",
            _ratio((f"fan_{combine}_{many}", "refgrad"), (f"fan_{combine}_{few}", "refgrad")), 1.3,
        ))
    found += [
        Target("peak memory ≤ PyTorch's (refgrad / torch)", _ratio(("mem_peak", "refgrad"), ("mem_peak", "torch")), 1.0),
        Target("after backward ≤ input + output + gradient (3 arrays)", _cell("mem_after", "refgrad"), 3 * sizes.memory * 8 / 2**20 + 1, " MiB"),
        Target(f"no growth over {sizes.iterations} iterations (< 1 MiB)", _cell("growth", "refgrad"), 1024, " KiB"),
    ]
    return found


def target_table(rows: list[Row], sizes: Sizes) -> str:
    by_key = {row.key: row for row in rows}
    lines = ["| target | measured | bound | |", "|---|---:|---:|---|"]
    for target in targets(sizes):
        value = target.value(by_key)
        verdict = "–" if value is None else ("met" if value <= target.bound else "**gap**")
        lines.append(f"| {target.text} | {_figure(value)}{target.unit} | {_figure(target.bound)}{target.unit} | {verdict} |")
    return "\n".join(lines)


def machine(engines: list[Engine]) -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    versions = ", ".join(f"{e.name} {e.version}" for e in engines)
    return f"{cpu}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; {versions}; BLAS threads: 1"


def per_node_plot(rows: list[Row], sizes: Sizes, columns: list[str]) -> str:
    series = {}
    for name in columns:
        points = [(float(n), m) for n in sizes.chain if (m := next(r for r in rows if r.key == f"chain_{n}").median(name))]
        if points:
            series[name + (" (fwd only)" if name == "numpy" else "")] = points
    return svg.loglog("Deep chain: cost per node (fwd+bwd) against graph size", "nodes in the graph", "µs per node", series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats; writes no file")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 7, quick 3)")
    parser.add_argument("--cell-seconds", type=float, default=20.0, help="stop sampling a cell after this much time")
    parser.add_argument("--engines", default=None, help="comma-separated optional engines (default: all installed)")
    parser.add_argument("--markdown", type=Path, default=None, help="default: benchmarks/results.md (full run)")
    parser.add_argument("--svg", type=Path, default=None, help="default: docs/per-node-cost.svg (full run)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 7)
    engines, notes = available(args.engines.split(",") if args.engines else None)
    for note in notes:
        print(note, file=sys.stderr)
    columns = [c for c in COLUMNS if c in {e.name for e in engines}]
    started = time.perf_counter()
    rows = timing_rows(engines, sizes)
    measure(rows, repeats, args.cell_seconds)
    rows += probe_rows(engines, sizes, 1 if args.quick else 3)
    report = "\n\n".join([
        f"Machine: {machine(engines)}.",
        table(rows, columns),
        target_table(rows, sizes),
        f"`python -m benchmarks{' --quick' if args.quick else ''}`: {repeats} rounds, {time.perf_counter() - started:.0f} s."
        + "".join(f" {note}." for note in notes),
    ])
    print(report)
    markdown = args.markdown or (None if args.quick else ROOT / "benchmarks" / "results.md")
    if markdown is not None:
        markdown.write_text(report + "\n", encoding="utf-8")
    plot = args.svg or (None if args.quick else ROOT / "docs" / "per-node-cost.svg")
    if plot is not None:
        plot.write_text(per_node_plot(rows, sizes, columns), encoding="utf-8")


if __name__ == "__main__":
    main()
