"""``gradsight predict MODEL DATA``: a trained model's predictions as CSV."""

from __future__ import annotations

import argparse
import csv
import io
import sys

import numpy as np

from . import data as datasets
from . import model as model_file
from . import prepare
from .errors import output_file, write_atomic
from .progress import ByteBar
from .train import decimal_mark, separator

EXAMPLES = """\
examples:
  gradsight train moons --save moons.npz && gradsight predict moons.npz moons
  gradsight predict model.npz new.csv --out predictions.csv

Output columns: 'prediction', then for classification one 'p_<class>'
probability column per class, with 6 significant digits (--digits). The rows follow DATA.
Text columns are encoded as in training (a value training never saw gives
all zeros, and is counted); missing cells are filled with the training means,
unless the model was trained with --missing error. On stderr: how many of
the rows were training rows of the model (from its fingerprint of them),
and, if DATA holds the target column, the accuracy (or RMSE, MAE and R2)
on the rows whose label the model knows.
"""


def add_parser(sub, parents) -> None:
    from .options import significant_digits

    p = sub.add_parser(
        "predict",
        parents=parents,
        help="predict with a model saved by 'gradsight train --save'",
        description="Load a model saved by 'gradsight train --save' and write its\n"
        "predictions for DATA (a CSV holding the model's feature columns, by name).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL.npz", help="a model written by 'gradsight train'")
    p.add_argument("data", metavar="DATA", help="a CSV file, or xor | moons | digits")
    p.add_argument(
        "--digits",
        type=significant_digits,
        default=6,
        metavar="N",
        help="significant digits of each number, 1 to 17 (default 6; 17 reads back exactly)",
    )
    p.add_argument("--out", metavar="FILE", help="write the CSV here (default: stdout)")
    p.add_argument(
        "--sep",
        type=separator,
        help="the column separator of DATA (default: the training file's if DATA's header "
        "splits into the model's columns with it, else sniffed)",
    )
    p.add_argument(
        "--decimal",
        type=decimal_mark,
        metavar="MARK",
        help="the decimal mark of DATA's numbers, '.' or ',' (default: the training file's "
        "when DATA has its separator, else as train decides it)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    out = output_file(args.out) if args.out and args.out != "-" else None
    trained = model_file.load(args.model)
    meta = trained.meta
    data = _read(args, meta)
    _fill(data, trained)
    outputs = trained.outputs(data.X)
    text = to_csv(outputs, meta, args.digits)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(out, text)
        print(f"wrote {len(data.X)} predictions to {out}", file=sys.stderr)
    _score(data, trained, outputs)
    return 0


def _read(args, meta) -> datasets.Dataset:
    bar = None
    if not datasets.is_builtin(args.data):
        size = datasets.tables.input_file(args.data, "data file").stat().st_size
        bar = ByteBar(size, "read", args.quiet)
    try:
        return datasets.features_for(args.data, meta, meta["dtype"], bar, args.sep, args.decimal)
    finally:
        if bar is not None:
            bar.close()


def _fill(data, trained) -> None:
    """Count training rows (by fingerprint), then fill missing cells with the training means."""
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    n = len(data.X)
    for note in data.notes:
        say(note)
    if trained.meta.get("old_fingerprint"):
        say(
            "the model's fingerprint of its training rows is of an older kind and is not "
            "used: train it again to have predict count training rows"
        )
    if trained.train_rows is not None:
        seen = prepare.count_known(prepare.row_hashes(data.X), trained.train_rows)
        note = " (a score on them is not a held-out score)" if seen else ""
        say(f"{seen} of {n} rows are rows the model was trained on{note}")
    if data.frame is not None:
        for name, col in data.frame.columns.items():
            if col.fixed_vocab and col.unknown:
                say(
                    f"{col.unknown} cell(s) of {name!r} hold a value training never saw "
                    "(encoded as all zeros)"
                )
    if prepare.missing_per_column(data.X).any():
        prepare.fill_missing(data.X, trained.mean)
        cells = sum(c.missing for n, c in data.frame.columns.items() if n != data.target_name)
        say(f"filled {cells} missing cell(s) with the training means")


def to_csv(outputs: np.ndarray, meta: dict, digits: int = 6) -> str:
    """Predictions as CSV text, each number with ``digits`` significant digits
    (``%.<digits>g``; 17 digits read back as exactly the same float64)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    num = f"{{:.{digits}g}}".format
    if meta["task"] == "regress":
        w.writerow(["prediction"])
        w.writerows([num(float(v))] for v in outputs)
    else:
        classes = meta["classes"]
        w.writerow(["prediction", *(f"p_{c}" for c in classes)])
        best = outputs.argmax(axis=1)
        for k, row in zip(best, outputs):
            w.writerow([classes[k], *(num(float(v)) for v in row)])
    return buf.getvalue()


def _labels(data) -> list[str] | None:
    """The target column's text per row (None where missing), or None without one."""
    if data.task is not None:  # a built-in set
        return [datasets.label_text(v) for v in data.target]
    col = data.target
    if col is None:
        return None
    values = col.values()
    codes = np.concatenate(col.parts) if col.parts else np.zeros(0, dtype=np.int32)
    return [values[c] if c >= 0 else None for c in codes.tolist()]


def _score(data, trained, outputs) -> None:
    """If DATA holds the target column, report how well the model does on it."""
    labels = _labels(data)
    if labels is None:
        return
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    blank = sum(v is None for v in labels)
    if trained.meta["task"] == "regress":
        decimal = data.frame.decimal if data.frame is not None else "."
        y = np.array([_float(v, decimal) for v in labels])
        ok = ~np.isnan(y)
        skipped = int(np.count_nonzero(~ok))
        if skipped:
            say(f"{skipped} row(s) without a numeric target value are not scored")
        if not ok.any():
            return
        err = outputs[ok] - y[ok]
        ss_tot = float(np.sum((y[ok] - y[ok].mean()) ** 2))
        r2 = 1 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan")
        say(
            f"rmse on {data.source}: {np.sqrt(np.mean(err**2)):.6g}, mae "
            f"{np.mean(np.abs(err)):.6g}, r2 {r2:.4f} ({int(ok.sum())} rows)"
        )
        return
    classes = trained.meta["classes"]
    decimal = data.frame.decimal if data.frame is not None else "."
    index = {_canonical(c): k for k, c in enumerate(classes)}
    y = np.array([index.get(_canonical(v, decimal), -1) if v is not None else -1 for v in labels])
    unknown = int(np.count_nonzero(y < 0)) - blank
    if blank or unknown:
        say(
            f"not scored: {blank} row(s) without a label, {unknown} with a label the model "
            f"does not know (it knows {', '.join(classes)})"
        )
    ok = y >= 0
    if not ok.any():
        return
    acc = 100 * float(np.mean(outputs[ok].argmax(axis=1) == y[ok]))
    say(f"accuracy on {data.source}: {acc:.1f}% ({int(ok.sum())} rows)")


def _float(v, decimal: str = ".") -> float:
    """A target cell as a number (NaN if it is none), read with the file's decimal mark."""
    if v is None:
        return float("nan")
    x = datasets.tables.number(str(v), decimal)
    return float("nan") if x is None else x


def _canonical(label: str, decimal: str = ".") -> str:
    """'1.0' and '1' are the same numeric class (and '1,0' with a decimal comma)."""
    x = datasets.tables.number(label, decimal)
    if x is None or not np.isfinite(x):
        return label
    return datasets.label_text(x)
