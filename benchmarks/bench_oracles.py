"""The oracles' performance figures (issue 4): the symbolic oracle on a 100-node program with
16 scalar inputs, cold and warm; the numeric oracle's forward-evaluation counts against their
bounds (full mode 2·levels·n, fast mode 2·levels per direction) and its time; the comparison
of the seed and of the 100-node program end to end.

The 100-node program is a seeded random DAG built with ``oracles.program``: 16 inputs of
shape (), smooth elementwise ops (unary and binary, with broadcasting), ``stack`` of a few
values into a vector, and reductions (sum, mean, logsumexp, 2-norm) back to scalars. Every
value reaches the output (the last nodes sum each vector nothing else used, stack every
unused scalar and sum that), and each op is kept only if the program's float64 value stays
finite and moderate (|v| <= 50, denominators >= 0.25 in magnitude) at the benchmark point,
so no oracle meets a singularity.

"Cold" is the first call on a program: tracing it to SymPy, differentiating, generating and
compiling the mpmath code, then evaluating. The very first call in a process also pays
SymPy's own first-use costs, so it is measured once in a new interpreter (with the import of
SymPy, and the first comparison of the seed, shown beside it); the other "cold" rows use a
fresh random program (another seed, same size) for every sample. "Warm" is a repeated call (the compiled code is
cached per program; what remains is the evaluation at 40 digits). Workloads are timed
interleaved in one process (these machines are noisy); each figure is the median over
repeats, and ratios are against one numpy forward evaluation of the same program (the unit
the numeric oracle pays per evaluation).

    python benchmarks/bench_oracles.py [--repeats 15] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the oracles live in the project root
    sys.path.insert(0, str(ROOT))

from oracles import numeric, symbolic  # noqa: E402
from oracles.compare import compare  # noqa: E402
from oracles.expression import parse  # noqa: E402
from oracles.interpret import run_numpy  # noqa: E402
from oracles.program import Arg, Array, AttrValue, Input, Op, Program, Ref  # noqa: E402

NODES = 100
INPUTS = 16
LEVELS = 4
DIRECTIONS = 4
SYMBOLIC_BOUND_S = 2.0
"""The issue's target for the symbolic oracle on the 100-node program, differentiation included."""
SEED_EXPRESSION = "3*a**3 - b**2"
SEED_INPUTS = {"a": np.array([2.0, 3.0]), "b": np.array([6.0, 4.0])}

Values = dict[str, numeric.FloatArray]

UNARY = ("sin", "cos", "tanh", "sigmoid", "exp", "square", "neg", "expm1")
BINARY = ("add", "sub", "mul", "div")
REDUCTIONS: tuple[tuple[str, tuple[tuple[str, AttrValue], ...]], ...] = (
    ("sum", ()),
    ("mean", ()),
    ("logsumexp", (("dim", 0),)),
    ("norm", ()),
)
LARGEST = 50.0
"""An op whose value at the benchmark point exceeds this in magnitude is drawn again."""


# ----------------------------------------------------------------------------- the program


@dataclass(frozen=True)
class Case:
    program: Program
    values: Values


