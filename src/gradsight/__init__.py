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
from .forward import elementwise_grad, hvp, jacfwd, jvp
from .functional import grad, hessian, jacobian, value_and_grad
from .gradcheck import GradcheckError, gradcheck
from .io import load, save
from .ops import *  # noqa: F403 - every op's gs name, from its declaration (ops/declare.py)
from .tracing import TraceError, trace

__version__ = "0.1.0"

del ops
