"""``gradsight train``: an MLP on your own CSV (or a built-in data set), saved for ``predict``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import gradsight as gs
from gradsight.tracing import training_step

from . import data as datasets
from . import model as model_file
from . import options as opt
from . import prepare, torch_export
from . import table as tables
from .errors import CliError, output_dir, output_file
from .progress import ByteBar, Progress

EXAMPLES = """\
examples:
  gradsight train moons --layers 16,16 --epochs 50
  gradsight train houses.csv --target price --task regress --save price.npz
  gradsight train iris.csv --target species --ignore id --optimizer sgd --lr 0.1
  gradsight predict price.npz new_houses.csv --out predictions.csv

Data preparation: text feature columns are one-hot encoded; missing cells
('', NA, N/A, NaN, null, ?) are filled with the training rows' mean
(--missing mean, the default), or their rows dropped (drop), or refused
(error); rows without a target are always dropped. The separator, the
decimal mark, CR-only line ends and an unnamed index column (pandas'
to_csv) are recognised and said; a column numbering the rows is warned
about. Inputs are standardised with the training rows' mean and standard
deviation; what was learnt about the file, the encoding and the scaling are
saved with the weights, so predict reads new files the same way and
reproduces train's outputs.

Evaluation: classification holds out a stratified --val-split of each class,
drawn from --seed (which also seeds the weights and the shuffling); the
weights of the epoch with the lowest validation loss are kept.
"""

DEFAULT_LR = {"adam": 0.01, "sgd": 0.1}


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "train",
        parents=parents,
        help="train an MLP on a CSV file or a built-in data set",
        description="Train a multilayer perceptron on a CSV file (a header row naming the\n"
        "columns; number columns are inputs, text columns are one-hot encoded) or on a\n"
        "built-in data set: xor, moons, digits.\n"
        "Reports loss and accuracy (RMSE for regression) per epoch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", help="a CSV file, or xor | moons | digits")
    p.add_argument("--target", metavar="COL", help="the column to predict (needed for a CSV)")
    p.add_argument(
        "--ignore",
        metavar="COLS",
        type=opt.names,
        default=[],
        help="columns to leave out, by name or by position counted from 1 (the first column "
        "is 1, as in the error messages): id,name or 1,4",
    )
    p.add_argument(
        "--layers",
        type=opt.hidden_layers,
        default=[16, 16],
        metavar="SIZES",
        help="hidden layer sizes only, e.g. 16,16 (the default); 'none' (or 0) for no hidden "
        "layer; the input and output sizes come from the data",
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
    p.add_argument(
        "--seed",
        type=opt.seed,
        default=0,
        help="seeds the weights, the (stratified) split and the shuffling (default 0)",
    )
    p.add_argument(
        "--patience",
        type=opt.positive_int,
        metavar="N",
        help="stop when the validation loss has not improved for N epochs",
    )
    p.add_argument(
        "--missing",
        choices=("mean", "drop", "error"),
        default="mean",
        help="missing feature cells: fill with the training mean (default), drop the row, "
        "or stop with an error",
    )
    p.add_argument("--sep", type=separator, help="the column separator (default: sniffed)")
    p.add_argument("--decimal", type=decimal_mark, metavar="MARK", help=DECIMAL_HELP)
    p.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="float type of the data and the model; float32 halves the memory (default float64)",
    )
    p.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replay the training step as generated NumPy code (gs.trace; same results)",
    )
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model here")
    p.add_argument("--export-torch", metavar="FILE.pt", help=torch_export.HELP)
    p.add_argument(
        "--save-split", metavar="DIR", help="write the training and validation rows to DIR"
    )
    p.add_argument("--log-every", type=opt.positive_int, metavar="N", help="print every N epochs")
    p.set_defaults(run=run)


DECIMAL_HELP = (
    "the decimal mark of the numbers: '.' (commas may group thousands: 1,234.5) or ',' "
    "('.' and spaces group thousands: 1.234,5) (default: ',' when the separator is ';' "
    "and the cells are numbers written with a decimal comma, else '.')"
)


def decimal_mark(text: str) -> str:
    """``--decimal``: '.' or ',' (or 'point', 'dot', 'comma')."""
    named = {"point": ".", "dot": ".", "comma": ","}
    mark = named.get(text.strip().lower(), text.strip())
    if mark not in (".", ","):
        raise argparse.ArgumentTypeError(f"expected '.' or ',' as the decimal mark, got {text!r}")
    return mark


MEMORY_FACTOR = 2.5  # peak bytes while reading, per byte of the final feature matrix


def separator(text: str) -> str:
    """``--sep``: one character; 'tab' (or '\\t'), 'comma', 'semicolon' by name."""
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    sep = named.get(text.lower(), text)
    if len(sep) != 1 or sep in '"\r\n' or sep.isalnum():
        raise argparse.ArgumentTypeError(
            f"expected one separator character like ';' or 'tab', got {text!r}"
        )
    return sep


def memory_check(source: str, dtype: str):
    """A ``check(rows, width, factor)`` that refuses data whose (rows, width) matrix,
    times ``factor`` for the reading's peak, would not fit in the memory available."""
    itemsize = np.dtype(dtype).itemsize

    def check(rows: int, width: int, factor: float = MEMORY_FACTOR) -> None:
        need = int(rows * width * itemsize * factor)
        have = tables.available_memory()
        if have is not None and need > have:
            hint = "; --dtype float32 halves it" if itemsize == 8 else ""
            raise CliError(
                f"{source} needs about {tables.gib(need)} of memory to load ({rows:,} rows x "
                f"{width} inputs as {dtype}) but {tables.gib(have)} is available{hint}"
            )

    return check


