"""``Tensor``: one numpy array plus what autograd needs to know about it."""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, NamedTuple, SupportsIndex, TypeAlias, overload

import numpy as np

from refgrad import _dtype, _grad_mode
from refgrad._dims import normalize_dim, shape_args
from refgrad._dtype import Array

if TYPE_CHECKING:
    from refgrad._node import AccumulateGrad, Node

Number = float  # int and bool are accepted wherever float is (PEP 484 numeric tower)
Index: TypeAlias = "int | slice | None | EllipsisType | Tensor | Sequence[int] | Sequence[bool]"
IndexKey: TypeAlias = "Index | tuple[Index, ...]"
NestedList: TypeAlias = "bool | int | float | list[NestedList]"
"""What ``tolist()`` gives: a Python number for a 0-d tensor, else nested lists of numbers."""

NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
    "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
    "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor "
    "by mistake, make sure you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 "
    "for more informations."
)
CHANGE_NONLEAF_FLAG = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed variable "
    "in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
)


INFERENCE_COUNTER: list[int] = [0]
"""The version counter all inference tensors share: they are not version-tracked."""


def counter(t: Tensor) -> list[int]:
    """``t``'s version counter, made now if it has none yet (to share it with a view or a
    saved copy, or to bump it). Most tensors never need one: made lazily, it costs nothing."""
    vc = t._vc
    if vc is None:
        vc = t._vc = [0]
    return vc


def version(t: Tensor) -> int:
    vc = t._vc
    return 0 if vc is None else vc[0]


def new_counter() -> list[int] | None:
    """The version counter of a tensor made now (None: a fresh one)."""
    return INFERENCE_COUNTER if _grad_mode._state.inference else None


