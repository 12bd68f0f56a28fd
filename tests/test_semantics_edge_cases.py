"""Edge cases found by differential review against torch 2.13 (each once gave a wrong answer
in refgrad): views and leaves, indexing layouts, NaN, zeros in prod, dtypes of results."""

from __future__ import annotations

import math
import types
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from helpers import as_array, raises_exactly


def test_a_leaf_made_from_a_view_receives_its_gradient(engine: ModuleType) -> None:
    x = engine.arange(4.0).reshape(2, 2).requires_grad_()
    (x * x).sum().backward()
    np.testing.assert_array_equal(as_array(x.grad), [[0.0, 2.0], [4.0, 6.0]])


def test_integer_indexing_is_a_view(engine: ModuleType) -> None:
    a = engine.zeros(3)
    a[1].add_(5.0)
    v = a[2]
    a.fill_(7.0)
    assert a.tolist() == [7.0, 7.0, 7.0] and v.item() == 7.0


def test_contiguous_of_a_transposed_tensor_is_a_copy(engine: ModuleType) -> None:
    a = engine.zeros(2, 2)
    a.t().contiguous().add_(1.0)
    assert a.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_int_slice_and_list_index_keep_the_slice_dimension_first(engine: ModuleType) -> None:
    x = engine.arange(24.0).reshape(2, 3, 4)
    assert tuple(x[0, :, [0, 1]].shape) == (3, 2)
    assert x[0, :, [0, 1]].tolist() == [[0.0, 1.0], [4.0, 5.0], [8.0, 9.0]]


