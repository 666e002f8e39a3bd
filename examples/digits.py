"""Handwritten digits: a softmax classifier MLP on scikit-learn's 8x8 digits.

    python examples/digits.py                    # 30 epochs, prints test accuracy
    python examples/digits.py --epochs 10        # the shorter run used in CI
    python examples/digits.py --plot digits.png  # also saves the loss curve (matplotlib)

Needs scikit-learn for the data set (1797 images, 8x8 pixels, 10 classes);
without it the script says so and exits. A stratified split keeps 20% of
each class for testing; pixels are standardised with training statistics.
The model is a 64-128-10 ReLU MLP whose logits go through softmax
cross-entropy, trained with Adam (lr 0.005 with cosine decay, minibatches
of 32). With the defaults (seed 0) it reaches 97.5% test accuracy after 30
epochs and 97.2% after 10; over seeds 0 to 7 test accuracy ranges from
97.2% to 98.9% after 30 epochs and from 96.9% to 99.2% after 10. A progress
bar shows when tqdm is installed.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import gradsight as gs

TARGET_ACCURACY = 0.95


def load_data(seed: int, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test) with a stratified split, or None without sklearn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        test[members[: round(test_fraction * len(members))]] = True
    train_idx, test_idx = rng.permutation(np.flatnonzero(~test)), np.flatnonzero(test)
    x_train, x_test = x[train_idx], x[test_idx]
    # standardise with training statistics; the floor keeps the almost constant
    # border pixels from blowing up
    mean, std = x_train.mean(axis=0), np.maximum(x_train.std(axis=0), 0.1)
    return (x_train - mean) / std, y[train_idx], (x_test - mean) / std, y[test_idx]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    p.add_argument(
        "--lr", type=float, default=5e-3, help="initial Adam learning rate (default 0.005)"
    )
    p.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="seed for split, weights and batches")
    p.add_argument("--plot", metavar="PATH", help="save the loss curve to PATH (matplotlib)")
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


def predict(model, x) -> np.ndarray:
    """Class with the highest softmax probability (the argmax of the logits)."""
    with gs.no_grad():
        return model(x).softmax(axis=-1).numpy().argmax(axis=1)


def train(args, x, y):
    """Minibatch Adam on softmax cross-entropy with a cosine learning-rate decay;
    returns the model and the mean loss per epoch."""
    gs.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    model = gs.nn.MLP([64, args.hidden, 10], activation="relu")
    loss_fn = gs.nn.CrossEntropyLoss()
    opt = gs.optim.Adam(model.parameters(), lr=args.lr)
    history = []
    bar = progress(range(args.epochs), not args.quiet, "epochs")
    for epoch in bar:
        # cosine decay from lr to 0, set through the optimizer's param_groups
        opt.param_groups[0]["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), args.batch_size):
            idx = order[start : start + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(x))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{history[-1]:.4f}")
    return model, history


def save_plot(losses, path: str) -> bool:
    """Write the loss curve (log scale) to ``path``; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("--plot needs matplotlib (pip install matplotlib); no plot written", file=sys.stderr)
        return False
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(range(1, len(losses) + 1), losses, marker="o", markersize=3)
    ax.set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="8x8 digits, training loss")
    fig.tight_layout()
    fig.savefig(path)
    print(f"loss curve saved to {path}")
    return True


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    data = load_data(args.seed)
    if data is None:
        print(
            "digits: this example needs scikit-learn for the data set "
            "(pip install scikit-learn); skipping"
        )
        return None
    x_train, y_train, x_test, y_test = data
    print(
        f"8x8 digits: {len(x_train)} train / {len(x_test)} test images; "
        f"64-{args.hidden}-10 ReLU MLP, softmax cross-entropy, Adam(lr={args.lr}, cosine decay), "
        f"{args.epochs} epochs"
    )
    model, history = train(args, x_train, y_train)
    train_acc = float(np.mean(predict(model, x_train) == y_train))
    pred = predict(model, x_test)
    test_acc = float(np.mean(pred == y_test))
    per_class = " ".join(f"{c}:{np.mean(pred[y_test == c] == c):.0%}" for c in range(10))
    print(f"per-class test accuracy  {per_class}")
    print(
        f"final loss {history[-1]:.4f}; train accuracy {train_acc:.1%}, "
        f"test accuracy {test_acc:.1%}"
    )
    if args.plot:
        save_plot(history, args.plot)
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "losses": history}


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result is None or result["test_accuracy"] >= TARGET_ACCURACY else 1)