class Size(tuple[int, ...]):
    """A shape: a tuple of ints, printed as ``refgrad.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"refgrad.Size({list(self)})"

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class ValuesIndices(NamedTuple):
    """What ``max(dim)``/``min(dim)`` return: the values and where they were found."""

    values: Tensor
    indices: Tensor


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Make tensors with :func:`refgrad.tensor` and the other factories. A tensor with
    ``requires_grad=True`` made by the user is a *leaf*; results of operations on it have a
    ``grad_fn`` (the recorded operation) and receive no ``.grad`` unless ``retain_grad()``.
    """

    __slots__ = (
        "_data",
        "_grad_fn",
        "_requires_grad",
        "_grad",
        "_output_nr",
        "_vc",
        "_base",
        "_view_base_node",
        "_meta",
        "_accumulator",
        "__weakref__",
    )
    __array_ufunc__ = None  # numpy arrays defer to Tensor's reflected operators

    _data: Array
    _grad_fn: Node | None
    _requires_grad: bool
    _grad: Tensor | None
    _output_nr: int
    _vc: list[int] | None
    """The version counter, shared by views (None: version 0, not shared yet; see ``counter``)."""
    _base: Tensor | None
    _view_base_node: Node | None
    """For a view (``_base`` set): the base's grad_fn when the view was taken."""
    _meta: TensorMeta | None
    """A leaf's hooks (a non-leaf's live on its grad_fn)."""
    _accumulator: Callable[[], AccumulateGrad | None] | None
    """A leaf's AccumulateGrad, held weakly (or NO_ACCUMULATOR)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("use refgrad.tensor(data, ...) or another factory to make a Tensor")

    @staticmethod
    def _make(data: Array, grad_fn: Node | None = None, vc: list[int] | None = None) -> Tensor:
        """The one place tensors are made: ``data`` is owned (or deliberately shared via ``vc``)."""
        t = object.__new__(Tensor)
        t._data = data
        t._grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._grad = None
        t._output_nr = 0
        t._vc = vc
        t._base = None
        t._meta = None
        t._accumulator = None
        return t

    # ----------------------------------------------------------------- metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @overload
    def size(self, dim: None = None) -> Size: ...
    @overload
    def size(self, dim: int) -> int: ...
    def size(self, dim: int | None = None) -> Size | int:
        if dim is None:
            return Size(self._data.shape)
        return int(self._data.shape[normalize_dim(dim, self._data.ndim)])

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_numpy_dtype(self._data.dtype)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self) -> Node | None:
        if self._base is not None:  # a view whose base an in-place op changed is regenerated first
            from refgrad._recording import check_view_is_current

            check_view_is_current(self)
        return self._grad_fn

    @property
    def _version(self) -> int:
        if self._vc is INFERENCE_COUNTER:
            raise RuntimeError("Inference tensors do not track version counter.")
        return version(self)

    def is_inference(self) -> bool:
        """Whether this tensor was made in inference mode (or is a view of one that was)."""
        return self._vc is INFERENCE_COUNTER

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._grad_fn is not None:
            raise RuntimeError(CHANGE_NONLEAF_FLAG if not flag else "you can only change requires_grad flags of leaf variables.")
        self._set_leaf_requires_grad(flag, "only Tensors of floating point and complex dtype can require gradients")

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(CHANGE_NONLEAF_FLAG)
            return self
        self._set_leaf_requires_grad(requires_grad, "only Tensors of floating point dtype can require gradients")
        return self

    def _set_leaf_requires_grad(self, flag: bool, not_float_message: str) -> None:
        if flag and self._data.dtype.kind != "f":
            raise RuntimeError(not_float_message)
        if flag and self._vc is INFERENCE_COUNTER and not _grad_mode._state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        self._requires_grad = bool(flag)

    @property
    def grad(self) -> Tensor | None:
        if self._grad_fn is not None and self._grad is None and not self.retains_grad:
            warnings.warn(NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a tensor of size "
                    f"'{list(self._data.shape)}'. Please ensure that the gradient and the tensor are the same size"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype.cpp_name}' to a tensor with grad_dtype "
                    f"'{self.dtype.scalar_name}'. The gradient must match the tensor's grad_dtype (defaults to the "
                    "tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to "
                    "allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
                    "may break downstream systems that assume they match."
                )
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        node = self._grad_fn
        meta = node._tensor_meta.get(self._output_nr) if node is not None and node._tensor_meta else None
        return meta is not None and meta.retained is not None and meta.retained() is self

    def retain_grad(self) -> None:
        """Populate ``.grad`` of this non-leaf during backward (a no-op on leaves)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is not None:
            tensor_meta(self._grad_fn, self._output_nr).retained = weakref.ref(self)

    def _hooks_holder(self) -> TensorMeta:
        """Where this tensor's hooks live: on a leaf itself, on a non-leaf's grad_fn."""
        if self._grad_fn is not None:
            return tensor_meta(self._grad_fn, self._output_nr)
        if self._meta is None:
            self._meta = TensorMeta()
        return self._meta

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Run ``hook(grad)`` when this tensor's gradient has been computed (summed over all
        paths); a returned tensor replaces the gradient. On a leaf it runs before ``.grad`` is
        updated. Hooks run in registration order. ``handle.remove()`` unregisters it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return RemovableHandle(self._hooks_holder().hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Run ``hook(tensor)`` after backward has updated this leaf's ``.grad``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        return RemovableHandle(self._hooks_holder().post_accumulate, hook)

    @property
    def data(self) -> Tensor:
        """The same values, outside the graph (no version tracking: prefer ``detach()``)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    def detach(self) -> Tensor:
        """The same storage and version counter, cut from the graph: a leaf that does not require grad."""
        return Tensor._make(self._data, None, counter(self))

    def detach_(self) -> Tensor:
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ----------------------------------------------------------------- conversion
    def item(self) -> float:
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        value: float = self._data.item()
        return value

    def tolist(self) -> NestedList:
        values: NestedList = self._data.tolist()
        return values

    def numpy(self) -> Array:
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def __bool__(self) -> bool:
        if self._data.size == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __float__(self) -> float:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self._data.item())

    def __int__(self) -> int:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self._data.item())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return int(self._data.shape[0])

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (_shape.select(self, 0, i) for i in range(self._data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        extra = []
        if self._grad_fn is not None:
            extra.append(f"grad_fn=<{type(self._grad_fn).__name__}>")  # the class name, as PyTorch's repr
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return format_tensor(self._data, extra=extra, default_dtype=_dtype.get_default_dtype().numpy)

    def to(self, dtype: _dtype.dtype) -> Tensor:
        return _pointwise.to(self, dtype)

    def clone(self) -> Tensor:
        return _pointwise.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the values are laid out in row-major order (then ``view`` can reshape them)."""
        return bool(self._data.flags.c_contiguous)

    def contiguous(self) -> Tensor:
        """This tensor if its values are laid out in row-major order, else a copy that is."""
        return self if self._data.flags.c_contiguous else _pointwise.clone(self)

    # ----------------------------------------------------------------- autograd
    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | Tensor | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf), weighted by ``gradient``, into the leaves' ``.grad``."""
        _engine.backward(self, gradient, retain_graph, create_graph, inputs)

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.add(self, other)

    def __radd__(self, other: Number) -> Tensor:
        return _pointwise.add(self, other)

    def __sub__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.sub(self, other)

    def __rsub__(self, other: Number) -> Tensor:
        return _pointwise.rsub(self, other)

    def __mul__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.mul(self, other)

    def __rmul__(self, other: Number) -> Tensor:
        return _pointwise.mul(self, other)

    def __truediv__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.div(self, other)

    def __rtruediv__(self, other: Number) -> Tensor:
        return _pointwise.mul(_pointwise.reciprocal(self), other)

    def __pow__(self, exponent: Tensor | Number) -> Tensor:
        return _pointwise.pow(self, exponent)

    def __rpow__(self, base: Number) -> Tensor:
        return _pointwise.pow(base, self)

    def __matmul__(self, other: Tensor) -> Tensor:
        return _linalg.matmul(self, other)

    def __neg__(self) -> Tensor:
        return _pointwise.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _pointwise.abs(self)

    def __lt__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.lt(self, other)

    def __le__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.le(self, other)

    def __gt__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.gt(self, other)

    def __ge__(self, other: Tensor | Number) -> Tensor:
        return _pointwise.ge(self, other)

    # Elementwise with a tensor or a number, like numpy and torch; anything else is not equal.
    @overload
    def __eq__(self, other: Tensor | Number) -> Tensor: ...  # type: ignore[overload-overlap]
    @overload
    def __eq__(self, other: object) -> bool: ...
    def __eq__(self, other: object) -> Tensor | bool:
        if not isinstance(other, (Tensor, bool, int, float)):
            return NotImplemented
        return _pointwise.eq(self, other)

    @overload
    def __ne__(self, other: Tensor | Number) -> Tensor: ...  # type: ignore[overload-overlap]
    @overload
    def __ne__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> Tensor | bool:
        if not isinstance(other, (Tensor, bool, int, float)):
            return NotImplemented
        return _pointwise.ne(self, other)

    def __and__(self, other: Tensor | int) -> Tensor:
        return _pointwise.bitwise_and(self, other)

    def __or__(self, other: Tensor | int) -> Tensor:
        return _pointwise.bitwise_or(self, other)

    def __invert__(self) -> Tensor:
        return _pointwise.bitwise_not(self)

    def __getitem__(self, key: IndexKey) -> Tensor:
        return _shape.getitem(self, key)

    def __setitem__(self, key: IndexKey, value: Tensor | Number) -> None:
        _inplace.setitem(self, key, value)

    # ----------------------------------------------------------------- in-place ops
    def __iadd__(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.add, other)

    def __isub__(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.sub, other)

    def __imul__(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.mul, other)

    def __itruediv__(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.div, other)

    def add_(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.add, other)

    def sub_(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.sub, other)

    def mul_(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.mul, other)

    def div_(self, other: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.div, other)

    def pow_(self, exponent: Tensor | Number) -> Tensor:
        return _inplace.apply(self, _pointwise.pow, exponent)

    def neg_(self) -> Tensor:
        return _inplace.apply(self, _pointwise.neg)

    def exp_(self) -> Tensor:
        return _inplace.apply(self, _pointwise.exp)

    def sigmoid_(self) -> Tensor:
        return _inplace.apply(self, _pointwise.sigmoid)

    def tanh_(self) -> Tensor:
        return _inplace.apply(self, _pointwise.tanh)

    def relu_(self) -> Tensor:
        return _inplace.apply(self, _pointwise.relu)

    def clamp_(self, min: Number | None = None, max: Number | None = None) -> Tensor:
        return _inplace.apply(self, _pointwise.clamp, min, max)

    def zero_(self) -> Tensor:
        return _inplace.fill(self, 0)

    def fill_(self, value: Number) -> Tensor:
        return _inplace.fill(self, value)

    def copy_(self, src: Tensor) -> Tensor:
        return _inplace.copy(self, src)

    # ----------------------------------------------------------------- named ops
    def add(self, other: Tensor | Number) -> Tensor:
        return _pointwise.add(self, other)

    def sub(self, other: Tensor | Number) -> Tensor:
        return _pointwise.sub(self, other)

    def mul(self, other: Tensor | Number) -> Tensor:
        return _pointwise.mul(self, other)

    def div(self, other: Tensor | Number) -> Tensor:
        return _pointwise.div(self, other)

    def pow(self, exponent: Tensor | Number) -> Tensor:
        return _pointwise.pow(self, exponent)

    def neg(self) -> Tensor:
        return _pointwise.neg(self)

    def exp(self) -> Tensor:
        return _pointwise.exp(self)

    def log(self) -> Tensor:
        return _pointwise.log(self)

    def log1p(self) -> Tensor:
        return _pointwise.log1p(self)

    def expm1(self) -> Tensor:
        return _pointwise.expm1(self)

    def sqrt(self) -> Tensor:
        return _pointwise.sqrt(self)

    def rsqrt(self) -> Tensor:
        return _pointwise.rsqrt(self)

    def reciprocal(self) -> Tensor:
        return _pointwise.reciprocal(self)

    def sin(self) -> Tensor:
        return _pointwise.sin(self)

    def cos(self) -> Tensor:
        return _pointwise.cos(self)

    def tan(self) -> Tensor:
        return _pointwise.tan(self)

    def tanh(self) -> Tensor:
        return _pointwise.tanh(self)

    def sigmoid(self) -> Tensor:
        return _pointwise.sigmoid(self)

    def relu(self) -> Tensor:
        return _pointwise.relu(self)

    def abs(self) -> Tensor:
        return _pointwise.abs(self)

    def sign(self) -> Tensor:
        return _pointwise.sign(self)

    def floor(self) -> Tensor:
        return _pointwise.floor(self)

    def round(self) -> Tensor:
        return _pointwise.round(self)

    def square(self) -> Tensor:
        return _pointwise.square(self)

    def clamp(self, min: Number | None = None, max: Number | None = None) -> Tensor:
        return _pointwise.clamp(self, min, max)

    def clamp_min(self, min: Number) -> Tensor:
        return _pointwise.clamp_min(self, min)

    def clamp_max(self, max: Number) -> Tensor:
        return _pointwise.clamp_max(self, max)

    def maximum(self, other: Tensor) -> Tensor:
        return _pointwise.maximum(self, other)

    def where(self, condition: Tensor, other: Tensor | Number) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (``torch.where(condition, self, other)``)."""
        _pointwise.check_where(condition, other)
        return _pointwise._where(condition, self, other)

    # Comparisons and logical ops by name (the operators above spell most of them).
    def eq(self, other: Tensor | Number) -> Tensor:
        return _pointwise.eq(self, other)

    def ne(self, other: Tensor | Number) -> Tensor:
        return _pointwise.ne(self, other)

    def gt(self, other: Tensor | Number) -> Tensor:
        return _pointwise.gt(self, other)

    def ge(self, other: Tensor | Number) -> Tensor:
        return _pointwise.ge(self, other)

    def lt(self, other: Tensor | Number) -> Tensor:
        return _pointwise.lt(self, other)

    def le(self, other: Tensor | Number) -> Tensor:
        return _pointwise.le(self, other)

    def logical_and(self, other: Tensor | Number) -> Tensor:
        return _pointwise.logical_and(self, other)

    def logical_or(self, other: Tensor | Number) -> Tensor:
        return _pointwise.logical_or(self, other)

    def logical_not(self) -> Tensor:
        return _pointwise.logical_not(self)

    def bitwise_and(self, other: Tensor | Number) -> Tensor:
        return _pointwise.bitwise_and(self, other)

    def bitwise_or(self, other: Tensor | Number) -> Tensor:
        return _pointwise.bitwise_or(self, other)

    def bitwise_not(self) -> Tensor:
        return _pointwise.bitwise_not(self)

    def minimum(self, other: Tensor) -> Tensor:
        return _pointwise.minimum(self, other)

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _reduce.sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _reduce.mean(self, dim, keepdim)

    @overload
    def max(self) -> Tensor: ...
    @overload
    def max(self, dim: int, keepdim: bool = False) -> ValuesIndices: ...
    @overload
    def max(self, dim: Tensor) -> Tensor: ...
    def max(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        return _reduce.extremum(self, dim, keepdim, largest=True)

    @overload
    def min(self) -> Tensor: ...
    @overload
    def min(self, dim: int, keepdim: bool = False) -> ValuesIndices: ...
    @overload
    def min(self, dim: Tensor) -> Tensor: ...
    def min(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        return _reduce.extremum(self, dim, keepdim, largest=False)

    def amax(self, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
        return _reduce.amax(self, dim, keepdim)

    def amin(self, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
        return _reduce.amin(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _reduce.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _reduce.argmin(self, dim, keepdim)

    def prod(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _reduce.prod(self, dim, keepdim)

    def var(
        self, dim: int | Sequence[int] | None = None, *, correction: Number = 1, keepdim: bool = False
    ) -> Tensor:
        return _reduce.var(self, dim, correction=correction, keepdim=keepdim)

    def std(
        self, dim: int | Sequence[int] | None = None, *, correction: Number = 1, keepdim: bool = False
    ) -> Tensor:
        return _reduce.std(self, dim, correction=correction, keepdim=keepdim)

    def logsumexp(self, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
        return _reduce.logsumexp(self, dim, keepdim)

    def softmax(self, dim: int) -> Tensor:
        return _reduce.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return _reduce.log_softmax(self, dim)

    def norm(self, p: Number | str = 2, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _reduce.norm(self, p, dim, keepdim)

    def matmul(self, other: Tensor) -> Tensor:
        return _linalg.matmul(self, other)

    def mm(self, other: Tensor) -> Tensor:
        return _linalg.mm(self, other)

    def bmm(self, mat2: Tensor) -> Tensor:
        return _linalg.bmm(self, mat2)

    def mv(self, vec: Tensor) -> Tensor:
        return _linalg.mv(self, vec)

    def dot(self, other: Tensor) -> Tensor:
        return _linalg.dot(self, other)

    def outer(self, other: Tensor) -> Tensor:
        return _linalg.outer(self, other)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return _shape.reshape(self, shape_args(shape))

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        return _shape.view(self, shape_args(shape))

    def view_as(self, other: Tensor) -> Tensor:
        return _shape.view(self, other._data.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _shape.transpose(self, dim0, dim1)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        return _shape.permute(self, shape_args(dims))

    def t(self) -> Tensor:
        return _shape.t(self)

    @property
    def T(self) -> Tensor:
        return _shape.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return _shape.transpose(self, -2, -1)

    def unsqueeze(self, dim: int) -> Tensor:
        return _shape.unsqueeze(self, dim)

    def squeeze(self, dim: int | None = None) -> Tensor:
        return _shape.squeeze(self, dim)

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        return _shape.expand(self, shape_args(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _shape.expand(self, other._data.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _shape.expand(self, tuple(shape))

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return _shape.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _shape.chunk(self, chunks, dim)

    def flip(self, dims: int | Sequence[int]) -> Tensor:
        return _shape.flip(self, dims)

    def select(self, dim: int, index: SupportsIndex) -> Tensor:
        return _shape.select(self, dim, int(index))

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return _shape.narrow(self, dim, start, length)

    # Conversions named after builtins come last: inside the class body they shadow them.
    def float(self) -> Tensor:
        return _pointwise.to(self, _dtype.float32)

    def double(self) -> Tensor:
        return _pointwise.to(self, _dtype.float64)

    def long(self) -> Tensor:
        return _pointwise.to(self, _dtype.int64)

    def int(self) -> Tensor:
        return _pointwise.to(self, _dtype.int32)

    def bool(self) -> Tensor:
        return _pointwise.to(self, _dtype.bool_)


from refgrad import _engine, _inplace, _linalg, _pointwise, _reduce, _shape  # noqa: E402  (they need Tensor defined)
from refgrad._format import format_tensor  # noqa: E402
from refgrad._node import RemovableHandle, TensorMeta, tensor_meta  # noqa: E402
