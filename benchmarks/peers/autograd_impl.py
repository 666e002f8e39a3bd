"""HIPS autograd: the loss as a NumPy function, ``value_and_grad`` of it.

Weights are plain arrays updated in place (``p -= lr * g``), as in autograd's
own examples.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad
from autograd.scipy.special import logsumexp

from benchmarks.peers import Runner
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    from importlib.metadata import version as dist_version

    return getattr(autograd, "__version__", None) or dist_version("autograd")


def build(w: Workload, data: dict) -> Runner:
    if w.kind != "mlp" and w.kind != "chain":
        raise NotImplementedError(f"no HIPS autograd version of {w.kind} workloads")
    return _mlp(w, data) if w.kind == "mlp" else _chain(w, data)


def _sigmoid(z):
    return 1.0 / (1.0 + anp.exp(-z))


def _mlp(w: Workload, data: dict) -> Runner:
    params = list(data["params"])
    x, y = data["x"], data["y"]
    rows = np.arange(x.shape[0])
    last = len(params) // 2 - 1

    def loss_fn(params):
        h = x
        for i in range(last + 1):
            h = anp.dot(h, params[2 * i].T) + params[2 * i + 1]
            if i < last:
                h = anp.maximum(h, 0.0) if w.activation == "relu" else _sigmoid(h)
            elif w.output == "sigmoid":
                h = _sigmoid(h)
        if w.loss == "ce":
            logp = h - logsumexp(h, axis=1, keepdims=True)
            return -anp.mean(logp[rows, y])
        return anp.mean((h - y) ** 2)

    loss_and_grads = value_and_grad(loss_fn)
    grads: list = [None]

    def step() -> float:
        loss, grads[0] = loss_and_grads(params)
        for p, g in zip(params, grads[0]):
            p -= w.lr * g
        return float(loss)

    return Runner(step, lambda: list(grads[0]))


def _chain(w: Workload, data: dict) -> Runner:
    x = data["x"]
    ops = [chain_op(i) for i in range(w.n_ops)]

    def f(h):
        for op in ops:
            if op == "mul":
                h = h * CHAIN_MUL
            elif op == "add":
                h = h + CHAIN_ADD
            else:
                h = anp.tanh(h)
        return anp.sum(h)

    out_and_grad = value_and_grad(f)
    grad: list = [None]

    def step() -> float:
        out, grad[0] = out_and_grad(x)
        return float(out)

    return Runner(step, lambda: [grad[0]])
