"""``gradsight predict MODEL DATA``: a trained model's predictions as CSV."""

from __future__ import annotations

import argparse
import csv
import io
import sys

import numpy as np

from . import data as datasets
from . import model as model_file
from .errors import CliError, output_file, write_atomic

EXAMPLES = """\
examples:
  gradsight train moons --save moons.npz && gradsight predict moons.npz moons
  gradsight predict model.npz new.csv --out predictions.csv

Output columns: 'prediction', then for classification one 'p_<class>'
probability column per class, in full precision. The rows follow DATA.
If DATA also holds the model's target column, the accuracy (or RMSE) is
printed on stderr.
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
    p.set_defaults(run=run)


def run(args) -> int:
    out = output_file(args.out) if args.out and args.out != "-" else None
    trained = model_file.load(args.model)
    meta = trained.meta
    data = datasets.features_for(args.data, meta["features"])
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


def _score(data, trained, outputs) -> None:
    """If DATA holds the target column, report how well the model does on it."""
    meta, table = trained.meta, data.table
    name = meta.get("target")
    if data.target is not None:  # a built-in set
        labels = [datasets.label_text(v) for v in data.target]
    elif table is not None and name in table.columns:
        j = table.columns.index(name)
        labels = [row[j].strip() for row in table.rows]
    else:
        return
    try:
        if meta["task"] == "regress":
            y = np.array([float(v) for v in labels])
            rmse = float(np.sqrt(np.mean((outputs - y) ** 2)))
            print(f"rmse on {data.source}: {rmse:.6g} ({len(y)} rows)", file=sys.stderr)
            return
        classes = meta["classes"]
        numeric = {_canonical(c): c for c in classes}
        pred = [classes[k] for k in outputs.argmax(axis=1)]
        hits = sum(numeric.get(_canonical(t), t) == p for t, p in zip(labels, pred))
        acc = 100 * hits / len(labels)
        print(f"accuracy on {data.source}: {acc:.1f}% ({len(labels)} rows)", file=sys.stderr)
    except (ValueError, CliError):
        return  # a target column we cannot score is not an error for predict


def _canonical(label: str) -> str:
    """'1.0' and '1' are the same numeric class."""
    try:
        return datasets.label_text(float(label))
    except ValueError:
        return label
