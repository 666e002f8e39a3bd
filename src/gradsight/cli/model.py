"""The model file of ``train`` and ``predict``: weights and everything needed to
reproduce the outputs, all as arrays in one ``.npz`` (``gs.save``; never pickle).

Keys: ``model.<param>`` (the MLP's state_dict), ``input_mean`` and
``input_std`` (d,), ``target_mean`` and ``target_std`` (1,), ``train_rows``
(sorted uint64 fingerprints of the training rows' inputs, see
``prepare.row_hashes``) and ``meta_json`` (UTF-8 JSON as uint8: format,
version, sizes, activation, task, features, target, classes, columns (the
encoding of the file's columns), dtype, missing, and what train learnt about
the file: ``dialect`` (separator, decimal mark, line ending, index column,
ignored columns; see ``table.Dialect``)).

Older files still load. Version 2 (before the dialect and the BLAKE2b
fingerprint): a comma-separated, decimal-point file; its fingerprint is of
another kind, so predict does not count training rows with it. Version 1
(before one-hot encoding and fingerprints): its features are all numeric
columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

import gradsight as gs

from .errors import CliError, input_file, one_line, write_atomic_with
from .options import check_model_size

FORMAT = "gradsight-cli-model"
VERSION = 3
READS = (1, 2, 3)  # versions this gradsight loads
FINGERPRINT_SINCE = 3  # the first version whose train_rows are BLAKE2b fingerprints
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu")


@dataclass
class Trained:
    """An MLP with its input scaling and the meaning of its outputs."""

    model: gs.nn.MLP
    meta: dict
    mean: np.ndarray  # (d,) input mean over the training rows
    std: np.ndarray  # (d,) input standard deviation (1 for constant columns)
    target_mean: float = 0.0  # regression targets are standardised too
    target_std: float = 1.0
    train_rows: np.ndarray | None = None  # (n_train,) sorted uint64 row fingerprints

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, C) for classification, values (n,) for regression."""
        dtype = np.dtype(self.meta.get("dtype", "float64"))
        parts = [
            self.scaled_outputs(((X[s] - self.mean) / self.std).astype(dtype, copy=False))
            for s in _blocks(len(X))
        ]
        return np.concatenate(parts) if parts else self.scaled_outputs(X[:0].astype(dtype))

    def scaled_outputs(self, Xs: np.ndarray) -> np.ndarray:
        """``outputs`` for inputs already standardised."""
        with gs.no_grad():
            z = self.model(gs.tensor(Xs)).numpy().astype(np.float64, copy=False)
        if self.meta["task"] == "regress":
            return z[:, 0] * self.target_std + self.target_mean
        if z.shape[1] == 1:  # two classes, one logit: p(second class) = sigmoid(z)
            p = gs.tensor(z[:, 0]).sigmoid().numpy()
            return np.stack([1.0 - p, p], axis=1)
        return gs.tensor(z).softmax(axis=1).numpy()


def _blocks(n: int, size: int = 65536):
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


def output_size(task: str, classes: list[str] | None) -> int:
    """One logit for two classes or a regression, else one logit per class."""
    return 1 if task == "regress" or len(classes) == 2 else len(classes)


def save(path, trained: Trained) -> None:
    """Write ``trained`` to ``path`` atomically (a crash leaves no partial file)."""
    arrays = {f"model.{k}": v for k, v in trained.model.state_dict().items()}
    arrays["input_mean"] = trained.mean
    arrays["input_std"] = trained.std
    arrays["target_mean"] = np.array([trained.target_mean])
    arrays["target_std"] = np.array([trained.target_std])
    if trained.train_rows is not None:
        arrays["train_rows"] = trained.train_rows
    meta = dict(trained.meta, format=FORMAT, version=VERSION)
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    write_atomic_with(path, lambda tmp: gs.save(arrays, tmp))


