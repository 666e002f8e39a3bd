"""Adam (Kingma & Ba, 2015) with PyTorch's update rule and L2 weight decay."""

from __future__ import annotations

import math

import numpy as np

from gradsight._core.arrays import owned_copy
from gradsight._core.tensor import ufunc_inplace

from .optimizer import Optimizer, check_number

_subtract = np.subtract
_multiply = np.multiply
_sqrt = np.sqrt
_divide = np.divide


def _sqrt_number(x):
    """math.sqrt of a Python number (correctly rounded); a step count held in an
    array of another type that takes part in NumPy's dispatch (gs.trace's) makes
    ``x`` one too, and np.sqrt dispatches it."""
    if x.__class__ is float or x.__class__ is int:
        return math.sqrt(x)
    return _sqrt(x)


class Adam(Optimizer):
    """PyTorch's Adam, step for step. For each parameter p with gradient g, at step t:

        g = g + weight_decay * p                  (L2 penalty, as torch.optim.Adam)
        m = m + (1 - beta1) * (g - m)             (first moment; m0 = 0)
        v = beta2 * v + (1 - beta2) * g^2         (second moment; v0 = 0)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Each parameter counts its own steps; those whose ``.grad`` is None are skipped.
    """

    _state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_hyper(self, group: dict) -> None:
        check_number("lr", group["lr"])
        check_number("eps", group["eps"])
        check_number("weight_decay", group["weight_decay"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"invalid betas: {betas!r} (a pair (beta1, beta2) is required)")
        group["betas"] = tuple(betas)
        for i, beta in enumerate(betas):
            check_number(f"beta parameter at index {i}", beta, low=0.0, high=1.0, high_open=True)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        state = self.state
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g = grad.data
                if wd:
                    g = g + wd * p.data
                st = state.get(p)
                if st is None:
                    st = state[p] = {
                        "step": 0,
                        "exp_avg": np.zeros_like(g),
                        "exp_avg_sq": np.zeros_like(g),
                    }
                t = st["step"] = st["step"] + 1
                m, v = st["exp_avg"], st["exp_avg_sq"]
                work = _subtract(g, m)
                if not m.shape:  # 0-d operands give a NumPy scalar: an array to write into
                    work = owned_copy(work)
                work *= 1 - beta1
                m += work
                _multiply(v, beta2, out=v)
                _multiply(g, g, out=work)
                work *= 1 - beta2
                v += work
                step_size = lr / (1 - beta1**t)
                _sqrt(v, out=work)
                work /= _sqrt_number(1 - beta2**t)
                work += eps
                _divide(m, work, out=work)
                work *= step_size
                ufunc_inplace(p, _subtract, work)