def test_full_slices_in_a_tuple_key_are_not_recorded(engine: ModuleType) -> None:
    a = engine.ones(2, 3, requires_grad=True)
    assert type(a[:, 1].grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    assert a[:, :].grad_fn.name() == "AliasBackward0"
    assert a[:].grad_fn.name() == "SliceBackward0"


def test_bitwise_operators_on_integers(engine: ModuleType) -> None:
    assert (engine.tensor([1, 2]) & engine.tensor([3, 1])).tolist() == [1, 0]
    assert (engine.tensor([1, 2]) | engine.tensor([4, 1])).tolist() == [5, 3]
    assert (~engine.tensor([1, 2])).tolist() == [-2, -3]
    assert (~engine.tensor([True, False])).tolist() == [False, True]


def test_clamp_of_an_int_tensor_with_float_bounds_is_float(engine: ModuleType) -> None:
    out = engine.clamp(engine.tensor([1, 5, 9]), 2.5, 7.5)
    assert out.dtype == engine.float32 and out.tolist() == [2.5, 5.0, 7.5]


def test_norm_minus_inf_is_the_smallest_magnitude(engine: ModuleType) -> None:
    assert engine.tensor([3.0, -4.0]).norm(float("-inf")).item() == 3.0


def test_var_of_integers_is_refused(engine: ModuleType) -> None:
    with raises_exactly(RuntimeError, "std and var only support floating point and complex dtypes"):
        engine.tensor([1, 2, 4]).var()


def test_second_derivative_of_prod_with_a_zero(engine: ModuleType) -> None:
    """f = Πx + Σx², x = [0, 2, 3]: the Hessian of Πx at a single zero is not 0."""
    x = engine.tensor([0.0, 2.0, 3.0], dtype=engine.float64, requires_grad=True)
    (g,) = engine.autograd.grad(x.prod() + (x**2).sum(), x, create_graph=True)
    np.testing.assert_array_equal(as_array(g), [6.0, 4.0, 6.0])  # [x1 x2, 0, 0] + 2x
    (h,) = engine.autograd.grad(g.sum(), x)
    # rows of the Hessian of Πx summed: [x2 + x1, x2 + x0, x1 + x0], plus 2 on the diagonal
    np.testing.assert_array_equal(as_array(h), [5.0 + 2, 3.0 + 2, 2.0 + 2])


def test_nan_takes_the_gradient_of_max_and_maximum(engine: ModuleType) -> None:
    x = engine.tensor([math.nan, 1.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [1.0, 0.0]
    y = engine.tensor([math.nan, 1.0], requires_grad=True)
    engine.maximum(y, engine.tensor([0.0, 5.0])).sum().backward()
    assert y.grad.tolist() == [1.0, 0.0]


def test_sign_of_nan_is_zero(engine: ModuleType) -> None:
    assert engine.sign(engine.tensor([math.nan, -2.0])).tolist() == [0.0, -1.0]


def test_narrow_with_a_negative_start(engine: ModuleType) -> None:
    assert engine.arange(6.0).reshape(2, 3).narrow(1, -1, 1).tolist() == [[2.0], [5.0]]
    with raises_exactly(RuntimeError, "start (2) + length (2) exceeds dimension size (3)."):
        engine.arange(3.0).narrow(0, 2, 2)


def test_integer_beyond_int64_is_refused(engine: ModuleType) -> None:
    with raises_exactly(ValueError, "Overflow when unpacking long long"):
        engine.tensor(2**63)


@pytest.mark.parametrize("correction", [1, 3])
def test_variance_gradient_when_n_minus_correction_is_not_positive(engine: ModuleType, correction: int) -> None:
    n = 1 if correction == 1 else 2
    x = engine.tensor([1.0, 3.0][:n], requires_grad=True)
    x.var(correction=correction).backward()
    grad = as_array(x.grad)
    assert not np.isfinite(grad).all()


def test_norm_gradient_at_zero_for_small_p(engine: ModuleType) -> None:
    for p in (0.5, 1.5):
        x = engine.tensor([0.0, 1.0], requires_grad=True)
        x.norm(p).backward()
        assert x.grad.tolist() == [0.0, 1.0]


def test_logsumexp_of_integers_has_the_default_float_dtype(engine: ModuleType) -> None:
    assert engine.logsumexp(engine.tensor([1, 2]), 0).dtype == engine.float32


def test_reductions_over_dim_0_of_a_0d_tensor(engine: ModuleType) -> None:
    x = engine.tensor(3.0, requires_grad=True)
    assert x.sum(0).item() == 3.0 and x.mean(-1).item() == 3.0
    x.max(0).values.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0.0, 2.0, 3.0], [6.0, 0.0, 0.0]), ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0]), ([1.0, 2.0, 3.0], [6.0, 3.0, 2.0])],
    ids=["one-zero", "two-zeros", "no-zero"],
)
def test_prod_gradient_with_zeros(engine: ModuleType, values: list[float], expected: list[float]) -> None:
    x = engine.tensor(values, requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == expected
    y = engine.tensor([values, values], requires_grad=True)
    y.prod(1).sum().backward()
    assert y.grad.tolist() == [expected, expected]


def _exp_function(engine: ModuleType) -> Any:
    def forward(ctx: Any, x: Any) -> Any:
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    def backward(ctx: Any, grad: Any) -> Any:
        (result,) = ctx.saved_tensors
        return grad * result

    return types.new_class("Exp2", (engine.autograd.Function,), exec_body=lambda ns: ns.update(
        forward=staticmethod(forward), backward=staticmethod(backward)))


def test_a_functions_saved_output_is_differentiable_again(engine: ModuleType) -> None:
    x = engine.tensor([0.0, 1.0], dtype=engine.float64, requires_grad=True)
    y = _exp_function(engine).apply(x)
    (g,) = engine.autograd.grad((y * y).sum(), x, create_graph=True)
    (h,) = engine.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(as_array(h), 4 * np.exp(2 * np.array([0.0, 1.0])), rtol=1e-14)  # d² exp(2x)


def test_retained_grad_follows_an_inplace_operation(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    assert y.grad.tolist() == [12.0, 24.0, 36.0]  # 2y of the new value
    assert x.grad.tolist() == [72.0, 144.0, 216.0]


def test_view_taken_before_an_inplace_op_on_its_base(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = x * 1
    first_two = z[:2]
    z.mul_(10)
    first_two.sum().backward()
    assert x.grad.tolist() == [10.0, 10.0, 0.0]


def test_results_computed_before_the_inplace_op_keep_their_gradient(engine: ModuleType) -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = x * 1
    total = z[:2].sum()
    z.mul_(10)
    total.backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0]
