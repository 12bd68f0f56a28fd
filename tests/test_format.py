"""refgrad._format.format_tensor against PyTorch's own tensor printing.

The recorded strings below were copied from ``repr(torch.from_numpy(array))`` (torch
2.13, default print options), so they check the formatter even without torch; when torch
is importable every case is also re-checked against the live ``repr``. The formatter is
called with ``namespace="torch"`` wherever it is compared with torch's text, because the
suffix-wrapping rule counts characters: ``dtype=refgrad.int32`` is two longer than
``dtype=torch.int32`` and can wrap where torch's does not (see the namespace tests).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refgrad._format import format_tensor

Array = npt.NDArray[Any]

torch: Any = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

nan, inf = np.nan, np.inf
f32, f64, i64, i32 = np.float32, np.float64, np.int64, np.int32

GRAD_SUFFIX = {"": [], "requires_grad": ["requires_grad=True"], "clone": ["grad_fn=<CloneBackward0>"]}


def a(values: Any, dtype: npt.DTypeLike = f32) -> Array:
    return np.array(values, dtype=dtype)


def torch_repr(array: Array, grad: str = "") -> str:
    """torch's repr of a CPU tensor with ``array``'s values; ``grad`` as in GRAD_SUFFIX."""
    t = torch.from_numpy(array.copy())
    if grad == "requires_grad":
        t.requires_grad_()
    elif grad == "clone":
        t = t.requires_grad_().clone()
    return str(repr(t))


# (array, repr(torch.from_numpy(array)))
CASES: list[tuple[Array, str]] = [
    # int mode: every finite non-zero value is whole
    (a([36.0, 81.0]), 'tensor([36., 81.])'),
    (a([-12.0, -8.0]), 'tensor([-12.,  -8.])'),
    (
        a([[1.0, -100.0], [1000.0, 5.0]]),
        'tensor([[   1., -100.],\n'
        '        [1000.,    5.]])',
    ),
    (a([0.0, 0.0]), 'tensor([0., 0.])'),
    (a([100000000.0]), 'tensor([100000000.])'),
    # fixed mode, four decimals
    (a([0.1, 2.5, -3.25]), 'tensor([ 0.1000,  2.5000, -3.2500])'),
    (
        a([[1.5, -2.25], [3.125, 4.0]], f64),
        'tensor([[ 1.5000, -2.2500],\n'
        '        [ 3.1250,  4.0000]], dtype=torch.float64)',
    ),
    (a([0.001, 1.0]), 'tensor([0.0010, 1.0000])'),
    (a([0.12345, 2.675]), 'tensor([0.1235, 2.6750])'),
    # scientific mode: max/min > 1000, max > 1e8 or min < 1e-4
    (a([1e-5, 1.0]), 'tensor([1.0000e-05, 1.0000e+00])'),
    (a([1e9, 1.0]), 'tensor([1.0000e+09, 1.0000e+00])'),
    (a([1.0, 2000.0], f64), 'tensor([1.0000e+00, 2.0000e+03], dtype=torch.float64)'),
    (a([1e10, -2e10]), 'tensor([ 1.0000e+10, -2.0000e+10])'),
    (a([1e-300, 1e300], f64), 'tensor([1.0000e-300, 1.0000e+300], dtype=torch.float64)'),
    (
        a([[1e-8, 1.0], [-3.5, 1e5]]),
        'tensor([[ 1.0000e-08,  1.0000e+00],\n'
        '        [-3.5000e+00,  1.0000e+05]])',
    ),
    # nan / inf / negative zero (they never count towards the column width)
    (a([nan, inf, -inf]), 'tensor([nan, inf, -inf])'),
    (a([1.0, nan]), 'tensor([1., nan])'),
    (a([1.5, nan, -inf]), 'tensor([1.5000,    nan,   -inf])'),
    (a([1e-5, nan]), 'tensor([1.0000e-05,        nan])'),
    (a(nan), 'tensor(nan)'),
    (a([-0.0]), 'tensor([-0.])'),
    (a([-0.0, 1.0]), 'tensor([-0., 1.])'),
    (a([-0.0, 0.5], f64), 'tensor([-0.0000, 0.5000], dtype=torch.float64)'),
    (a([1e-5, -0.0]), 'tensor([1.0000e-05, -0.0000e+00])'),
    (a(-0.0), 'tensor(-0.)'),
    # float32 vs float64 holding the same literal: the float32 value decides
    (a([1.00005]), 'tensor([1.0000])'),
    (a([1.00005], f64), 'tensor([1.0001], dtype=torch.float64)'),
    (a([0.0001]), 'tensor([1.0000e-04])'),
    (a([0.0001], f64), 'tensor([0.0001], dtype=torch.float64)'),
    (a([0.01, 10.0]), 'tensor([1.0000e-02, 1.0000e+01])'),
    (a([0.01, 10.0], f64), 'tensor([ 0.0100, 10.0000], dtype=torch.float64)'),
    (a([100000001.0]), 'tensor([100000000.])'),
    (a([100000001.0], f64), 'tensor([1.0000e+08], dtype=torch.float64)'),
    # 0-d
    (a(3.0), 'tensor(3.)'),
    (a(2.5, f64), 'tensor(2.5000, dtype=torch.float64)'),
    (a(7, i64), 'tensor(7)'),
    (a(-5, i32), 'tensor(-5, dtype=torch.int32)'),
    (a(True, bool), 'tensor(True)'),
    (a(1e-7), 'tensor(1.0000e-07)'),
    # integer and bool dtypes, alignment
    (
        a([[1, -100], [1000, 5]], i64),
        'tensor([[   1, -100],\n'
        '        [1000,    5]])',
    ),
    (a([1, 2, 3], i32), 'tensor([1, 2, 3], dtype=torch.int32)'),
    (a([True, False], bool), 'tensor([ True, False])'),
    (
        a([[True], [True]], bool),
        'tensor([[True],\n'
        '        [True]])',
    ),
    (a([-9223372036854775808, 0], i64), 'tensor([-9223372036854775808,                    0])'),
    # nesting: n-1 newlines between slices of an n-d tensor
    (
        np.arange(24, dtype=i64).reshape(2, 3, 4),
        'tensor([[[ 0,  1,  2,  3],\n'
        '         [ 4,  5,  6,  7],\n'
        '         [ 8,  9, 10, 11]],\n'
        '\n'
        '        [[12, 13, 14, 15],\n'
        '         [16, 17, 18, 19],\n'
        '         [20, 21, 22, 23]]])',
    ),
    (
        np.arange(48, dtype=f32).reshape(2, 2, 3, 4) / 4,
        'tensor([[[[ 0.0000,  0.2500,  0.5000,  0.7500],\n'
        '          [ 1.0000,  1.2500,  1.5000,  1.7500],\n'
        '          [ 2.0000,  2.2500,  2.5000,  2.7500]],\n'
        '\n'
        '         [[ 3.0000,  3.2500,  3.5000,  3.7500],\n'
        '          [ 4.0000,  4.2500,  4.5000,  4.7500],\n'
        '          [ 5.0000,  5.2500,  5.5000,  5.7500]]],\n'
        '\n'
        '\n'
        '        [[[ 6.0000,  6.2500,  6.5000,  6.7500],\n'
        '          [ 7.0000,  7.2500,  7.5000,  7.7500],\n'
        '          [ 8.0000,  8.2500,  8.5000,  8.7500]],\n'
        '\n'
        '         [[ 9.0000,  9.2500,  9.5000,  9.7500],\n'
        '          [10.0000, 10.2500, 10.5000, 10.7500],\n'
        '          [11.0000, 11.2500, 11.5000, 11.7500]]]])',
    ),
    (
        np.arange(8, dtype=f64).reshape(2, 1, 2, 2) - 3.5,
        'tensor([[[[-3.5000, -2.5000],\n'
        '          [-1.5000, -0.5000]]],\n'
        '\n'
        '\n'
        '        [[[ 0.5000,  1.5000],\n'
        '          [ 2.5000,  3.5000]]]], dtype=torch.float64)',
    ),
    (np.ones((1, 1, 1, 1), dtype=bool), 'tensor([[[[True]]]])'),
    # wrapping of long rows at (80 - indent) // (width + 2) elements
    (
        np.arange(30, dtype=f32) / 3,
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n'
        '        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n'
        '        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,\n'
        '        9.0000, 9.3333, 9.6667])',
    ),
    (
        np.arange(100, dtype=i64),
        'tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n'
        '        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n'
        '        36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,\n'
        '        54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,\n'
        '        72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,\n'
        '        90, 91, 92, 93, 94, 95, 96, 97, 98, 99])',
    ),
    (
        np.linspace(-1.0, 1.0, 25),
        'tensor([-1.0000, -0.9167, -0.8333, -0.7500, -0.6667, -0.5833, -0.5000, -0.4167,\n'
        '        -0.3333, -0.2500, -0.1667, -0.0833,  0.0000,  0.0833,  0.1667,  0.2500,\n'
        '         0.3333,  0.4167,  0.5000,  0.5833,  0.6667,  0.7500,  0.8333,  0.9167,\n'
        '         1.0000], dtype=torch.float64)',
    ),
    (
        np.arange(40, dtype=f32).reshape(2, 20) * 1e6,
        'tensor([[       0.,  1000000.,  2000000.,  3000000.,  4000000.,  5000000.,\n'
        '          6000000.,  7000000.,  8000000.,  9000000., 10000000., 11000000.,\n'
        '         12000000., 13000000., 14000000., 15000000., 16000000., 17000000.,\n'
        '         18000000., 19000000.],\n'
        '        [20000000., 21000000., 22000000., 23000000., 24000000., 25000000.,\n'
        '         26000000., 27000000., 28000000., 29000000., 30000000., 31000000.,\n'
        '         32000000., 33000000., 34000000., 35000000., 36000000., 37000000.,\n'
        '         38000000., 39000000.]])',
    ),
    (
        np.arange(60, dtype=i32).reshape(2, 1, 30),
        'tensor([[[ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16,\n'
        '          17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]],\n'
        '\n'
        '        [[30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46,\n'
        '          47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59]]],\n'
        '       dtype=torch.int32)',
    ),
    # summarization above 1000 elements
    (np.arange(1001, dtype=i64), 'tensor([   0,    1,    2,  ...,  998,  999, 1000])'),
    (
        np.arange(2000, dtype=f32).reshape(40, 50),
        'tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.7000e+01, 4.8000e+01,\n'
        '         4.9000e+01],\n'
        '        [5.0000e+01, 5.1000e+01, 5.2000e+01,  ..., 9.7000e+01, 9.8000e+01,\n'
        '         9.9000e+01],\n'
        '        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.4700e+02, 1.4800e+02,\n'
        '         1.4900e+02],\n'
        '        ...,\n'
        '        [1.8500e+03, 1.8510e+03, 1.8520e+03,  ..., 1.8970e+03, 1.8980e+03,\n'
        '         1.8990e+03],\n'
        '        [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9470e+03, 1.9480e+03,\n'
        '         1.9490e+03],\n'
        '        [1.9500e+03, 1.9510e+03, 1.9520e+03,  ..., 1.9970e+03, 1.9980e+03,\n'
        '         1.9990e+03]])',
    ),
    (
        np.arange(1200, dtype=f64).reshape(8, 3, 50) / 7,
        'tensor([[[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 6.7143e+00,\n'
        '          6.8571e+00, 7.0000e+00],\n'
        '         [7.1429e+00, 7.2857e+00, 7.4286e+00,  ..., 1.3857e+01,\n'
        '          1.4000e+01, 1.4143e+01],\n'
        '         [1.4286e+01, 1.4429e+01, 1.4571e+01,  ..., 2.1000e+01,\n'
        '          2.1143e+01, 2.1286e+01]],\n'
        '\n'
        '        [[2.1429e+01, 2.1571e+01, 2.1714e+01,  ..., 2.8143e+01,\n'
        '          2.8286e+01, 2.8429e+01],\n'
        '         [2.8571e+01, 2.8714e+01, 2.8857e+01,  ..., 3.5286e+01,\n'
        '          3.5429e+01, 3.5571e+01],\n'
        '         [3.5714e+01, 3.5857e+01, 3.6000e+01,  ..., 4.2429e+01,\n'
        '          4.2571e+01, 4.2714e+01]],\n'
        '\n'
        '        [[4.2857e+01, 4.3000e+01, 4.3143e+01,  ..., 4.9571e+01,\n'
        '          4.9714e+01, 4.9857e+01],\n'
        '         [5.0000e+01, 5.0143e+01, 5.0286e+01,  ..., 5.6714e+01,\n'
        '          5.6857e+01, 5.7000e+01],\n'
        '         [5.7143e+01, 5.7286e+01, 5.7429e+01,  ..., 6.3857e+01,\n'
        '          6.4000e+01, 6.4143e+01]],\n'
        '\n'
        '        ...,\n'
        '\n'
        '        [[1.0714e+02, 1.0729e+02, 1.0743e+02,  ..., 1.1386e+02,\n'
        '          1.1400e+02, 1.1414e+02],\n'
        '         [1.1429e+02, 1.1443e+02, 1.1457e+02,  ..., 1.2100e+02,\n'
        '          1.2114e+02, 1.2129e+02],\n'
        '         [1.2143e+02, 1.2157e+02, 1.2171e+02,  ..., 1.2814e+02,\n'
        '          1.2829e+02, 1.2843e+02]],\n'
        '\n'
        '        [[1.2857e+02, 1.2871e+02, 1.2886e+02,  ..., 1.3529e+02,\n'
        '          1.3543e+02, 1.3557e+02],\n'
        '         [1.3571e+02, 1.3586e+02, 1.3600e+02,  ..., 1.4243e+02,\n'
        '          1.4257e+02, 1.4271e+02],\n'
        '         [1.4286e+02, 1.4300e+02, 1.4314e+02,  ..., 1.4957e+02,\n'
        '          1.4971e+02, 1.4986e+02]],\n'
        '\n'
        '        [[1.5000e+02, 1.5014e+02, 1.5029e+02,  ..., 1.5671e+02,\n'
        '          1.5686e+02, 1.5700e+02],\n'
        '         [1.5714e+02, 1.5729e+02, 1.5743e+02,  ..., 1.6386e+02,\n'
        '          1.6400e+02, 1.6414e+02],\n'
        '         [1.6429e+02, 1.6443e+02, 1.6457e+02,  ..., 1.7100e+02,\n'
        '          1.7114e+02, 1.7129e+02]]], dtype=torch.float64)',
    ),
    (
        np.arange(1200, dtype=f32).reshape(3, 400) - 600,
        'tensor([[-600., -599., -598.,  ..., -203., -202., -201.],\n'
        '        [-200., -199., -198.,  ...,  197.,  198.,  199.],\n'
        '        [ 200.,  201.,  202.,  ...,  597.,  598.,  599.]])',
    ),
    (
        np.arange(1120, dtype=f32).reshape(7, 2, 2, 40) * 1e-6,
        'tensor([[[[0.0000e+00, 1.0000e-06, 2.0000e-06,  ..., 3.7000e-05,\n'
        '           3.8000e-05, 3.9000e-05],\n'
        '          [4.0000e-05, 4.1000e-05, 4.2000e-05,  ..., 7.7000e-05,\n'
        '           7.8000e-05, 7.9000e-05]],\n'
        '\n'
        '         [[8.0000e-05, 8.1000e-05, 8.2000e-05,  ..., 1.1700e-04,\n'
        '           1.1800e-04, 1.1900e-04],\n'
        '          [1.2000e-04, 1.2100e-04, 1.2200e-04,  ..., 1.5700e-04,\n'
        '           1.5800e-04, 1.5900e-04]]],\n'
        '\n'
        '\n'
        '        [[[1.6000e-04, 1.6100e-04, 1.6200e-04,  ..., 1.9700e-04,\n'
        '           1.9800e-04, 1.9900e-04],\n'
        '          [2.0000e-04, 2.0100e-04, 2.0200e-04,  ..., 2.3700e-04,\n'
        '           2.3800e-04, 2.3900e-04]],\n'
        '\n'
        '         [[2.4000e-04, 2.4100e-04, 2.4200e-04,  ..., 2.7700e-04,\n'
        '           2.7800e-04, 2.7900e-04],\n'
        '          [2.8000e-04, 2.8100e-04, 2.8200e-04,  ..., 3.1700e-04,\n'
        '           3.1800e-04, 3.1900e-04]]],\n'
        '\n'
        '\n'
        '        [[[3.2000e-04, 3.2100e-04, 3.2200e-04,  ..., 3.5700e-04,\n'
        '           3.5800e-04, 3.5900e-04],\n'
        '          [3.6000e-04, 3.6100e-04, 3.6200e-04,  ..., 3.9700e-04,\n'
        '           3.9800e-04, 3.9900e-04]],\n'
        '\n'
        '         [[4.0000e-04, 4.0100e-04, 4.0200e-04,  ..., 4.3700e-04,\n'
        '           4.3800e-04, 4.3900e-04],\n'
        '          [4.4000e-04, 4.4100e-04, 4.4200e-04,  ..., 4.7700e-04,\n'
        '           4.7800e-04, 4.7900e-04]]],\n'
        '\n'
        '\n'
        '        ...,\n'
        '\n'
        '\n'
        '        [[[6.4000e-04, 6.4100e-04, 6.4200e-04,  ..., 6.7700e-04,\n'
        '           6.7800e-04, 6.7900e-04],\n'
        '          [6.8000e-04, 6.8100e-04, 6.8200e-04,  ..., 7.1700e-04,\n'
        '           7.1800e-04, 7.1900e-04]],\n'
        '\n'
        '         [[7.2000e-04, 7.2100e-04, 7.2200e-04,  ..., 7.5700e-04,\n'
        '           7.5800e-04, 7.5900e-04],\n'
        '          [7.6000e-04, 7.6100e-04, 7.6200e-04,  ..., 7.9700e-04,\n'
        '           7.9800e-04, 7.9900e-04]]],\n'
        '\n'
        '\n'
        '        [[[8.0000e-04, 8.0100e-04, 8.0200e-04,  ..., 8.3700e-04,\n'
        '           8.3800e-04, 8.3900e-04],\n'
        '          [8.4000e-04, 8.4100e-04, 8.4200e-04,  ..., 8.7700e-04,\n'
        '           8.7800e-04, 8.7900e-04]],\n'
        '\n'
        '         [[8.8000e-04, 8.8100e-04, 8.8200e-04,  ..., 9.1700e-04,\n'
        '           9.1800e-04, 9.1900e-04],\n'
        '          [9.2000e-04, 9.2100e-04, 9.2200e-04,  ..., 9.5700e-04,\n'
        '           9.5800e-04, 9.5900e-04]]],\n'
        '\n'
        '\n'
        '        [[[9.6000e-04, 9.6100e-04, 9.6200e-04,  ..., 9.9700e-04,\n'
        '           9.9800e-04, 9.9900e-04],\n'
        '          [1.0000e-03, 1.0010e-03, 1.0020e-03,  ..., 1.0370e-03,\n'
        '           1.0380e-03, 1.0390e-03]],\n'
        '\n'
        '         [[1.0400e-03, 1.0410e-03, 1.0420e-03,  ..., 1.0770e-03,\n'
        '           1.0780e-03, 1.0790e-03],\n'
        '          [1.0800e-03, 1.0810e-03, 1.0820e-03,  ..., 1.1170e-03,\n'
        '           1.1180e-03, 1.1190e-03]]]])',
    ),
    # empty
    (a([]), 'tensor([])'),
    (a([], f64), 'tensor([], dtype=torch.float64)'),
    (a([], i64), 'tensor([], dtype=torch.int64)'),
    (a([], bool), 'tensor([], dtype=torch.bool)'),
    (np.zeros((2, 0), dtype=f32), 'tensor([], size=(2, 0))'),
    (np.zeros((0, 3), dtype=i32), 'tensor([], size=(0, 3), dtype=torch.int32)'),
    (np.zeros((2, 0, 3), dtype=f64), 'tensor([], size=(2, 0, 3), dtype=torch.float64)'),
]

# Compared with torch only (their text is long): big, summarized, strided.
TORCH_ONLY: list[Array] = [
    np.arange(1000, dtype=i64),
    np.arange(10000, dtype=f64).reshape(10, 10, 100) / 7,
    np.arange(1296, dtype=i64).reshape(6, 6, 6, 6),
    np.arange(2401, dtype=f32).reshape(7, 7, 7, 7) * 1e-6,
    np.arange(3000, dtype=f32).reshape(3, 1000) - 1500.5,
    np.linspace(-1e3, 1e3, 1500).reshape(2, 750),
    np.arange(24, dtype=f32).reshape(4, 6).T / 5,
    np.arange(2000, dtype=f64).reshape(1000, 2)[::3] * 1e9,
    np.tile(np.array([nan, -inf, -0.0, 3.0], dtype=f32), 300),
]

# (array, how the torch tensor gets a grad suffix, repr of that tensor)
SUFFIX_CASES: list[tuple[Array, str, str]] = [
    (a([1.0, 2.0]), 'requires_grad', 'tensor([1., 2.], requires_grad=True)'),
    (a([[1.5, 2.0]], f64), 'clone', 'tensor([[1.5000, 2.0000]], dtype=torch.float64, grad_fn=<CloneBackward0>)'),
    (a(3.0), 'requires_grad', 'tensor(3., requires_grad=True)'),
    (a(2.0, f64), 'clone', 'tensor(2., dtype=torch.float64, grad_fn=<CloneBackward0>)'),
    (np.zeros((2, 0), dtype=f32), 'requires_grad', 'tensor([], size=(2, 0), requires_grad=True)'),
    (a([], f64), 'clone', 'tensor([], dtype=torch.float64, grad_fn=<CloneBackward0>)'),
    (
        np.arange(7, dtype=f64) / 3,
        'clone',
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000],\n'
        '       dtype=torch.float64, grad_fn=<CloneBackward0>)',
    ),
    (
        np.arange(8, dtype=f64) / 3,
        'clone',
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333],\n'
        '       dtype=torch.float64, grad_fn=<CloneBackward0>)',
    ),
    (
        np.arange(9, dtype=f64) / 3,
        'clone',
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n'
        '       dtype=torch.float64, grad_fn=<CloneBackward0>)',
    ),
    (
        np.arange(9, dtype=f32) / 3,
        'clone',
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n'
        '       grad_fn=<CloneBackward0>)',
    ),
    (
        np.arange(9, dtype=f32) / 3,
        'requires_grad',
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n'
        '       requires_grad=True)',
    ),
    (
        np.arange(10, dtype=f32) / 3,
        'clone',
        'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n'
        '        3.0000], grad_fn=<CloneBackward0>)',
    ),
    (
        np.arange(20, dtype=f64).reshape(2, 10) / 3,
        'clone',
        'tensor([[0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n'
        '         3.0000],\n'
        '        [3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667, 6.0000,\n'
        '         6.3333]], dtype=torch.float64, grad_fn=<CloneBackward0>)',
    ),
    (
        np.arange(18, dtype=f64).reshape(2, 9) / 3,
        'clone',
        'tensor([[0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n'
        '        [3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667]],\n'
        '       dtype=torch.float64, grad_fn=<CloneBackward0>)',
    ),
    (np.ones(17, dtype=i32), '', 'tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], dtype=torch.int32)'),
    (
        np.ones(18, dtype=i32),
        '',
        'tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],\n'
        '       dtype=torch.int32)',
    ),
]


@pytest.mark.parametrize(("array", "expected"), CASES)
def test_recorded_torch_output(array: Array, expected: str) -> None:
    assert format_tensor(array, namespace="torch") == expected


@needs_torch
@pytest.mark.parametrize(("array", "expected"), CASES)
def test_recorded_output_is_torchs(array: Array, expected: str) -> None:
    assert torch_repr(array) == expected


@needs_torch
@pytest.mark.parametrize("array", TORCH_ONLY)
def test_large_and_strided_match_torch(array: Array) -> None:
    assert format_tensor(array, namespace="torch") == torch_repr(array)


@pytest.mark.parametrize(("array", "grad", "expected"), SUFFIX_CASES)
def test_suffixes(array: Array, grad: str, expected: str) -> None:
    assert format_tensor(array, namespace="torch", extra=GRAD_SUFFIX[grad]) == expected


@needs_torch
@pytest.mark.parametrize(("array", "grad", "expected"), SUFFIX_CASES)
def test_recorded_suffixes_are_torchs(array: Array, grad: str, expected: str) -> None:
    assert torch_repr(array, grad) == expected


def test_default_namespace_is_refgrad() -> None:
    assert format_tensor(a([1.0, 2.0], f64)) == "tensor([1., 2.], dtype=refgrad.float64)"
    assert format_tensor(a([], i64)) == "tensor([], dtype=refgrad.int64)"
    assert format_tensor(a([[1]], i32), namespace="rg") == "tensor([[1]], dtype=rg.int32)"
    assert (
        format_tensor(a([0.5], f64), extra=["grad_fn=<SubBackward0>"])
        == "tensor([0.5000], dtype=refgrad.float64, grad_fn=<SubBackward0>)"
    )


def test_wrapping_counts_the_namespace() -> None:
    ones = np.ones(17, dtype=i32)
    row = "tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"
    # 58 + 2 + 17 fits; torch counts the last line two long, so 19 more does not.
    assert format_tensor(ones, namespace="torch") == row + ", dtype=torch.int32)"
    assert format_tensor(ones) == row + ",\n       dtype=refgrad.int32)"


@contextlib.contextmanager
def torch_default_dtype(dtype: Any) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


DEFAULT_F64_CASES: list[tuple[Array, str]] = [
    (a([1.0, 2.0], f64), "tensor([1., 2.])"),
    (a([1.0, 2.0], f32), "tensor([1., 2.], dtype=torch.float32)"),
    (a([], f64), "tensor([])"),
    (a([], f32), "tensor([], dtype=torch.float32)"),
    (a([3], i64), "tensor([3])"),
    (a([], bool), "tensor([], dtype=torch.bool)"),
]


@pytest.mark.parametrize(("array", "expected"), DEFAULT_F64_CASES)
def test_default_dtype_float64(array: Array, expected: str) -> None:
    assert format_tensor(array, namespace="torch", default_dtype=np.float64) == expected


@needs_torch
@pytest.mark.parametrize(("array", "expected"), DEFAULT_F64_CASES)
def test_default_dtype_float64_is_torchs(array: Array, expected: str) -> None:
    with torch_default_dtype(torch.float64):
        assert torch_repr(array) == expected


def test_input_is_not_modified() -> None:
    array = a([[1.25, -0.0], [nan, 7.0]])
    before = array.copy()
    format_tensor(array)
    np.testing.assert_array_equal(array, before)
    assert format_tensor(a(2.5, f64)) == "tensor(2.5000, dtype=refgrad.float64)"


@pytest.mark.parametrize("array", [a([1 + 2j], np.complex64), a(["x"], np.str_), a([None], object)])
def test_unsupported_dtypes_are_rejected(array: Array) -> None:
    with pytest.raises(TypeError, match="unsupported dtype"):
        format_tensor(array)


# Values that exercise every mode: any double (subnormal, huge, nan, inf, -0.0),
# whole numbers (int mode), short decimals (fixed mode) and the mode boundaries.
FLOAT_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**9), 10**9).map(float),
    st.floats(-1000.0, 1000.0).map(lambda x: round(x, 3)),
    st.sampled_from([0.0, -0.0, nan, inf, -inf, 1e-4, 1e-5, 1e8, 1e8 + 8, 0.001, 1000.0, 1.00005]),
)
BIG_SHAPES = [(1001,), (3, 400), (7, 2, 80), (2, 7, 7, 11)]


@st.composite
def tensors(draw: st.DrawFn) -> tuple[Array, str]:
    """A small (sometimes tiled past the threshold) array and a grad suffix kind."""
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64", "int64", "int32", "bool"])))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    if dtype.kind == "f":
        values = draw(hnp.arrays(np.float64, shape, elements=FLOAT_VALUES))
        with np.errstate(over="ignore"):
            array = values.astype(dtype)
    else:
        array = draw(hnp.arrays(dtype, shape))
    if array.size and draw(st.integers(0, 4)) == 0:
        array = np.resize(array, draw(st.sampled_from(BIG_SHAPES)))
    grad = draw(st.sampled_from(list(GRAD_SUFFIX))) if dtype.kind == "f" else ""
    return array, grad


@needs_torch
@settings(max_examples=300, deadline=None, database=None)
@given(tensors())
def test_random_arrays_match_torch(case: tuple[Array, str]) -> None:
    array, grad = case
    assert format_tensor(array, namespace="torch", extra=GRAD_SUFFIX[grad]) == torch_repr(array, grad)
