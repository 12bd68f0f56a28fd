"""The engines a user would pick instead of refgrad, behind one small interface.

Each engine gives the workloads the same vocabulary (``Ops``: operators on its tensors plus a
few named functions) and runs a workload in one of two ways:

- ``step(fn, arrays, wrt)``: a closure that evaluates ``fn(ops, *tensors)`` (a scalar loss)
  and differentiates it with respect to the inputs listed in ``wrt``, returning the loss and
  the gradients as numpy arrays. Tensors are made once, outside the closure; the graph is
  built, walked and freed inside it, so its teardown is part of what is timed.
- ``forward(fn, arrays)``: the same function with gradient recording off (None for engines
  without such a mode).

The numpy engine is the floor: forward only (its ``step`` computes no gradient), except
where a workload brings a hand-written numpy forward and backward.

torch, HIPS autograd and MyGrad are optional (the ``bench`` extra); an engine that cannot be
imported is skipped with a note. They are reached through ``importlib`` and typed ``Any``:
the benchmarks must type-check whether or not they are installed.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

import refgrad as rg

Array = npt.NDArray[np.float64]
Loss = Callable[..., Any]
"""A workload function: ``fn(ops, *tensors) -> scalar`` (its first argument is ``Ops``)."""
Step = Callable[[], tuple[float, list[Array]]]


class Ops(NamedTuple):
    """The functions the workloads call besides operators (``+ - * / @``, comparisons)."""

    sin: Callable[[Any], Any]
    tanh: Callable[[Any], Any]
    sigmoid: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    sum: Callable[[Any], Any]
    """The sum of all elements."""
    log_softmax: Callable[[Any], Any]
    """Along the last of two dimensions."""
    stack: Callable[[Sequence[Any]], Any]
    cat: Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class Engine:
    name: str
    version: str
    ops: Ops
    step: Callable[[Loss, Sequence[Array], Sequence[int]], Step]
    forward: Callable[[Loss, Sequence[Array]], Callable[[], float]] | None
    leaf: Callable[[Array], Any] | None
    """A tensor that requires grad, for engines whose graph the user holds (``loss.backward()``)."""


def _numpy_log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=1, keepdims=True)
    result: Array = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return result


NUMPY_OPS = Ops(
    sin=np.sin,
    tanh=np.tanh,
    sigmoid=lambda x: 1 / (1 + np.exp(-x)),
    exp=np.exp,
    sum=np.sum,
    log_softmax=_numpy_log_softmax,
    stack=np.stack,
    cat=np.concatenate,
)


def numpy_engine() -> Engine:
    def forward(fn: Loss, arrays: Sequence[Array]) -> Callable[[], float]:
        return lambda: float(fn(NUMPY_OPS, *arrays))

    def step(fn: Loss, arrays: Sequence[Array], wrt: Sequence[int]) -> Step:
        return lambda: (float(fn(NUMPY_OPS, *arrays)), [])

    return Engine("numpy", np.__version__, NUMPY_OPS, step, forward, None)


def _tensor_step(ops: Ops, make: Callable[[Array], Any]) -> Callable[[Loss, Sequence[Array], Sequence[int]], Step]:
    """``step`` for the PyTorch-style engines (refgrad and torch): leaves with
    ``requires_grad``, ``loss.backward()``, gradients read from ``.grad``."""

    def step(fn: Loss, arrays: Sequence[Array], wrt: Sequence[int]) -> Step:
        tensors = [make(a).requires_grad_(i in wrt) for i, a in enumerate(arrays)]
        leaves = [tensors[i] for i in wrt]

        def run() -> tuple[float, list[Array]]:
            for leaf in leaves:
                leaf.grad = None
            loss = fn(ops, *tensors)
            loss.backward()
            return float(loss.item()), [leaf.grad.numpy() for leaf in leaves]

        return run

    return step


def _tensor_forward(module: Any, ops: Ops, make: Callable[[Array], Any]) -> Callable[[Loss, Sequence[Array]], Callable[[], float]]:
    def forward(fn: Loss, arrays: Sequence[Array]) -> Callable[[], float]:
        tensors = [make(a).requires_grad_(True) for a in arrays]

        def run() -> float:
            with module.no_grad():
                return float(fn(ops, *tensors).item())

        return run

    return forward


def _leaf(make: Callable[[Array], Any]) -> Callable[[Array], Any]:
    return lambda a: make(a).requires_grad_(True)


def _module_engine(module: Any, version: str) -> Engine:
    """An engine with PyTorch's API (refgrad or torch itself)."""
    ops = Ops(
        sin=module.sin,
        tanh=module.tanh,
        sigmoid=module.sigmoid,
        exp=module.exp,
        sum=module.sum,
        log_softmax=lambda z: module.log_softmax(z, 1),
        stack=module.stack,
        cat=module.cat,
    )
    make = module.from_numpy
    forward = _tensor_forward(module, ops, make)
    return Engine(module.__name__, version, ops, _tensor_step(ops, make), forward, _leaf(make))


