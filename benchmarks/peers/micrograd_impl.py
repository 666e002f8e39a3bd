"""micrograd: Karpathy's scalar engine, one Value per number, samples in a loop.

micrograd 0.1.0 has no exp or tanh, so sigmoid and tanh are added here the
way micrograd defines its own ops (a new Value with a ``_backward`` closure).
Its recursive topological sort is used as shipped, so deep graphs raise
RecursionError, which the harness records.
"""

from __future__ import annotations

import math
from importlib.metadata import version as dist_version

import numpy as np
from micrograd.engine import Value

from benchmarks.peers import Runner
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    return dist_version("micrograd")


def build(w: Workload, data: dict) -> Runner:
    if w.kind != "mlp" and w.kind != "chain":
        raise NotImplementedError(f"no micrograd version of {w.kind} workloads")
    return _mlp(w, data) if w.kind == "mlp" else _chain(w, data)


def sigmoid(v: Value) -> Value:
    z = v.data
    s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    out = Value(s, (v,), "sigmoid")

    def _backward():
        v.grad += s * (1.0 - s) * out.grad

    out._backward = _backward
    return out


def tanh(v: Value) -> Value:
    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1.0 - t * t) * out.grad

    out._backward = _backward
    return out


def _mlp(w: Workload, data: dict) -> Runner:
    if w.loss != "mse":
        raise NotImplementedError("the micrograd peer only runs the MSE rows")
    # each layer: (rows of weight Values, bias Values)
    layers = [
        ([[Value(float(v)) for v in row] for row in W], [Value(float(v)) for v in b])
        for W, b in zip(data["params"][0::2], data["params"][1::2])
    ]
    params = [v for W, b in layers for v in [u for row in W for u in row] + b]
    xs, ys = data["x"].tolist(), data["y"].tolist()
    hidden = (lambda v: v.relu()) if w.activation == "relu" else sigmoid
    last = len(layers) - 1

    def forward(h: list) -> list:
        for i, (W, b) in enumerate(layers):
            h = [sum((wi * hi for wi, hi in zip(row, h)), bias) for row, bias in zip(W, b)]
            if i < last:
                h = [hidden(v) for v in h]
            elif w.output == "sigmoid":
                h = [sigmoid(v) for v in h]
        return h

    def step() -> float:
        for p in params:
            p.grad = 0.0
        terms = []
        for x, y in zip(xs, ys):
            for out, target in zip(forward(x), y):
                diff = out - target
                terms.append(diff * diff)
        loss = sum(terms) * (1.0 / len(terms))
        loss.backward()
        for p in params:
            p.data -= w.lr * p.grad
        return loss.data

    def grads() -> list:
        result = []
        for W, b in layers:
            result.append(np.array([[v.grad for v in row] for row in W]))
            result.append(np.array([v.grad for v in b]))
        return result

    return Runner(step, grads)


def _chain(w: Workload, data: dict) -> Runner:
    xs = [Value(float(v)) for v in data["x"]]
    ops = [chain_op(i) for i in range(w.n_ops)]

    def step() -> float:
        for x in xs:
            x.grad = 0.0
        outs = []
        for h in xs:
            for op in ops:
                if op == "mul":
                    h = h * CHAIN_MUL
                elif op == "add":
                    h = h + CHAIN_ADD
                else:
                    h = tanh(h)
            outs.append(h)
        out = sum(outs)
        out.backward()
        return out.data

    return Runner(step, lambda: [np.array([x.grad for x in xs])])
