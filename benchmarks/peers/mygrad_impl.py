"""MyGrad: NumPy-backed autodiff; its nnet activations and softmax cross-entropy.

MyGrad has no layers or optimizers, so weights are plain mg.Tensors and SGD
is ``p.data -= lr * p.grad`` (MyGrad overwrites ``.grad`` on each backward).
"""

from __future__ import annotations

import mygrad as mg
import numpy as np
from mygrad.nnet.activations import relu, sigmoid
from mygrad.nnet.losses import softmax_crossentropy

from benchmarks.peers import Runner
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    return mg.__version__


def build(w: Workload, data: dict) -> Runner:
    if w.kind != "mlp" and w.kind != "chain":
        raise NotImplementedError(f"no MyGrad version of {w.kind} workloads")
    return _mlp(w, data) if w.kind == "mlp" else _chain(w, data)


def _mlp(w: Workload, data: dict) -> Runner:
    params = [mg.tensor(p) for p in data["params"]]
    x, y = data["x"], data["y"]
    act = relu if w.activation == "relu" else sigmoid
    last = len(params) // 2 - 1

    def step() -> float:
        h = x
        for i in range(last + 1):
            h = mg.matmul(h, params[2 * i].T) + params[2 * i + 1]
            if i < last:
                h = act(h)
            elif w.output == "sigmoid":
                h = sigmoid(h)
        loss = softmax_crossentropy(h, y) if w.loss == "ce" else mg.mean((h - y) ** 2)
        loss.backward()
        for p in params:
            p.data -= w.lr * p.grad
        return loss.item()

    return Runner(step, lambda: [p.grad for p in params])


def _chain(w: Workload, data: dict) -> Runner:
    x = mg.tensor(data["x"])
    ops = [chain_op(i) for i in range(w.n_ops)]

    def step() -> float:
        h = x
        for op in ops:
            if op == "mul":
                h = h * CHAIN_MUL
            elif op == "add":
                h = h + CHAIN_ADD
            else:
                h = mg.tanh(h)
        out = mg.sum(h)
        out.backward()
        return out.item()

    return Runner(step, lambda: [np.asarray(x.grad)])
