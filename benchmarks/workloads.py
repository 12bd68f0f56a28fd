"""The workloads, written once for every engine: each is a function ``fn(ops, *tensors)``
returning a scalar loss, its input arrays, and which inputs the gradient is taken for.
Tensors are typed ``Any``: each engine has its own tensor type.

- ``elementwise(n)``: n elementwise ops (multiply, add, sine, divide, subtract, repeated) on a
  float64 vector of 4: the per-op overhead; as a function of n, the deep chain.
- ``mlp()``: X(256,512) @ W1(512,512) -> tanh -> @ W2(512,10) -> log_softmax -> cross-entropy
  with one-hot labels; gradients for W1 and W2 (X and the labels are constants). Also written
  by hand in numpy (``mlp_numpy_step``), the floor of that row.
- ``fan_out(n, combine)``: one input in n branches ``sin(x * c_i)``, combined by a chain of
  ``+``, by ``stack`` or by ``cat``.
- ``while_loop(trips)``: a loop whose trip count the data decides.
- ``saving_chain(n, size)``: 50 ops of which 40 save a tensor for backward (tanh, sigmoid and
  exp save their output, sin its input), on ``size`` float64 elements: the memory row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.engines import Array, Loss, Ops, Step


@dataclass(frozen=True)
class Workload:
    fn: Loss
    arrays: tuple[Array, ...]
    wrt: tuple[int, ...]
    count: int
    """What the time is divided by (ops, nodes, branches, trips; 1 for a step)."""


def _vector(size: int, seed: int = 0) -> Array:
    return np.random.default_rng(seed).uniform(0.1, 0.4, size)


def elementwise(n: int) -> Workload:
    def fn(ops: Ops, x: Any) -> Any:
        y = x
        for _ in range(n // 5):
            y = y * 1.0001
            y = y + 0.5
            y = ops.sin(y)
            y = y / 1.5
            y = y - 0.25
        return ops.sum(y)

    return Workload(fn, (_vector(4),), (0,), n)


def fan_out(n: int, combine: str) -> Workload:
    def fn(ops: Ops, x: Any) -> Any:
        branches = [ops.sin(x * (1 + i / n)) for i in range(n)]
        if combine == "stack":
            total = ops.stack(branches)
        elif combine == "cat":
            total = ops.cat(branches)
        else:
            total = branches[0]
            for branch in branches[1:]:
                total = total + branch
        return ops.sum(total)

    return Workload(fn, (_vector(4),), (0,), n)


def while_loop(trips: int) -> Workload:
    """``y = 1.001 y + 0.001`` while ``Σy²`` is below a bound that this start crosses after
    exactly ``trips`` trips (every engine computes the same float64 values)."""
    x = _vector(4)
    y = x.copy()
    sums = [float(np.sum(y * y))]
    for _ in range(trips):
        y = y * 1.001 + 0.001
        sums.append(float(np.sum(y * y)))
    limit = (sums[-2] + sums[-1]) / 2

    def fn(ops: Ops, x: Any) -> Any:
        y = x
        while ops.sum(y * y) < limit:
            y = y * 1.001 + 0.001
        return ops.sum(y)

    return Workload(fn, (x,), (0,), trips)


def saving_chain(size: int, n: int = 50) -> Workload:
    def fn(ops: Ops, x: Any) -> Any:
        return ops.sum(saving_ops(ops, x, n))

    return Workload(fn, (_vector(size),), (0,), n)


def saving_ops(ops: Ops, x: Any, n: int = 50) -> Any:
    """The 50 ops of the memory row (the output before the final sum)."""
    y = x
    for _ in range(n // 5):
        y = ops.tanh(y)
        y = y * 1.5
        y = ops.sigmoid(y)
        y = ops.exp(y)
        y = ops.sin(y)
    return y


MLP_SHAPE = (256, 512, 512, 10)


def mlp(seed: int = 0) -> Workload:
    batch, features, hidden, classes = MLP_SHAPE
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, features))
    W1 = rng.standard_normal((features, hidden)) / np.sqrt(features)
    W2 = rng.standard_normal((hidden, classes)) / np.sqrt(hidden)
    onehot = np.eye(classes)[rng.integers(0, classes, batch)]
    scale = -1 / batch

    def fn(ops: Ops, X: Any, W1: Any, W2: Any, onehot: Any) -> Any:
        logp = ops.log_softmax(ops.tanh(X @ W1) @ W2)
        return ops.sum(logp * onehot) * scale

    return Workload(fn, (X, W1, W2, onehot), (1, 2), 1)


def mlp_numpy_step(work: Workload) -> Step:
    """The MLP's loss and gradients by hand: what a numpy programmer would write."""
    X, W1, W2, onehot = work.arrays
    batch = X.shape[0]

    def run() -> tuple[float, list[Array]]:
        H = np.tanh(X @ W1)
        Z = H @ W2
        Z -= Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        S = E.sum(axis=1, keepdims=True)
        loss = -float(np.sum((Z - np.log(S)) * onehot)) / batch
        dZ = (E / S - onehot) / batch  # d CE / d logits = softmax - onehot
        dW2 = H.T @ dZ
        dH = dZ @ W2.T
        dH *= 1 - H * H  # d tanh = 1 - tanh²
        return loss, [X.T @ dH, dW2]

    return run
