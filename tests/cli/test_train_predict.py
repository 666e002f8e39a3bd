"""``gradsight train`` and ``predict`` in subprocesses: results, saved model, reproduction.

The saved model is read back with plain ``np.load(allow_pickle=False)`` and run
through an independent NumPy forward pass: predict must give the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from .conftest import assert_bad_input

ACT = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


def numpy_model(path):
    """(meta, predict(X)) from the .npz alone, without gradsight."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["meta_json"].tobytes().decode("utf-8"))
    n_layers = len(meta["sizes"]) - 1
    idx = sorted({int(k.split(".")[2]) for k in arrays if k.startswith("model.layers.")})
    assert len(idx) == n_layers
    act = ACT[meta["activation"]]

    def predict(X):
        h = (X - arrays["input_mean"]) / arrays["input_std"]
        for n, i in enumerate(idx):
            h = h @ arrays[f"model.layers.{i}.weight"].T + arrays[f"model.layers.{i}.bias"]
            if n < n_layers - 1:
                h = act(h)
        if meta["task"] == "regress":
            return h[:, 0] * arrays["target_std"][0] + arrays["target_mean"][0]
        if h.shape[1] == 1:
            p = 1 / (1 + np.exp(-h[:, 0]))
            return np.stack([1 - p, p], axis=1)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return meta, arrays, predict


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def final_metrics(stdout: str) -> dict:
    """'final: train loss 0.1 acc 97.5%  val ...' -> {'train loss': 0.1, 'train acc': 97.5, ...}"""
    line = next(s for s in stdout.splitlines() if s.startswith("final:"))
    out = {}
    for part, metrics in re.findall(r"(train|val) ((?:\w+ [\d.]+%? ?)+)", line):
        for name, value in re.findall(r"(\w+) ([\d.]+)", metrics):
            out[f"{part} {name}"] = float(value)
    return out


@pytest.fixture
def blobs(tmp_path):
    """Two labelled Gaussian blobs with text labels and an id column."""
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(-1, 0.7, (60, 2)), rng.normal(1, 0.7, (60, 2))])
    labels = ["no"] * 60 + ["yes"] * 60
    rows = [
        [f"r{i}", repr(float(a)), repr(float(b)), lab]
        for i, ((a, b), lab) in enumerate(zip(X, labels))
    ]
    path = tmp_path / "blobs.csv"
    write_csv(path, ["id", "x1", "x2", "label"], rows)
    return path, X, labels


