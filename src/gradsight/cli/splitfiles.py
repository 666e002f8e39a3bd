"""``train --save-split DIR``: the training and validation rows as two CSV files.

For a CSV the rows are the file's own (header included, cells as written),
streamed in a second pass; for a built-in set they are its numbers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import CliError, write_atomic_with


def write_split(folder: Path, data, target, train_idx: np.ndarray, val_idx: np.ndarray) -> None:
    """Write ``folder/train.csv`` and ``folder/val.csv`` (each atomically)."""
    kept = data.rows if data.rows is not None else np.arange(len(data.X))
    n = data.frame.n_rows if data.frame is not None else len(data.X)
    role = np.zeros(n, dtype=np.int8)  # 0: dropped, 1: train, 2: validation
    role[kept[train_idx]] = 1
    role[kept[val_idx]] = 2
    for name, which in (("train.csv", 1), ("val.csv", 2)):
        if data.frame is None:
            write_atomic_with(folder / name, lambda tmp: _builtin_rows(tmp, data, role == which))
        else:
            write_atomic_with(folder / name, lambda tmp: _file_rows(tmp, data, role, which))


def _builtin_rows(path: str, data, mask: np.ndarray) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*data.features, data.target_name])
        for x, t in zip(data.X[mask], np.asarray(data.target)[mask]):
            w.writerow([*(repr(float(v)) for v in x), repr(t.item() if hasattr(t, "item") else t)])


def _file_rows(path: str, data, role: np.ndarray, which: int) -> None:
    sep = data.frame.sep
    try:
        with (
            open(data.source, encoding="utf-8-sig", newline="") as src,
            open(path, "w", encoding="utf-8", newline="") as out,
        ):
            reader = csv.reader(src, delimiter=sep)
            writer = csv.writer(out, delimiter=sep, lineterminator="\n")
            header, i = None, 0
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    header = row
                    writer.writerow(row)
                    continue
                if i < len(role) and role[i] == which:
                    writer.writerow(row)
                i += 1
    except OSError as err:
        raise CliError(f"cannot write the split: {err.strerror or err}") from None
