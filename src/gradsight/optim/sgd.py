"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov."""

from __future__ import annotations

import numpy as np

from gradsight._core.arrays import owned_copy
from gradsight._core.tensor import ufunc_inplace

from .optimizer import Optimizer, check_number

_multiply = np.multiply
_subtract = np.subtract


class SGD(Optimizer):
    """PyTorch's SGD, step for step. For each parameter p with gradient g:

        g = g + weight_decay * p                  (if weight_decay)
        v = g               on the first step,    (if momentum)
        v = mu * v + (1 - dampening) * g          afterwards
        g = g + mu * v  if nesterov  else  v
        p = p - lr * g

    With dampening 0 this is the article's rule dw(t) = -lr * dL/dw + mu * dw(t-1)
    (dw = -lr * v). Parameters whose ``.grad`` is None are skipped.
    """

    _state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    def _check_hyper(self, group: dict) -> None:
        check_number("lr", group["lr"])
        check_number("momentum", group["momentum"])
        check_number("dampening", group["dampening"], low=None)
        check_number("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"nesterov momentum needs momentum > 0 and dampening = 0, got momentum="
                f"{group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        state = self.state
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            damp, nesterov = group["dampening"], group["nesterov"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad.data
                if wd:
                    g = g + wd * p.data
                if mu:
                    st = state.get(p)
                    if st is None:
                        buf = owned_copy(g)  # an owned copy: the buffer is updated in place
                        state[p] = {"momentum_buffer": buf}
                    else:
                        buf = st["momentum_buffer"]
                        _multiply(buf, mu, out=buf)
                        if damp:
                            buf += (1 - damp) * g
                        else:
                            buf += g
                    g = g + mu * buf if nesterov else buf
                update = lr * g
                ufunc_inplace(p, _subtract, update)
