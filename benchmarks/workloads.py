"""The benchmark workloads and their seeded data, shared by every peer.

Three kinds of workload:

- ``mlp``: one training step of a fully connected network: forward, loss,
  backward, plain SGD update ``p -= lr * grad`` of every weight and bias.
  Layer ``i`` computes ``h @ W_i^T + b_i`` with ``W_i`` of shape (out, in), then
  the hidden activation (the output layer gets ``output`` instead). Losses:
  ``mse`` = mean((out - y)^2) over all elements; ``ce`` = mean softmax
  cross-entropy of (N, C) logits against (N,) integer labels; ``half_sse`` =
  sum((out - y)^2) / (2 N), the article's loss, written as the article writes it
  (``((y - t) ** 2).sum() / (2 * n)``; the ``ARTICLE`` rows).
- ``chain``: forward and backward through ``n_ops`` elementwise ops on one
  leaf vector of ``width`` floats. Op ``i`` is ``CHAIN_OPS[i % 3]``:
  ``x * 1.0001``, ``x + 0.001``, ``tanh(x)``; the output is ``sum(x)`` and the
  gradient is d sum / d x0. Nothing is updated.
- ``check``: gs.check.backprop of a hand-written NumPy network
  (benchmarks/check_net.py: tanh hidden layers, mean softmax cross-entropy),
  with its finite-difference witness (peer ``gradsight``) beside full central
  differences of every coordinate (peer ``numpy``, 2 forward calls each).
- ``fanin``: forward and backward of ``total = x_0 + x_1 + ... + x_{n-1}``
  over ``n_ops`` separate leaf vectors of ``width`` floats, added one at a
  time in a loop; the output is ``sum(total)`` and every leaf gets its own
  gradient array. Nothing is updated.

Every peer calls ``make_data`` itself and owns the arrays it gets (it may
update them in place), so all peers start from identical data and weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

SEED = 0
CHAIN_OPS = ("mul", "add", "tanh")
CHAIN_MUL = 1.0001
CHAIN_ADD = 0.001

ALL_PEERS = ("numpy", "gradsight", "gradsight_traced", "torch", "mygrad", "autograd", "micrograd")
GRAPH_PEERS = ("numpy", "gradsight", "torch")


@dataclass(frozen=True)
class Workload:
    """One benchmark row. ``peers`` lists who runs it (when installed)."""

    name: str
    title: str
    kind: str  # "mlp" | "chain" | "fanin" | "check"
    peers: tuple
    dtype: str = "float64"
    sizes: tuple = ()  # mlp layer widths, input first
    batch: int = 0
    activation: str = "relu"  # hidden layers: "relu" | "sigmoid"
    output: str = "identity"  # last layer: "identity" | "sigmoid"
    loss: str = "mse"  # "mse" | "ce" | "half_sse"
    inputs: str = "random"  # "random" | "xor" (the four XOR points and labels)
    lr: float = 0.1
    n_ops: int = 0  # chain length / number of fan-in terms
    width: int = 64  # floats per chain / fan-in vector
    repeats: int = 15  # timed samples per peer (full run)
    quick_repeats: int = 5
    memory: bool = True  # measure peak memory in a subprocess
    quick_memory: bool = False
    in_quick: bool = True  # part of --quick runs (unless named with --only)
    quick_peers: tuple = ()  # peers of --quick runs (default: all but micrograd)

    def peers_for(self, quick: bool) -> tuple:
        """Who runs this row in a full or a --quick run."""
        if not quick:
            return self.peers
        return self.quick_peers or tuple(k for k in self.peers if k != "micrograd")

    @property
    def count(self) -> int:
        """Ops in the graph, for per-op figures (0 for mlp rows)."""
        return self.n_ops if self.kind in ("chain", "fanin") else 0

    def tiny(self) -> Workload:
        """The same workload at toy size, for correctness tests."""
        if self.kind in ("mlp", "check"):
            sizes = tuple(min(s, 12) for s in self.sizes)
            return dataclasses.replace(self, sizes=sizes, batch=min(self.batch, 8))
        return dataclasses.replace(self, n_ops=min(self.n_ops, 30), width=min(self.width, 5))


WORKLOADS = (
    Workload(
        "xor",
        "XOR 2-4-1 sigmoid, batch 4, float64",
        "mlp",
        ALL_PEERS,
        sizes=(2, 4, 1),
        batch=4,
        activation="sigmoid",
        output="sigmoid",
        loss="mse",
        lr=0.5,
        inputs="xor",
        repeats=31,
        quick_repeats=7,
    ),
    Workload(
        "mlp_small",
        "2-16-16-1 relu, batch 100, float64",
        "mlp",
        ALL_PEERS,
        sizes=(2, 16, 16, 1),
        batch=100,
        activation="relu",
        loss="mse",
        lr=0.05,
        repeats=31,
        quick_repeats=7,
    ),
    Workload(
        "mlp_784",
        "784-256-256-10 relu + softmax CE, batch 128, float32",
        "mlp",
        ALL_PEERS[:6],
        dtype="float32",
        sizes=(784, 256, 256, 10),
        batch=128,
        loss="ce",
        lr=0.01,
        repeats=41,
        quick_repeats=7,
    ),
    Workload(
        "mlp_1024",
        "1024-1024-1024-10 relu + softmax CE, batch 512, float32",
        "mlp",
        ALL_PEERS[:6],
        dtype="float32",
        sizes=(1024, 1024, 1024, 10),
        batch=512,
        loss="ce",
        lr=0.01,
        repeats=31,
        quick_repeats=5,
        quick_memory=True,
    ),
    Workload(
        "chain_3k",
        "chain of 3,000 elementwise ops on 64 floats, fwd+bwd",
        "chain",
        ALL_PEERS,
        n_ops=3_000,
        repeats=31,
        quick_repeats=5,
    ),
    Workload(
        "chain_20k",
        "chain of 20,000 elementwise ops on 64 floats, fwd+bwd",
        "chain",
        ("numpy", "gradsight", "gradsight_traced", "torch", "mygrad", "autograd"),
        n_ops=20_000,
        repeats=7,
        quick_repeats=3,
        memory=False,
        quick_peers=GRAPH_PEERS,
    ),
    Workload(
        "chain_100k",
        "chain of 100,000 elementwise ops on 64 floats, fwd+bwd",
        "chain",
        ("numpy", "gradsight", "torch"),
        n_ops=100_000,
        repeats=5,
        quick_repeats=2,
        memory=False,
        in_quick=False,
    ),
    Workload(
        "fanin_100k",
        "fan-in sum of 100,000 vectors of 4 floats, fwd+bwd",
        "fanin",
        GRAPH_PEERS,
        n_ops=100_000,
        width=4,
        repeats=5,
        quick_repeats=2,
        memory=False,
        in_quick=False,
    ),
)

WORKLOADS += (
    Workload(
        "check_784",
        "gs.check of hand backprop, 784-128-10 tanh + softmax CE, 64 samples (101,770 "
        "parameters): witness vs full finite differences",
        "check",
        ("numpy", "gradsight"),
        sizes=(784, 128, 10),
        batch=64,
        loss="ce",
        repeats=2,  # full differences: 203,540 forward calls a run
        quick_repeats=1,
        memory=False,
        in_quick=False,
    ),
)

# The step as the article writes it: gs.nn.MLP with sigmoid layers, the loss
# ((y - t) ** 2).sum() / (2 * n), plain SGD; gs.trace's replay beside the same math by
# hand in NumPy (python -m benchmarks.article; not part of the full run).
_ARTICLE = dict(
    kind="mlp",
    peers=("numpy", "gradsight_traced"),
    activation="sigmoid",
    output="sigmoid",
    loss="half_sse",
    memory=False,
    in_quick=False,
)
ARTICLE = (
    Workload(
        "article_xor",
        "XOR 2-4-1, batch 4, float64",
        sizes=(2, 4, 1),
        batch=4,
        lr=0.5,
        inputs="xor",
        repeats=41,
        **_ARTICLE,
    ),
    Workload(
        "article_small",
        "2-16-16-1, batch 100, float64",
        sizes=(2, 16, 16, 1),
        batch=100,
        lr=0.5,
        repeats=41,
        **_ARTICLE,
    ),
    Workload(
        "article_784",
        "784-256-256-10, batch 128, float32",
        dtype="float32",
        sizes=(784, 256, 256, 10),
        batch=128,
        lr=0.5,
        repeats=41,
        **_ARTICLE,
    ),
    Workload(
        "article_1024",
        "1024-1024-1024-10, batch 512, float32",
        dtype="float32",
        sizes=(1024, 1024, 1024, 10),
        batch=512,
        lr=0.5,
        repeats=21,
        **_ARTICLE,
    ),
)

BY_NAME = {w.name: w for w in WORKLOADS}
BY_NAME.update((w.name, w) for w in ARTICLE)


def chain_op(i: int) -> str:
    """The i-th op of a chain workload."""
    return CHAIN_OPS[i % 3]


def make_data(w: Workload, seed: int = SEED) -> dict:
    """Fresh, seeded inputs and initial weights for ``w`` (identical on every call).

    mlp: ``x`` (batch, in), ``y`` (batch, out) floats for mse or (batch,) int64
    labels for ce, ``params`` = [W1 (h1, in), b1 (h1,), W2, b2, ...] drawn from
    U(-1/sqrt(in), 1/sqrt(in)) like PyTorch's Linear. chain: ``x`` (width,).
    fanin: ``xs`` (n_ops, width).
    """
    rng = np.random.default_rng(seed)
    dt = np.dtype(w.dtype)
    if w.kind == "chain":
        return {"x": rng.uniform(-1.0, 1.0, w.width).astype(dt)}
    if w.kind == "fanin":
        return {"xs": rng.uniform(-1.0, 1.0, (w.n_ops, w.width)).astype(dt)}
    params = []
    for fan_in, fan_out in zip(w.sizes[:-1], w.sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dt))
        params.append(rng.uniform(-bound, bound, fan_out).astype(dt))
    n_in, n_out = w.sizes[0], w.sizes[-1]
    if w.inputs == "xor":
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dt)[: w.batch]
        y = np.array([[0], [1], [1], [0]], dtype=dt)[: w.batch]
        return {"x": x, "y": y, "params": params}
    x = rng.standard_normal((w.batch, n_in)).astype(dt)
    if w.loss == "ce":
        y = rng.integers(0, n_out, w.batch).astype(np.int64)
    else:
        y = np.sin(x[:, :1] * 2.0) * np.cos(x[:, -1:]) + 0.1 * rng.standard_normal((w.batch, 1))
        y = np.repeat(y, n_out, axis=1).astype(dt)
    return {"x": x, "y": y, "params": params}
