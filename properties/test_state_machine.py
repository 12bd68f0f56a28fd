"""A state machine interleaves forward ops, in-place ops, backward (with and without
retain_graph), resetting ``.grad`` (``= None``, ``zero_()``), grad-mode switches (``no_grad``,
``enable_grad``, ``set_grad_enabled``, ``inference_mode``, entered and left in any order the
nesting allows) and ``detach``, on the engine under test, and checks every step against a
model written with numpy alone.

The model: four float64 leaves (``a``, ``b`` of shape (3,) and the scalar ``s`` require
grad; ``k`` does not). Every live value keeps its numpy value, its exact Jacobian with
respect to the leaves (the chain rule over the local Jacobians of ``x * c``, ``x + c``,
``x + y``, ``x * y``, ``sin`` and ``sum``), whether it requires grad and has a ``grad_fn``,
whether it is an inference tensor, and its storage's version counter (shared with its
``detach()`` aliases). Each recorded op is a model node holding what it saved: backward
without retain_graph frees the nodes it reaches, and a later backward through a freed node
that saved a tensor must raise; a saved tensor changed in place since must make backward
raise too. Each leaf has an expected ``.grad``: backward adds, ``None`` and ``zero_()`` reset.

Where the model stops short, the machine does not go (each place is marked):

* backward inside inference_mode: a new ``.grad`` is then an inference tensor, so a later
  backward outside fails (the model does not follow it; tests/test_semantics_inference.py
  checks it on both engines);

and where refgrad differs from PyTorch 2.13 on purpose (deviations in docs/engine.md §10):

* an in-place op on an inference tensor outside inference_mode: torch writes the data, then
  raises, refgrad raises first; and a ``detach()`` of an inference tensor taken outside
  inference_mode can be changed in place there in torch, not in refgrad (``in_place``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

import refgrad
import refgrad._engine
import refgrad._pointwise
from properties.test_grad_modes import Mode, modes

TWICE = "^Trying to backward through the graph a second time"
MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"
NO_GRAD = "^element 0 of tensors does not require grad and does not have a grad_fn"
INFERENCE_SAVED = "^Inference tensors cannot be saved for backward"
LEAF_IN_PLACE = "^a leaf Variable that requires grad is being used in an in-place operation"
INFERENCE_IN_PLACE = "^Inplace update to inference tensor outside InferenceMode"

RTOL = 1e-12
LIMIT = 1e4  # an op whose result would exceed this in magnitude is skipped (no overflow)
ROOM = 10  # live values at most, leaves included
STEPS = 100  # steps per run at most
SHAPES = {"a": (3,), "b": (3,), "s": (), "k": (3,)}  # the leaves
COLUMNS = {"a": slice(0, 3), "b": slice(3, 6), "s": slice(6, 7)}  # those that require grad: their columns in a Jacobian
WIDTH = 7

numbers = st.floats(-2.0, 2.0, allow_subnormal=False)
vectors = hnp.arrays(np.float64, (3,), elements=numbers)


@contextmanager
def raises(*patterns: str) -> Iterator[None]:
    """The block must raise a RuntimeError whose message matches one of ``patterns``."""
    with pytest.raises(RuntimeError) as info:
        yield
    assert any(re.search(p, str(info.value)) for p in patterns), f"expected an error matching {patterns}, got: {info.value}"


def close(actual: np.ndarray, expected: np.ndarray, scale: np.ndarray, what: str) -> None:
    """Equal within RTOL of ``scale``, the magnitude of the terms ``expected`` was summed from
    (never below ``|expected|``): cancellation cannot make an exact engine fail. Subnormal
    numbers have too few digits for any relative tolerance: below the smallest normal
    number, everything is equal."""
    ok = np.abs(actual - expected) <= RTOL * scale + np.finfo(np.float64).tiny
    assert actual.shape == expected.shape and bool(np.all(ok)), f"{what}: expected {expected.tolist()}, got {actual.tolist()}"


@dataclass(eq=False)
class Storage:
    """What a value and its detach() aliases share: the data, the magnitude of the terms it
    was computed from (the same computation on absolute values, |sin| ≤ 1; an error bound's
    scale), and the version counter."""

    data: np.ndarray
    scale: np.ndarray
    origin: int  # the engine's _version when the tensor was made (torch starts a sum of an inference tensor at 1)
    version: int = 0  # in-place ops since


@dataclass(eq=False)
class Node:
    """A recorded op: the nodes of its inputs, whether it saved any tensor (then backward
    frees it), and the saved tensors that can change, with their versions when saved."""

    parents: tuple[Node, ...]
    saves: bool
    watched: tuple[tuple[Storage, int], ...]
    freed: bool = False

    def stale(self) -> bool:
        return any(storage.version != version for storage, version in self.watched)


def graph(node: Node | None) -> set[Node]:
    """The node and all the nodes behind it."""
    seen: set[Node] = set()
    todo = [] if node is None else [node]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(n.parents)
    return seen


@dataclass(eq=False)
class Value:
    """A live tensor and what the model says about it. ``jac`` is d value / d leaves, one row
    per element and the leaves' columns side by side; ``jscale`` bounds its terms."""

    label: str
    tensor: Any
    storage: Storage
    requires_grad: bool
    inference: bool
    node: Node | None
    jac: np.ndarray
    jscale: np.ndarray
    leaves: frozenset[str]  # the leaves its graph reaches
    detached_inference: bool = False  # a detach() of an inference tensor

    def __str__(self) -> str:
        return self.label

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how Hypothesis prints a draw
        printer.text(self.label)


