"""gradsight: a small, fast, honest reverse-mode autodiff on NumPy.

import gradsight as gs
x = gs.tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()
x.grad  # tensor([2., 4.])
"""

from __future__ import annotations

from . import autograd, check, nn, ops, optim, reference, testing, viz
from ._core.grad_mode import enable_grad, is_grad_enabled, no_grad
from ._core.tensor import Tensor
from .creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .functional import grad, hessian, jacobian, value_and_grad
from .gradcheck import GradcheckError, gradcheck
from .io import load, save
from .ops.api import (
    abs,
    argmax,
    argmin,
    broadcast_to,
    clip,
    concatenate,
    exp,
    expand_dims,
    flatten,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    squeeze,
    stack,
    sum,
    tanh,
    transpose,
    var,
    where,
)
from .ops.api import abs as absolute
from .ops.api import max as amax
from .ops.api import min as amin
from .ops.more import (
    add,
    array_split,
    atleast_1d,
    atleast_2d,
    copy,
    cos,
    cumsum,
    diag,
    diagonal,
    divide,
    dot,
    einsum,
    equal,
    expm1,
    flip,
    fmax,
    fmin,
    full_like,
    greater,
    greater_equal,
    hstack,
    inner,
    isfinite,
    isnan,
    less,
    less_equal,
    log1p,
    log2,
    moveaxis,
    multiply,
    negative,
    norm,
    not_equal,
    outer,
    pad,
    positive,
    prod,
    ravel,
    repeat,
    sign,
    sin,
    split,
    square,
    std,
    subtract,
    swapaxes,
    tensordot,
    tile,
    tril,
    triu,
    true_divide,
    vdot,
    vstack,
)
from .tracing import TraceError, trace

__version__ = "0.1.0"

del ops
