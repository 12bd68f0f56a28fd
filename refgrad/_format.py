"""Text of a tensor, exactly as PyTorch prints it (``repr(t)`` / ``str(t)``).

This reproduces ``torch._tensor_str`` for dense CPU tensors of real or bool dtype under
PyTorch's default print options: precision 4, threshold 1000, edgeitems 3, linewidth 80.

How PyTorch decides, in short:

* One formatter is chosen for the whole tensor (or, above the threshold, for the elements
  that remain visible after summarization). Integer and bool elements print as ``str(v)``.
  Floating elements look only at the values that are finite and non-zero:

  - *scientific* (``1.2346e+05``) when max/min > 1000, max > 1e8 or min < 1e-4
    (absolute values, compared in float64);
  - otherwise *int mode* (``36.``) when every such value is a whole number;
  - otherwise *fixed* with four decimals (``0.1235``).

  Every element is right-aligned to the widest of those values; zeros, nan and inf do
  not count towards that width (so ``tensor([1., nan])`` has no padding).
* Values are formatted from their exact float64 widening, so float32 and float64 arrays
  holding "the same" decimal literal can print differently (see the tests).
* Rows wrap at ``(80 - indent) // (width + 2)`` elements per line; slices of an n-d
  tensor are separated by ``n - 1`` newlines; above 1000 elements each dimension longer
  than 6 keeps its first and last 3 entries around ``...``.
* Suffixes (``size=``, ``dtype=``, then caller extras such as ``grad_fn=<...>``) go on the
  same line while it stays within 80 characters, else on a new line indented by 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

__all__ = ["format_tensor"]

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

_PREFIX = "tensor("


def format_tensor(
    data: Array,
    *,
    extra: Sequence[str] = (),
    namespace: str = "refgrad",
    default_dtype: npt.DTypeLike = np.float32,
) -> str:
    """PyTorch's ``repr`` of a CPU tensor holding ``data`` (e.g. ``"tensor([1., 2.])"``).

    ``data`` is a numpy array of a bool, integer or real floating dtype, of any shape.
    The dtype suffix is decided here, by PyTorch's rule: it reads
    ``dtype=<namespace>.<numpy dtype name>`` (``refgrad.float64``, ``refgrad.int32``...)
    and is shown unless the dtype is ``default_dtype``, int64 or bool -- except that an
    empty tensor shows it for every dtype other than ``default_dtype``. An empty tensor
    that is not 1-d also gets ``size=(d0, d1, ...)`` first. ``extra`` suffixes
    (``"requires_grad=True"``, ``"grad_fn=<SubBackward0>"``...) follow, in order.
    """
    array = np.asarray(data)
    kind = array.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"format_tensor: unsupported dtype {array.dtype}")
    default = np.dtype(default_dtype)
    dtype_suffix = f"dtype={namespace}.{array.dtype.name}"

    suffixes: list[str] = []
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(int(n) for n in array.shape)}")
        if array.dtype != default:
            suffixes.append(dtype_suffix)
        body = "[]"
    else:
        if array.dtype not in (default, np.dtype(np.int64), np.dtype(np.bool_)):
            suffixes.append(dtype_suffix)
        body = _body(array, len(_PREFIX))
    suffixes.extend(extra)
    return _add_suffixes(_PREFIX + body, suffixes, len(_PREFIX))


class _Formatter:
    """One element format (mode and width) shared by every element printed."""

    def __init__(self, sample: Array) -> None:
        self.floating = sample.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = sample.reshape(-1)
        if not self.floating:
            self.width = max([1, *(len(str(v)) for v in flat.tolist())])
            return
        wide = flat.astype(np.float64)  # exact; all statistics are taken in float64
        values = wide[np.isfinite(wide) & (wide != 0)]
        if values.size == 0:
            return
        magnitudes = np.abs(values)
        low, high = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(np.ceil(values) == values))
        self.sci_mode = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
        texts = [self._text(v) for v in values.tolist()]
        self.width = max(len(t) for t in texts)

    def _text(self, value: Any) -> str:
        if not self.floating:
            return str(value)
        if self.sci_mode:
            return f"{value:.{PRECISION}e}"
        if self.int_mode:
            text = f"{value:.0f}"
            # The point marks a float; nan and inf need no mark.
            return text + "." if math.isfinite(value) else text
        return f"{value:.{PRECISION}f}"

    def format(self, value: Any) -> str:
        return self._text(value).rjust(self.width)


def _summarized(array: Array) -> Array:
    """The elements still shown after summarization (the edges of every long dim)."""
    for axis, size in enumerate(array.shape):
        if size > 2 * EDGEITEMS:
            keep = [*range(EDGEITEMS), *range(size - EDGEITEMS, size)]
            array = np.take(array, keep, axis=axis)
    return array


def _body(array: Array, indent: int) -> str:
    summarize = array.size > THRESHOLD
    formatter = _Formatter(_summarized(array) if summarize else array)
    return _nested(array, indent, summarize, formatter)


def _nested(array: Array, indent: int, summarize: bool, formatter: _Formatter) -> str:
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        return _row(array, indent, summarize, formatter)
    size = array.shape[0]
    if summarize and size > 2 * EDGEITEMS:
        picks: list[int | None] = [*range(EDGEITEMS), None, *range(size - EDGEITEMS, size)]
    else:
        picks = list(range(size))
    parts = [
        "..." if i is None else _nested(array[i], indent + 1, summarize, formatter)
        for i in picks
    ]
    separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _row(row: Array, indent: int, summarize: bool, formatter: _Formatter) -> str:
    per_line = max(1, (LINEWIDTH - indent) // (formatter.width + 2))
    if summarize and row.shape[0] > 2 * EDGEITEMS:
        items = [
            *(formatter.format(v) for v in row[:EDGEITEMS].tolist()),
            " ...",
            *(formatter.format(v) for v in row[-EDGEITEMS:].tolist()),
        ]
    else:
        items = [formatter.format(v) for v in row.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _add_suffixes(text: str, suffixes: Sequence[str], indent: int) -> str:
    parts = [text]
    # PyTorch's own measure of the last line (it counts two more than its length).
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    parts.append(")")
    return "".join(parts)
