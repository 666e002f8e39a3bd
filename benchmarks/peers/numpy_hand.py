"""The floor: each workload written by hand in NumPy, same GEMMs, no graph.

Forward keeps what backward needs (layer inputs, activations, tanh outputs),
backward applies the derivatives in reverse, SGD updates in place. Written
the way a competent NumPy programmer would: in-place where it is free, no
redundant copies, no tricks a framework could not also use.
"""

from __future__ import annotations

import numpy as np

from benchmarks.peers import Runner
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    return np.__version__


def build(w: Workload, data: dict) -> Runner:
    return {"mlp": _mlp, "chain": _chain, "fanin": _fanin, "check": _check}[w.kind](w, data)


def _check(w: Workload, data: dict) -> Runner:
    """The ``check`` rows' baseline: full central differences of the hand network's forward."""
    from benchmarks import check_net

    p, x, y = check_net.as_params(data["params"]), data["x"], data["y"]
    last = {}

    def step() -> float:
        fd = check_net.central_differences(p, x, y)
        last["grads"] = check_net.backward(p, x, y)  # what the differences confirm
        for name, g in last["grads"].items():
            if not np.allclose(fd[name], g, rtol=1e-3, atol=1e-4):
                raise AssertionError(f"finite differences disagree with the hand {name}")
        return float(check_net.forward(p, x, y))

    return Runner(step, lambda: [last["grads"][n] for n in check_net.names(len(p) // 2)])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), computed in place over one fresh array."""
    s = np.negative(z)
    np.exp(s, out=s)
    s += 1
    return np.reciprocal(s, out=s)


def _softmax_ce(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of (N, C) logits and its gradient (softmax - onehot) / N."""
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sums = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))
    e /= sums
    e[rows, labels] -= 1
    e /= n
    return loss, e


def _mlp(w: Workload, data: dict) -> Runner:
    x, y, params = data["x"], data["y"], data["params"]
    weights, biases = params[0::2], params[1::2]
    last = len(weights) - 1
    relu = w.activation == "relu"
    grads: list = [None] * len(params)
    n = len(x)

    def step() -> float:
        acts = [x]  # the input of each layer, then the network's output
        h = x
        for i, (W, b) in enumerate(zip(weights, biases)):
            h = h @ W.T
            h += b
            if i < last:
                h = np.maximum(h, 0, out=h) if relu else _sigmoid(h)
            elif w.output == "sigmoid":
                h = _sigmoid(h)
            acts.append(h)
        if w.loss == "ce":
            loss, d = _softmax_ce(h, y)
        elif w.loss == "half_sse":  # the article's loss: sum of squares / (2 n)
            diff = h - y
            loss = float((diff**2).sum() / (2 * n))
            d = diff
            d /= n
            if w.output == "sigmoid":
                d *= h * (1 - h)
        else:
            diff = h - y
            loss = float(np.mean(diff * diff))
            d = diff
            d *= 2.0 / diff.size
            if w.output == "sigmoid":
                d *= h * (1 - h)
        for i in range(last, -1, -1):
            a = acts[i]
            grads[2 * i] = d.T @ a
            grads[2 * i + 1] = d.sum(axis=0)
            if i > 0:
                d = d @ weights[i]
                d *= (a > 0) if relu else a * (1 - a)
        for p, g in zip(params, grads):
            p -= w.lr * g
        return loss

    return Runner(step, lambda: list(grads))


def _chain(w: Workload, data: dict) -> Runner:
    x0 = data["x"]
    ops = [chain_op(i) for i in range(w.n_ops)]
    out: list = [None]

    def step() -> float:
        tanhs = []  # tanh outputs, the only values backward needs
        x = x0
        for op in ops:
            if op == "mul":
                x = x * CHAIN_MUL
            elif op == "add":
                x = x + CHAIN_ADD
            else:
                x = np.tanh(x)
                tanhs.append(x)
        loss = float(x.sum())
        g = np.ones_like(x)
        for op in reversed(ops):  # d(x + c) = g needs no work
            if op == "mul":
                g *= CHAIN_MUL
            elif op == "tanh":
                t = tanhs.pop()
                g *= 1 - t * t
        out[0] = g
        return loss

    return Runner(step, lambda: [out[0]])


def _fanin(w: Workload, data: dict) -> Runner:
    xs = [row.copy() for row in data["xs"]]  # separate arrays, as the frameworks' leaves
    out: list = [None]

    def step() -> float:
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        loss = float(total.sum())
        g = np.ones_like(total)
        out[0] = [g.copy() for _ in xs]  # every term gets its own gradient array
        return loss

    return Runner(step, lambda: [np.stack(out[0])])