def random_program(seed: int, nodes: int = NODES, inputs: int = INPUTS) -> Case:
    """A seeded random DAG of ``nodes`` operations over ``inputs`` scalar inputs (see the
    module docstring); the inputs are drawn uniformly in [-1, 1]."""
    rng = np.random.default_rng(seed)
    specs = tuple(Input(f"x{i}", ()) for i in range(inputs))
    values: Values = {spec.name: np.array(rng.uniform(-1.0, 1.0)) for spec in specs}
    computed: list[Array] = [values[spec.name] for spec in specs]
    ops: list[Op] = []
    unused: set[int] = set(range(inputs))

    def pick(candidates: list[int]) -> int:
        fresh = [c for c in candidates if c in unused]
        pool = fresh if fresh and rng.random() < 0.7 else candidates
        return int(pool[int(rng.integers(len(pool)))])

    def attempt() -> tuple[Op, Array] | None:
        scalars = [i for i, v in enumerate(computed) if v.ndim == 0]
        vectors = [i for i, v in enumerate(computed) if v.ndim == 1]
        kind = rng.random()
        if kind < 0.12 and len(scalars) >= 3:
            count = int(rng.integers(2, 5))
            members = list(dict.fromkeys(pick(scalars) for _ in range(count)))
            op = Op("stack", tuple(Ref(m) for m in members), (("dim", 0),))
        elif kind < 0.25 and vectors:
            name, attrs = REDUCTIONS[int(rng.integers(len(REDUCTIONS)))]
            op = Op(name, (Ref(pick(vectors)),), attrs)
        elif kind < 0.6:
            op = Op(UNARY[int(rng.integers(len(UNARY)))], (Ref(pick(list(range(len(computed))))),))
        else:
            left = pick(list(range(len(computed))))
            shape = computed[left].shape
            partners = [i for i, v in enumerate(computed) if v.shape in (shape, ()) or shape == ()]
            right = pick(partners)
            op = Op(BINARY[int(rng.integers(len(BINARY)))], (Ref(left), Ref(right)))
        trial = Program(specs, (*ops, op))
        with np.errstate(all="ignore"):
            result = run_numpy(trial, values)
        if not np.all(np.isfinite(result)) or float(np.max(np.abs(result), initial=0.0)) > LARGEST:
            return None
        if op.name == "div" and float(np.min(np.abs(computed[_ref(op.args[1])]))) < 0.25:
            return None  # keep denominators away from 0: the program stays smooth near the point
        return op, result

    def unused_vectors() -> int:
        return sum(1 for i in unused if computed[i].ndim == 1)

    # The tail: a sum for each unused vector, then a stack of the unused scalars and a sum.
    for _ in range(1000 * nodes):
        if len(ops) + unused_vectors() + 2 >= nodes:
            break
        found = attempt()
        if found is None:
            continue
        op, result = found
        before = set(unused)
        unused.difference_update(_ref(arg) for arg in op.args)
        unused.add(len(computed))
        computed.append(result)
        if len(ops) + 1 + unused_vectors() + 2 > nodes:  # would not leave room for the tail
            computed.pop()
            unused.clear()
            unused.update(before)
            continue
        ops.append(op)
    else:
        raise RuntimeError(f"no {nodes}-node program found for seed {seed}")
    for i in sorted(i for i in unused if computed[i].ndim == 1):
        ops.append(Op("sum", (Ref(i),)))
        unused.discard(i)
        unused.add(len(computed))
        computed.append(np.asarray(np.sum(computed[i])))
    ops.append(Op("stack", tuple(Ref(i) for i in sorted(unused)), (("dim", 0),)))
    ops.append(Op("sum", (Ref(inputs + len(ops) - 1),)))
    program = Program(specs, tuple(ops), source=f"random DAG (seed {seed}, {len(ops)} nodes, {inputs} scalar inputs)")
    return Case(program, values)


def _ref(arg: Arg) -> int:
    assert isinstance(arg, Ref)
    return arg.index


# ----------------------------------------------------------------------------- timing

Run = Callable[[], object]
Prepare = Callable[[], Run]
"""Builds what one sample times (untimed: e.g. a fresh program), returns the timed call."""


def once(prepare: Prepare) -> float:
    run = prepare()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def fixed(run: Run) -> Prepare:
    return lambda: run


def fresh_programs(first_seed: int, use: Callable[[Case], object]) -> Prepare:
    """Each sample on a new random program (seeds first_seed, first_seed + 1, ...)."""
    seeds = iter(range(first_seed, first_seed + 10_000))

    def prepare() -> Run:
        case = random_program(next(seeds))
        return lambda: use(case)

    return prepare


def gradient_of(case: Case) -> Run:
    program, values = case.program, case.values
    return lambda: symbolic.gradient(program, values, np.ones(()))