def run(args) -> int:
    save_to = output_file(args.save) if args.save else None  # refuse before any work
    export_torch = torch_export.prepare(args.export_torch)  # None without --export-torch
    split_dir = output_dir(args.save_split) if args.save_split else None
    if not datasets.is_builtin(args.data) and args.target is None:
        source, names, _ = tables.read_header(args.data, args.sep)
        raise CliError(
            f"train needs --target COL for a CSV file; columns of {source}: "
            + ", ".join(map(repr, names))
        )
    data = _read(args)
    target = datasets.encode_target(data, args.task)
    for warning in data.warnings:
        print(f"gradsight: warning: {warning}", file=sys.stderr)
    _drop_rows(data, target, args.missing)
    train_idx, val_idx = prepare.split(
        target.y, target.task == "classify", args.val_split, args.seed
    )
    if split_dir is not None:
        _save_split(split_dir, data, target, train_idx, val_idx)
    fingerprint = np.sort(prepare.row_hashes(data.X, train_idx))  # before filling
    mean, std = _fill_and_scale(data, train_idx)
    trained = fit(data, target, train_idx, val_idx, args, mean, std)
    trained.train_rows = fingerprint
    if save_to is not None:
        model_file.save(save_to, trained)
        print(f"saved the model to {save_to} (use: gradsight predict {save_to} DATA.csv)")
    if split_dir is not None:
        print(
            f"wrote {len(train_idx)} training rows to {split_dir / 'train.csv'} and "
            f"{len(val_idx)} validation rows to {split_dir / 'val.csv'}"
        )
    if export_torch is not None:
        export_torch(trained)
    return 0


def _read(args) -> datasets.Dataset:
    """Load DATA with a byte progress bar on a terminal and a one-line summary."""
    if datasets.is_builtin(args.data):
        return datasets.load(args.data, args.target, dtype=args.dtype)
    size = tables.input_file(args.data, "data file").stat().st_size
    bar = ByteBar(size, "read", args.quiet)
    try:
        data = datasets.load(
            args.data,
            args.target,
            args.ignore,
            sep=args.sep,
            decimal=args.decimal,
            missing=args.missing,
            dtype=args.dtype,
            check_memory=memory_check(args.data, args.dtype),
            progress=bar,
        )
    finally:
        bar.close()
    f = data.frame
    rate = f.n_bytes / max(f.seconds, 1e-9) / 2**20
    print(
        f"read {data.source}: {f.n_rows:,} rows, {len(f.header)} columns in "
        f"{f.seconds:.2f} s ({rate:.0f} MiB/s)"
    )
    return data


