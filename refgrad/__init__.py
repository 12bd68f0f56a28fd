"""refgrad: a verification-focused reference implementation of PyTorch's autograd, on numpy.

    >>> import refgrad as rg
    >>> a = rg.tensor([2., 3.], requires_grad=True)
    >>> b = rg.tensor([6., 4.], requires_grad=True)
    >>> Q = 3*a**3 - b**2
    >>> Q.backward(gradient=rg.tensor([1., 1.]))
    >>> a.grad
    tensor([36., 81.])
"""

import warnings as _warnings
from typing import Final as _Final

# Like PyTorch, refgrad computes log(0) = -inf and 1/0 = inf without warning; numpy's
# floating-point RuntimeWarnings are silenced for refgrad's own modules only.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"refgrad\.")

from refgrad._dtype import bool_ as bool
from refgrad._dtype import dtype, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from refgrad._factories import arange, from_numpy, manual_seed, tensor
from refgrad._grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from refgrad._tensor import Size, Tensor
from refgrad import _factories, _linalg, _pointwise, _reduce, _shape
from refgrad._arguments import checked as _checked
from refgrad import autograd  # noqa: E402  (after the engine it builds on)

# The functions that take a tensor (a list of tensors, a size) first are exported checked: given
# something else there, they raise PyTorch's TypeError (see refgrad/_arguments.py). The Tensor
# methods and refgrad's own code call them unchecked, at no cost.
eye: _Final = _checked(_factories.eye)
full: _Final = _checked(_factories.full)
linspace: _Final = _checked(_factories.linspace)
ones: _Final = _checked(_factories.ones)
ones_like: _Final = _checked(_factories.ones_like)
rand: _Final = _checked(_factories.rand)
randn: _Final = _checked(_factories.randn)
zeros: _Final = _checked(_factories.zeros)
zeros_like: _Final = _checked(_factories.zeros_like)
bmm: _Final = _checked(_linalg.bmm)
dot: _Final = _checked(_linalg.dot)
matmul: _Final = _checked(_linalg.matmul)
mm: _Final = _checked(_linalg.mm)
mv: _Final = _checked(_linalg.mv)
outer: _Final = _checked(_linalg.outer)
abs: _Final = _checked(_pointwise.abs)
add: _Final = _checked(_pointwise.add)
bitwise_and: _Final = _checked(_pointwise.bitwise_and)
bitwise_not: _Final = _checked(_pointwise.bitwise_not)
bitwise_or: _Final = _checked(_pointwise.bitwise_or)
clamp: _Final = _checked(_pointwise.clamp)
clamp_max: _Final = _checked(_pointwise.clamp_max)
clamp_min: _Final = _checked(_pointwise.clamp_min)
clone: _Final = _checked(_pointwise.clone)
cos: _Final = _checked(_pointwise.cos)
div: _Final = _checked(_pointwise.div)
eq: _Final = _checked(_pointwise.eq)
exp: _Final = _checked(_pointwise.exp)
expm1: _Final = _checked(_pointwise.expm1)
floor: _Final = _checked(_pointwise.floor)
ge: _Final = _checked(_pointwise.ge)
gt: _Final = _checked(_pointwise.gt)
le: _Final = _checked(_pointwise.le)
log: _Final = _checked(_pointwise.log)
log1p: _Final = _checked(_pointwise.log1p)
logical_and: _Final = _checked(_pointwise.logical_and)
logical_not: _Final = _checked(_pointwise.logical_not)
logical_or: _Final = _checked(_pointwise.logical_or)
lt: _Final = _checked(_pointwise.lt)
maximum: _Final = _checked(_pointwise.maximum)
minimum: _Final = _checked(_pointwise.minimum)
mul: _Final = _checked(_pointwise.mul)
ne: _Final = _checked(_pointwise.ne)
neg: _Final = _checked(_pointwise.neg)
pow: _Final = _checked(_pointwise.pow)
reciprocal: _Final = _checked(_pointwise.reciprocal)
relu: _Final = _checked(_pointwise.relu)
round: _Final = _checked(_pointwise.round)
rsqrt: _Final = _checked(_pointwise.rsqrt)
sigmoid: _Final = _checked(_pointwise.sigmoid)
sign: _Final = _checked(_pointwise.sign)
sin: _Final = _checked(_pointwise.sin)
sqrt: _Final = _checked(_pointwise.sqrt)
square: _Final = _checked(_pointwise.square)
sub: _Final = _checked(_pointwise.sub)
tan: _Final = _checked(_pointwise.tan)
tanh: _Final = _checked(_pointwise.tanh)
where: _Final = _checked(_pointwise.where)
amax: _Final = _checked(_reduce.amax)
amin: _Final = _checked(_reduce.amin)
argmax: _Final = _checked(_reduce.argmax)
argmin: _Final = _checked(_reduce.argmin)
log_softmax: _Final = _checked(_reduce.log_softmax)
logsumexp: _Final = _checked(_reduce.logsumexp)
max: _Final = _checked(_reduce.max)
mean: _Final = _checked(_reduce.mean)
min: _Final = _checked(_reduce.min)
norm: _Final = _checked(_reduce.norm)
prod: _Final = _checked(_reduce.prod)
softmax: _Final = _checked(_reduce.softmax)
std: _Final = _checked(_reduce.std)
sum: _Final = _checked(_reduce.sum)
var: _Final = _checked(_reduce.var)
broadcast_to: _Final = _checked(_shape.broadcast_to)
cat: _Final = _checked(_shape.cat)
chunk: _Final = _checked(_shape.chunk)
flatten: _Final = _checked(_shape.flatten)
flip: _Final = _checked(_shape.flip)
permute: _Final = _checked(_shape.permute)
reshape: _Final = _checked(_shape.reshape)
split: _Final = _checked(_shape.split)
squeeze: _Final = _checked(_shape.squeeze)
stack: _Final = _checked(_shape.stack)
t: _Final = _checked(_shape.t)
transpose: _Final = _checked(_shape.transpose)
unsqueeze: _Final = _checked(_shape.unsqueeze)

double = float64
long = int64

__version__ = "0.1.0"

__all__ = [
    "Size", "Tensor", "abs", "add", "amax", "autograd", "amin", "arange", "argmax", "argmin", "bitwise_and", "bitwise_not", "bitwise_or", "bmm", "bool",
    "broadcast_to", "cat", "chunk", "clamp", "clamp_max", "clamp_min", "clone", "cos", "div", "dot",
    "double", "dtype", "enable_grad", "eq", "exp", "expm1", "eye", "flatten", "flip", "float32", "floor",
    "float64", "from_numpy", "full", "ge", "get_default_dtype", "gt", "inference_mode", "int32", "int64",
    "is_grad_enabled", "is_inference_mode_enabled", "le", "linspace", "log", "log1p", "log_softmax", "logical_and", "logical_not",
    "logical_or", "logsumexp", "long", "lt", "manual_seed", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mm", "mul", "mv", "ne", "neg", "no_grad", "norm", "ones", "ones_like", "outer",
    "permute", "pow", "prod", "rand", "randn", "reciprocal", "relu", "reshape", "round", "rsqrt",
    "set_default_dtype", "set_grad_enabled", "sigmoid", "sign", "sin", "softmax", "split", "sqrt",
    "square", "squeeze", "stack", "std", "sub", "sum", "t", "tan", "tanh", "tensor", "transpose",
    "unsqueeze", "var", "where", "zeros", "zeros_like",
]  # fmt: skip