def refgrad_engine() -> Engine:
    return _module_engine(rg, metadata.version("refgrad"))


def torch_engine() -> Engine:
    torch: Any = importlib.import_module("torch")
    torch.set_num_threads(1)
    return _module_engine(torch, torch.__version__)


def autograd_engine() -> Engine:
    """HIPS autograd: functional (``value_and_grad``); no scipy, so log_softmax is written
    out (unshifted: the workloads' logits are small) and sigmoid through tanh."""
    autograd: Any = importlib.import_module("autograd")
    anp: Any = importlib.import_module("autograd.numpy")
    ops = Ops(
        sin=anp.sin,
        tanh=anp.tanh,
        sigmoid=lambda x: 0.5 * (anp.tanh(0.5 * x) + 1),
        exp=anp.exp,
        sum=anp.sum,
        log_softmax=lambda z: z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True)),
        stack=anp.stack,
        cat=anp.concatenate,
    )

    def step(fn: Loss, arrays: Sequence[Array], wrt: Sequence[int]) -> Step:
        def loss(*variables: Any) -> Any:
            values = list(arrays)
            for i, v in zip(wrt, variables):
                values[i] = v
            return fn(ops, *values)

        value_and_grad = autograd.value_and_grad(loss, argnum=tuple(range(len(wrt))))
        leaves = [arrays[i] for i in wrt]

        def run() -> tuple[float, list[Array]]:
            value, grads = value_and_grad(*leaves)
            return float(value), list(grads)

        return run

    return Engine("autograd", metadata.version("autograd"), ops, step, None, None)


def mygrad_engine() -> Engine:
    mg: Any = importlib.import_module("mygrad")
    activations: Any = importlib.import_module("mygrad.nnet.activations")
    ops = Ops(
        sin=mg.sin,
        tanh=mg.tanh,
        sigmoid=activations.sigmoid,
        exp=mg.exp,
        sum=mg.sum,
        log_softmax=lambda z: activations.logsoftmax(z, axis=1),
        stack=mg.stack,
        cat=mg.concatenate,
    )

    def step(fn: Loss, arrays: Sequence[Array], wrt: Sequence[int]) -> Step:
        tensors = [mg.tensor(a, constant=i not in wrt) for i, a in enumerate(arrays)]
        leaves = [tensors[i] for i in wrt]

        def run() -> tuple[float, list[Array]]:
            loss = fn(ops, *tensors)
            loss.backward()
            return float(loss.item()), [leaf.grad for leaf in leaves]

        return run

    def forward(fn: Loss, arrays: Sequence[Array]) -> Callable[[], float]:
        tensors = [mg.tensor(a) for a in arrays]

        def run() -> float:
            with mg.no_autodiff:
                return float(fn(ops, *tensors).item())

        return run

    return Engine("mygrad", mg.__version__, ops, step, forward, mg.tensor)


OPTIONAL = {"torch": torch_engine, "autograd": autograd_engine, "mygrad": mygrad_engine}


def available(names: Sequence[str] | None = None) -> tuple[list[Engine], list[str]]:
    """numpy and refgrad, then each optional engine that imports; and a note per skipped one."""
    engines = [numpy_engine(), refgrad_engine()]
    notes = []
    for name, make in OPTIONAL.items():
        if names is not None and name not in names:
            continue
        try:
            engines.append(make())
        except ImportError as error:
            notes.append(f"{name} skipped: {error} (pip install -e '.[bench]')")
    return engines, notes