def _drop_rows(data, target, policy: str) -> None:
    """Drop rows without a target, and with --missing drop rows with a missing cell."""
    keep = target.present()
    no_target = int(np.count_nonzero(~keep))
    if no_target:
        data.notes.append(f"dropped {no_target} row(s) without a target value")
    if policy == "drop":
        complete = prepare.rows_complete(data.X)
        incomplete = int(np.count_nonzero(keep & ~complete))
        if incomplete:
            data.notes.append(f"dropped {incomplete} row(s) with missing cells (--missing drop)")
        keep &= complete
    if keep.all():
        return
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise CliError(f"{data.source}: no rows left after dropping rows with missing values")
    data.X, target.y, data.rows = data.X[rows], target.y[rows], rows


def _fill_and_scale(data, train_idx) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing cells with the training means, then standardise X in place."""
    for c in data.columns:
        if c["kind"] == "category":
            shown = ", ".join(map(repr, c["values"][:5])) + (
                ", ..." if len(c["values"]) > 5 else ""
            )
            data.notes.append(f"one-hot encoded {c['name']!r} ({len(c['values'])} values: {shown})")
    holes = prepare.missing_per_column(data.X)
    if holes.any():
        fill = prepare.column_means(data.X, train_idx)
        prepare.fill_missing(data.X, fill)
        k, parts = 0, []
        for c in data.columns:
            width = 1 if c["kind"] == "number" else len(c["values"])
            if holes[k]:
                how = f"mean {fill[k]:.4g}" if width == 1 else "value frequencies"
                parts.append(f"{holes[k]} in {c['name']!r} (training {how})")
            k += width
        data.notes.append("filled missing cells: " + ", ".join(parts))
    mean, std = prepare.standardiser(data.X, train_idx, data.features)
    prepare.scale(data.X, mean, std)
    return mean, std


def _save_split(folder, data, target, train_idx, val_idx) -> None:
    """DIR/train.csv and DIR/val.csv: the original rows (the file's own text)."""
    from .splitfiles import write_split

    write_split(folder, data, target, train_idx, val_idx)


def fit(data, target, train_idx, val_idx, args, mean, std) -> model_file.Trained:
    """Train on standardised ``data.X``; keep the epoch with the lowest validation loss."""
    X, y = data.X, target.y
    t_mean, t_std = 0.0, 1.0
    if target.task == "regress":
        t_mean, t_std = prepare.standardiser(y[:, None], train_idx, [data.target_name])
        t_mean, t_std = float(t_mean[0]), float(t_std[0])
    n_out = model_file.output_size(target.task, target.classes)
    sizes = [X.shape[1], *args.layers, n_out]
    opt.check_model_size(sizes)
    gs.manual_seed(args.seed)
    net = gs.nn.MLP(sizes, activation=args.activation, dtype=args.dtype)
    meta = dict(
        sizes=sizes,
        activation=args.activation,
        task=target.task,
        features=data.features,
        target=data.target_name,
        classes=target.classes,
        columns=data.columns,
        dtype=args.dtype,
        missing=args.missing,
        dialect=data.dialect or {"sep": None, "decimal": "."},
        train_rows=len(train_idx),
    )
    trained = model_file.Trained(net, meta, mean, std, t_mean, t_std)
    lr = args.lr or DEFAULT_LR[args.optimizer]
    _describe(data, target, trained, args, lr, len(train_idx), len(val_idx))
    ys = ((y - t_mean) / t_std).astype(args.dtype) if target.task == "regress" else y
    optimizer = (
        gs.optim.Adam(net.parameters(), lr=lr)
        if args.optimizer == "adam"
        else gs.optim.SGD(net.parameters(), lr=lr, momentum=args.momentum)
    )
    run = _Loop(trained, X, y, ys, train_idx, val_idx, args, lr, optimizer)
    run.train()
    run.report()
    return trained


def _say_untraced(line: str) -> None:
    print(f"gradsight: warning: {line}", file=sys.stderr)


class _Loop:
    """The epochs: mini-batches drawn by index from X, shuffled per epoch from --seed."""

    def __init__(self, trained, X, y, ys, train_idx, val_idx, args, lr, optimizer):
        self.trained, self.X, self.y, self.ys = trained, X, y, ys
        self.train_idx, self.val_idx, self.args, self.lr = train_idx, val_idx, args, lr
        self.optimizer, self.loss_fn = optimizer, _loss(trained.meta)
        # zero_grad, loss, backward, update: traced by gs.trace unless --no-trace; a
        # refused trace or a verified replay that differs: one line, then eager
        self.step = training_step(
            trained.model, self.loss_fn, optimizer, args.trace, on_fallback=_say_untraced
        )
        self.best = (np.inf, 0, None)  # (validation loss, epoch, weights)
        self.epochs_run, self.stopped_early, self.seconds = 0, False, 0.0
        self.step_seconds = 0.0  # in the mini-batch steps (the rest: per-epoch metrics)

    def train(self) -> None:
        args, net = self.args, self.trained.model
        rng = np.random.default_rng(args.seed + 1)
        bar = Progress(args.epochs, "train", args.quiet, args.log_every, len(self.train_idx))
        start, wait = time.perf_counter(), 0
        # overflow shows up as a non-finite loss, reported below as one line, not as warnings
        with np.errstate(all="ignore"):
            try:
                for epoch in range(1, args.epochs + 1):
                    t0 = time.perf_counter()
                    self._epoch(rng, epoch, bar)
                    self.step_seconds += time.perf_counter() - t0
                    tr = evaluate(self.trained, self.X, self.y, self.train_idx)
                    _check_finite(tr["loss"], epoch, self.lr)  # the last step may overflow
                    va = evaluate(self.trained, self.X, self.y, self.val_idx)
                    self.epochs_run = epoch
                    wait = 0 if va is None or va["loss"] < self.best[0] else wait + 1
                    if va is not None and wait == 0:
                        state = {k: np.array(v) for k, v in net.state_dict().items()}
                        self.best = (va["loss"], epoch, state)
                    text = _metrics_text(self.trained, tr, va)
                    line = f"epoch {epoch:>{len(str(args.epochs))}}/{args.epochs}  {text}"
                    bar.update(epoch, line, postfix=text)
                    if args.patience and wait >= args.patience:
                        self.stopped_early = True
                        break
            finally:
                bar.close()
        self.seconds = time.perf_counter() - start
        if self.best[2] is not None:
            net.load_state_dict(self.best[2])

    def _epoch(self, rng, epoch: int, bar) -> None:
        batch = self.args.batch_size
        order = self.train_idx[rng.permutation(len(self.train_idx))]
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            loss = self.step(gs.from_numpy(self.X[rows]), self.ys[rows])
            _check_finite(loss.item(), epoch, self.lr)
            bar.step(len(rows))

    def report(self) -> None:
        args, (best_loss, best_epoch, _) = self.args, self.best
        if self.stopped_early:
            print(
                f"stopped after epoch {self.epochs_run}: no better validation loss for "
                f"{args.patience} epochs (--patience {args.patience})"
            )
        if best_epoch:
            print(
                f"kept the weights of epoch {best_epoch} of {self.epochs_run}, the lowest "
                f"validation loss ({best_loss:.4f})"
            )
        else:
            print(f"no validation rows: kept the weights of the last epoch ({self.epochs_run})")
        tr = evaluate(self.trained, self.X, self.y, self.train_idx)
        va = evaluate(self.trained, self.X, self.y, self.val_idx)
        print("final: " + _metrics_text(self.trained, tr, va))
        if self.trained.meta["task"] == "classify":
            for name, m in (("train", tr), ("val", va)):
                if m is not None:
                    counts = ", ".join(
                        f"{c} {r}/{t}"
                        for c, r, t in zip(self.trained.meta["classes"], m["right"], m["rows"])
                    )
                    print(f"{name} per class (right/rows): {counts}")
        rows = self.epochs_run * len(self.train_idx)
        print(
            f"trained {self.epochs_run} epoch{'s' if self.epochs_run != 1 else ''} x "
            f"{len(self.train_idx):,} rows in {self.step_seconds:.2f} s "
            f"({rows / max(self.step_seconds, 1e-9):,.0f} rows/s), "
            f"plus {self.seconds - self.step_seconds:.2f} s for the per-epoch metrics"
        )


def _check_finite(loss: float, epoch: int, lr: float) -> None:
    if not np.isfinite(loss):
        raise CliError(
            f"training diverged: the loss became {loss} in epoch {epoch} (learning rate "
            f"{lr:g} too high? try a smaller --lr); no model was saved"
        )


def _loss(meta):
    """The training objective on standardised outputs, as loss(logits, targets)."""
    F = gs.nn.functional
    if meta["task"] == "regress":
        return lambda z, t: F.mse_loss(z, t.reshape(-1, 1))
    if len(meta["classes"]) == 2:
        return lambda z, t: F.binary_cross_entropy_with_logits(z, t.reshape(-1, 1).astype(z.dtype))
    return lambda z, t: F.cross_entropy(z, t)


def evaluate(trained, Xs: np.ndarray, y: np.ndarray, idx: np.ndarray) -> dict | None:
    """Metrics of rows ``idx`` of the standardised ``Xs`` (None for no rows).

    loss: the training objective (cross-entropy, or the MSE of the
    standardised target); classification: acc, and per class the rows and
    right counts; regression (target units): rmse, mae, r2 = 1 - SS_res/SS_tot.
    """
    if len(idx) == 0:
        return None
    regress = trained.meta["task"] == "regress"
    sums = np.zeros(3)  # classify: nll, right; regress: squared, absolute error
    n_classes = 0 if regress else len(trained.meta["classes"])
    right = np.zeros(n_classes, dtype=np.int64)
    for s in prepare.blocks(len(idx)):
        rows = idx[s]
        out, t = trained.scaled_outputs(Xs[rows]), y[rows]
        if regress:
            err = out - t
            sums += [np.sum(err**2), np.sum(np.abs(err)), 0.0]
        else:
            p = np.clip(out[np.arange(len(t)), t], 1e-300, None)
            hit = out.argmax(axis=1) == t
            sums += [-np.sum(np.log(p)), np.count_nonzero(hit), 0.0]
            right += np.bincount(t[hit], minlength=n_classes)
    n = len(idx)
    if not regress:
        rows = np.bincount(y[idx], minlength=n_classes)
        return {"loss": sums[0] / n, "acc": sums[1] / n, "right": right, "rows": rows}
    mse = sums[0] / n
    ss_tot = float(np.sum((y[idx] - y[idx].mean()) ** 2))
    r2 = 1.0 - sums[0] / ss_tot if ss_tot > 0 else float("nan")
    loss = mse / trained.target_std**2
    return {"loss": loss, "rmse": np.sqrt(mse), "mae": sums[1] / n, "r2": r2}


def _metrics_text(trained, tr: dict, va: dict | None) -> str:
    texts = []
    for name, m in (("train", tr), ("val", va)):
        if m is None:
            continue
        if trained.meta["task"] == "regress":
            texts.append(
                f"{name} loss {m['loss']:.4f} rmse {m['rmse']:.4g} mae {m['mae']:.4g} "
                f"r2 {m['r2']:.3f}"
            )
        else:
            texts.append(f"{name} loss {m['loss']:.4f} acc {100 * m['acc']:.1f}%")
    return "  ".join(texts)


def _describe(data, target, trained, args, lr, n_train, n_val) -> None:
    what = f"classify, {len(target.classes)} classes" if target.task == "classify" else "regress"
    feats = ", ".join(data.features[:6]) + (", ..." if len(data.features) > 6 else "")
    sizes = trained.meta["sizes"]
    n_params = opt.parameter_count(sizes)
    built = (
        f"{args.activation} MLP{opt.layers_hint(sizes)}"
        if len(sizes) > 2
        else "linear model without hidden layer or activation"
    )
    print(
        f"data: {data.source}: {len(data.X)} rows, {len(data.features)} features ({feats}); "
        f"target {data.target_name!r}: {what}"
    )
    for note in data.notes:
        print(f"prepared: {note}")
    optim = f"{args.optimizer} lr {lr:g}" + (
        f" momentum {args.momentum:g}" if args.optimizer == "sgd" else ""
    )
    split = "stratified split" if target.task == "classify" else "shuffled split"
    print(
        f"model: {'-'.join(map(str, sizes))} {built} ({n_params:,} parameters), "
        f"{optim}, batch {args.batch_size}, {args.epochs} epoch{'s' if args.epochs != 1 else ''}; "
        f"{n_train} training rows, {n_val} validation rows ({split}, seed {args.seed})"
    )
