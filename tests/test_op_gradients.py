"""Every op of refgrad's op set: the engine's backward agrees with central differences.

One table of cases ``(id, fn, input shapes, domain)``. ``fn(engine, *inputs)`` builds one
output tensor from float64 leaves. The test draws inputs in the op's domain (away from
kinks and ties), draws a random upstream gradient ``g`` of the output's shape (not all
ones), calls ``out.backward(g)`` and compares each leaf's ``.grad`` with the central
difference of ``x -> sum(g * fn(x))``. The forward used for the differences is the
engine's own, run under ``no_grad`` on plain float64 tensors: what is checked here is the
backward, not the forward values.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import FloatArray, as_array, central_difference

Shape = tuple[int, ...]
Fn = Callable[..., Any]
# a domain name for all inputs, or one per input
Domain = str | tuple[str, ...]
Case = tuple[str, Fn, tuple[Shape, ...], Domain]

H = 1e-6
# |analytic - numeric| <= RTOL * (scale of the gradient), scale floored at 1e-2
RTOL = 1e-6
SCALE_FLOOR = 1e-2

# Candidate input values: a grid of step 0.05 in (-2, 2) offset by 0.025, so every value
# is at least 0.025 away from the kinks used below (0, +-0.5, +-1) and from every other
# candidate. A case draws without replacement across all its inputs (so maximum/minimum
# and max/min never tie) and adds a jitter of at most 0.005.
_GRID: FloatArray = np.arange(-2.0 + 0.025, 2.0, 0.05)
_DOMAINS: dict[str, FloatArray] = {
    "real": _GRID,
    "pos": _GRID[_GRID > 0.5],  # log, sqrt, rsqrt, x**0.5, the base of tensor**tensor
    "nonzero": _GRID[np.abs(_GRID) > 0.5],  # denominators, prod
    "unit": _GRID[np.abs(_GRID) < 1.0],  # tan, log1p
    "inner": _GRID[np.abs(_GRID) < 0.5],  # inside every clamp range used below
}


def sample_inputs(rng: np.random.Generator, shapes: tuple[Shape, ...], domain: Domain) -> list[FloatArray]:
    kinds = (domain,) * len(shapes) if isinstance(domain, str) else domain
    assert len(kinds) == len(shapes)
    used: set[float] = set()
    arrays: list[FloatArray] = []
    for shape, kind in zip(shapes, kinds):
        pool = np.array([v for v in _DOMAINS[kind] if float(v) not in used])
        n = int(np.prod(shape, dtype=np.int64))
        chosen = rng.choice(pool, size=n, replace=False)
        used.update(float(v) for v in chosen)
        jitter = rng.uniform(-0.005, 0.005, size=n)
        arrays.append(np.asarray(chosen + jitter, dtype=np.float64).reshape(shape))
    return arrays


MASK_2X3 = [[True, False, True], [False, True, True]]


def _c(engine: ModuleType, data: list[Any]) -> Any:
    """A float64 constant (no grad) to weight an output, so a routing error changes the result."""
    return engine.tensor(data, dtype=engine.float64)

UNARY: list[tuple[str, Fn, str]] = [
    ("neg", lambda E, a: -a, "real"),
    ("exp", lambda E, a: E.exp(a), "real"),
    ("exp_method", lambda E, a: a.exp(), "real"),
    ("log", lambda E, a: E.log(a), "pos"),
    ("log1p", lambda E, a: E.log1p(a), "unit"),
    ("expm1", lambda E, a: E.expm1(a), "real"),
    ("sqrt", lambda E, a: E.sqrt(a), "pos"),
    ("rsqrt", lambda E, a: E.rsqrt(a), "pos"),
    ("reciprocal", lambda E, a: E.reciprocal(a), "nonzero"),
    ("sin", lambda E, a: E.sin(a), "real"),
    ("cos", lambda E, a: E.cos(a), "real"),
    ("tan", lambda E, a: E.tan(a), "unit"),
    ("tanh", lambda E, a: E.tanh(a), "real"),
    ("sigmoid", lambda E, a: E.sigmoid(a), "real"),
    ("relu", lambda E, a: E.relu(a), "real"),
    ("abs", lambda E, a: E.abs(a), "real"),
    ("sign", lambda E, a: E.sign(a) * a, "real"),  # sign' = 0, so d/da (sign(a) * a) = sign(a)
    ("square", lambda E, a: E.square(a), "real"),
    ("clamp", lambda E, a: E.clamp(a, -0.5, 0.5), "real"),
    ("clamp_kw_min", lambda E, a: E.clamp(a, min=-0.5), "real"),
    ("clamp_kw_max", lambda E, a: E.clamp(a, max=0.5), "real"),
    ("clamp_method", lambda E, a: a.clamp(-1.0, 0.5), "real"),
    ("clamp_min", lambda E, a: E.clamp_min(a, -0.5), "real"),
    ("clamp_max", lambda E, a: E.clamp_max(a, 0.5), "real"),
    ("pow_int", lambda E, a: a**3, "real"),
    ("pow_two", lambda E, a: a**2, "real"),
    ("pow_zero", lambda E, a: a**0 + a, "real"),  # x**0 contributes gradient 0
    ("pow_half", lambda E, a: a**0.5, "pos"),
    ("pow_neg_frac", lambda E, a: a**-1.5, "pos"),
    ("pow_method", lambda E, a: E.pow(a, 2.5), "pos"),
    ("rpow", lambda E, a: 2.0**a, "real"),
    ("rpow_half", lambda E, a: 0.5**a, "real"),
    ("add_scalar", lambda E, a: a + 2.5, "real"),
    ("radd_scalar", lambda E, a: 2.5 + a, "real"),
    ("sub_scalar", lambda E, a: a - 1.5, "real"),
    ("rsub_scalar", lambda E, a: 1.5 - a, "real"),
    ("mul_scalar", lambda E, a: a * 3.0, "real"),
    ("rmul_scalar", lambda E, a: 3.0 * a, "real"),
    ("div_scalar", lambda E, a: a / 2.0, "real"),
    ("rdiv_scalar", lambda E, a: 2.0 / a, "nonzero"),
]

BINARY: list[tuple[str, Fn, Domain]] = [
    ("add", lambda E, a, b: a + b, "real"),
    ("sub", lambda E, a, b: a - b, "real"),
    ("mul", lambda E, a, b: a * b, "real"),
    ("div", lambda E, a, b: a / b, ("real", "nonzero")),
    ("pow_tensor", lambda E, a, b: a**b, ("pos", "real")),
    ("maximum", lambda E, a, b: E.maximum(a, b), "real"),
    ("minimum", lambda E, a, b: E.minimum(a, b), "real"),
    ("where", lambda E, a, b: E.where(a > 0, a, b), "real"),
]

BINARY_SHAPES: list[tuple[str, tuple[Shape, Shape]]] = [
    ("same", ((2, 3), (2, 3))),
    ("bcast_row", ((2, 3), (3,))),
    ("bcast_col", ((2, 3), (2, 1))),
    ("bcast_row_lhs", ((3,), (2, 3))),
    ("bcast_outer", ((2, 1), (3,))),
    ("0d_0d", ((), ())),
    ("0d_rhs", ((2, 3), ())),
    ("0d_lhs", ((), (2, 3))),
]

CASES: list[Case] = (
    [(name, fn, ((2, 3),), dom) for name, fn, dom in UNARY]
    # a single 0-d draw could fall outside a clamp range and test only a zero gradient
    + [(name + "_0d", fn, ((),), "inner" if name.startswith("clamp") else dom) for name, fn, dom in UNARY]
    + [
        (f"{name}_{sname}", fn, shapes, dom)
        for name, fn, dom in BINARY
        for sname, shapes in BINARY_SHAPES
    ]
    + [
        ("mul_three_bcast", lambda E, a, b, c: a * b * c, ((2, 3), (3,), (2, 1)), "real"),
        ("where_fixed_mask_bcast", lambda E, a, b: E.where(E.tensor(MASK_2X3), a, b), ((2, 3), (2, 1)), "real"),
        ("where_both_branches", lambda E, a, b: E.where(a > b, a.exp(), b * b), ((2, 3), (2, 3)), "real"),
        ("add_self", lambda E, a: a + a * a, ((2, 3),), "real"),
        # matrix products
        ("matmul_2d_2d", lambda E, a, b: a @ b, ((2, 3), (3, 4)), "real"),
        ("matmul_2d_1d", lambda E, a, b: a @ b, ((2, 3), (3,)), "real"),
        ("matmul_1d_2d", lambda E, a, b: a @ b, ((3,), (3, 4)), "real"),
        ("matmul_1d_1d", lambda E, a, b: a @ b, ((3,), (3,)), "real"),
        ("matmul_3d_2d", lambda E, a, b: a @ b, ((2, 2, 3), (3, 4)), "real"),
        ("matmul_fn_3d_2d", lambda E, a, b: E.matmul(a, b), ((2, 2, 3), (3, 2)), "real"),
        ("matmul_fn_2d_2d", lambda E, a, b: E.matmul(a, b), ((3, 2), (2, 4)), "real"),
        ("mm", lambda E, a, b: E.mm(a, b), ((2, 3), (3, 4)), "real"),
        ("mm_method", lambda E, a, b: a.mm(b), ((3, 2), (2, 2)), "real"),
        ("mv", lambda E, a, b: E.mv(a, b), ((2, 3), (3,)), "real"),
        ("dot", lambda E, a, b: E.dot(a, b), ((4,), (4,)), "real"),
        ("dot_method", lambda E, a, b: a.dot(b), ((3,), (3,)), "real"),
        ("outer", lambda E, a, b: E.outer(a, b), ((3,), (4,)), "real"),
        ("matmul_self", lambda E, a: a @ a, ((3, 3),), "real"),
        # reductions
        ("sum", lambda E, a: E.sum(a), ((2, 3),), "real"),
        ("sum_method", lambda E, a: a.sum(), ((2, 3),), "real"),
        ("sum_dim1", lambda E, a: E.sum(a, dim=1), ((2, 3),), "real"),
        ("sum_dim0_keepdim", lambda E, a: a.sum(0, keepdim=True), ((2, 3),), "real"),
        ("sum_dim_neg", lambda E, a: a.sum(dim=-1), ((2, 2, 3),), "real"),
        ("sum_dim_tuple", lambda E, a: E.sum(a, dim=(0, 2)), ((2, 2, 3),), "real"),
        ("sum_0d", lambda E, a: a.sum(), ((),), "real"),
        ("mean", lambda E, a: E.mean(a), ((2, 3),), "real"),
        ("mean_method", lambda E, a: a.mean(), ((3, 4),), "real"),
        ("mean_dim1", lambda E, a: E.mean(a, dim=1), ((2, 3),), "real"),
        ("mean_dim0_keepdim", lambda E, a: a.mean(0, keepdim=True), ((2, 3),), "real"),
        ("mean_dim_tuple", lambda E, a: E.mean(a, dim=(0, 2)), ((2, 2, 3),), "real"),
        ("max", lambda E, a: E.max(a), ((2, 3),), "real"),
        ("max_method", lambda E, a: a.max(), ((3, 4),), "real"),
        ("max_dim_values", lambda E, a: E.max(a, dim=1).values, ((2, 3),), "real"),
        ("max_dim_index0", lambda E, a: a.max(0)[0], ((3, 4),), "real"),
        ("max_dim_keepdim", lambda E, a: a.max(dim=1, keepdim=True).values, ((3, 4),), "real"),
        ("min", lambda E, a: E.min(a), ((2, 3),), "real"),
        ("min_method", lambda E, a: a.min(), ((3, 4),), "real"),
        ("min_dim_values", lambda E, a: E.min(a, dim=1).values, ((2, 3),), "real"),
        ("min_dim_keepdim", lambda E, a: a.min(dim=0, keepdim=True).values, ((3, 4),), "real"),
        ("amax", lambda E, a: E.amax(a), ((2, 3),), "real"),
        ("amax_dim", lambda E, a: E.amax(a, dim=1), ((3, 4),), "real"),
        ("amax_dim_keepdim", lambda E, a: a.amax(dim=0, keepdim=True), ((3, 4),), "real"),
        ("amin", lambda E, a: E.amin(a), ((2, 3),), "real"),
        ("amin_dim", lambda E, a: E.amin(a, dim=0), ((3, 4),), "real"),
        ("amin_dim_keepdim", lambda E, a: a.amin(dim=1, keepdim=True), ((3, 4),), "real"),
        ("prod", lambda E, a: E.prod(a), ((2, 3),), "nonzero"),
        ("prod_method", lambda E, a: a.prod(), ((4,),), "nonzero"),
        ("prod_dim", lambda E, a: E.prod(a, dim=1), ((2, 3),), "nonzero"),
        ("prod_dim_keepdim", lambda E, a: a.prod(dim=0, keepdim=True), ((3, 2),), "nonzero"),
        ("var", lambda E, a: E.var(a), ((2, 3),), "real"),
        ("var_method", lambda E, a: a.var(), ((5,),), "real"),
        ("var_dim", lambda E, a: E.var(a, dim=1), ((2, 4),), "real"),
        ("var_dim_keepdim", lambda E, a: a.var(dim=0, keepdim=True), ((3, 2),), "real"),
        ("std", lambda E, a: E.std(a), ((2, 3),), "real"),
        ("std_method", lambda E, a: a.std(), ((5,),), "real"),
        ("std_dim", lambda E, a: E.std(a, dim=1), ((2, 4),), "real"),
        ("std_dim_keepdim", lambda E, a: a.std(dim=0, keepdim=True), ((3, 2),), "real"),
        ("logsumexp_dim1", lambda E, a: E.logsumexp(a, dim=1), ((2, 3),), "real"),
        ("logsumexp_dim0_keepdim", lambda E, a: E.logsumexp(a, 0, keepdim=True), ((3, 4),), "real"),
        ("logsumexp_method", lambda E, a: a.logsumexp(-1), ((2, 2, 3),), "real"),
        ("softmax_dim1", lambda E, a: E.softmax(a, 1), ((2, 3),), "real"),
        ("softmax_dim0", lambda E, a: E.softmax(a, dim=0), ((3, 4),), "real"),
        ("softmax_method", lambda E, a: a.softmax(-1), ((2, 2, 3),), "real"),
        ("log_softmax_dim1", lambda E, a: E.log_softmax(a, 1), ((2, 3),), "real"),
        ("log_softmax_dim0", lambda E, a: E.log_softmax(a, dim=0), ((3, 4),), "real"),
        ("log_softmax_method", lambda E, a: a.log_softmax(-1), ((2, 2, 3),), "real"),
        ("norm", lambda E, a: E.norm(a), ((2, 3),), "real"),
        ("norm_method", lambda E, a: a.norm(), ((4,),), "real"),
        ("norm_p1", lambda E, a: E.norm(a, p=1), ((2, 3),), "real"),
        ("norm_dim", lambda E, a: E.norm(a, dim=1), ((3, 4),), "real"),
        ("norm_dim_keepdim", lambda E, a: a.norm(dim=0, keepdim=True), ((3, 4),), "real"),
        ("norm_p1_dim", lambda E, a: E.norm(a, p=1, dim=1), ((2, 3),), "real"),
        # shape ops (a nonlinearity after each makes the routing of the gradient visible)
        ("reshape", lambda E, a: a.reshape(3, 2) * _c(E, [1.0, 2.0]), ((2, 3),), "real"),
        ("reshape_fn_tuple", lambda E, a: E.reshape(a, (6,)).exp(), ((2, 3),), "real"),
        ("reshape_neg1", lambda E, a: a.reshape(-1, 2) ** 2, ((2, 2, 3),), "real"),
        ("view", lambda E, a: a.view(3, 2) ** 3, ((2, 3),), "real"),
        ("view_neg1", lambda E, a: a.view(-1) * _c(E, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), ((2, 3),), "real"),
        ("flatten", lambda E, a: E.flatten(a) ** 2, ((2, 3, 2),), "real"),
        ("flatten_start1", lambda E, a: a.flatten(1) @ _c(E, [1.0, -1.0, 2.0, 0.5, 3.0, -2.0]), ((2, 3, 2),), "real"),
        ("transpose", lambda E, a: a.transpose(0, 1) @ _c(E, [1.0, -2.0]), ((2, 3),), "real"),
        ("transpose_fn_3d", lambda E, a: E.transpose(a, 0, 2) ** 2, ((2, 3, 2),), "real"),
        ("permute", lambda E, a: a.permute(2, 0, 1) ** 2, ((2, 3, 4),), "real"),
        ("permute_fn", lambda E, a: E.permute(a, (1, 2, 0)).exp(), ((2, 3, 2),), "real"),
        ("t", lambda E, a: a.t() @ _c(E, [1.0, -2.0]), ((2, 3),), "real"),
        ("t_fn", lambda E, a: E.t(a) ** 3, ((2, 3),), "real"),
        ("T", lambda E, a, b: a.T @ b, ((3, 2), (3, 4)), "real"),
        ("unsqueeze", lambda E, a: a.unsqueeze(0) * _c(E, [[[1.0], [2.0]]]), ((2, 3),), "real"),
        ("unsqueeze_fn_neg", lambda E, a: E.unsqueeze(a, -1) ** 2, ((2, 3),), "real"),
        ("squeeze_all", lambda E, a: a.squeeze() ** 2, ((2, 1, 3),), "real"),
        ("squeeze_dim", lambda E, a: a.squeeze(1) ** 2, ((2, 1, 3),), "real"),
        ("squeeze_fn_dim", lambda E, a: E.squeeze(a, 0).exp(), ((1, 3),), "real"),
        ("expand_col", lambda E, a: a.expand(2, 3) ** 2, ((2, 1),), "real"),
        ("expand_row_new_dims", lambda E, a: a.expand(2, 2, 3) * _c(E, [[[1.0], [2.0]], [[3.0], [4.0]]]), ((3,),), "real"),
        ("expand_neg1", lambda E, a: a.expand(-1, 4) ** 3, ((3, 1),), "real"),
        ("broadcast_to", lambda E, a: E.broadcast_to(a, (2, 3)) ** 2, ((3,),), "real"),
        ("broadcast_to_col", lambda E, a: E.broadcast_to(a, (2, 2, 3)).exp(), ((2, 1),), "real"),
        ("cat_dim0", lambda E, a, b: E.cat([a, b], dim=0) ** 2, ((2, 3), (1, 3)), "real"),
        ("cat_dim1", lambda E, a, b: E.cat([a, b], 1).exp(), ((2, 3), (2, 2)), "real"),
        ("cat_three", lambda E, a, b, c: E.cat([a, b, c]) ** 3, ((2,), (3,), (1,)), "real"),
        ("cat_same_twice", lambda E, a: E.cat([a, a * a], dim=0) ** 2, ((2, 3),), "real"),
        ("stack", lambda E, a, b: E.stack([a, b]) ** 2, ((2, 3), (2, 3)), "real"),
        ("stack_dim1", lambda E, a, b: E.stack([a, b], dim=1).exp(), ((2, 3), (2, 3)), "real"),
        ("stack_dim_neg", lambda E, a, b, c: E.stack([a, b, c], dim=-1) ** 3, ((3,), (3,), (3,)), "real"),
        ("split_size", lambda E, a: _combine3(E.split(a, 2)), ((5, 3),), "real"),
        ("split_size_unused_piece", lambda E, a: _first_times_last(E.split(a, 2)), ((5, 3),), "real"),
        ("split_sections_dim1", lambda E, a: _first_times_last(E.split(a, [1, 3], dim=1)), ((2, 4),), "real"),
        ("split_method", lambda E, a: _combine3(a.split(1, dim=1)), ((2, 3),), "real"),
        ("chunk_dim1", lambda E, a: _combine3(E.chunk(a, 3, dim=1)), ((2, 6),), "real"),
        ("chunk_uneven", lambda E, a: _first_head_times_second(E.chunk(a, 2)), ((5, 2),), "real"),
        ("chunk_method", lambda E, a: _first_times_last(a.chunk(2)), ((4, 3),), "real"),
        ("flip_dim0", lambda E, a: E.flip(a, (0,)) * _c(E, [[1.0], [2.0]]), ((2, 3),), "real"),
        ("flip_dims01", lambda E, a: E.flip(a, [0, 1]) ** 3, ((2, 3),), "real"),
        ("flip_method", lambda E, a: a.flip(1) * _c(E, [1.0, 2.0, 3.0]), ((2, 3),), "real"),
        # indexing
        ("index_int", lambda E, a: a[1] ** 2, ((3, 4),), "real"),
        ("index_neg_int", lambda E, a: a[-1].exp(), ((3, 4),), "real"),
        ("index_two_ints", lambda E, a: a[1, 2] ** 3, ((3, 4),), "real"),
        ("index_int_slice_int", lambda E, a: a[0, :, 1] ** 2, ((2, 3, 4),), "real"),
        ("slice", lambda E, a: a[1:] ** 2, ((3, 4),), "real"),
        ("slice_neg_stop", lambda E, a: a[:-1] ** 3, ((4,),), "real"),
        ("slice_step", lambda E, a: a[:, ::2] ** 2, ((3, 5),), "real"),
        ("slice_start_step", lambda E, a: a[1::2] ** 3, ((5, 3),), "real"),
        ("slice_two_dims", lambda E, a: a[::2, 1:3].exp(), ((3, 4),), "real"),
        ("index_none", lambda E, a: a[None] ** 2, ((2, 3),), "real"),
        ("index_none_mid", lambda E, a: a[:, None] * _c(E, [[1.0], [2.0]]), ((2, 3),), "real"),
        ("index_none_ellipsis_none", lambda E, a: a[None, ..., None] ** 3, ((2, 3),), "real"),
        ("index_ellipsis_int", lambda E, a: a[..., 1] ** 2, ((2, 3, 4),), "real"),
        ("index_ellipsis_slice", lambda E, a: a[..., 1:].exp(), ((2, 3),), "real"),
        ("index_int_ellipsis_step", lambda E, a: a[1, ..., ::2] ** 2, ((2, 3, 4),), "real"),
        ("index_list_dups", lambda E, a: a[[0, 2, 0]] ** 2, ((3, 4),), "real"),
        ("index_list_dups_times", lambda E, a: a[[1, 1, 1, 0]] * _c(E, [1.0, 2.0, 3.0, 4.0]), ((3,),), "real"),
        ("index_list_second_dim", lambda E, a: a[:, [1, 1, 3]] ** 3, ((2, 4),), "real"),
        ("index_list_reorder", lambda E, a: a[[2, 0]].exp(), ((3, 2),), "real"),
        ("index_list_then_slice", lambda E, a: a[[0, 0, 1], 1:] ** 2, ((2, 3),), "real"),
        ("index_mask_from_compare", lambda E, a: a[a > 0] ** 2, ((3, 4),), "real"),
        ("index_mask_rows", lambda E, a: a[E.tensor([True, False, True])] ** 3, ((3, 2),), "real"),
        ("index_mask_full", lambda E, a: a[E.tensor(MASK_2X3)].exp(), ((2, 3),), "real"),
    ]
)


def _combine3(pieces: Any) -> Any:
    """p0 * p1 + p2 ** 2: uses three pieces of a split/chunk."""
    return pieces[0] * pieces[1] + pieces[2] ** 2


def _first_times_last(pieces: Any) -> Any:
    """First piece times last one (a middle piece, if any, gets gradient zero)."""
    return pieces[0] * pieces[-1]


def _first_head_times_second(pieces: Any) -> Any:
    """chunk(5, 2) gives sizes 3 and 2: the first two rows of piece 0 times piece 1."""
    return pieces[0][:2] * pieces[1] + pieces[0][2] ** 2


def test_case_ids_are_unique() -> None:
    names = [case[0] for case in CASES]
    assert len(names) == len(set(names))


def _forward(engine: ModuleType, fn: Fn, arrays: list[FloatArray]) -> FloatArray:
    with engine.no_grad():
        inputs = [engine.tensor(a.tolist(), dtype=engine.float64) for a in arrays]
        return as_array(fn(engine, *inputs))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_gradient_matches_central_difference(engine: ModuleType, case: Case) -> None:
    name, fn, shapes, domain = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    xs = sample_inputs(rng, shapes, domain)
    leaves = [engine.tensor(x.tolist(), dtype=engine.float64, requires_grad=True) for x in xs]

    out = fn(engine, *leaves)
    out_shape = tuple(out.shape)
    # random upstream gradient, entries of both signs with magnitude in [0.25, 1.5)
    g = rng.uniform(0.25, 1.5, size=out_shape) * rng.choice([-1.0, 1.0], size=out_shape)
    g = np.asarray(g, dtype=np.float64)
    out.backward(engine.tensor(g.tolist(), dtype=engine.float64))

    nonzero_seen = False
    for k, (x, leaf) in enumerate(zip(xs, leaves)):

        def objective(xk: FloatArray, k: int = k) -> float:
            arrays = list(xs)
            arrays[k] = xk
            return float(np.sum(g * _forward(engine, fn, arrays)))

        numeric = central_difference(objective, x, h=H)
        assert leaf.grad is not None, f"input {k} got no gradient"
        assert tuple(leaf.grad.shape) == x.shape, f"input {k}: grad shape {tuple(leaf.grad.shape)} != {x.shape}"
        assert leaf.grad.dtype == engine.float64
        analytic = as_array(leaf.grad)
        scale = max(float(np.max(np.abs(numeric), initial=0.0)), SCALE_FLOOR)
        np.testing.assert_allclose(analytic, numeric, rtol=0.0, atol=RTOL * scale, err_msg=f"input {k}")
        nonzero_seen = nonzero_seen or bool(np.any(np.abs(numeric) > 1e-3))
    # guards the table itself: a case whose true gradient is zero everywhere checks little
    assert nonzero_seen, "the drawn inputs give an all-zero gradient: choose another domain"
