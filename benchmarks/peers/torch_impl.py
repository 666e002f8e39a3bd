"""PyTorch eager on the CPU: torch.nn layers and losses, torch.optim.SGD.

Threads are left at torch's default (recorded in the report); dtypes follow
the workload (float64 or float32).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.peers import Runner
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    return f"{torch.__version__} ({torch.get_num_threads()} threads)"


def build(w: Workload, data: dict) -> Runner:
    return {"mlp": _mlp, "chain": _chain, "fanin": _fanin}[w.kind](w, data)


def _mlp(w: Workload, data: dict) -> Runner:
    dtype = getattr(torch, w.dtype)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(w.sizes[:-1], w.sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out, dtype=dtype))
        if i < len(w.sizes) - 2:
            layers.append(torch.nn.ReLU() if w.activation == "relu" else torch.nn.Sigmoid())
        elif w.output == "sigmoid":
            layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers)
    params = list(model.parameters())
    with torch.no_grad():
        for p, arr in zip(params, data["params"]):
            p.copy_(torch.from_numpy(arr))
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"])
    loss_fn = F.cross_entropy if w.loss == "ce" else F.mse_loss
    opt = torch.optim.SGD(params, lr=w.lr)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return Runner(step, lambda: [p.grad.numpy() for p in params])


def _chain(w: Workload, data: dict) -> Runner:
    x = torch.tensor(data["x"], requires_grad=True)
    ops = [chain_op(i) for i in range(w.n_ops)]

    def step() -> float:
        x.grad = None
        h = x
        for op in ops:
            if op == "mul":
                h = h * CHAIN_MUL
            elif op == "add":
                h = h + CHAIN_ADD
            else:
                h = torch.tanh(h)
        out = h.sum()
        out.backward()
        return out.item()

    return Runner(step, lambda: [x.grad.numpy()])


def _fanin(w: Workload, data: dict) -> Runner:
    xs = [torch.tensor(row, requires_grad=True) for row in data["xs"]]
    grads: list = [None]

    def step() -> float:
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        out = total.sum()
        grads[0] = torch.autograd.grad(out, xs)
        return out.item()

    return Runner(step, lambda: [np.stack([g.numpy() for g in grads[0]])])
