"""predict's fingerprint of the training rows: distinct rows never share one.

The sets below are the ones a word-wise multiplicative hash got wrong: small
whole numbers stored as float64 have all-zero low bits, so multiplying whole
words mixed too little (1,438 digits rows gave 1,406 fingerprints).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from gradsight.cli import prepare


def distinct_rows(X: np.ndarray) -> np.ndarray:
    return np.unique(X, axis=0)


def assert_no_collision(X: np.ndarray) -> None:
    rows = distinct_rows(X)
    hashes = prepare.row_hashes(rows)
    assert hashes.dtype == np.uint64 and hashes.shape == (len(rows),)
    assert len(np.unique(hashes)) == len(rows)


def test_digits_rows_have_distinct_fingerprints():
    sklearn = pytest.importorskip("sklearn.datasets")
    X = sklearn.load_digits().data
    rows = distinct_rows(X)
    assert len(rows) >= 1438
    assert_no_collision(X)


def test_every_row_of_ten_binary_columns():
    X = np.array(list(itertools.product([0.0, 1.0], repeat=10)))
    assert len(X) == 1024
    assert_no_collision(X)


def test_twenty_thousand_random_rows_of_small_integers():
    rng = np.random.default_rng(0)
    rows = distinct_rows(rng.integers(0, 10, size=(21000, 8)).astype(np.float64))[:20000]
    assert len(rows) == 20000
    assert_no_collision(rows)


def test_equal_values_give_equal_fingerprints_whatever_the_storage():
    X = np.array([[0.0, 1.5, np.nan], [-0.0, 1.5, -np.nan]])
    h64 = prepare.row_hashes(X)
    assert h64[0] == h64[1]  # -0.0 is 0.0, every NaN alike
    h32 = prepare.row_hashes(X.astype(np.float32))
    np.testing.assert_array_equal(h32, h64)
    rows = np.array([1, 0])
    np.testing.assert_array_equal(prepare.row_hashes(X, rows), h64[rows])
    assert (
        prepare.row_hashes(np.array([[1.0, 2.0]]))[0]
        != prepare.row_hashes(np.array([[2.0, 1.0]]))[0]
    )


def test_digits_validation_rows_are_not_counted_as_training_rows(cli, tmp_path):
    sklearn = pytest.importorskip("sklearn.datasets")
    d = sklearn.load_digits()
    lines = [",".join([*(f"p{i}" for i in range(64)), "target"])]
    lines += [",".join([*(str(int(v)) for v in x), str(t)]) for x, t in zip(d.data, d.target)]
    (tmp_path / "digits.csv").write_text("\n".join(lines) + "\n")
    res = cli("train", "digits.csv", "--target", "target", "--epochs", "1",
              "--save", "d.npz", "--save-split", "s", "-q")  # fmt: skip
    assert res.rc == 0, res.err
    n_val = len((tmp_path / "s/val.csv").read_text().splitlines()) - 1
    n_train = len((tmp_path / "s/train.csv").read_text().splitlines()) - 1
    assert (n_train, n_val) == (1438, 359)
    val = cli("predict", "d.npz", "s/val.csv")
    assert val.rc == 0, val.err
    # the oracle: validation rows whose 64 pixels are exactly those of a training row
    pixels = (
        lambda name: [  # noqa: E731
            line.rsplit(",", 1)[0] for line in (tmp_path / name).read_text().splitlines()[1:]
        ]
    )
    seen = set(pixels("s/train.csv"))
    same = sum(p in seen for p in pixels("s/val.csv"))
    assert f"{same} of {n_val} rows are rows the model was trained on" in val.err
    assert re.search(r"\b0 of 359 rows are rows the model was trained on", val.err), val.err
    train = cli("predict", "d.npz", "s/train.csv")
    assert f"{n_train} of {n_train} rows are rows the model was trained on" in train.err