def test_train_then_predict_reproduces_the_model(cli, tmp_path, blobs):
    path, X, labels = blobs
    res = cli(
        "train",
        path,
        "--target",
        "label",
        "--ignore",
        "id",
        "--layers",
        "8",
        "--epochs",
        "15",
        "--val-split",
        "0",
        "--save",
        "m.npz",
        "--quiet",
    )
    assert res.rc == 0, res.err
    assert "target 'label': classify, 2 classes" in res.out
    assert "2-8-1 tanh MLP" in res.out
    assert not any(s.startswith("epoch") for s in res.out.splitlines())  # --quiet
    acc = final_metrics(res.out)["train acc"]
    assert acc >= 90.0

    meta, arrays, predict = numpy_model(tmp_path / "m.npz")
    assert meta["features"] == ["x1", "x2"] and meta["classes"] == ["no", "yes"]
    # inputs were standardised with the training rows' statistics (all rows here)
    np.testing.assert_allclose(arrays["input_mean"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(arrays["input_std"], X.std(axis=0), rtol=1e-12)

    res = cli("predict", "m.npz", path, "--out", "p.csv", "--digits", "17")
    assert res.rc == 0, res.err
    header, rows = read_csv((tmp_path / "p.csv").read_text())
    assert header == ["prediction", "p_no", "p_yes"]
    probs = np.array([[float(r[1]), float(r[2])] for r in rows])
    np.testing.assert_allclose(probs, predict(X), rtol=1e-12, atol=1e-15)
    assert [r[0] for r in rows] == [["no", "yes"][k] for k in probs.argmax(axis=1)]
    # predict scores the target column it finds: the same accuracy train reported
    assert f"accuracy on {path}: {acc:.1f}% (120 rows)" in res.err


def test_predict_reads_features_by_name_and_writes_stdout(cli, tmp_path, blobs):
    path, X, _ = blobs
    assert (
        cli(
            "train",
            path,
            "--target",
            "label",
            "--ignore",
            "id",
            "--epochs",
            "3",
            "--save",
            "m.npz",
            "--quiet",
        ).rc
        == 0
    )
    shuffled = tmp_path / "shuffled.csv"
    rows = [[repr(float(b)), "z", repr(float(a))] for a, b in X]
    write_csv(shuffled, ["x2", "extra", "x1"], rows)
    res = cli("predict", "m.npz", shuffled, "--digits", "17")
    assert res.rc == 0, res.err
    _, rows = read_csv(res.out)
    _, _, predict = numpy_model(tmp_path / "m.npz")
    np.testing.assert_allclose(np.array(rows)[:, 1:].astype(float), predict(X), rtol=1e-12)

    write_csv(tmp_path / "lacking.csv", ["x2", "z"], [["1", "2"]])
    assert_bad_input(cli("predict", "m.npz", "lacking.csv"), "lacking.csv", "'x1'", "'x2', 'z'")


def test_regression_is_learnt_and_reproduced(cli, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (200, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] + 10 + rng.normal(0, 0.1, 200)
    write_csv(tmp_path / "r.csv", ["a", "b", "c", "y"], np.column_stack([X, y]).tolist())
    res = cli(
        "train",
        "r.csv",
        "--target",
        "y",
        "--task",
        "regress",
        "--layers",
        "16",
        "--epochs",
        "60",
        "--save",
        "r.npz",
        "--quiet",
    )
    assert res.rc == 0, res.err
    assert "target 'y': regress" in res.out
    m = final_metrics(res.out)
    assert m["val rmse"] < 0.6 * y.std()  # learnt something real: y has std ~4.3

    res = cli("predict", "r.npz", "r.csv", "--digits", "17")
    assert res.rc == 0, res.err
    header, rows = read_csv(res.out)
    assert header == ["prediction"]
    _, _, predict = numpy_model(tmp_path / "r.npz")
    np.testing.assert_allclose([float(r[0]) for r in rows], predict(X), rtol=1e-12)
    assert "rmse on r.csv" in res.err


def test_multiclass_with_numeric_labels(cli, tmp_path):
    rng = np.random.default_rng(3)
    centres = np.array([[0, 3], [3, 0], [-3, -3]])
    labels = np.repeat([1, 2, 7], 40)
    X = centres[np.repeat([0, 1, 2], 40)] + rng.normal(0, 0.8, (120, 2))
    write_csv(tmp_path / "m.csv", ["u", "v", "k"], [[a, b, int(k)] for (a, b), k in zip(X, labels)])
    res = cli(
        "train",
        "m.csv",
        "--target",
        "k",
        "--epochs",
        "20",
        "--optimizer",
        "sgd",
        "--save",
        "k.npz",
        "--quiet",
    )
    assert res.rc == 0, res.err
    assert "classify, 3 classes" in res.out and "-3 tanh MLP" in res.out
    assert final_metrics(res.out)["val acc"] >= 90.0
    res = cli("predict", "k.npz", "m.csv")
    header, rows = read_csv(res.out)
    assert header == ["prediction", "p_1", "p_2", "p_7"]
    assert {r[0] for r in rows} <= {"1", "2", "7"}


def test_builtin_xor_and_moons(cli):
    res = cli("train", "xor", "--layers", "4", "--epochs", "300", "--quiet")
    assert res.rc == 0, res.err
    assert "0 validation rows" in res.out
    assert final_metrics(res.out)["train acc"] == 100.0

    res = cli("train", "moons", "--epochs", "30")
    assert res.rc == 0, res.err
    assert "400 rows" in res.out and "320 training rows, 80 validation rows" in res.out
    epochs = [s for s in res.out.splitlines() if s.startswith("epoch")]
    assert epochs[0].startswith("epoch  1/30") and epochs[-1].startswith("epoch 30/30")
    assert final_metrics(res.out)["val acc"] >= 90.0
    assert res.err == ""  # no progress bar when stderr is not a terminal


def test_epoch_lines_without_tqdm(cli, blocker):
    res = cli("train", "xor", "--epochs", "5", "--log-every", "1", extra_path=[blocker("tqdm")])
    assert res.rc == 0, res.err
    assert [s.split()[1] for s in res.out.splitlines() if s.startswith("epoch")] == [
        "1/5",
        "2/5",
        "3/5",
        "4/5",
        "5/5",
    ]


def test_same_seed_same_model(cli, tmp_path):
    for name in ("a.npz", "b.npz"):
        assert cli("train", "moons", "--epochs", "2", "--seed", "5", "--save", name, "-q").rc == 0
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def test_digits(cli, tmp_path):
    pytest.importorskip("sklearn")
    res = cli("train", "digits", "--layers", "32", "--epochs", "1", "--save", "d.npz", "-q")
    assert res.rc == 0, res.err
    assert "1797 rows, 64 features" in res.out and "classify, 10 classes" in res.out
    assert final_metrics(res.out)["val acc"] >= 85.0
    res = cli("predict", "d.npz", "digits")
    assert res.rc == 0
    assert len(read_csv(res.out)[1]) == 1797


def test_csv_dialect_details(cli, tmp_path):
    """A BOM, CRLF line ends, quoted names and cells, spaces and blank lines are all fine."""
    text = '\ufeff"x 1", x2 ,"label"\r\n 1.5 ,"2",a\r\n\r\n-1,1e-3,"b"\r\n0,+4,a\r\n'
    (tmp_path / "d.csv").write_bytes(text.encode("utf-8"))
    res = cli("train", "d.csv", "--target", "label", "--epochs", "2", "--save", "m.npz", "-q")
    assert res.rc == 0, res.err
    assert "3 rows, 2 features (x 1, x2); target 'label': classify, 2 classes" in res.out
    meta, arrays, _ = numpy_model(tmp_path / "m.npz")
    assert meta["features"] == ["x 1", "x2"] and meta["classes"] == ["a", "b"]
    np.testing.assert_allclose(arrays["input_mean"], [0.5 / 3, 6.001 / 3])


def test_task_inference(cli, tmp_path):
    write_csv(tmp_path / "f.csv", ["x", "y"], [[i, i * 0.37] for i in range(30)])
    res = cli("train", "f.csv", "--target", "y", "--epochs", "1", "-q")
    assert "target 'y': regress" in res.out  # fractional numbers
    write_csv(tmp_path / "i.csv", ["x", "y"], [[i, i % 3] for i in range(30)])
    res = cli("train", "i.csv", "--target", "y", "--epochs", "1", "-q")
    assert "target 'y': classify, 3 classes" in res.out  # few whole numbers
    res = cli("train", "i.csv", "--target", "y", "--epochs", "1", "-q", "--task", "regress")
    assert "target 'y': regress" in res.out


def test_predict_refuses_bad_data_and_bad_models(cli, tmp_path):
    import gradsight as gs

    args = ("train", "xor", "--epochs", "2", "--save", "m.npz", "-q", "--missing", "error")
    assert cli(*args).rc == 0
    (tmp_path / "nan.csv").write_text("x1,x2\n0,1\n1,nan\n")
    assert_bad_input(
        cli("predict", "m.npz", "nan.csv"), "nan.csv", "line 3", "column 2", "--missing error"
    )
    assert not (tmp_path / "p.csv").exists()

    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "__manifest__"}
    gs.save({k: v for k, v in arrays.items() if k != "meta_json"}, tmp_path / "nometa.npz")
    assert_bad_input(cli("predict", "nometa.npz", "xor"), "nometa.npz", "not a gradsight")

    for change, fragment in (
        ({"sizes": [2, 5, 1]}, "does not fit"),  # weights are 2-16-16-1
        ({"sizes": [2, 30000, 30000, 1]}, "limit"),  # refused before allocating
        ({"task": "cluster"}, "task 'cluster'"),
        ({"classes": ["only"]}, "classes"),
        ({"activation": "gelu"}, "activation 'gelu'"),
        ({"version": 99}, "version 99"),  # a newer format: refused, saying why
        ({"columns": [{"name": "x1", "kind": "number"}]}, "columns"),
        ({"dtype": "int8"}, "dtype 'int8'"),
    ):
        meta = json.loads(arrays["meta_json"].tobytes())
        meta.update(change)
        bad = dict(arrays, meta_json=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        gs.save(bad, tmp_path / "bad.npz")
        assert_bad_input(cli("predict", "bad.npz", "xor"), "bad.npz", fragment)
