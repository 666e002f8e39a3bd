"""``gradsight train``: an MLP on your own CSV (or a built-in data set), saved for ``predict``."""

from __future__ import annotations

import argparse

import numpy as np

import gradsight as gs
from gradsight.tracing import training_step

from . import data as datasets
from . import model as model_file
from . import options as opt
from .errors import CliError, output_file
from .progress import Progress

EXAMPLES = """\
examples:
  gradsight train moons --layers 16,16 --epochs 50
  gradsight train houses.csv --target price --task regress --save price.npz
  gradsight train iris.csv --target species --ignore id --optimizer sgd --lr 0.1
  gradsight predict price.npz new_houses.csv --out predictions.csv

Inputs are standardised with the training rows' mean and standard deviation;
both are saved with the weights, so predict reproduces train's outputs.
"""

DEFAULT_LR = {"adam": 0.01, "sgd": 0.1}


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "train",
        parents=parents,
        help="train an MLP on a CSV file or a built-in data set",
        description="Train a multilayer perceptron on a CSV file (a header row naming the\n"
        "columns, numeric features) or on a built-in data set: xor, moons, digits.\n"
        "Reports loss and accuracy (RMSE for regression) per epoch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", help="a CSV file, or xor | moons | digits")
    p.add_argument("--target", metavar="COL", help="the column to predict (needed for a CSV)")
    p.add_argument(
        "--ignore", metavar="COLS", type=opt.names, default=[], help="columns to leave out: id,name"
    )
    p.add_argument(
        "--layers",
        type=opt.hidden_layers,
        default=[16, 16],
        metavar="SIZES",
        help="hidden layer sizes (default 16,16; inputs and outputs come from the data)",
    )
    p.add_argument("--activation", choices=model_file.ACTIVATIONS, default="tanh")
    p.add_argument(
        "--task",
        choices=("auto", "classify", "regress"),
        default="auto",
        help="auto: text labels or at most 20 distinct whole numbers classify, else regress",
    )
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument(
        "--lr", type=opt.positive_float, help="learning rate (default: adam 0.01, sgd 0.1)"
    )
    p.add_argument(
        "--momentum", type=opt.unit_interval, default=0.9, help="SGD momentum (default 0.9)"
    )
    p.add_argument("--epochs", type=opt.positive_int, default=100)
    p.add_argument("--batch-size", type=opt.positive_int, default=32)
    p.add_argument(
        "--val-split",
        type=opt.unit_interval,
        default=0.2,
        help="fraction of rows held out for validation (default 0.2)",
    )
    p.add_argument("--seed", type=opt.seed, default=0, help="weights, split and shuffling")
    p.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replay the training step as generated NumPy code (gs.trace; same results)",
    )
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model here")
    p.add_argument("--log-every", type=opt.positive_int, metavar="N", help="print every N epochs")
    p.set_defaults(run=run)


def run(args) -> int:
    save_to = output_file(args.save) if args.save else None  # refuse before any work
    data = datasets.load(args.data, args.target, args.ignore)
    if data.table is not None and args.target is None:
        raise CliError(
            f"train needs --target COL for a CSV file; columns of {data.source}: "
            + ", ".join(map(repr, data.table.columns))
        )
    target = datasets.encode_target(data, args.task)
    train_idx, val_idx = split(len(data.X), args.val_split, args.seed)
    trained = fit(data, target, train_idx, val_idx, args)
    if save_to is not None:
        model_file.save(save_to, trained)
        print(f"saved the model to {save_to} (use: gradsight predict {save_to} DATA.csv)")
    return 0