def full_mode(case: Case) -> numeric.NumericGradient:
    program = case.program
    return numeric.central_gradient(lambda point: run_numpy(program, point), case.values, levels=LEVELS)


def full_mode_signature(case: Case) -> numeric.NumericGradient:
    program = case.program

    def signature(point: Values) -> list[Array]:
        pieces: list[Array] = []
        run_numpy(program, point, pieces)
        return pieces

    return numeric.central_gradient(
        lambda point: run_numpy(program, point), case.values, levels=LEVELS, signature=signature
    )


def fast_mode(case: Case, gradient: Values) -> numeric.ProjectedCheck:
    program = case.program
    return numeric.projected(
        lambda point: run_numpy(program, point), case.values, None, gradient, directions=DIRECTIONS, levels=LEVELS
    )


def taylor(case: Case, gradient: Values) -> numeric.TaylorResult:
    program = case.program
    return numeric.taylor_test(lambda point: run_numpy(program, point), case.values, None, gradient)


def hessian_of(case: Case) -> Run:
    program, values = case.program, case.values
    vector = {name: np.ones(value.shape) for name, value in values.items()}
    return lambda: symbolic.hessian_vector(program, values, np.ones(()), vector)


_FRESH_PROCESS = """
import sys, time
sys.path[:0] = [{root!r}, {bench!r}]
start = time.perf_counter()
import oracles.symbolic
imported = time.perf_counter() - start
import numpy as np
from bench_oracles import random_program
case = random_program({seed})
start = time.perf_counter()
oracles.symbolic.gradient(case.program, case.values, np.ones(()))
first = time.perf_counter() - start
import refgrad
from oracles.compare import compare
start = time.perf_counter()
compare({seed_expression!r}, {seed_inputs!r})
print(imported, first, time.perf_counter() - start)
"""


