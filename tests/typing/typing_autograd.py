"""``refgrad.autograd`` in user code: gradients as values, hooks, graph nodes, custom
Functions and the functional helpers. See typing_tensor.py for how expected errors are marked."""

from __future__ import annotations

from typing import assert_type

import refgrad as rg
from refgrad.autograd import Function, functional
from refgrad.autograd.function import FunctionCtx, once_differentiable
from refgrad.autograd.graph import Node, RemovableHandle

x = rg.tensor([1.0, 2.0], requires_grad=True)
w = rg.tensor([3.0, 4.0], requires_grad=True)
y = (x * w).sum()

# grad: one tensor per input, or Tensor | None where allow_unused lets an input be unused.
(dx,) = rg.autograd.grad(y, x, retain_graph=True)
assert_type(dx, rg.Tensor)
assert_type(rg.autograd.grad(y, [x, w], retain_graph=True), tuple[rg.Tensor, ...])
assert_type(rg.autograd.grad(y, x, retain_graph=True, create_graph=True), tuple[rg.Tensor, ...])
assert_type(rg.autograd.grad(y, [x], retain_graph=True, allow_unused=True), tuple[rg.Tensor | None, ...])
assert_type(
    rg.autograd.grad(y, [x], retain_graph=True, allow_unused=True, materialize_grads=True),
    tuple[rg.Tensor, ...],
)
assert_type(rg.autograd.grad(y, [x], retain_graph=True, materialize_grads=True), tuple[rg.Tensor, ...])
unused_flag: bool = True
assert_type(rg.autograd.grad(y, [x], retain_graph=True, allow_unused=unused_flag), tuple[rg.Tensor | None, ...])
assert_type(rg.autograd.backward([y], retain_graph=True), None)
assert_type(y.backward(retain_graph=True), None)

# Hooks: a hook takes the gradient and may return a replacement.
def double_it(grad: rg.Tensor) -> rg.Tensor:
    return grad * 2


def log_it(grad: rg.Tensor) -> None:
    pass


def after_accumulation(leaf: rg.Tensor) -> None:
    pass


handle = x.register_hook(double_it)
assert_type(handle, RemovableHandle)
handle.remove()
with w.register_hook(log_it):
    pass
assert_type(x.register_post_accumulate_grad_hook(after_accumulation), RemovableHandle)

# The graph: grad_fn is a Node (or None for a leaf), with named nodes and edges.
z = x * w
node = z.grad_fn
assert_type(node, Node | None)
if node is not None:
    assert_type(node.name(), str)
    for next_node, output_nr in node.next_functions:
        assert_type(next_node, Node | None)
        assert_type(output_nr, int)


# Custom Functions: apply takes forward's parameters after ctx and returns its result.
class Scale(Function):
    @staticmethod
    def forward(ctx: FunctionCtx, t: rg.Tensor, factor: float) -> rg.Tensor:
        ctx.save_for_backward(t)
        return t * factor

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: rg.Tensor) -> tuple[rg.Tensor, None]:
        assert_type(ctx.saved_tensors, tuple[rg.Tensor | None, ...])
        assert_type(ctx.needs_input_grad, tuple[bool, ...])
        return grad * 2, None


class SplitHalves(Function):
    @staticmethod
    def forward(ctx: FunctionCtx, t: rg.Tensor) -> tuple[rg.Tensor, rg.Tensor]:
        return t[:1].clone(), t[1:].clone()

    @staticmethod
    def backward(ctx: FunctionCtx, first: rg.Tensor, second: rg.Tensor) -> rg.Tensor:
        return rg.cat([first, second])


class Total(Function):
    @staticmethod
    def forward(ctx: FunctionCtx, *parts: rg.Tensor) -> rg.Tensor:
        return rg.stack(list(parts)).sum(0)


assert_type(Scale.apply(x, 2.0), rg.Tensor)
assert_type(Scale.apply(x, 2), rg.Tensor)
assert_type(SplitHalves.apply(x), tuple[rg.Tensor, rg.Tensor])
first_half, second_half = SplitHalves.apply(x)
assert_type(Total.apply(x, w, x), rg.Tensor)

# functional: results follow the structure of the function's outputs and of the inputs.
def f(t: rg.Tensor) -> rg.Tensor:
    return (t**3).sum()


def g(a: rg.Tensor, b: rg.Tensor) -> rg.Tensor:
    return a * b


def two_outputs(t: rg.Tensor) -> tuple[rg.Tensor, rg.Tensor]:
    return t * 2, t.sum()


v = rg.ones(2)
assert_type(functional.vjp(f, x), tuple[rg.Tensor, rg.Tensor])
assert_type(functional.vjp(g, (x, w), v), tuple[rg.Tensor, tuple[rg.Tensor, rg.Tensor]])
assert_type(functional.jvp(two_outputs, x, v), tuple[tuple[rg.Tensor, rg.Tensor], tuple[rg.Tensor, rg.Tensor]])
assert_type(functional.jacobian(f, x), rg.Tensor)
assert_type(functional.jacobian(g, (x, w)), tuple[rg.Tensor, rg.Tensor])
assert_type(functional.jacobian(two_outputs, x), tuple[rg.Tensor, rg.Tensor])
assert_type(functional.jacobian(two_outputs, (x,)), tuple[tuple[rg.Tensor], ...])
assert_type(functional.hessian(f, x), rg.Tensor)
def inner(a: rg.Tensor, b: rg.Tensor) -> rg.Tensor:
    return (a * b).sum()


assert_type(functional.hessian(inner, (x, w)), tuple[tuple[rg.Tensor, rg.Tensor], ...])
assert_type(functional.hvp(f, x, v), tuple[rg.Tensor, rg.Tensor])


def on_ints(grad: int) -> None:
    pass


def rejected() -> None:
    rg.autograd.grad(y, "x")  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]
    x.register_hook(lambda grad: "done")  # type: ignore[arg-type, return-value]  # pyright: ignore[reportArgumentType]
    x.register_hook(on_ints)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Scale.apply(x)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Scale.apply(x, "2")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Scale.apply(x, factor=2.0)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    functional.jacobian(f, [x])  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]
    functional.vjp(f, "x")  # type: ignore[type-var]  # pyright: ignore[reportArgumentType]
