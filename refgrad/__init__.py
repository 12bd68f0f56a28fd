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

# Like PyTorch, refgrad computes log(0) = -inf and 1/0 = inf without warning; numpy's
# floating-point RuntimeWarnings are silenced for refgrad's own modules only.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"refgrad\.")

from refgrad._dtype import bool_ as bool
from refgrad._dtype import dtype, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from refgrad._factories import (
    arange,
    eye,
    from_numpy,
    full,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from refgrad._grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from refgrad._linalg import bmm, dot, matmul, mm, mv, outer
from refgrad._pointwise import (
    abs,
    add,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    clamp,
    clamp_max,
    clamp_min,
    clone,
    cos,
    div,
    eq,
    exp,
    expm1,
    floor,
    ge,
    gt,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    reciprocal,
    relu,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tan,
    tanh,
    where,
)
from refgrad._reduce import (
    amax,
    amin,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from refgrad._shape import (
    broadcast_to,
    cat,
    chunk,
    flatten,
    flip,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    t,
    transpose,
    unsqueeze,
)
from refgrad._tensor import Size, Tensor
from refgrad import autograd  # noqa: E402  (after the engine it builds on)

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
