"""Programs run the same on every interpreter: the oracles' numpy forward, refgrad and torch.
This is the forward cross-check that catches an op the engine computes (or records) wrongly."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from oracles.interpret import run_engine, run_numpy, to_source
from oracles.ops import OPS
from oracles.program import AttrValue, Input, Op, Program, Ref

A, B, M = Ref(0), Ref(1), Ref(2)
INPUTS = (Input("a", (2, 3)), Input("b", (2, 3)), Input("m", (3, 2)))


def _program(*ops: Op) -> Program:
    return Program(INPUTS, ops)


def _unary(name: str, **attrs: AttrValue) -> Program:
    return _program(Op(name, (A,), tuple(attrs.items())))


EXAMPLES: dict[str, Program] = {
    "add": _program(Op("add", (A, B))),
    "sub": _program(Op("sub", (2.0, A))),
    "mul": _program(Op("mul", (A, B))),
    "div": _program(Op("div", (A, B))),
    "pow": _program(Op("pow", (A, 3.0))),
    "neg": _unary("neg"),
    "matmul": _program(Op("matmul", (A, M))),
    "mm": _program(Op("mm", (A, M))),
    "mv": _program(Op("sum", (M,), (("dim", 1),)), Op("mv", (A, Ref(3)))),
    "bmm": _program(Op("unsqueeze", (A,), (("dim", 0),)), Op("unsqueeze", (M,), (("dim", 0),)), Op("bmm", (Ref(3), Ref(4)))),
    "dot": _program(Op("sum", (A,), (("dim", 0),)), Op("sum", (M,), (("dim", 1),)), Op("dot", (Ref(3), Ref(4)))),
    "outer": _program(Op("sum", (A,), (("dim", 0),)), Op("outer", (Ref(3), Ref(3)))),
    "clone": _unary("clone"),
    "flatten": _unary("flatten"),
    **{name: _unary(name) for name in ("exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos",
                                       "tan", "tanh", "sigmoid", "relu", "abs", "sign", "square", "t")},
    "clamp": _unary("clamp", min=0.5, max=1.5),
    "clamp_min": _unary("clamp_min", min=0.7),
    "clamp_max": _unary("clamp_max", max=1.1),
    "maximum": _program(Op("maximum", (A, B))),
    "minimum": _program(Op("minimum", (A, B))),
    **{name: _program(Op(name, (A, B)), Op("where", (Ref(3), A, B))) for name in ("gt", "lt", "ge", "le")},
    "where": _program(Op("gt", (A, 1.0)), Op("where", (Ref(3), A, 0.0))),
    "sum": _unary("sum", dim=1, keepdim=True),
    "mean": _unary("mean", dim=(0, 1)),
    "amax": _unary("amax", dim=1),
    "amin": _unary("amin", dim=0, keepdim=True),
    "prod": _unary("prod", dim=1),
    "var": _unary("var", dim=1),
    "std": _unary("std"),
    "logsumexp": _unary("logsumexp", dim=1),
    "softmax": _unary("softmax", dim=1),
    "log_softmax": _unary("log_softmax", dim=0),
    "norm": _unary("norm", p=3.0, dim=1),
    "reshape": _unary("reshape", shape=(3, 2)),
    "transpose": _unary("transpose", dim0=0, dim1=1),
    "permute": _unary("permute", dims=(1, 0)),
    "unsqueeze": _unary("unsqueeze", dim=1),
    "squeeze": _program(Op("unsqueeze", (A,), (("dim", 0),)), Op("squeeze", (Ref(3),), (("dim", 0),))),
    "expand": _program(Op("sum", (A,), (("dim", 0), ("keepdim", True))), Op("expand", (Ref(3),), (("size", (4, 3)),))),
    "flip": _unary("flip", dims=(0,)),
    "select": _unary("select", dim=1, index=-1),
    "narrow": _unary("narrow", dim=1, start=1, length=2),
    "cat": _program(Op("cat", (A, B), (("dim", 1),))),
    "stack": _program(Op("stack", (A, B), (("dim", 0),))),
}

VALUES = {
    "a": np.array([[0.3, 1.2, 0.7], [1.9, 0.45, 1.05]]),
    "b": np.array([[1.1, 0.2, 0.9], [0.6, 1.7, 0.35]]),
    "m": np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]]),
}


def test_every_op_has_an_example() -> None:
    assert set(EXAMPLES) >= set(OPS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_engine_forward_matches_the_oracle_forward(engine: ModuleType, name: str) -> None:
    program = EXAMPLES[name]
    out, _ = run_engine(program, VALUES, engine)
    expected = run_numpy(program, VALUES)
    np.testing.assert_allclose(np.asarray(out.detach().numpy(), dtype=np.float64), expected, rtol=1e-14, atol=1e-15)


def test_forward_cross_check_catches_a_wrong_op(monkeypatch: pytest.MonkeyPatch) -> None:
    import refgrad

    monkeypatch.setattr(refgrad, "sin", refgrad.cos)  # the engine computes the wrong function
    out, _ = run_engine(EXAMPLES["sin"], VALUES, refgrad)
    assert not np.allclose(out.detach().numpy(), run_numpy(EXAMPLES["sin"], VALUES))


def test_source_of_the_seed_program() -> None:
    seed = Program(
        (Input("a", (2,)), Input("b", (2,))),
        (Op("pow", (A, 3.0)), Op("mul", (3.0, Ref(2))), Op("pow", (B, 2.0)), Op("sub", (Ref(3), Ref(4)))),
    )
    assert to_source(seed) == ["v2 = a ** 3.0", "v3 = 3.0 * v2", "v4 = b ** 2.0", "out = v3 - v4"]


def test_signature_records_the_pieces_of_non_smooth_ops() -> None:
    program = _program(Op("sub", (A, 1.0)), Op("relu", (Ref(3),)))
    signature: list[np.ndarray] = []
    run_numpy(program, VALUES, signature)
    (pieces,) = signature
    np.testing.assert_array_equal(pieces, np.sign(VALUES["a"] - 1.0))


def test_programs_refer_only_to_earlier_values() -> None:
    with pytest.raises(ValueError, match="refers to value 5"):
        Program(INPUTS, (Op("neg", (Ref(5),)),))