def load(path) -> Trained:
    """Read a model written by ``save``; any problem is a CliError naming the file."""
    p = input_file(path, "model file")
    try:
        arrays = gs.load(p)
    except (ValueError, OSError, KeyError, TypeError) as err:
        raise CliError(f"cannot load model '{p}': {one_line(err)}") from None
    meta = _meta(arrays, p)
    sizes = meta["sizes"]
    check_model_size(sizes, f"model file '{p}' describes ", fix="")  # before allocating
    model = gs.nn.MLP(sizes, activation=meta["activation"], dtype=meta["dtype"])
    state = {k[len("model.") :]: v for k, v in arrays.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise CliError(
            f"model file '{p}' does not fit its own description: {one_line(err)}"
        ) from None
    mean, std = arrays.get("input_mean"), arrays.get("input_std")
    d = sizes[0]
    for name, a in (("input_mean", mean), ("input_std", std)):
        if a is None or a.shape != (d,) or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            raise CliError(f"model file '{p}': '{name}' must be {d} finite floats")
    if np.any(std <= 0):
        raise CliError(f"model file '{p}': 'input_std' must be positive")
    tm, ts = _scalar(arrays, "target_mean", p), _scalar(arrays, "target_std", p)
    rows = arrays.get("train_rows")
    if rows is not None and (rows.dtype != np.uint64 or rows.ndim != 1):
        raise CliError(f"model file '{p}': 'train_rows' must be a 1-d uint64 array")
    if rows is not None and meta["version"] < FINGERPRINT_SINCE:
        rows = None  # another hash: comparing it with today's would count nonsense
        meta["old_fingerprint"] = True
    return Trained(model, meta, mean, std, tm, ts, rows)


def _scalar(arrays: dict, name: str, p) -> float:
    a = arrays.get(name)
    if a is None or a.shape != (1,) or a.dtype.kind != "f" or not np.isfinite(a[0]):
        raise CliError(f"model file '{p}': '{name}' must be one finite float")
    return float(a[0])


def _meta(arrays: dict, p) -> dict:
    """Decode and check ``meta_json``: every field the rest of the code relies on."""
    raw = arrays.get("meta_json")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise CliError(
            f"'{p}' is not a gradsight command-line model (no 'meta_json'); "
            "make one with 'gradsight train ... --save MODEL.npz'"
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CliError(f"model file '{p}': unreadable 'meta_json' ({err})") from None
    problems = []
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CliError(f"'{p}' is not a gradsight command-line model (format field)")
    if meta.get("version") not in READS:
        raise CliError(
            f"model file '{p}' is format version {meta.get('version')!r}; this gradsight "
            f"reads versions {', '.join(map(str, READS))}: train it again with this version"
        )
    if meta["version"] == 1:  # before encodings: every feature a number column
        feats = meta.get("features") if isinstance(meta.get("features"), list) else []
        meta.setdefault("columns", [{"name": f, "kind": "number"} for f in feats])
        meta.setdefault("dtype", "float64")
        meta.setdefault("missing", "error")
    if meta["version"] < 3:  # before the dialect was saved: what the reader assumed then
        meta.setdefault("dialect", {"sep": meta.get("sep"), "decimal": "."})
    sizes = meta.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_pos_int(n) for n in sizes)):
        problems.append(f"sizes {sizes!r}")
    if meta.get("activation") not in ACTIVATIONS:
        problems.append(f"activation {meta.get('activation')!r}")
    feats = meta.get("features")
    if not (isinstance(feats, list) and all(isinstance(f, str) for f in feats)):
        problems.append("features")
    elif not problems and len(feats) != sizes[0]:
        problems.append(f"{len(feats)} features for {sizes[0]} inputs")
    elif not _columns_ok(meta.get("columns"), feats):
        problems.append("columns (the encoding does not give the features)")
    if not _dialect_ok(meta.get("dialect")):
        problems.append(f"dialect {meta.get('dialect')!r}")
    if meta.get("dtype") not in ("float64", "float32"):
        problems.append(f"dtype {meta.get('dtype')!r}")
    task, classes = meta.get("task"), meta.get("classes")
    if task == "classify":
        ok = isinstance(classes, list) and len(classes) >= 2
        if not ok or not all(isinstance(c, str) for c in classes):
            problems.append("classes")
        elif not problems and sizes[-1] != output_size(task, classes):
            problems.append(f"{sizes[-1]} outputs for {len(classes)} classes")
    elif task == "regress":
        if not problems and sizes[-1] != 1:
            problems.append(f"{sizes[-1]} outputs for a regression")
    else:
        problems.append(f"task {task!r}")
    if problems:
        raise CliError(f"model file '{p}' has a bad description: {'; '.join(problems)}")
    return meta


def _dialect_ok(d) -> bool:
    """The file's dialect as train saw it: separator, decimal mark, line ending,
    index column and ignored columns (each optional but the decimal mark)."""
    if not isinstance(d, dict) or d.get("decimal") not in (".", ","):
        return False
    sep, index, ignored = d.get("sep"), d.get("index"), d.get("ignored", [])
    if sep is not None and not (isinstance(sep, str) and len(sep) == 1):
        return False
    if d.get("line_ending") not in (None, "\n", "\r\n", "\r"):
        return False
    if index is not None and not isinstance(index, str):
        return False
    return isinstance(ignored, list) and all(isinstance(c, str) for c in ignored)


def _pos_int(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 1


def _columns_ok(columns, features) -> bool:
    from .data import input_names

    if not isinstance(columns, list):
        return False
    for c in columns:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str)):
            return False
        if c.get("kind") == "category":
            values = c.get("values")
            if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
                return False
        elif c.get("kind") != "number":
            return False
    return input_names(columns) == features
