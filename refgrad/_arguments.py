"""PyTorch's TypeError for a public function given something else than what it takes first.

``rg.sin(2.0)`` must raise what ``torch.sin(2.0)`` raises, ``sin(): argument 'input' (position 1)
must be Tensor, not float``, not an AttributeError from deep inside. ``checked(f)`` is what
``refgrad`` exports for each public function ``f`` that takes a tensor, a list of tensors or a
size first: it calls ``f`` as it is, and only when that call fails does it look at the first
argument. When that argument is not of the kind ``f`` takes, it raises PyTorch's TypeError for
it instead. The Tensor methods and refgrad's own code call ``f`` itself, so the check costs them
nothing; a public call pays for the wrapper's call only.

PyTorch's text depends on how many of its overloads take that many arguments (its
``PythonArgParser``): when exactly one does, it names the argument (``sin(): argument 'input'
(position 1) must be Tensor, not float``); otherwise it lists the types it got (``sum() received
an invalid combination of arguments - got (float, int), but expected one of:``) and then its
overloads, where refgrad lists its own signatures. ``TORCH_OVERLOADS`` holds how many arguments
each of PyTorch's overloads takes, for the functions that have several
(``tests/test_bad_input.py`` checks it against torch).
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np

from refgrad._dims import type_name
from refgrad import _pointwise
from refgrad._factories import tensor
from refgrad._tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])

#: For each public function for which PyTorch 2.13 has several (visible) overloads: how many
#: arguments each overload takes, ``(required, all)`` (keyword-only ones such as ``out`` count).
TORCH_OVERLOADS: dict[str, tuple[tuple[int, int], ...]] = {
    "bitwise_and": ((2, 3), (2, 2), (2, 3)),
    "bitwise_or": ((2, 3), (2, 2), (2, 3)),
    "bmm": ((2, 3), (3, 4)),
    "clamp": ((1, 4), (1, 4)),
    "clamp_max": ((2, 3), (2, 3)),
    "clamp_min": ((2, 3), (2, 3)),
    "div": ((2, 3), (3, 4), (3, 3)),
    "eq": ((2, 3), (2, 3)),
    "eye": ((1, 7), (2, 8)),
    "ge": ((2, 3), (2, 3)),
    "gt": ((2, 3), (2, 3)),
    "le": ((2, 3), (2, 3)),
    "linspace": ((3, 9), (3, 9), (3, 9), (3, 9)),
    "lt": ((2, 3), (2, 3)),
    "max": ((1, 2), (2, 3), (2, 4)),
    "mean": ((1, 3), (2, 5)),
    "min": ((1, 2), (2, 3), (2, 4)),
    "mm": ((2, 3), (3, 4)),
    "ne": ((2, 3), (2, 3)),
    "pow": ((2, 3), (2, 3), (2, 3)),
    "prod": ((1, 2), (2, 5)),
    "rand": ((2, 8), (1, 7)),
    "randn": ((2, 8), (1, 7)),
    "round": ((1, 2), (2, 3)),
    "squeeze": ((1, 1), (2, 2), (2, 2)),
    "std": ((2, 5), (1, 5), (1, 2)),
    "sum": ((1, 2), (2, 5)),
    "var": ((2, 5), (1, 5), (1, 2)),
    "where": ((1, 1), (3, 4), (3, 3), (3, 3), (3, 3)),
}


NUMBER_FIRST = frozenset({"add", "sub", "mul", "div", "bitwise_and", "bitwise_or"})
"""The functions that take a Python number first (PyTorch wraps it in a tensor)."""


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_sequence(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _all(values: object, test: Callable[[object], bool]) -> bool:
    return all(test(v) for v in cast("list[object]", values))


class _Kind(NamedTuple):
    """What a first parameter takes: PyTorch's name for it, the test, and for a sequence of
    numbers what each element must be (PyTorch names the first element that is not)."""

    name: str
    accepts: Callable[[object], bool]
    element: Callable[[object], bool] | None = None
    number_beside_a_tensor: bool = False
    """pow's base: a number is right when another argument is a tensor (``pow(2, x)``)."""


def _is_tensor(value: object) -> bool:
    return isinstance(value, Tensor)


#: The kind of a first parameter, by its annotation.
_KINDS: dict[str, _Kind] = {
    "Tensor": _Kind("Tensor", _is_tensor),
    "Tensor | Number": _Kind("Tensor", _is_tensor, number_beside_a_tensor=True),
    "Sequence[Tensor]": _Kind("tuple of Tensors", _is_sequence),  # cat/stack name a non-tensor element
    "Sequence[int]": _Kind("tuple of ints", lambda value: _is_sequence(value) and _all(value, _is_int), _is_int),
    "int | Sequence[int]": _Kind(
        "tuple of ints", lambda value: _is_int(value) or (_is_sequence(value) and _all(value, _is_int)), _is_int
    ),
    "int": _Kind("int", _is_int),
    "Number": _Kind("Number", lambda value: isinstance(value, (int, float, np.number))),
}



class _First(NamedTuple):
    """The first parameter of a public function, read once from its signature."""

    name: str
    kind: _Kind
    max_positional: int | None  # None: it takes any number (``zeros(*size)``)


def _first_parameter(f: Callable[..., Any]) -> _First:
    parameters = list(inspect.signature(f).parameters.values())
    first = parameters[0]
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    return _First(first.name, _KINDS[str(first.annotation)], None if varargs else len(positional))


