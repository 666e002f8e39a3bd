"""``python -m benchmarks.train_vs_sklearn``: ``gradsight train`` against scikit-learn.

python -m benchmarks.train_vs_sklearn                          # print the table
python -m benchmarks.train_vs_sklearn --markdown docs/train.md  # regenerate the doc's table

Four data sets shipped with scikit-learn are written to CSV as a user would
have them: iris and breast_cancer with text labels, wine with a text column
('colour', from the colour intensity) and missing values (``NA`` and empty
cells) added, diabetes as a regression. Each is trained with one
``gradsight train`` command that also writes its split (``--save-split``);
scikit-learn then trains on the very same ``train.csv`` and scores on the same
``val.csv``, with the same preparation (mean imputation, one-hot encoding,
standardisation, of the regression target too): MLPClassifier / MLPRegressor
with the same hidden layers
(16, 16), activation (tanh), optimiser (Adam) and batch size (32), and a
linear baseline (LogisticRegression / Ridge).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MARK_START = "<!-- sklearn-table:start -->"
MARK_END = "<!-- sklearn-table:end -->"


# ---------------------------------------------------------------- the CSV files
def export(folder: Path) -> list[dict]:
    """Write the four CSVs; returns their descriptions (name, path, target, task)."""
    from sklearn import datasets

    out = []
    iris = datasets.load_iris()
    out.append(_write(folder, "iris", iris.feature_names, iris.data,
                      "species", iris.target_names[iris.target], "classify"))  # fmt: skip
    bc = datasets.load_breast_cancer()
    out.append(_write(folder, "breast_cancer", bc.feature_names, bc.data,
                      "diagnosis", bc.target_names[bc.target], "classify"))  # fmt: skip
    out.append(_wine(folder))
    db = datasets.load_diabetes(scaled=False)
    out.append(_write(folder, "diabetes", db.feature_names, db.data,
                      "progression", db.target, "regress"))  # fmt: skip
    return out


def _write(folder, name, features, X, target, y, task, extra=None) -> dict:
    path = folder / f"{name}.csv"
    names = [str(f).replace(" ", "_") for f in features]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, *(extra or {}), target])
        for i, (x, t) in enumerate(zip(X, y)):
            cells = [_cell(v) for v in x] + [col[i] for col in (extra or {}).values()]
            w.writerow([*cells, _cell(t)])
    return {"name": name, "path": path, "target": target, "task": task, "rows": len(X)}


def _cell(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and np.isnan(v):
        return "NA"
    return repr(float(v)) if not isinstance(v, np.str_) else str(v)


def _wine(folder: Path) -> dict:
    """wine with its colour intensity as text (pale / medium / deep) and 5 % of the
    alcohol and magnesium cells missing (NA or empty), chosen with a fixed seed."""
    from sklearn import datasets

    wine = datasets.load_wine()
    names = list(wine.feature_names)
    k = names.index("color_intensity")
    colour = np.array(["pale", "medium", "deep"])[np.digitize(wine.data[:, k], [3.5, 6.0])]
    X = np.delete(wine.data, k, axis=1).astype(object)
    del names[k]
    rng = np.random.default_rng(0)
    for col in (names.index("alcohol"), names.index("magnesium")):
        for i in rng.choice(len(X), size=len(X) // 20, replace=False):
            X[i, col] = "NA" if i % 2 else ""
    return _write(folder, "wine", names, X, "cultivar", [f"c{t}" for t in wine.target],
                  "classify", {"colour": list(colour)})  # fmt: skip


# ---------------------------------------------------------------- the two sides
def gradsight(spec: dict, folder: Path) -> dict:
    """One ``gradsight train`` command; its final validation metrics."""
    split = folder / f"{spec['name']}_split"
    args = ["train", f"{spec['name']}.csv", "--target", spec["target"], "--save-split",
            str(split.name), "--quiet"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "gradsight", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": ""},
    )
    if proc.returncode != 0:
        raise SystemExit(f"gradsight train failed on {spec['name']}: {proc.stderr.strip()}")
    final = next(s for s in proc.stdout.splitlines() if s.startswith("final:"))
    val = final.split(" val ", 1)[1]
    metrics = {k: float(v) for k, v in re.findall(r"(\w+) (-?[\d.]+)", val)}
    kept = re.search(r"kept the weights of epoch (\d+)", proc.stdout)
    return {"command": "gradsight " + " ".join(args[:-3]), "metrics": metrics,
            "epoch": int(kept.group(1)) if kept else None, "split": split}  # fmt: skip


def read_split(path: Path, target: str):
    """A split file as (columns, rows of text, target texts)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    j = header.index(target)
    X = [[c for k, c in enumerate(r) if k != j] for r in rows]
    return [h for k, h in enumerate(header) if k != j], X, [r[j] for r in rows]