@dataclass(frozen=True)
class Part:
    """An operand of an op with the op's Jacobian by it (output × operand elements) and the
    magnitude of that Jacobian's terms."""

    value: Value
    local: np.ndarray
    scale: np.ndarray


def elementwise(x: Value, shape: tuple[int, ...], partial: Any, scale: Any) -> Part:
    """The part of ``x`` in an elementwise op with output ``shape`` (``x`` broadcast to it) and
    derivative ``partial``: a diagonal Jacobian, with a column summing the broadcast copies."""
    n = x.storage.data.size
    spread = np.eye(n)[np.broadcast_to(np.arange(n).reshape(x.storage.data.shape), shape).ravel()]
    column: Callable[[Any], np.ndarray] = lambda a: np.broadcast_to(a, shape).reshape(-1, 1)  # noqa: E731
    return Part(x, column(partial) * spread, column(scale) * spread)


@dataclass
class Grad:
    """A leaf's expected ``.grad`` and the magnitude of the terms summed into it."""

    value: np.ndarray
    scale: np.ndarray


class AutogradMachine(RuleBasedStateMachine):
    """The engine and the model side by side (``machine_for`` gives one per engine)."""

    engine: ModuleType

    def __init__(self) -> None:
        super().__init__()
        self.values: list[Value] = []  # the leaves first
        self.grads: dict[str, Grad | None] = {name: None for name in COLUMNS}
        self.mode = (True, False)  # (grad enabled, inference mode)
        self.entered: list[tuple[Any, tuple[bool, bool]]] = []  # each context, with the mode outside it
        self.count = 0

    # -- leaves and picking ---------------------------------------------------------------

    @initialize(a=vectors, b=vectors, s=numbers, k=vectors)
    def leaves(self, a: np.ndarray, b: np.ndarray, s: float, k: np.ndarray) -> None:
        for name, data in zip(SHAPES, (a, b, np.array(s), k)):
            grad = name in COLUMNS
            jac = np.zeros((data.size, WIDTH))
            if grad:
                jac[:, COLUMNS[name]] = np.eye(data.size)
            tensor = self.engine.tensor(data, dtype=self.engine.float64, requires_grad=grad)
            storage = Storage(np.array(data, dtype=np.float64), np.array(np.abs(data), dtype=np.float64), 0)
            self.values.append(Value(name, tensor, storage, grad, False, None, jac, jac, frozenset([name] if grad else [])))

    def pick(self, data: st.DataObject) -> Value:
        return data.draw(st.sampled_from(self.values))

    def leaf(self, data: st.DataObject, names: list[str]) -> Value:
        return self.values[list(SHAPES).index(data.draw(st.sampled_from(names)))]

    def made(self, expr: str) -> str:
        """A label for a new value; the falsifying example shows what it is."""
        self.count += 1
        note(f"v{self.count} = {expr}")
        return f"v{self.count}"

    def plain(self, label: str, tensor: Any, storage: Storage, inference: bool) -> Value:
        """A value without history."""
        zeros = np.zeros((storage.data.size, WIDTH))
        return Value(label, tensor, storage, False, inference, None, zeros, zeros, frozenset())

    def has_room(self) -> bool:
        return len(self.values) < ROOM

    # -- forward ops ----------------------------------------------------------------------

    def forward(self, expr: str, run: Callable[[], Any], data: Any, scale: Any, parts: list[Part], saved: list[Value], saves_constant: bool = False) -> None:
        """Run an op and add its result to the model: ``data`` and ``scale`` its value and
        magnitude, ``parts`` its operands with their local Jacobians, ``saved`` the operands
        it saves for backward (a wrapped number saved too: ``saves_constant``)."""
        data, scale = np.array(data, dtype=np.float64), np.array(scale, dtype=np.float64)
        if not np.all(scale <= LIMIT):
            return
        grad_enabled, inference = self.mode
        recording = grad_enabled and not inference and any(p.value.requires_grad for p in parts)
        if recording and any(v.inference for v in saved):
            with raises(INFERENCE_SAVED):
                run()
            return
        label, tensor = self.made(expr), run()
        storage = Storage(data, scale, 0 if inference else tensor._version)
        if not recording:
            self.values.append(self.plain(label, tensor, storage, inference))
            return
        used = [p for p in parts if p.value.requires_grad]
        jac = sum(p.local @ p.value.jac for p in used)
        jscale = sum(p.scale @ p.value.jscale for p in used)
        parents = tuple(p.value.node for p in used if p.value.node is not None)
        node = Node(parents, bool(saved) or saves_constant, tuple((v.storage, v.storage.version) for v in saved))
        leaves = frozenset().union(*(p.value.leaves for p in used))
        self.values.append(Value(label, tensor, storage, True, False, node, np.asarray(jac), np.asarray(jscale), leaves))

    @precondition(has_room)
    @rule(data=st.data(), c=numbers)
    def times_constant(self, data: st.DataObject, c: float) -> None:
        x = self.pick(data)
        d = x.storage
        part = elementwise(x, d.data.shape, c, abs(c))
        self.forward(f"{x} * {c}", lambda: x.tensor * c, d.data * c, abs(c) * d.scale, [part], [], saves_constant=True)

    @precondition(has_room)
    @rule(data=st.data(), c=numbers)
    def plus_constant(self, data: st.DataObject, c: float) -> None:
        x = self.pick(data)
        d = x.storage
        self.forward(f"{x} + {c}", lambda: x.tensor + c, d.data + c, d.scale + abs(c), [elementwise(x, d.data.shape, 1.0, 1.0)], [])

    @precondition(has_room)
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        x, y = self.pick(data), self.pick(data)
        out = x.storage.data + y.storage.data
        parts = [elementwise(v, out.shape, 1.0, 1.0) for v in (x, y)]
        self.forward(f"{x} + {y}", lambda: x.tensor + y.tensor, out, x.storage.scale + y.storage.scale, parts, [])

    @precondition(has_room)
    @rule(data=st.data())
    def multiply(self, data: st.DataObject) -> None:
        x, y = self.pick(data), self.pick(data)
        dx, dy = x.storage, y.storage
        out = dx.data * dy.data
        parts = [elementwise(x, out.shape, dy.data, dy.scale), elementwise(y, out.shape, dx.data, dx.scale)]
        saved = [other for v, other in ((x, y), (y, x)) if v.requires_grad]  # each operand for the other's gradient
        self.forward(f"{x} * {y}", lambda: x.tensor * y.tensor, out, dx.scale * dy.scale, parts, saved)

    @precondition(has_room)
    @rule(data=st.data())
    def sin(self, data: st.DataObject) -> None:
        x = self.pick(data)
        d = x.storage
        bound = np.maximum(1.0, d.scale)  # |sin|, |cos| ≤ 1; an error in x passes through
        part = elementwise(x, d.data.shape, np.cos(d.data), bound)
        self.forward(f"sin({x})", lambda: x.tensor.sin(), np.sin(d.data), bound, [part], [x])

    @precondition(has_room)
    @rule(data=st.data())
    def sum(self, data: st.DataObject) -> None:
        x = self.pick(data)
        d = x.storage
        ones = np.ones((1, d.data.size))
        self.forward(f"{x}.sum()", lambda: x.tensor.sum(), d.data.sum(), d.scale.sum(), [Part(x, ones, ones)], [])

    @precondition(has_room)
    @rule(data=st.data())
    def detach(self, data: st.DataObject) -> None:
        x = self.pick(data)
        alias = self.plain(self.made(f"{x}.detach()"), x.tensor.detach(), x.storage, x.inference)
        alias.detached_inference = x.inference
        self.values.append(alias)

    @precondition(lambda self: len(self.values) > len(SHAPES))
    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        self.values.remove(data.draw(st.sampled_from(self.values[len(SHAPES) :])))

    # -- in-place ops ---------------------------------------------------------------------

    @rule(data=st.data(), c=numbers)
    def mul_(self, data: st.DataObject, c: float) -> None:
        self.in_place(self.pick(data), c, multiply=True)

    @rule(data=st.data(), c=numbers)
    def add_(self, data: st.DataObject, c: float) -> None:
        self.in_place(self.pick(data), c, multiply=False)

    def saved(self) -> list[Value]:
        """The values whose data a live node saved for backward and that an in-place op may
        change now (not a leaf that requires grad while grad mode is on)."""
        storages = {id(s) for v in self.values for n in graph(v.node) for s, _ in n.watched}
        locked = self.mode[0] and not self.mode[1]
        return [v for v in self.values if id(v.storage) in storages and not (locked and v.requires_grad and v.node is None)]

    @precondition(lambda self: bool(self.saved()))
    @rule(data=st.data(), c=numbers, multiply=st.booleans())
    def change_a_saved_tensor(self, data: st.DataObject, c: float, multiply: bool) -> None:
        """The same, aimed at what a later backward may need."""
        self.in_place(data.draw(st.sampled_from(self.saved())), c, multiply)

    def in_place(self, x: Value, c: float, multiply: bool) -> None:
        """``x.mul_(c)`` or ``x.add_(c)``: recorded on top of x's history when grad mode is on
        and x requires grad; the version of x's storage goes up either way."""
        grad_enabled, inference = self.mode
        recording = grad_enabled and not inference and x.requires_grad
        run: Callable[[], Any] = (lambda: x.tensor.mul_(c)) if multiply else (lambda: x.tensor.add_(c))
        if recording and x.node is None:
            with raises(LEAF_IN_PLACE):
                run()
            return
        if x.inference and not inference:
            if x.detached_inference:
                return  # torch allows some of these, refgrad none (a known difference)
            with raises(INFERENCE_IN_PLACE):
                run()
            # torch writes the data before it raises, refgrad does not (a known difference)
            self.values = [v for v in self.values if v.storage is not x.storage]
            return
        d = x.storage
        data_, scale = (d.data * c, d.scale * abs(c)) if multiply else (d.data + c, d.scale + abs(c))
        if not np.all(scale <= LIMIT):
            return
        run()
        d.data[...], d.scale[...], d.version = data_, scale, d.version + 1
        if recording:
            x.node = Node((x.node,) if x.node is not None else (), saves=multiply, watched=())  # mul_ saves the wrapped c
            if multiply:
                x.jac, x.jscale = c * x.jac, abs(c) * x.jscale

    # -- backward and .grad ---------------------------------------------------------------

    @precondition(lambda self: not self.mode[1])  # inside inference_mode: not modelled (see the docstring)
    @rule(data=st.data())
    def backward(self, data: st.DataObject) -> None:
        self.run_backward(data, retain=False)

    @precondition(lambda self: not self.mode[1])
    @rule(data=st.data())
    def backward_retaining_graph(self, data: st.DataObject) -> None:
        self.run_backward(data, retain=True)

    def run_backward(self, data: st.DataObject, retain: bool) -> None:
        x = data.draw(st.sampled_from([v for v in self.values if v.requires_grad]))
        shape = x.storage.data.shape
        g = np.ones(shape) if shape == () else data.draw(hnp.arrays(np.float64, shape, elements=numbers))
        gradient = None if shape == () else self.engine.tensor(g, dtype=self.engine.float64)
        run: Callable[[], Any] = lambda: x.tensor.backward(gradient=gradient, retain_graph=retain)  # noqa: E731
        nodes = graph(x.node)
        errors = [TWICE] * any(n.freed and n.saves for n in nodes) + [MODIFIED] * any(not n.freed and n.stale() for n in nodes)
        if errors:
            with raises(*errors):  # with both, which one comes first depends on the order of the nodes
                run()
            self.forget_failed(nodes, x.leaves)
            return
        run()
        flat = g.reshape(1, -1)
        for name in x.leaves:
            old = self.grads[name] or Grad(np.zeros(SHAPES[name]), np.zeros(SHAPES[name]))
            add = (flat @ x.jac[:, COLUMNS[name]]).reshape(SHAPES[name])
            bound = (np.abs(flat) @ x.jscale[:, COLUMNS[name]]).reshape(SHAPES[name])
            self.grads[name] = Grad(old.value + add, old.scale + bound)
        if not retain:
            for n in nodes:
                n.freed = True

    @precondition(lambda self: any(not v.requires_grad for v in self.values))
    @rule(data=st.data())
    def backward_without_grad(self, data: st.DataObject) -> None:
        x = data.draw(st.sampled_from([v for v in self.values if not v.requires_grad]))
        with raises(NO_GRAD):
            x.tensor.sum().backward()

    def forget_failed(self, nodes: set[Node], leaves: frozenset[str]) -> None:
        """A failed backward may have accumulated into some leaves and freed some nodes before
        it stopped (that depends on the order it runs the nodes in): reset those leaves' grads
        and forget the values whose history it went through."""
        for v in [v for v in self.values if v.label in leaves]:
            v.tensor.grad = None
            self.grads[v.label] = None
        self.values = [v for v in self.values if not graph(v.node) & nodes]

    @rule(data=st.data())
    def grad_to_none(self, data: st.DataObject) -> None:
        leaf = self.leaf(data, list(COLUMNS))
        leaf.tensor.grad = None
        self.grads[leaf.label] = None

    @precondition(lambda self: any(g is not None for g in self.grads.values()))
    @rule(data=st.data())
    def zero_grad(self, data: st.DataObject) -> None:
        leaf = self.leaf(data, [name for name, g in self.grads.items() if g is not None])
        leaf.tensor.grad.zero_()
        self.grads[leaf.label] = Grad(np.zeros(SHAPES[leaf.label]), np.zeros(SHAPES[leaf.label]))

    # -- grad modes -----------------------------------------------------------------------

    @precondition(lambda self: len(self.entered) < 4)
    @rule(mode=modes)
    def enter(self, mode: Mode) -> None:
        context = mode.enter(self.engine)
        context.__enter__()
        self.entered.append((context, self.mode))
        self.mode = mode.model(self.mode)

    @precondition(lambda self: bool(self.entered))
    @rule()
    def leave(self) -> None:
        context, self.mode = self.entered.pop()
        context.__exit__(None, None, None)

    @rule(flag=st.booleans())
    def set_grad_enabled(self, flag: bool) -> None:
        """As a plain call: the mode changes until the enclosing block (if any) restores it."""
        self.engine.set_grad_enabled(flag)
        self.mode = (flag, self.mode[1])

    def teardown(self) -> None:
        while self.entered:
            self.leave()
        self.engine.set_grad_enabled(True)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def modes_are_the_models(self) -> None:
        assert (self.engine.is_grad_enabled(), self.engine.is_inference_mode_enabled()) == self.mode

    @invariant()
    def values_are_the_models(self) -> None:
        for v in self.values:
            t = v.tensor
            assert t.requires_grad is v.requires_grad, f"{v}.requires_grad should be {v.requires_grad}"
            assert (t.grad_fn is None) is (v.node is None), f"{v}.grad_fn is {t.grad_fn}"
            assert t.is_inference() is v.inference, f"{v}.is_inference() should be {v.inference}"
            if not v.inference:
                expected = v.storage.origin + v.storage.version
                assert t._version == expected, f"{v}._version is {t._version}, should be {expected}"
            close(t.detach().numpy(), v.storage.data, v.storage.scale, f"{v}'s value")

    @invariant()
    def grads_are_the_models(self) -> None:
        for v in self.values[: len(SHAPES)]:
            expected, actual = self.grads.get(v.label), v.tensor.grad
            assert (actual is None) is (expected is None), f"{v}.grad is {actual}, should be {expected}"
            if actual is not None and expected is not None:
                close(actual.numpy(), expected.value, expected.scale, f"{v}.grad")


