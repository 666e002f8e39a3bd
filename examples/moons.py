"""Two moons: a 2-16-16-1 tanh MLP learns a curved decision boundary.

    python examples/moons.py                        # trains and prints train/test accuracy
    python examples/moons.py --plot moons.png       # loss curve and decision regions (matplotlib)

The data (1000 points, Gaussian noise 0.2, 800 train / 200 test) is generated
with NumPy alone. The model outputs a logit; the loss is BCEWithLogitsLoss and
the optimizer Adam (lr 0.01, minibatches of 64). With the defaults (seed 0,
100 epochs) it reaches 96.2% train and 98.0% test accuracy; over seeds 0 to 9
test accuracy ranges from 95.0% to 99.0% (the noise makes a few percent of
the points ambiguous). A progress bar shows when tqdm is installed.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import gradsight as gs

TARGET_ACCURACY = 0.95  # the exit status checks this


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X (n, 2), labels y (n,) in {0, 1}, shuffled."""
    n0 = n // 2
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    order = rng.permutation(n)
    return x[order], y[order]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=100, help="passes over the data (default 100)")
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--samples", type=int, default=1000, help="points in total (80%% train)")
    p.add_argument("--noise", type=float, default=0.2, help="std of the Gaussian noise")
    p.add_argument("--seed", type=int, default=0, help="seed for data, weights and batches")
    p.add_argument("--plot", metavar="PATH", help="save loss curve and decision regions to PATH")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def progress(iterable, enabled: bool, desc: str):
    """A tqdm progress bar when tqdm is installed and ``enabled``; else the iterable."""
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:
            return iterable
        return tqdm(iterable, desc=desc, leave=False)
    return iterable


def accuracy(model, x, y) -> float:
    with gs.no_grad():
        return float(np.mean((model(x).numpy()[:, 0] > 0) == y))


def train(args, x, y):
    """Minibatch Adam on BCE-with-logits; returns the model and the mean loss per epoch."""
    gs.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    model = gs.nn.MLP([2, 16, 16, 1], activation="tanh")
    loss_fn = gs.nn.BCEWithLogitsLoss()
    opt = gs.optim.Adam(model.parameters(), lr=args.lr)
    targets = y[:, None]
    history = []
    for _ in progress(range(args.epochs), not args.quiet, "epochs"):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), args.batch_size):
            idx = order[start : start + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), targets[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(x))
    return model, history


def save_plot(model, history, x, y, path: str) -> bool:
    """Loss curve and decision regions side by side; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("--plot needs matplotlib (pip install matplotlib); no plot written", file=sys.stderr)
        return False
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_map = fig.subplots(1, 2)
    ax_loss.plot(history)
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="BCE loss", title="training loss")
    (x0, y0), (x1, y1) = x.min(axis=0) - 0.3, x.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    with gs.no_grad():
        p = model(np.stack([gx.ravel(), gy.ravel()], 1)).sigmoid().numpy().reshape(gx.shape)
    ax_map.contourf(gx, gy, p, levels=20, cmap="RdBu_r", alpha=0.6)
    ax_map.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", s=8, edgecolors="k", linewidths=0.2)
    ax_map.set(title="P(class 1)", xlabel="x1", ylabel="x2")
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot saved to {path}")
    return True


def main(argv=None) -> dict:
    args = parse_args(argv)
    x, y = make_moons(args.samples, args.noise, np.random.default_rng(args.seed))
    n_train = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    print(
        f"two moons: {n_train} train / {len(x) - n_train} test points, noise {args.noise}; "
        f"2-16-16-1 tanh MLP, Adam(lr={args.lr}), {args.epochs} epochs"
    )
    model, history = train(args, x_train, y_train)
    train_acc, test_acc = accuracy(model, x_train, y_train), accuracy(model, x_test, y_test)
    print(
        f"final loss {history[-1]:.4f}; train accuracy {train_acc:.1%}, "
        f"test accuracy {test_acc:.1%}"
    )
    if args.plot:
        save_plot(model, history, x, y, args.plot)
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "losses": history}


if __name__ == "__main__":
    sys.exit(0 if main()["test_accuracy"] >= TARGET_ACCURACY else 1)