def fresh_process(seed: int) -> tuple[float, float, float]:
    """In a new interpreter: the import of the symbolic oracle (SymPy, mpmath), its first
    gradient of the program (SymPy's own first-use costs included), then the first comparison
    of the seed (its symbolic code generated and compiled)."""
    code = _FRESH_PROCESS.format(
        root=str(ROOT),
        bench=str(ROOT / "benchmarks"),
        seed=seed,
        seed_expression=SEED_EXPRESSION,
        seed_inputs={name: value.tolist() for name, value in SEED_INPUTS.items()},
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    imported, first, seed_compare = out.stdout.split()
    return float(imported), float(first), float(seed_compare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    case = random_program(args.seed)
    program, values = case.program, case.values
    seed_program = parse(SEED_EXPRESSION, {name: v.shape for name, v in SEED_INPUTS.items()})
    n = sum(v.size for v in values.values())
    imported, first_call, seed_compare_cold = fresh_process(args.seed)

    # One run each for the evaluation counts and the verdicts (deterministic).
    exact = symbolic.gradient(program, values, np.ones(()))
    full = full_mode(case)
    with_signature = full_mode_signature(case)
    fast = fast_mode(case, exact)
    taylor_result = taylor(case, exact)
    report = compare(program, values)
    seed_report = compare(seed_program, SEED_INPUTS)

    unit_name, seed_unit_name = "numpy forward, 100-node program (the unit)", "numpy forward, seed"
    cold_name, cold_compare_name = "symbolic gradient, cold (fresh program)", "compare 100-node, cold (fresh program)"
    workloads: dict[str, Prepare] = {
        unit_name: fixed(lambda: run_numpy(program, values)),
        seed_unit_name: fixed(lambda: run_numpy(seed_program, SEED_INPUTS)),
        cold_name: fresh_programs(args.seed + 1, lambda c: gradient_of(c)()),
        "symbolic gradient, warm": fixed(gradient_of(case)),
        "symbolic Hessian-vector, cold (fresh program)": fresh_programs(args.seed + 2_000_001, lambda c: hessian_of(c)()),
        "symbolic Hessian-vector, warm": fixed(hessian_of(case)),
        "numeric full mode": fixed(lambda: full_mode(case)),
        "numeric full mode + branch signatures": fixed(lambda: full_mode_signature(case)),
        "numeric fast mode": fixed(lambda: fast_mode(case, exact)),
        "Taylor test": fixed(lambda: taylor(case, exact)),
        "compare seed, warm": fixed(lambda: compare(seed_program, SEED_INPUTS)),
        cold_compare_name: fresh_programs(args.seed + 1_000_001, lambda c: compare(c.program, c.values)),
        "compare 100-node, warm": fixed(lambda: compare(program, values)),
    }
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(args.repeats):
        for name, prepare in workloads.items():  # interleaved: each workload sees the same noise
            samples[name].append(once(prepare))
    median = {name: statistics.median(times) for name, times in samples.items()}
    seed_rows = {seed_unit_name, "compare seed, warm"}
    units = {name: median[seed_unit_name if name in seed_rows else unit_name] for name in workloads}

    lines = [
        f"Oracles on a {program.source}, n = {n} input elements, Richardson levels = {LEVELS}; "
        f"median of {args.repeats} interleaved samples",
        "",
        "| workload | median ms | min ms | × numpy forward | forward evaluations | bound | result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]

    def row(name: str, evaluations: str = "", bound: str = "", result: str = "") -> None:
        times = samples[name]
        lines.append(
            f"| {name} | {median[name] * 1e3:.2f} | {min(times) * 1e3:.2f} | {median[name] / units[name]:,.0f} "
            f"| {evaluations} | {bound} | {result} |"
        )

    def within(seconds: float) -> str:
        return "within" if seconds < SYMBOLIC_BOUND_S else "OVER"

    lines.append(f"| import oracles.symbolic (SymPy, mpmath), new process | {imported * 1e3:.2f} | | | | | |")
    lines.append(
        f"| symbolic gradient, first call in a new process | {first_call * 1e3:.2f} | | "
        f"{first_call / median[unit_name]:,.0f} | | < {SYMBOLIC_BOUND_S:g} s | {within(first_call)} |"
    )
    row(cold_name, bound=f"< {SYMBOLIC_BOUND_S:g} s", result=f"{within(max(samples[cold_name]))} (slowest sample)")
    row("symbolic gradient, warm")
    row("symbolic Hessian-vector, cold (fresh program)")
    row("symbolic Hessian-vector, warm")
    full_bound = 2 * LEVELS * n
    row("numeric full mode", str(full.evaluations), f"2·{LEVELS}·{n} = {full_bound}", _against(full.evaluations, full_bound))
    row(
        "numeric full mode + branch signatures",
        f"{with_signature.evaluations} (+ {with_signature.signature_evaluations} signatures)",
        str(full_bound),
        _against(with_signature.evaluations, full_bound),
    )
    fast_bound = 2 * LEVELS * DIRECTIONS
    row(
        "numeric fast mode",
        f"{fast.evaluations} ({DIRECTIONS} directions)",
        f"2·{LEVELS}·{DIRECTIONS} = {fast_bound}",
        f"{_against(fast.evaluations, fast_bound)}; {'agrees' if fast.agrees else 'DISAGREES'} with the symbolic gradient",
    )
    row("Taylor test", str(taylor_result.evaluations), "1 + 40 + skipped", f"{taylor_result.verdict}, order {taylor_result.order:.2f}")
    lines.append(
        f"| compare seed, first call in a new process | {seed_compare_cold * 1e3:.2f} | | "
        f"{seed_compare_cold / median[seed_unit_name]:,.0f} | | | |"
    )
    row("compare seed, warm", result=seed_report.verdict)
    row(cold_compare_name)
    row("compare 100-node, warm", result=report.verdict)
    row(seed_unit_name, "1")
    row(unit_name, "1")
    lines.append("")
    lines.append(f"ops of the 100-node program: {', '.join(sorted(program.op_names()))}")
    print("\n".join(lines))


def _against(count: int, bound: int) -> str:
    return "= bound" if count == bound else ("within" if count < bound else "OVER")


if __name__ == "__main__":
    main()