def split(n: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled row indices: (train, validation), floor(n * val_split) held out."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(n * val_split)
    if n - n_val < 1:
        raise CliError(f"--val-split {val_split} leaves no training rows out of {n}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def standardiser(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and standard deviation; a constant column gets std 1 (no scaling)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
        std = X.std(axis=0)
    bad = [n for n, m, s in zip(names, mean, std) if not (np.isfinite(m) and np.isfinite(s))]
    if bad:
        raise CliError(f"column(s) {', '.join(map(repr, bad))} hold values too large to scale")
    std[~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
    return mean, std


def fit(data, target, train_idx, val_idx, args) -> model_file.Trained:
    """Train and report per epoch; returns the model with its scaling and description."""
    X, y = data.X, target.y
    mean, std = standardiser(X[train_idx], data.features)
    t_mean, t_std = 0.0, 1.0
    if target.task == "regress":
        t_mean, t_std = standardiser(y[train_idx, None], [data.target_name])
        t_mean, t_std = float(t_mean[0]), float(t_std[0])
    n_out = model_file.output_size(target.task, target.classes)
    sizes = [X.shape[1], *args.layers, n_out]
    opt.check_model_size(sizes)
    gs.manual_seed(args.seed)
    net = gs.nn.MLP(sizes, activation=args.activation)
    meta = dict(
        sizes=sizes,
        activation=args.activation,
        task=target.task,
        features=data.features,
        target=data.target_name,
        classes=target.classes,
    )
    trained = model_file.Trained(net, meta, mean, std, t_mean, t_std)
    lr = args.lr or DEFAULT_LR[args.optimizer]
    _describe(data, target, trained, args, lr, len(train_idx), len(val_idx))

    Xs = (X - mean) / std
    ys = (y - t_mean) / t_std if target.task == "regress" else y
    optimizer = (
        gs.optim.Adam(net.parameters(), lr=lr)
        if args.optimizer == "adam"
        else gs.optim.SGD(net.parameters(), lr=lr, momentum=args.momentum)
    )
    loss_fn = _loss(target)
    step = training_step(net, loss_fn, optimizer, args.trace)  # traced unless --no-trace
    rng = np.random.default_rng(args.seed + 1)
    bar = Progress(args.epochs, "train", args.quiet, args.log_every)
    # overflow shows up as a non-finite loss, reported below as one line, not as warnings
    with np.errstate(all="ignore"):
        try:
            for epoch in range(1, args.epochs + 1):
                order = train_idx[rng.permutation(len(train_idx))]
                for start in range(0, len(order), args.batch_size):
                    rows = order[start : start + args.batch_size]
                    loss = step(gs.tensor(Xs[rows]), ys[rows])
                    _check_finite(loss.item(), epoch, lr)
                metrics = _metrics_text(trained, X, y, train_idx, val_idx)
                line = f"epoch {epoch:>{len(str(args.epochs))}}/{args.epochs}  {metrics}"
                bar.update(epoch, line, postfix=metrics)
            # the last step's update may have overflowed too
            _check_finite(evaluate(trained, X[train_idx], y[train_idx])[0], args.epochs, lr)
            final = _metrics_text(trained, X, y, train_idx, val_idx)
        finally:
            bar.close()
    print("final: " + final)
    return trained


def _check_finite(loss: float, epoch: int, lr: float) -> None:
    if not np.isfinite(loss):
        raise CliError(
            f"training diverged: the loss became {loss} in epoch {epoch} (learning rate "
            f"{lr:g} too high? try a smaller --lr); no model was saved"
        )


def _loss(target):
    """The training objective on standardised outputs, as loss(logits, targets)."""
    F = gs.nn.functional
    if target.task == "regress":
        return lambda z, t: F.mse_loss(z, t.reshape(-1, 1))
    if len(target.classes) == 2:
        return lambda z, t: F.binary_cross_entropy_with_logits(z, t.reshape(-1, 1).astype(z.dtype))
    return lambda z, t: F.cross_entropy(z, t)


def evaluate(trained, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(loss, score): score is accuracy for classification, RMSE (target units) for regression.

    The loss is the training objective: cross-entropy, or the MSE of the
    standardised target.
    """
    out = trained.outputs(X)
    if trained.meta["task"] == "regress":
        err = out - y
        return float(np.mean((err / trained.target_std) ** 2)), float(np.sqrt(np.mean(err**2)))
    p = np.clip(out[np.arange(len(y)), y], 1e-300, None)
    return float(-np.mean(np.log(p))), float(np.mean(out.argmax(axis=1) == y))


def _metrics_text(trained, X, y, train_idx, val_idx) -> str:
    parts = [("train", train_idx)] + ([("val", val_idx)] if len(val_idx) else [])
    texts = []
    for name, idx in parts:
        loss, score = evaluate(trained, X[idx], y[idx])
        if trained.meta["task"] == "regress":
            texts.append(f"{name} loss {loss:.4f} rmse {score:.4g}")
        else:
            texts.append(f"{name} loss {loss:.4f} acc {100 * score:.1f}%")
    return "  ".join(texts)


def _describe(data, target, trained, args, lr, n_train, n_val) -> None:
    what = f"classify, {len(target.classes)} classes" if target.task == "classify" else "regress"
    feats = ", ".join(data.features[:6]) + (", ..." if len(data.features) > 6 else "")
    sizes = trained.meta["sizes"]
    n_params = opt.parameter_count(sizes)
    print(
        f"data: {data.source}: {len(data.X)} rows, {len(data.features)} features ({feats}); "
        f"target {data.target_name!r}: {what}"
    )
    optim = f"{args.optimizer} lr {lr:g}" + (
        f" momentum {args.momentum:g}" if args.optimizer == "sgd" else ""
    )
    print(
        f"model: {'-'.join(map(str, sizes))} {args.activation} MLP ({n_params:,} parameters), "
        f"{optim}, batch {args.batch_size}, {args.epochs} epoch{'s' if args.epochs != 1 else ''}; "
        f"{n_train} training rows, {n_val} validation rows"
    )
