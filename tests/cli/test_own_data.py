"""Own data through ``train`` and ``predict``: encoding, missing values, separators,
the honest split, best-epoch restore, the training-rows fingerprint and old models."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from .test_train_predict import numpy_model, read_csv


def messy(tmp_path, n=240, seed=0):
    """A ';'-separated file: two numbers, a colour (text), a label; some cells missing."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(a + (colour == "red") * 1.5 - 0.5 > 0, "good", "bad")
    lines = ["a;b;colour;label"]
    for i in range(n):
        cells = [repr(float(a[i])), repr(float(b[i])), str(colour[i]), str(label[i])]
        if i % 17 == 3:
            cells[1] = ["", "NA", "?", "null"][i % 4]
        if i % 29 == 5:
            cells[2] = "N/A"
        lines.append(";".join(cells))
    path = tmp_path / "messy.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, a, b, colour, label


def independent_inputs(arrays, meta, a, b, colour):
    """The model's input matrix built by hand from the raw columns and the saved encoding."""
    cols = meta["columns"]
    assert [c["name"] for c in cols] == ["a", "b", "colour"]
    values = cols[2]["values"]
    assert values == ["blue", "green", "red"]
    onehot = (colour[:, None] == np.array(values)[None, :]).astype(float)
    return np.column_stack([a, b, onehot])


def test_messy_file_trains_and_predicts_the_same(cli, tmp_path):
    path, a, b, colour, label = messy(tmp_path)
    res = cli("train", path, "--target", "label", "--epochs", "30", "--save", "m.npz", "-q")
    assert res.rc == 0, res.err
    assert "one-hot encoded 'colour' (3 values: 'blue', 'green', 'red')" in res.out
    holes_b = sum(1 for i in range(240) if i % 17 == 3)
    holes_c = sum(1 for i in range(240) if i % 29 == 5)
    assert f"filled missing cells: {holes_b} in 'b' (training mean" in res.out
    assert f"{holes_c} in 'colour' (training value frequencies)" in res.out
    assert "5 features (a, b, colour=blue, colour=green, colour=red)" in res.out
    meta, arrays, predict = numpy_model(tmp_path / "m.npz")
    assert meta["dialect"]["sep"] == ";" and meta["missing"] == "mean"

    # predict on complete rows agrees with a hand-built encoding and a NumPy forward pass
    complete = [i for i in range(240) if i % 17 != 3 and i % 29 != 5]
    rows = ["a,colour,b"] + [f"{float(a[i])!r},{colour[i]},{float(b[i])!r}" for i in complete]
    (tmp_path / "new.csv").write_text("\n".join(rows) + "\n")
    res = cli("predict", "m.npz", "new.csv", "--digits", "17")
    assert res.rc == 0, res.err
    X = independent_inputs(arrays, meta, a, b, colour)[complete]
    got = np.array([[float(v) for v in r[1:]] for r in read_csv(res.out)[1]])
    np.testing.assert_allclose(got, predict(X), rtol=1e-12)

    # an unknown colour is counted and encoded as all zeros
    (tmp_path / "odd.csv").write_text(f"a;b;colour\n{float(a[0])!r};{float(b[0])!r};purple\n")
    res = cli("predict", "m.npz", "odd.csv", "--digits", "17")
    assert "1 cell(s) of 'colour' hold a value training never saw" in res.err
    p = float(read_csv(res.out)[1][0][1])
    np.testing.assert_allclose(p, predict(np.array([[a[0], b[0], 0, 0, 0]]))[0, 0], rtol=1e-12)


def test_missing_drop_and_error(cli, tmp_path):
    path, *_ = messy(tmp_path)
    dropped = sum(1 for i in range(240) if i % 17 == 3 or i % 29 == 5)
    res = cli("train", path, "--target", "label", "--epochs", "1", "--missing", "drop", "-q")
    assert res.rc == 0, res.err
    assert f"dropped {dropped} row(s) with missing cells" in res.out
    assert f"{240 - dropped} rows" in res.out
    res = cli("train", path, "--target", "label", "--missing", "error")
    assert res.rc == 2 and "line 5, column 2 ('b')" in res.err


