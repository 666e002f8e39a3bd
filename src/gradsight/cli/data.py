"""Data for the command line: a CSV read into one feature matrix, and the built-in sets.

``load`` (train) reads the feature and target columns with the chunked reader
of ``table``, one-hot encodes text feature columns and marks missing cells
as NaN; ``features_for`` (predict) reads the same columns with a saved
encoding. Every problem in a file is a CliError naming the file, the line
(1-based, the header is line 1), the column (number and name) and the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import table as tables
from .errors import CliError

BUILTIN = ("xor", "moons", "digits")
MAX_AUTO_CLASSES = 20  # --task auto: integer targets with at most this many values classify
MAX_CATEGORIES = 100  # distinct values a text feature column may have (one-hot columns)
MISSING_HINT = "choose --missing drop or --missing mean to train anyway"


@dataclass
class Dataset:
    """Features as an (n, d) float matrix (NaN: missing), plus the target if any.

    ``columns`` is the encoding: per file column used as input, ``{"name",
    "kind": "number"}`` or ``{"name", "kind": "category", "values": [...]}``
    (one input per value, named ``name=value``).
    """

    source: str
    X: np.ndarray  # (n, d) float64 or float32
    features: list[str]
    target_name: str | None = None
    target: object = None  # tables.Column (CSV) or a list of numbers (built-in)
    task: str | None = None  # fixed by a built-in data set
    columns: list[dict] = field(default_factory=list)
    frame: tables.Frame | None = field(default=None, repr=False)
    rows: np.ndarray | None = None  # the file's data rows kept (None: all, in order)
    notes: list[str] = field(default_factory=list)  # what preparation did
    warnings: list[str] = field(default_factory=list)  # what the user should look at
    dialect: dict | None = None  # what train learnt about the file (saved with the model)


def is_builtin(spec: str) -> bool:
    """A file named like a built-in set (``xor``) wins over the built-in."""
    return spec in BUILTIN and not os.path.exists(spec)


def header(spec: str, sep: str | None = None) -> list[str]:
    return tables.read_header(spec, sep)[1]


def find(columns: list[str], name: str, source: str, role: str, sep: str) -> None:
    """Raise a CliError if ``name`` is not a column (with a separator hint)."""
    if name in columns:
        return
    hint = ""
    if all(tables.number(c) is not None for c in columns):
        hint = " (the first line looks like data: the file needs a header row naming columns)"
    elif len(columns) == 1 and any(s in columns[0] for s in tables.SEPARATORS if s != sep):
        other = next(s for s in tables.SEPARATORS if s != sep and s in columns[0])
        hint = f" (one column only: is the separator {other!r}? use --sep {other!r})"
    raise CliError(
        f"{role} '{name}' not found in {source}; available columns: "
        + ", ".join(repr(c) for c in columns)
        + hint
    )


def load(
    spec: str,
    target: str,
    ignore: list[str] | None = None,
    *,
    sep: str | None = None,
    decimal: str | None = None,
    missing: str = "mean",
    dtype=np.float64,
    check_memory=None,
    progress=None,
) -> Dataset:
    """A built-in data set by name, or a CSV file whose columns other than
    ``target`` and ``ignore`` are the features (text columns one-hot encoded).

    ``ignore`` holds column names, or 1-based column positions (a number that
    is not a column's name). An unnamed first column holding 0..n-1 (the
    index ``DataFrame.to_csv()`` writes) is left out, and said so.
    """
    if is_builtin(spec):
        data = builtin(spec)
        data.X = data.X.astype(dtype)
        data.columns = [{"name": n, "kind": "number"} for n in data.features]
        return data
    source, names, sep = tables.read_header(spec, sep)
    ignore = [column_named(names, name, source, sep) for name in ignore or []]
    find(names, target, source, "target column", sep)
    index = INDEX if names[0] == INDEX and INDEX not in ignore and target != INDEX else None
    use = [c for c in names if c != target and c not in ignore and c != index]
    if not use:
        raise CliError(f"{source} has no feature columns besides the target {target!r}")
    frame = tables.read(
        spec,
        [*use, target] + ([index] if index is not None else []),
        sep=sep,
        decimal=decimal,
        dtype=dtype,
        missing_ok=missing != "error",
        missing_hint=MISSING_HINT,
        check_memory=check_memory,
        progress=progress,
        target=target,
        exact=(INDEX,),  # row numbers beyond 2**24 are exact in float64 only
    )
    notes: list[str] = []
    if index is not None:
        notes.append(_index_column(frame, source))
    if frame.line_ending == "\r":
        notes.append("read lines ended by CR alone (as Excel for Mac's 'CSV (Macintosh)' writes)")
    if frame.decimal_detected:
        notes.append(
            "read numbers with a decimal comma ('1,5' is 1.5; '.' and spaces group "
            "thousands), as the ';'-separated cells are written; --decimal . reads them otherwise"
        )
    columns = [_encoding(frame.columns[n], frame.decimal) for n in use]
    warnings = [w for n in use if (w := _warning(frame.columns[n], frame.decimal))]
    X = assemble(frame, columns, dtype, check_memory)
    warnings += identifier_warnings(X, columns)
    data = Dataset(source, X, input_names(columns), target, frame.columns[target])
    data.columns, data.frame = columns, frame
    data.notes, data.warnings = notes, warnings
    data.dialect = {
        "sep": frame.sep,
        "decimal": frame.decimal,
        "line_ending": frame.line_ending,
        "index": index,
        "ignored": ignore,
    }
    return data


INDEX = ""  # the name of pandas' index column in a CSV: an empty first header cell


def column_named(names: list[str], name: str, source: str, sep: str) -> str:
    """An --ignore entry as a column name: a name, or a 1-based position."""
    if name in names:
        return name
    if name.isdigit() and 1 <= int(name) <= len(names):
        return names[int(name) - 1]
    if name.isdigit():
        raise CliError(
            f"--ignore column {name}: {source} has {len(names)} columns "
            f"(positions count from 1); its columns: " + ", ".join(map(repr, names))
        )
    find(names, name, source, "--ignore column", sep)
    return name


def _index_column(frame: tables.Frame, source: str) -> str:
    """Check that the unnamed first column is the row index 0..n-1; drop it from ``frame``."""
    col = frame.columns.pop(INDEX)
    values = np.concatenate(col.parts) if col.parts else np.zeros(0)
    col.parts = []
    if col.kind != "number" or not np.array_equal(values, np.arange(len(values))):
        raise CliError(
            f"{source}, line 1: column 1 has an empty name in the header and does not hold "
            "the row numbers 0, 1, 2, ... of an index; name it in the header, or leave it "
            "out with --ignore 1"
        )
    return (
        f"column 1 has no name and holds 0..{len(values) - 1}: read as the row index "
        "(as pandas' to_csv writes it) and left out of the features"
    )


def _decimal_hint(col: tables.Column, decimal: str) -> str:
    """A hint for a text column whose values are numbers written with a decimal comma."""
    if decimal == "," or col.kind != "text":
        return ""
    values = list(col.vocab)[:1000]
    if not any(tables.looks_decimal_comma(v) for v in values):
        return ""
    if not all(tables.number(v, ",") is not None for v in values):
        return ""
    example = next(v for v in values if tables.looks_decimal_comma(v))
    return (
        f"its values look like numbers with a decimal comma ({example!r}): "
        "use --decimal , to read them as numbers"
    )


def _encoding(col: tables.Column, decimal: str = ".") -> dict:
    if col.kind == "number":
        return {"name": col.name, "kind": "number"}
    values = sorted(col.vocab)
    if len(values) > MAX_CATEGORIES:
        hint = _decimal_hint(col, decimal)
        fix = hint if hint else f"leave it out with --ignore {col.name}"
        raise CliError(
            f"column {col.name!r} holds {len(values):,} distinct text values, too many to "
            f"one-hot encode (at most {MAX_CATEGORIES}); {fix}"
        )
    return {"name": col.name, "kind": "category", "values": values}


def _warning(col: tables.Column, decimal: str) -> str:
    hint = _decimal_hint(col, decimal)
    return f"column {col.name!r} is one-hot encoded as text, but {hint}" if hint else ""


MIN_ID_ROWS = 10  # fewer rows: a 0, 1, 2, ... column is as likely a real feature


def identifier_warnings(X: np.ndarray, columns: list[dict]) -> list[str]:
    """Warnings for number columns that count the rows: whole numbers k, k+1, k+2, ...
    in file order (an identifier, which a model would learn as a feature)."""
    out, k = [], 0
    if len(X) < MIN_ID_ROWS:
        return out
    for c in columns:
        if c["kind"] == "number":
            v = X[:, k]
            step = np.diff(v)
            if v[0] == np.round(v[0]) and np.all(step == 1):
                out.append(
                    f"column {c['name']!r} numbers the rows ({v[0]:.0f}, {v[1]:.0f}, ..., "
                    f"{v[-1]:.0f}: unique, sequential): an identifier is no feature, and it "
                    f"is used as one; leave it out with --ignore {quote_arg(c['name'])}"
                )
            k += 1
        else:
            k += len(c["values"])
    return out


def quote_arg(name: str) -> str:
    """A column name as typed on a shell command line."""
    return name if name and all(ch.isalnum() or ch in "_-." for ch in name) else repr(name)


def input_names(columns: list[dict]) -> list[str]:
    """The model's inputs: a number column's name, or ``name=value`` per category."""
    out = []
    for c in columns:
        out += [c["name"]] if c["kind"] == "number" else [f"{c['name']}={v}" for v in c["values"]]
    return out


def assemble(frame: tables.Frame, columns: list[dict], dtype, check_memory=None) -> np.ndarray:
    """The (n, d) feature matrix, filled chunk by chunk while the chunk arrays are freed.

    A category becomes one 0/1 column per value; a missing cell is NaN (in
    every column of its category), an unknown value all zeros.
    """
    width = len(input_names(columns))
    if check_memory is not None:
        check_memory(frame.n_rows, width, 1.0)  # the chunk arrays are already in memory
    X = np.empty((frame.n_rows, width), dtype=dtype)
    cols = [frame.columns[c["name"]] for c in columns]
    remaps = [_remap(col, c) for col, c in zip(cols, columns)]
    start = 0
    for i, n in enumerate(frame.chunk_rows):
        block, k = X[start : start + n], 0
        for col, c, remap in zip(cols, columns, remaps):
            part, col.parts[i] = col.parts[i], None
            if c["kind"] == "number":
                block[:, k] = part
                k += 1
                continue
            K = len(c["values"])
            _one_hot(block[:, k : k + K], part, remap)
            k += K
        start += n
    return X


def _remap(col: tables.Column, c: dict) -> np.ndarray | None:
    """Code (order of first appearance) -> position among the sorted values."""
    if c["kind"] == "number":
        return None
    position = {v: k for k, v in enumerate(c["values"])}
    return np.array([position[v] for v in col.values()], dtype=np.int64)


def _one_hot(block: np.ndarray, codes: np.ndarray, remap: np.ndarray) -> None:
    block[:] = 0
    known = np.flatnonzero(codes >= 0)
    if len(remap):
        block[known, remap[codes[known]]] = 1
    block[codes == -1] = np.nan


def features_for(
    spec: str,
    meta: dict,
    dtype=np.float64,
    progress=None,
    sep: str | None = None,
    decimal: str | None = None,
) -> Dataset:
    """The model's input columns of a CSV (any order, other columns ignored) or built-in;
    the target column too when the file has it (for scoring).

    The file is read in the training file's dialect (``meta["dialect"]``):
    its separator when the header splits into the model's columns with it
    (else the sniffed one), and then its decimal mark; ``sep`` and
    ``decimal`` override them.
    """
    columns = meta["columns"]
    if is_builtin(spec):
        data = builtin(spec)
        if data.features != meta["features"]:
            raise CliError(
                f"the model expects features {meta['features']}, "
                f"but the built-in '{spec}' has {data.features}"
            )
        data.X = data.X.astype(dtype)
        data.columns = columns
        return data
    saved = meta.get("dialect") or {}
    sep = sep or _saved_separator(spec, saved.get("sep"), columns)
    source, names, sep = tables.read_header(spec, sep)
    given = decimal
    if decimal is None and sep == saved.get("sep"):
        decimal = saved.get("decimal")
    lacking = [c["name"] for c in columns if c["name"] not in names]
    if lacking:
        raise CliError(
            f"{source} lacks the model's feature column(s) "
            + ", ".join(map(repr, lacking))
            + "; available columns: "
            + ", ".join(map(repr, names))
        )
    use = [c["name"] for c in columns]
    target = meta.get("target")
    has_target = target in names and target not in use
    kinds = {c["name"]: "number" if c["kind"] == "number" else "text" for c in columns}
    vocab = {c["name"]: c["values"] for c in columns if c["kind"] == "category"}
    if has_target:
        kinds[target] = "text"  # scored by label text; numbers are compared as numbers
    frame = tables.read(
        spec,
        use + ([target] if has_target else []),
        sep=sep,
        decimal=decimal,
        kinds=kinds,
        vocab=vocab,
        dtype=dtype,
        missing_ok=meta.get("missing") != "error",
        missing_hint="the model was trained with --missing error",
        progress=progress,
    )
    X = assemble(frame, columns, dtype)
    data = Dataset(source, X, input_names(columns), target if has_target else None)
    data.target = frame.columns[target] if has_target else None
    data.columns, data.frame = columns, frame
    if frame.decimal == ",":
        how = "--decimal ," if given else "as in training" if decimal else "found in its cells"
        data.notes.append(
            f"read {source} with a decimal comma ({how}; --decimal . reads decimal points)"
        )
    return data


def _saved_separator(spec: str, saved: str | None, columns: list[dict]) -> str | None:
    """The training file's separator if it splits this file's header into the model's
    columns; else None (sniff it)."""
    if saved is None:
        return None
    names = tables.read_header(spec, saved)[1]
    return saved if all(c["name"] in names for c in columns) else None


# ------------------------------------------------------------------ targets
@dataclass
class Target:
    """The encoded target: class indices (classify) or numbers (regress); -1 / NaN: missing."""

    task: str  # "classify" | "regress"
    y: np.ndarray  # (n,) int64 class indices, or (n,) float64 values
    classes: list[str] | None  # class labels, in index order (classify only)

    def present(self) -> np.ndarray:
        """(n,) bool: rows whose target is known."""
        return self.y >= 0 if self.task == "classify" else ~np.isnan(self.y)


def encode_target(data: Dataset, task: str = "auto") -> Target:
    """Turn the target column into class indices or numbers."""
    if data.task is not None:  # a built-in data set: numbers, already clean
        task = data.task if task == "auto" else task
        values = np.asarray(data.target, dtype=np.float64)
        return _classify_numbers(data, values) if task == "classify" else Target(task, values, None)
    col: tables.Column = data.target
    if col.kind == "number":
        values = col.parts[0] if len(col.parts) == 1 else np.concatenate(col.parts)
        col.parts = []
        if task == "regress" or (task == "auto" and not _few_integers(values)):
            return Target("regress", values.astype(np.float64, copy=False), None)
        return _classify_numbers(data, values)
    codes = col.parts[0] if len(col.parts) == 1 else np.concatenate(col.parts)
    col.parts = []
    if task == "regress":
        line, value = col.first_text
        decimal = data.frame.decimal if data.frame is not None else "."
        hint = _decimal_hint(col, decimal)
        raise CliError(
            f"{data.source}, line {line}, column {col.index + 1} ({col.name!r}): "
            f"not a number: {value!r} (--task regress needs a numeric target)"
            + (f"; {hint}" if hint else "")
        )
    hint = _decimal_hint(col, data.frame.decimal if data.frame is not None else ".")
    if hint:
        data.warnings.append(f"the target column {col.name!r} is read as class labels, but {hint}")
    classes = sorted(col.vocab)
    position = np.array([classes.index(v) for v in col.values()] + [-1], dtype=np.int64)
    y = position[codes]  # code -1 (missing) picks the trailing -1
    return _classes(data, classes, y)


def _few_integers(values: np.ndarray) -> bool:
    v = values[~np.isnan(values)]
    return bool(np.all(v == np.round(v))) and len(np.unique(v)) <= MAX_AUTO_CLASSES


def _classify_numbers(data: Dataset, values: np.ndarray) -> Target:
    known = ~np.isnan(values)
    distinct, inverse = np.unique(values[known], return_inverse=True)
    y = np.full(len(values), -1, dtype=np.int64)
    y[known] = inverse.reshape(-1)
    return _classes(data, [label_text(v) for v in distinct], y)


def _classes(data: Dataset, classes: list[str], y: np.ndarray) -> Target:
    if len(classes) < 2:
        shown = repr(classes[0]) if classes else "none"
        raise CliError(
            f"target column {data.target_name!r} in {data.source} has only one class "
            f"({shown}) in {int(np.count_nonzero(y >= 0))} rows; "
            "classification needs at least two"
        )
    return Target("classify", y, classes)


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
