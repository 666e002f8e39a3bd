"""Data for the command line: strict CSV reading and the built-in data sets.

Every problem in a file is reported as a CliError naming the file, the line
(1-based, the header is line 1), the column (number and name) and the value.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .errors import CliError, input_file, short

BUILTIN = ("xor", "moons", "digits")
MAX_AUTO_CLASSES = 20  # --task auto: integer targets with at most this many values classify


@dataclass
class Table:
    """A CSV file as text: the header and the data rows with their line numbers."""

    source: str
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]

    def index(self, name: str, role: str = "column") -> int:
        if name in self.columns:
            return self.columns.index(name)
        hint = ""
        if all(_number(c) is not None for c in self.columns):
            hint = " (the first line looks like data: the file needs a header row naming columns)"
        raise CliError(
            f"{role} '{name}' not found in {self.source}; available columns: "
            + ", ".join(repr(c) for c in self.columns)
            + hint
        )

    def where(self, i: int, j: int) -> str:
        return f"{self.source}, line {self.lines[i]}, column {j + 1} ({self.columns[j]!r})"


@dataclass
class Dataset:
    """Features as a float64 matrix, plus the target (raw text or numbers) if any."""

    source: str
    X: np.ndarray  # (n, d) float64, finite
    features: list[str]
    target_name: str | None = None
    target: list | None = None  # per row: text from a CSV, or a number for built-ins
    table: Table | None = field(default=None, repr=False)
    target_col: int | None = None
    task: str | None = None  # fixed by a built-in data set


def read_csv(path: str) -> Table:
    """Read a comma-separated file with a header row; blank lines are skipped."""
    p = input_file(path, "data file")
    source = str(p)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            try:
                for row in reader:
                    if not any(cell.strip() for cell in row):
                        continue
                    if header is None:
                        header = _header(row, source)
                    elif len(row) != len(header):
                        raise CliError(
                            f"{source}, line {reader.line_num}: {len(row)} fields, "
                            f"but the header has {len(header)} columns"
                        )
                    else:
                        rows.append(row)
                        lines.append(reader.line_num)
            except csv.Error as err:
                raise CliError(f"{source}, line {reader.line_num}: not valid CSV ({err})") from None
    except UnicodeDecodeError as err:
        raise CliError(
            f"{source} is not UTF-8 text (undecodable byte at offset {err.start})"
        ) from None
    except OSError as err:
        raise CliError(f"cannot read {source}: {err.strerror or err}") from None
    if header is None:
        raise CliError(f"empty CSV file: {source} has no header row and no data")
    if not rows:
        raise CliError(f"empty CSV file: {source} has a header but no data rows")
    return Table(source, header, rows, lines)


def _header(row: list[str], source: str) -> list[str]:
    names = [cell.strip() for cell in row]
    for j, name in enumerate(names):
        if not name:
            raise CliError(f"{source}, line 1: column {j + 1} has an empty name in the header")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CliError(f"{source}, line 1: duplicate column names: {', '.join(map(repr, dupes))}")
    return names


def _number(cell: str) -> float | None:
    """The cell as a float (nan and inf included), or None if it is not a number."""
    s = cell.strip()
    if not s or "_" in s:  # float() accepts '1_000'; a data file should not
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _cell_error(table: Table, i: int, j: int) -> str:
    cell = table.rows[i][j]
    value = _number(cell)
    if not cell.strip():
        what = "empty cell (missing value)"
    elif value is None:
        what = f"not a number: {short(cell)}"
    elif math.isnan(value):
        what = f"NaN value {short(cell.strip())}; remove or fill missing values"
    else:
        what = f"infinite value {short(cell.strip())}"
    return f"{table.where(i, j)}: {what}"


def numeric_columns(table: Table, cols: list[int]) -> np.ndarray:
    """The given columns as an (n, len(cols)) float64 matrix of finite numbers."""
    out = np.empty((len(table.rows), len(cols)))
    for i, row in enumerate(table.rows):
        for k, j in enumerate(cols):
            value = _number(row[j])
            if value is None or not math.isfinite(value):
                raise CliError(_cell_error(table, i, j) + _more_bad(table, i, cols))
            out[i, k] = value
    return out


def _more_bad(table: Table, first: int, cols: list[int]) -> str:
    bad = sum(
        1
        for row in table.rows[first:]
        for j in cols
        if (v := _number(row[j])) is None or not math.isfinite(v)
    )
    return f" (and {bad - 1} more bad cells)" if bad > 1 else ""


def load(spec: str, target: str | None, ignore: list[str] | None = None) -> Dataset:
    """A built-in data set by name, or a CSV file whose columns other than
    ``target`` and ``ignore`` are the features. ``target`` may be None (predict)."""
    if spec in BUILTIN and not _exists(spec):
        return builtin(spec)
    table = read_csv(spec)
    ignore = ignore or []
    for name in ignore:
        table.index(name, "--ignore column")
    tcol = table.index(target, "target column") if target is not None else None
    cols = [j for j, c in enumerate(table.columns) if j != tcol and c not in ignore]
    if not cols:
        raise CliError(f"{table.source} has no feature columns besides the target {target!r}")
    X = numeric_columns(table, cols)
    y = [row[tcol] for row in table.rows] if tcol is not None else None
    names = [table.columns[j] for j in cols]
    return Dataset(table.source, X, names, target, y, table, tcol)


def features_for(spec: str, names: list[str]) -> Dataset:
    """The named feature columns of a CSV (any order, other columns ignored) or built-in."""
    if spec in BUILTIN and not _exists(spec):
        data = builtin(spec)
        if data.features != names:
            raise CliError(
                f"the model expects features {names}, but the built-in '{spec}' has {data.features}"
            )
        return data
    table = read_csv(spec)
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise CliError(
            f"{table.source} lacks the model's feature column(s) "
            + ", ".join(map(repr, missing))
            + "; available columns: "
            + ", ".join(map(repr, table.columns))
        )
    cols = [table.columns.index(n) for n in names]
    return Dataset(table.source, numeric_columns(table, cols), list(names), table=table)


def _exists(spec: str) -> bool:
    """A file named like a built-in set (``xor``) wins over the built-in."""
    return os.path.exists(spec)


# ------------------------------------------------------------------ targets
@dataclass
class Target:
    """The encoded target: class indices (classify) or numbers (regress)."""

    task: str  # "classify" | "regress"
    y: np.ndarray  # (n,) int64 class indices, or (n,) float64 values
    classes: list[str] | None  # class labels, in index order (classify only)


def encode_target(data: Dataset, task: str = "auto") -> Target:
    """Turn the raw target into class indices or numbers, checking every cell."""
    if data.target is None:
        raise CliError(f"{data.source}: no target column given (use --target COLUMN)")
    if data.task is not None:  # a built-in data set: numbers, already clean
        task = data.task if task == "auto" else task
        values = np.asarray(data.target, dtype=np.float64)
        return _classify_numbers(data, values) if task == "classify" else Target(task, values, None)
    table, j = data.table, data.target_col
    numbers = [_number(c) for c in data.target]
    all_numbers = all(v is not None and math.isfinite(v) for v in numbers)
    mostly_numbers = sum(v is not None for v in numbers) * 2 > len(numbers)
    if task == "regress" or (task == "auto" and mostly_numbers):
        values = numeric_columns(table, [j])[:, 0]  # strict: names the first bad cell
        if task == "regress" or not _few_integers(values):
            return Target("regress", values, None)
        return _classify_numbers(data, values)
    if all_numbers:
        return _classify_numbers(data, np.array(numbers))
    for i, cell in enumerate(data.target):  # text class labels
        if not cell.strip():
            raise CliError(f"{table.where(i, j)}: empty cell (missing class label)")
    labels = [c.strip() for c in data.target]
    return _classes(data, sorted(set(labels)), labels)


def _few_integers(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values))) and len(np.unique(values)) <= MAX_AUTO_CLASSES


def _classify_numbers(data: Dataset, values: np.ndarray) -> Target:
    distinct = np.unique(values)
    classes = [label_text(v) for v in distinct]
    lookup = {label_text(v): k for k, v in enumerate(distinct)}
    return _classes(data, classes, [label_text(v) for v in values], lookup)


def _classes(data: Dataset, classes: list[str], labels: list[str], lookup=None) -> Target:
    if len(classes) < 2:
        shown = repr(classes[0]) if classes else "none"
        raise CliError(
            f"target column {data.target_name!r} in {data.source} has only one class "
            f"({shown}) in {len(labels)} rows; classification needs at least two"
        )
    lookup = lookup or {c: k for k, c in enumerate(classes)}
    return Target("classify", np.array([lookup[s] for s in labels], dtype=np.int64), classes)


def label_text(v: float) -> str:
    """A numeric class label as text: 1.0 -> '1', 0.5 -> '0.5'."""
    v = float(v)
    return str(int(v)) if v == int(v) and abs(v) < 2**53 else repr(v)


# ------------------------------------------------------------------ built-in sets
def builtin(name: str) -> Dataset:
    """xor (4 points), moons (400 noisy points, two classes, always the same) or
    digits (1797 8x8 images, from scikit-learn)."""
    if name == "xor":
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return Dataset("xor", X, ["x1", "x2"], "y", [0, 1, 1, 0], task="classify")
    if name == "moons":
        X, y = two_moons(400, noise=0.2, seed=0)
        return Dataset("moons", X, ["x1", "x2"], "label", list(y), task="classify")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise CliError(
            "the built-in 'digits' data set needs scikit-learn: "
            "pip install 'gradsight[examples]' (or scikit-learn)"
        ) from None
    d = load_digits()
    names = [f"pixel_{i}" for i in range(d.data.shape[1])]
    return Dataset(
        "digits", d.data.astype(np.float64), names, "digit", list(d.target), task="classify"
    )


def two_moons(n: int, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X (n, 2), labels (n,) in {0, 1}.

    Class 0 lies on (cos t, sin t), class 1 on (1 - cos t, 1/2 - sin t),
    t ~ U(0, pi), plus Gaussian noise of standard deviation ``noise``.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    X = np.where(
        y[:, None] == 0,
        np.stack([np.cos(t), np.sin(t)], axis=1),
        np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1),
    )
    return X + rng.normal(0.0, noise, X.shape), y