def test_stratified_split_saved_and_fingerprinted(cli, tmp_path):
    path, *_ = messy(tmp_path)
    res = cli(
        "train", path, "--target", "label", "--epochs", "2", "--val-split", "0.25",
        "--save", "m.npz", "--save-split", "split", "-q", "--seed", "3",
    )  # fmt: skip
    assert res.rc == 0, res.err
    original = path.read_text().splitlines()
    train = (tmp_path / "split/train.csv").read_text().splitlines()
    val = (tmp_path / "split/val.csv").read_text().splitlines()
    assert train[0] == val[0] == original[0]
    assert sorted(train[1:] + val[1:]) == sorted(original[1:])  # the file's own rows
    labels = [line.rsplit(";", 1)[1] for line in original[1:]]
    for c in ("good", "bad"):  # stratified: round(n_c / 4) of each class held out
        held = sum(line.endswith(";" + c) for line in val[1:])
        assert held == int(np.floor(labels.count(c) * 0.25 + 0.5))
    assert f"{len(train) - 1} training rows, {len(val) - 1} validation rows" in res.out

    # predict knows which rows it was trained on (from the fingerprint in the model)
    res = cli("predict", "m.npz", path, "--digits", "17")
    assert f"{len(train) - 1} of 240 rows are rows the model was trained on" in res.err
    res = cli("predict", "m.npz", "split/val.csv", "--digits", "17")
    assert f"0 of {len(val) - 1} rows are rows the model was trained on" in res.err
    with np.load(tmp_path / "m.npz") as f:
        assert f["train_rows"].dtype == np.uint64 and len(f["train_rows"]) == len(train) - 1

    # labels the model does not know are reported, not counted as wrong
    lines = original[:4] + [
        original[4].rsplit(";", 1)[0] + ";maybe",
        original[5].rsplit(";", 1)[0] + ";",
    ]
    (tmp_path / "odd.csv").write_text("\n".join(lines) + "\n")
    res = cli("predict", "m.npz", "odd.csv", "--digits", "17")
    assert "not scored: 1 row(s) without a label, 1 with a label the model does not know" in res.err
    assert "(3 rows)" in res.err


def epoch_lines(out: str) -> dict[int, str]:
    return {
        int(m.group(1)): line
        for line in out.splitlines()
        if (m := re.match(r"epoch +(\d+)/", line))
    }


