"""Memory and graph-size probes, each run in a fresh interpreter (so one engine's freed but
cached memory does not hide another's) and printing one JSON object:

    python -m benchmarks.probe memory ENGINE SIZE       peak and after-backward MiB
    python -m benchmarks.probe growth ENGINE ITERATIONS growth of the resident set over a loop
    python -m benchmarks.probe graph ENGINE NODES       bytes per node, teardown, repr, backward

Memory is the resident set (``VmRSS``) and its high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs``), so it counts numpy's, torch's and Python's allocations alike. The
runner starts the probes with glibc's mmap threshold fixed at 64 KiB: every large array is
then its own mapping, returned to the system when freed, so the resident set shows what is
alive (by default glibc raises the threshold after the first large free, and freed arrays
stay resident in its heap).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.engines import OPTIONAL, Engine, numpy_engine, refgrad_engine
from benchmarks.workloads import elementwise, saving_chain, saving_ops

MiB = 1024 * 1024


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def engine_named(name: str) -> Engine:
    if name == "numpy":
        return numpy_engine()
    if name == "refgrad":
        return refgrad_engine()
    return OPTIONAL[name]()


def memory(engine: Engine, size: int) -> dict[str, Any]:
    """Peak over the fwd+bwd of the 50-op chain on ``size`` elements (from before the input
    was made), and what stays resident after backward while the input, the output and the
    loss are held (numpy: forward only; autograd: its gradient call, nothing to hold)."""
    work = saving_chain(size)
    gc.collect()
    base = _status("VmRSS")
    _reset_peak()
    (array,) = (a.copy() for a in work.arrays)
    if engine.leaf is None:
        run = engine.step(work.fn, (array,), work.wrt)
        handles: Any = run()
    else:
        x = engine.leaf(array)
        y = saving_ops(engine.ops, x)
        loss = engine.ops.sum(y)
        loss.backward()
        handles = (x, y, loss)
    gc.collect()
    after = _status("VmRSS") - base
    result = {"peak_mib": (_status("VmHWM") - base) / MiB, "after_mib": after / MiB}
    del handles
    return result


def growth(engine: Engine, iterations: int, size: int = 10_000) -> dict[str, Any]:
    """How much the resident set grows from a tenth of the way to the end of ``iterations``
    fwd+bwd steps of the 50-op chain (the cyclic collector left to run as usual)."""
    work = saving_chain(size)
    run = engine.step(work.fn, work.arrays, work.wrt)
    start = 0
    for i in range(iterations):
        run()
        if i == iterations // 10:
            start = _status("VmRSS")
    return {"growth_kib": (_status("VmRSS") - start) / 1024}


def graph(engine: Engine, nodes: int) -> dict[str, Any]:
    """A chain of ``nodes`` elementwise ops held after the forward pass: resident bytes per
    node, whether ``repr`` works on its end, how long dropping it takes, and whether a
    second chain's backward runs (any error is reported, not raised)."""
    if engine.leaf is None:
        return {}
    work = elementwise(nodes)
    gc.collect()
    x = engine.leaf(work.arrays[0].copy())
    before = _status("VmRSS")
    y = work.fn(engine.ops, x)
    per_node = (_status("VmRSS") - before) / nodes
    errors = []
    try:
        repr(y)
        repr(getattr(y, "grad_fn", None))
    except RecursionError as error:
        errors.append(f"repr: {error}")
    start = time.perf_counter()
    del y
    teardown = time.perf_counter() - start
    try:
        work.fn(engine.ops, x).backward()
    except RecursionError as error:
        errors.append(f"backward: {error}")
    return {"bytes_per_node": per_node, "teardown_s": teardown, "errors": errors}


def main(argv: list[str]) -> None:
    kind, name, count = argv[0], argv[1], int(argv[2])
    engine = engine_named(name)
    probes: dict[str, Callable[[Engine, int], dict[str, Any]]] = {"memory": memory, "growth": growth, "graph": graph}
    print(json.dumps(probes[kind](engine, count)))


if __name__ == "__main__":
    main(sys.argv[1:])
