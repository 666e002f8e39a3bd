"""The article's network: XOR with a 2-4-1 sigmoid MLP, MSE loss and SGD with momentum.

    python examples/xor.py                      # trains to MSE < 0.01 and prints the table
    python examples/xor.py --plot xor-loss.png  # also saves the loss curve (needs matplotlib)

The momentum rule is the article's dw(t) = -lr * dL/dw + momentum * dw(t-1).
With the defaults (seed 0) the loss first falls below 0.01 at epoch 227 and
ends at 2.5e-4 after 2000 epochs; every seed from 0 to 19 gets below 0.01
within 600 epochs.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import gradsight as gs

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])
TARGET = 0.01


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2000, help="full-batch steps (default 2000)")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate eta (default 0.5)")
    p.add_argument("--momentum", type=float, default=0.9, help="momentum alpha (default 0.9)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial weights")
    p.add_argument("--plot", metavar="PATH", help="save the loss curve to PATH (matplotlib)")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    return p.parse_args(argv)


def train(args) -> tuple[gs.nn.Module, list[float]]:
    """Full-batch training; returns the model and the loss of every epoch."""
    gs.manual_seed(args.seed)
    model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
    loss_fn = gs.nn.MSELoss()
    opt = gs.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    losses = []
    for epoch in range(args.epochs):
        opt.zero_grad()
        loss = loss_fn(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if not args.quiet and (epoch % 200 == 0 or epoch == args.epochs - 1):
            print(f"epoch {epoch:5d}  loss {losses[-1]:.6f}")
    return model, losses


def save_plot(losses, path: str, title: str) -> bool:
    """Write the loss curve (log scale) to ``path``; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("--plot needs matplotlib (pip install matplotlib); no plot written", file=sys.stderr)
        return False
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(losses)
    ax.set(yscale="log", xlabel="epoch", ylabel="loss", title=title)
    fig.tight_layout()
    fig.savefig(path)
    print(f"loss curve saved to {path}")
    return True


def main(argv=None) -> dict:
    args = parse_args(argv)
    print(
        f"XOR: 2-4-1 sigmoid MLP, MSE, SGD(lr={args.lr}, momentum={args.momentum}), "
        f"seed {args.seed}"
    )
    model, losses = train(args)
    with gs.no_grad():
        out = model(X).numpy()[:, 0]
    reached = next((i for i, v in enumerate(losses) if v < TARGET), None)
    print("\n x1 x2 | target | output")
    for (a, b), t, o in zip(X, Y[:, 0], out):
        print(f"  {a:.0f}  {b:.0f} |   {t:.0f}    | {o:.4f}")
    final = losses[-1] if losses else float("nan")
    status = (
        f"loss < {TARGET} first at epoch {reached}"
        if reached is not None
        else (f"loss never went below {TARGET}")
    )
    print(f"\nfinal MSE {final:.6f} after {len(losses)} epochs ({status})")
    if args.plot:
        save_plot(losses, args.plot, "XOR 2-4-1, SGD with momentum")
    return {"final_loss": final, "reached_epoch": reached, "outputs": out, "losses": losses}


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result["final_loss"] < TARGET else 1)
