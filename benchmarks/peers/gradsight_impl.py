"""gradsight through its public API: gs.nn.MLP, gs.nn.functional losses, gs.optim.SGD."""

from __future__ import annotations

import numpy as np

import gradsight as gs
from benchmarks.peers import Runner
from benchmarks.workloads import CHAIN_ADD, CHAIN_MUL, Workload, chain_op


def version() -> str:
    return gs.__version__


def build(w: Workload, data: dict) -> Runner:
    return {"mlp": _mlp, "chain": _chain, "fanin": _fanin, "check": _check}[w.kind](w, data)


def _check(w: Workload, data: dict) -> Runner:
    """gs.check.backprop of the hand network with the finite-difference witness."""
    from benchmarks import check_net

    p, x, y = check_net.as_params(data["params"]), data["x"], data["y"]
    last = {}

    def step() -> float:
        report = gs.check.backprop(
            check_net.forward, check_net.backward, p, x, y, finite_differences="witness"
        )
        if not report.ok:
            raise AssertionError(f"gs.check failed on the correct hand network:\n{report}")
        last["report"] = report
        return report.loss

    def grads() -> list:  # autograd's side, as the check computed it
        _, tensors = last["report"].graph
        return [gs.autograd.grad(last["report"].graph[0], tensors[n], retain_graph=True)[0]
                .numpy() for n in check_net.names(len(p) // 2)]  # fmt: skip

    return Runner(step, grads)


def mlp_parts(w: Workload, data: dict) -> tuple:
    """(model, x, y, loss_fn, optimizer) for an mlp workload, weights from ``data``."""
    F = gs.nn.functional
    output = "sigmoid" if w.output == "sigmoid" else None
    model = gs.nn.MLP(w.sizes, activation=w.activation, output_activation=output, dtype=w.dtype)
    names = [name for name, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, data["params"])))
    loss_fn = {"ce": F.cross_entropy, "mse": F.mse_loss, "half_sse": _article_loss(w.batch)}[w.loss]
    opt = gs.optim.SGD(model.parameters(), lr=w.lr)
    return model, gs.tensor(data["x"]), gs.tensor(data["y"]), loss_fn, opt


def _article_loss(n: int):
    """The article's loss, as it writes it: half the summed squared error over n samples."""

    def loss(y, t):
        return ((y - t) ** 2).sum() / (2 * n)

    return loss


def _mlp(w: Workload, data: dict) -> Runner:
    model, x, y, loss_fn, opt = mlp_parts(w, data)
    params = list(model.parameters())

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return Runner(step, lambda: [p.grad.numpy() for p in params])


def _chain(w: Workload, data: dict) -> Runner:
    x = gs.tensor(data["x"], requires_grad=True)
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
                h = h.tanh()
        out = h.sum()
        out.backward()
        return out.item()

    return Runner(step, lambda: [x.grad.numpy()])


def _fanin(w: Workload, data: dict) -> Runner:
    xs = [gs.tensor(row, requires_grad=True) for row in data["xs"]]
    grads: list = [None]

    def step() -> float:
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        out = total.sum()
        grads[0] = gs.autograd.grad(out, xs)
        return out.item()

    return Runner(step, lambda: [np.stack([g.numpy() for g in grads[0]])])
