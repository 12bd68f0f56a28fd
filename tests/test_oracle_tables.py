"""The tables check each other: every differentiable function of refgrad's public API is an
op the oracles know (forward meaning, symbolic meaning, domain), or is listed here with the
reason it is not; adding an engine op without its oracle counterpart fails this test."""

from __future__ import annotations

import refgrad
from oracles.ops import OPS
from oracles.symbolic import SYMBOLIC

NOT_DIFFERENTIABLE = frozenset(
    {
        "arange", "argmax", "argmin", "bitwise_and", "bitwise_not", "bitwise_or", "eq", "eye", "from_numpy",
        "full", "linspace", "logical_and", "logical_not", "logical_or", "ne", "ones", "ones_like", "rand", "randn",
        "tensor", "zeros", "zeros_like", "manual_seed", "get_default_dtype", "set_default_dtype",
        "is_grad_enabled", "is_inference_mode_enabled",
    }
)  # fmt: skip
"""Factories, comparisons, index results and switches: nothing to differentiate."""

COVERED_OTHERWISE = {
    "max": "returns (values, indices) with dim; the values are amax's, which the oracles know",
    "min": "returns (values, indices) with dim; the values are amin's",
    "split": "several outputs: programs are single-output; the pieces are slices of the input",
    "chunk": "several outputs, as split",
    "broadcast_to": "the same op as expand (the oracles' name), spelled with `shape`",
    "floor": "piecewise constant: its gradient is 0 everywhere (test_floor_and_round_have_zero_gradient, on torch too)",
    "round": "piecewise constant, as floor",
}


def test_every_engine_op_has_an_oracle_counterpart() -> None:
    public = {
        name for name in refgrad.__all__ if callable(getattr(refgrad, name)) and not isinstance(getattr(refgrad, name), type)
    }
    missing = public - set(OPS) - NOT_DIFFERENTIABLE - set(COVERED_OTHERWISE)
    assert missing == set(), f"engine ops the oracles do not know: {sorted(missing)}"


def test_the_oracle_tables_agree() -> None:
    assert set(SYMBOLIC) == set(OPS)
    for name, spec in OPS.items():
        low, high = spec.domain
        assert low < high, name


def test_the_exclusions_are_still_engine_names() -> None:
    """An exclusion for a name refgrad no longer has would hide nothing: keep the list honest."""
    assert (NOT_DIFFERENTIABLE | set(COVERED_OTHERWISE)) <= set(refgrad.__all__)