def machine_for(engine: ModuleType) -> type[AutogradMachine]:
    return type(f"AutogradMachine_{engine.__name__}", (AutogradMachine,), {"engine": engine})


def test_the_engine_does_what_the_model_says(engine: ModuleType) -> None:
    """As many runs as the profile's max_examples, each of up to STEPS steps."""
    run_state_machine_as_test(machine_for(engine), settings=settings(stateful_step_count=STEPS))


def _overwriting(accumulate: Callable[[Any, Any, bool], None]) -> Callable[[Any, Any, bool], None]:
    def overwrite(tensor: Any, grad: Any, create_graph: bool) -> None:
        tensor._grad = None  # forget what .grad held, then "accumulate"
        accumulate(tensor, grad, create_graph)

    return overwrite


def _sin_rule_with_sin(self: Any, grad: Any, input: Any) -> tuple[Any]:
    return (grad * refgrad.sin(input),)  # should be cos


@pytest.mark.parametrize("fault", ["backward overwrites .grad", "sin's rule uses sin"])
def test_the_machine_catches_a_wrong_engine(monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """A fault injected into refgrad makes a ``.grad`` differ from the model's (found without
    shrinking, which would only make the test slow)."""
    if fault == "backward overwrites .grad":
        monkeypatch.setattr(refgrad._engine, "_accumulate", _overwriting(refgrad._engine._accumulate))
    else:
        monkeypatch.setattr(refgrad._pointwise.SinBackward0, "vjp", _sin_rule_with_sin)
    found = settings(max_examples=50, database=None, derandomize=True, deadline=None, phases=[Phase.generate], print_blob=False)
    with pytest.raises(AssertionError, match=r"^[abs]\.grad(:| is)"):
        run_state_machine_as_test(machine_for(refgrad), settings=found)
