"""Fuzzing campaigns: many random programs (``properties.programs``) checked against the
oracles outside pytest, with a summary and a standalone reproducer for every failure.

``check(script, values)`` is the one check the property test and ``refgrad fuzz`` share: the
script is traced on refgrad and compared with the symbolic and numeric oracles. A campaign
draws its scripts from the same Hypothesis strategies, reproducibly from a seed (generation
only: no shrinking and no example database, so a seed always means the same programs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

import refgrad as rg
from oracles.compare import Report, compare
from oracles.trace import trace
from properties.programs import Script, cases, features, run

Values = dict[str, list[list[float]]]
FAILING = ("mismatch", "non-finite", "error")
"""Outcomes that count as failures of a campaign (the engine disagrees or breaks)."""


@dataclass(frozen=True)
class Checked:
    """One script's outcome: the report's verdict, or ``"error"`` when running it raised."""

    outcome: str
    report: Report | None
    reproducer: str | None
    """A standalone Python script asserting the oracles' gradients, for a failure."""
    error: str | None = None


def check(script: Script, values: Values, order: Literal[1, 2] = 1) -> Checked:
    """``script`` at ``values`` traced on refgrad and compared with the oracles (``order=2``:
    second derivatives, see ``oracles.compare.compare``)."""

    def program(**tensors: Any) -> Any:
        return run(script, rg, tensors)

    try:
        traced = trace(program, values)
        report = compare(traced.program, traced.values, order=order)
    except Exception as error:  # the engine or an oracle broke: a finding, not a crash of the campaign
        message = f"{type(error).__name__}: {error}"
        return Checked("error", None, _with_header(script.reproducer(values, None), message), message)
    if report.verdict not in FAILING:
        return Checked(report.verdict, report, None)
    expected = {i.name: (i.symbolic if i.symbolic is not None else i.numeric).tolist() for i in report.inputs}
    return Checked(report.verdict, report, _with_header(script.reproducer(values, expected, order), report.to_text()))


def _with_header(reproducer: str, explanation: str) -> str:
    return "".join(f"# {line}\n" for line in explanation.splitlines()) + "\n" + reproducer


@dataclass
class Summary:
    seed: int
    programs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)
    control_flow: Counter[str] = field(default_factory=Counter)
    reproducers: list[str] = field(default_factory=list)
    """Paths of the reproducers written, in order."""

    @property
    def failures(self) -> int:
        return sum(self.outcomes[o] for o in FAILING)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "programs": self.programs,
            "outcomes": dict(sorted(self.outcomes.items())),
            "failures": self.failures,
            "ops": dict(sorted(self.ops.items())),
            "control_flow": dict(sorted(self.control_flow.items())),
            "reproducers": self.reproducers,
        }

    def to_text(self) -> str:
        outcome_text = ", ".join(f"{o} {self.outcomes[o]}" for o in ("agree", "not-smooth", "unsupported", *FAILING))
        lines = [
            f"fuzz: {self.programs} programs (seed {self.seed})",
            f"outcomes: {outcome_text}",
            f"ops exercised: {len(self.ops)}: " + ", ".join(f"{name} {n}" for name, n in sorted(self.ops.items())),
            "control flow: " + ", ".join(f"{kind} {n}" for kind, n in sorted(self.control_flow.items())),
        ]
        lines += [f"reproducer: {path}" for path in self.reproducers]
        lines.append(f"verdict: {'mismatch' if self.failures else 'agree'}")
        return "\n".join(lines)


def campaign(
    programs: int, seed: int, out: Path | None = None, progress: Callable[[Summary], None] | None = None
) -> Summary:
    """Check ``programs`` random scripts drawn reproducibly from ``seed``; every failure's
    reproducer is written to ``out`` (created if needed) as ``failure_<k>.py``."""
    summary = Summary(seed)

    @settings(
        max_examples=programs,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(case=cases())
    def one(case: tuple[Script, Values]) -> None:
        script, values = case
        checked = check(script, values)
        summary.programs += 1
        summary.outcomes[checked.outcome] += 1
        for feature in features(script):
            kind, _, name = feature.partition(" ")
            if kind == "op":
                summary.ops[name] += 1
            elif kind != "depth":
                summary.control_flow[feature] += 1
        if checked.reproducer is not None and out is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"failure_{len(summary.reproducers) + 1}.py"
            path.write_text(checked.reproducer)
            summary.reproducers.append(str(path))
        if progress is not None:
            progress(summary)

    one()
    return summary
