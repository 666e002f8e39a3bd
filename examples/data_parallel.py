"""Onward to PyTorch: a gradsight model trained data-parallel in two processes.

    python examples/data_parallel.py                  # 2 processes on this machine (gloo, CPU)
    python examples/data_parallel.py --steps 200 --out dp-out

The story of docs/onward.md in one script:

1. build a 2-16-1 tanh MLP in gradsight and train it there for ``--warmup`` steps;
2. export it with ``gs.nn.to_torch`` (same weights, same state_dict keys, float64);
3. continue for ``--steps`` steps with ``torch.distributed``: ``--world-size``
   processes on 127.0.0.1 with the gloo backend, each wrapping the model in
   ``DistributedDataParallel`` and taking its share of every global batch. DDP
   averages the gradients across the processes (an all-reduce), so every rank
   makes the same SGD update, the one a single process makes on the whole
   global batch. The optimizer starts afresh in PyTorch: ``to_torch`` carries the
   weights, not gradsight's momentum buffers.

Each rank writes its final state_dict to ``OUT/rank<r>.pt`` (a plain state_dict:
``torch.load(path, weights_only=True)``); the script then checks that the ranks
agree and that they equal gradsight's own single-process training on the same
global batches, and prints the largest difference of each.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

import numpy as np

import gradsight as gs


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """XOR of signs: X (n, 2) standard normal, y (n, 1) = 1 where x0 * x1 > 0."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return X, (X[:, :1] * X[:, 1:] > 0).astype(np.float64)


def batch_rows(step: int, batch_size: int, n: int) -> np.ndarray:
    """The rows of global batch ``step``: consecutive rows, wrapping around the data."""
    return (step * batch_size + np.arange(batch_size)) % n


def initial_model(args) -> gs.nn.Module:
    """The seeded gradsight MLP after ``args.warmup`` steps of gradsight training."""
    gs.manual_seed(args.seed)
    model = gs.nn.MLP([2, 16, 1], activation="tanh")
    return train_gradsight(model, args, first_step=0, steps=args.warmup)


def train_gradsight(model: gs.nn.Module, args, first_step: int, steps: int) -> gs.nn.Module:
    """Single-process SGD (momentum) on the whole global batch of each step."""
    X, y = make_data(args.samples, args.seed)
    opt = gs.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = gs.nn.BCEWithLogitsLoss()
    for step in range(first_step, first_step + steps):
        rows = batch_rows(step, args.batch_size, len(X))
        opt.zero_grad()
        loss_fn(model(gs.tensor(X[rows])), y[rows]).backward()
        opt.step()
    return model


def worker(rank: int, args, port: int) -> None:
    """One process of the data-parallel run: its shard of every global batch."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo on the loopback interface
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.world_size
    )
    try:
        model = DistributedDataParallel(gs.nn.to_torch(initial_model(args)))
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        loss_fn = torch.nn.BCEWithLogitsLoss()  # the mean over this rank's shard
        X, y = (torch.from_numpy(a) for a in make_data(args.samples, args.seed))
        shard = args.batch_size // args.world_size
        for step in range(args.warmup, args.warmup + args.steps):
            rows = batch_rows(step, args.batch_size, len(X))[rank * shard : (rank + 1) * shard]
            opt.zero_grad()
            loss_fn(model(X[rows]), y[rows]).backward()  # DDP all-reduces (averages) the grads
            opt.step()
        torch.save(model.module.state_dict(), Path(args.out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world-size", type=int, default=2, help="processes (default 2)")
    p.add_argument("--warmup", type=int, default=20, help="gradsight steps first (default 20)")
    p.add_argument("--steps", type=int, default=50, help="data-parallel steps (default 50)")
    p.add_argument("--batch-size", type=int, default=64, help="global batch (default 64)")
    p.add_argument("--samples", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="dp-out", help="folder for rank<r>.pt (default dp-out)")
    args = p.parse_args(argv)
    if args.world_size < 1 or args.batch_size % args.world_size:
        p.error(f"--batch-size {args.batch_size} must split evenly over {args.world_size} ranks")
    return args


def main(argv=None) -> dict:
    """Run the ranks, compare them; returns the largest differences found."""
    import torch
    import torch.multiprocessing as mp

    args = parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    mp.spawn(worker, args=(args, free_port()), nprocs=args.world_size, join=True)
    ranks = [
        torch.load(Path(args.out) / f"rank{r}.pt", weights_only=True)
        for r in range(args.world_size)
    ]
    single = train_gradsight(initial_model(args), args, args.warmup, args.steps).state_dict()
    between = max(float((ranks[0][k] - r[k]).abs().max()) for r in ranks for k in single)
    vs_single = max(float(np.abs(ranks[0][k].numpy() - v).max()) for k, v in single.items())
    print(f"{args.world_size} ranks x {args.steps} steps (after {args.warmup} on gradsight)")
    print(f"largest difference between ranks: {between:.3g}")
    print(f"largest difference from single-process gradsight training: {vs_single:.3g}")
    print(f"state_dicts in {args.out}/rank*.pt")
    return {"between_ranks": between, "vs_single": vs_single}


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result["between_ranks"] == 0 and result["vs_single"] < 1e-12 else 1)