def sklearn_side(spec: dict, split: Path) -> dict:
    """MLP and a linear model on the same rows and preparation; validation scores."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cols, Xtr, ytr = read_split(split / "train.csv", spec["target"])
    _, Xva, yva = read_split(split / "val.csv", spec["target"])
    text = [k for k in range(len(cols)) if not all(_num(r[k]) for r in Xtr)]
    num = [k for k in range(len(cols)) if k not in text]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
            ("text", OneHotEncoder(handle_unknown="ignore"), text),
        ]
    )
    Xtr, Xva = _frame(Xtr, num), _frame(Xva, num)
    mlp_args = dict(
        hidden_layer_sizes=(16, 16),
        activation="tanh",
        solver="adam",
        batch_size=32,
        learning_rate_init=0.01,
        max_iter=100,
        random_state=0,
    )
    out = {}
    if spec["task"] == "classify":
        models = {"mlp": MLPClassifier(**mlp_args), "linear": LogisticRegression(max_iter=5000)}
        for key, model in models.items():
            pipe = make_pipeline(prep, model).fit(Xtr, ytr)
            out[key] = {"acc": 100 * accuracy_score(yva, pipe.predict(Xva))}
    else:
        ytr_f, yva_f = np.array(ytr, float), np.array(yva, float)
        models = {"mlp": MLPRegressor(**mlp_args), "linear": Ridge()}
        for key, model in models.items():
            # the target standardised, as gradsight does (else the MLP barely moves)
            pipe = TransformedTargetRegressor(
                make_pipeline(prep, model), transformer=StandardScaler()
            )
            pipe.fit(Xtr, ytr_f)
            p = pipe.predict(Xva)
            out[key] = {
                "rmse": float(np.sqrt(np.mean((p - yva_f) ** 2))),
                "mae": mean_absolute_error(yva_f, p),
                "r2": r2_score(yva_f, p),
            }
    return out


def _num(cell: str) -> bool:
    if cell.strip().lower() in ("", "na", "n/a", "nan", "null", "?"):
        return True
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _frame(rows, num):
    """Object array: numbers as floats (NaN missing), text as it is."""
    X = np.array(rows, dtype=object)
    for k in num:
        X[:, k] = [float(c) if c.strip() and c.strip().lower() != "na" else np.nan for c in X[:, k]]
    return X


# ---------------------------------------------------------------- the table
def markdown(results: list[dict]) -> str:
    lines = [
        "| data set | rows | task | gradsight (val) | scikit-learn MLP | linear baseline |"
        " command |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        g, s = r["gradsight"]["metrics"], r["sklearn"]
        if r["task"] == "classify":
            cells = [f"{g['acc']:.1f} %", f"{s['mlp']['acc']:.1f} %", f"{s['linear']['acc']:.1f} %"]
        else:
            cells = [f"RMSE {m['rmse']:.1f}, R² {m['r2']:.3f}" for m in (g, s["mlp"], s["linear"])]
        lines.append(
            f"| {r['name']} | {r['rows']} | {r['task']} | "
            + " | ".join(cells)
            + f" | `{r['gradsight']['command']}` |"
        )
    return "\n".join(lines) + "\n"


def update_markdown(path: Path, text: str) -> None:
    doc = path.read_text()
    head, rest = doc.split(MARK_START, 1)
    path.write_text(head + MARK_START + "\n" + text + MARK_END + rest.split(MARK_END, 1)[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_vs_sklearn")
    p.add_argument("--markdown", type=Path, help="replace the table between the markers here")
    p.add_argument("--keep", type=Path, help="write the CSVs and splits here (kept)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gradsight-sklearn-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for spec in export(folder):
            g = gradsight(spec, folder)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MLP's "max_iter reached" note
                s = sklearn_side(spec, g["split"])
            results.append({**spec, "gradsight": g, "sklearn": s})
            print(f"{spec['name']}: gradsight {g['metrics']}, scikit-learn {s}", flush=True)
    text = markdown(results)
    print(text)
    if args.markdown:
        update_markdown(args.markdown, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