def test_best_epoch_is_kept_and_patience_stops(cli, tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 6))
    y = X[:, 0] + rng.normal(0, 1.0, 80)  # noisy: a big net overfits quickly
    rows = ["a,b,c,d,e,f,y"] + [",".join(repr(float(v)) for v in [*x, t]) for x, t in zip(X, y)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    args = ["train", "r.csv", "--target", "y", "--layers", "64,64", "--lr", "0.02",
            "--epochs", "60", "--log-every", "1", "--batch-size", "8"]  # fmt: skip
    res = cli(*args)
    assert res.rc == 0, res.err
    best = int(re.search(r"kept the weights of epoch (\d+) of 60", res.out).group(1))
    lines = epoch_lines(res.out)
    val_loss = {e: float(re.search(r"val loss ([\d.]+)", s).group(1)) for e, s in lines.items()}
    assert best == min(val_loss, key=val_loss.get) and best < 60
    final = next(s for s in res.out.splitlines() if s.startswith("final:"))
    assert f"val loss {val_loss[best]:.4f}" in final  # the restored weights' score
    assert re.search(r"val loss [\d.]+ rmse [\d.]+ mae [\d.]+ r2 -?[\d.]+", final)

    res = cli(*args, "--patience", "3")
    stop = int(re.search(r"stopped after epoch (\d+)", res.out).group(1))
    best = int(re.search(r"kept the weights of epoch (\d+)", res.out).group(1))
    assert stop - best == 3 and max(epoch_lines(res.out)) == stop < 60


def test_regression_metrics_match_predictions(cli, tmp_path):
    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, (150, 2))
    y = 2 * X[:, 0] - X[:, 1] + rng.normal(0, 0.3, 150)
    rows = ["u,v,y"] + [f"{float(a)!r},{float(b)!r},{float(t)!r}" for (a, b), t in zip(X, y)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    res = cli("train", "r.csv", "--target", "y", "--epochs", "20", "--save", "r.npz",
              "--save-split", "s", "-q")  # fmt: skip
    assert res.rc == 0, res.err
    final = next(s for s in res.out.splitlines() if s.startswith("final:"))
    mae, r2 = re.search(r"val loss [\d.]+ rmse [\d.]+ mae ([\d.]+) r2 (-?[\d.]+)", final).groups()
    res = cli("predict", "r.npz", "s/val.csv", "--digits", "17")
    pred = np.array([float(r[0]) for r in read_csv(res.out)[1]])
    truth = np.array(
        [
            float(r[2])
            for r in list(csv.reader(io.StringIO((tmp_path / "s/val.csv").read_text())))[1:]
        ]
    )
    err = pred - truth
    assert float(mae) == pytest.approx(np.mean(np.abs(err)), abs=6e-4 * max(1, float(mae)))
    assert float(r2) == pytest.approx(
        1 - np.sum(err**2) / np.sum((truth - truth.mean()) ** 2), abs=6e-4
    )
    assert f"r2 {float(r2):.3f}" in final


def test_float32_model(cli, tmp_path):
    res = cli("train", "moons", "--dtype", "float32", "--epochs", "5", "--save", "m.npz", "-q")
    assert res.rc == 0, res.err
    with np.load(tmp_path / "m.npz") as f:
        assert f["model.layers.0.weight"].dtype == np.float32
    res = cli("predict", "m.npz", "moons", "--digits", "17")
    assert res.rc == 0 and "accuracy on moons" in res.err


def test_version_1_model_file_still_loads(cli, tmp_path):
    import gradsight as gs

    assert cli("train", "xor", "--epochs", "3", "--save", "m.npz", "-q").rc == 0
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k not in ("__manifest__", "train_rows")}
    meta = json.loads(arrays["meta_json"].tobytes())
    for key in ("columns", "dtype", "missing", "dialect", "train_rows"):
        meta.pop(key)
    meta["version"] = 1
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    gs.save(arrays, tmp_path / "old.npz")
    new, old = cli("predict", "m.npz", "xor"), cli("predict", "old.npz", "xor")
    assert old.rc == 0, old.err
    assert old.out == new.out
    assert "rows the model was trained on" in new.err and "trained on" not in old.err


def test_predict_sniffs_or_takes_the_separator(cli, tmp_path):
    path, a, b, colour, _ = messy(tmp_path, n=60)
    assert cli("train", path, "--target", "label", "--epochs", "2", "--save", "m.npz", "-q").rc == 0
    rows = ["a\tb\tcolour"] + [f"{float(x)!r}\t{float(y)!r}\t{c}" for x, y, c in zip(a, b, colour)]
    (tmp_path / "new.tsv").write_text("\n".join(rows) + "\n")
    sniffed = cli("predict", "m.npz", "new.tsv")
    given = cli("predict", "m.npz", "new.tsv", "--sep", "tab")
    assert sniffed.rc == given.rc == 0 and sniffed.out == given.out
    assert len(read_csv(given.out)[1]) == 60
    wrong = cli("predict", "m.npz", "new.tsv", "--sep", ";")
    assert wrong.rc == 2 and "lacks the model's feature column" in wrong.err