def checked(f: F) -> F:
    """``f``, raising PyTorch's TypeError when a call fails and its first argument is not of the
    kind ``f`` takes (any other failure is raised as it is)."""
    first = _first_parameter(f)

    @functools.wraps(f)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs) if kwargs else f(*args)  # (without keywords, the cheaper call)
        except Exception as failure:
            number_first = _with_number_first(f, args, kwargs)
            if number_first is None:
                error = _wrong_first_argument(f, first, args, kwargs) or _as_function_call(failure, f.__name__, first, kwargs)
                if error is None:
                    raise
                raise error from None
        return f(*number_first[0], **number_first[1])

    return cast(F, call)


def _with_number_first(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """``add(2, x)``, ``sub(input=2.5, other=x)``...: PyTorch takes a number first as a scalar
    (``add(2, x)`` is ``2 + x``). The same call with the number as a 0-d tensor of the dtype the
    result has (a scalar never widens the other operand's dtype), or None for any other call."""
    if f.__name__ not in NUMBER_FIRST:
        return None
    keywords = dict(kwargs)
    number, rest = (args[0], args[1:]) if args else (keywords.pop("input", None), ())
    if not isinstance(number, (bool, int, float, np.number)):
        return None
    number = number.item() if isinstance(number, np.number) else number
    other = rest[0] if rest else keywords.get("other")
    dtype = _pointwise.result_dtype([other], [number]) if isinstance(other, Tensor) else None
    return (tensor(number, dtype=dtype), *rest), keywords


_METHOD_POSITION = re.compile(r"^(\w+)\(\): argument '(\w+)' \(position (\d+)\)")


def _as_function_call(failure: Exception, name: str, first: _First, kwargs: dict[str, Any]) -> TypeError | None:
    """A wrong later argument is named by the ops' shared checks as the method counts it
    (``x.add([1])``: position 1); as a function PyTorch counts the tensor too (position 2), and
    names an argument given by keyword without a position."""
    found = _METHOD_POSITION.match(str(failure)) if type(failure) is TypeError else None
    if found is None or found[1] != name or found[2] == first.name:
        return None
    text = str(failure)
    position = "" if found[2] in kwargs else f" (position {int(found[3]) + 1})"
    return TypeError(f"{name}(): argument '{found[2]}'{position}{text[found.end():]}")


def _wrong_first_argument(
    f: Callable[..., Any], first: _First, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> TypeError | None:
    """PyTorch's error for this call, if its first argument is not of the kind ``f`` takes."""
    missing = object()
    value = args[0] if args else kwargs.get(first.name, missing)
    element = first.kind.element
    if element is not None and args:  # a size: PyTorch unpacks it, and names an element after the first so
        sizes = value if _is_sequence(value) else args if first.max_positional is None and element(value) else ()
        position, bad = next(((i, v) for i, v in enumerate(cast("list[object]", sizes)) if not element(v)), (0, None))
        if position > 0:
            return TypeError(
                f"{f.__name__}(): argument '{first.name}' failed to unpack the object at pos {position + 1} with error "
                f'"type must be {first.kind.name},but got {type_name(bad)}"'
            )
    if value is missing or first.kind.accepts(value):
        return None
    if first.kind.number_beside_a_tensor and any(isinstance(v, Tensor) for v in (*args, *kwargs.values())):
        return None  # a number base with a tensor exponent: the failure is the op's own
    if first.max_positional is not None and len(args) > first.max_positional:
        return None  # Python's "takes 1 positional argument but 2 were given", as PyTorch's
    name = f.__name__
    count = len(args) + len(kwargs)
    overloads = TORCH_OVERLOADS.get(name, ())
    if overloads and sum(low <= count <= high for low, high in overloads) != 1:
        return TypeError(
            f"{name}() received an invalid combination of arguments - got {_got(args, kwargs)}, "
            "but expected one of:\n" + "\n".join(f" * {_signature(overload)}" for overload in typing.get_overloads(f) or [f])
        )
    where = " (position 1)" if args else ""
    if args and element is not None and _is_sequence(value):
        position, bad = next((i, v) for i, v in enumerate(cast("list[object]", value)) if not element(v))
        return TypeError(
            f"{name}(): argument '{first.name}'{where} must be {first.kind.name}, but found element of type "
            f"{type_name(bad)} at pos {position}"
        )
    return TypeError(f"{name}(): argument '{first.name}'{where} must be {first.kind.name}, not {type_name(value)}")


def _got(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The types of a call's arguments as PyTorch lists them: the positional ones, then the
    keywords as ``name=type`` (PyTorch's own order: the last given first), and when there are
    only keywords, PyTorch leaves a trailing ``, ``."""
    types = [type_name(value) for value in args]
    types += [f"{key}={type_name(value)}" for key, value in reversed(kwargs.items())]
    return "(" + ", ".join(types) + (", " if kwargs and not args else "") + ")"


def _signature(f: Callable[..., Any]) -> str:
    """``(input: Tensor, dim: int | None = None)``: a signature with its annotations unquoted."""
    parts: list[str] = []
    for parameter in inspect.signature(f).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and not any(p.startswith("*") for p in parts):
            parts.append("*")
        text = parameter.name if parameter.annotation is parameter.empty else f"{parameter.name}: {parameter.annotation}"
        if parameter.kind is parameter.VAR_POSITIONAL:
            text = "*" + text
        if parameter.default is not parameter.empty:
            text += f" = {parameter.default!r}"
        parts.append(text)
    return "(" + ", ".join(parts) + ")"
