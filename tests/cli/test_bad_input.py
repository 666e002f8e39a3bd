"""Each bad input: exit code 2 and one stderr line naming the file, line, column or value."""

from __future__ import annotations

import pytest

from .conftest import assert_bad_input

GOOD = "x1,x2,y\n0.5,1.0,0\n1.5,-2.0,1\n0.25,3.0,0\n-1.0,0.0,1\n"
# y = x1 + 2 x2 on 40 rows: a relu net with SGD at lr 100 overflows within a few epochs
LINEAR = "x1,x2,y\n" + "".join(
    f"{a},{b},{a + 2 * b}\n" for a, b in ((i % 7 - 3, i % 5 - 2) for i in range(40))
)

CASES = {
    "missing file": ({}, ["train", "nope.csv", "--target", "y"], ["not found", "nope.csv"]),
    "empty file": ({"e.csv": ""}, ["train", "e.csv", "--target", "y"], ["empty CSV", "e.csv"]),
    "blank lines only": (
        {"e.csv": "\n \n\n"},
        ["train", "e.csv", "--target", "y"],
        ["empty CSV", "e.csv"],
    ),
    "header only": (
        {"h.csv": "x1,x2,y\n"},
        ["train", "h.csv", "--target", "y"],
        ["empty CSV", "h.csv", "no data rows"],
    ),
    "non-numeric cell": (
        {"d.csv": "x1,x2,y\n0.5,1.0,0\n1.5,abc,1\n0.2,0.1,0\n"},
        ["train", "d.csv", "--target", "y"],
        ["d.csv", "line 3", "column 2", "'x2'", "not a number", "'abc'"],
    ),
    "non-numeric cell counted": (
        {"d.csv": "x1,x2,y\nfoo,1.0,0\n1.5,abc,1\n0.2,0.1,0\n"},
        ["train", "d.csv", "--target", "y"],
        ["line 2", "column 1", "'x1'", "'foo'", "1 more bad cell"],
    ),
    "NaN value": (
        {"d.csv": "x1,x2,y\n0.5,1.0,0\n1.5,2.0,1\nnan,0.1,0\n"},
        ["train", "d.csv", "--target", "y", "--missing", "error"],
        ["d.csv", "line 4", "column 1", "'x1'", "missing value", "--missing mean"],
    ),
    "infinite value": (
        {"d.csv": "x1,x2,y\n0.5,-inf,0\n1.5,2.0,1\n"},
        ["train", "d.csv", "--target", "y"],
        ["line 2", "column 2", "'x2'", "infinite", "'-inf'"],
    ),
    "empty cell": (
        {"d.csv": "x1,x2,y\n0.5,1.0,0\n1.5,,1\n"},
        ["train", "d.csv", "--target", "y", "--missing", "error"],
        ["line 3", "column 2", "'x2'", "missing value"],
    ),
    "NaN in a regression target": (
        {"d.csv": "x1,x2,y\n0.5,1.0,0.1\n1.5,2.0,NaN\n"},
        ["train", "d.csv", "--target", "y", "--task", "regress", "--missing", "error"],
        ["line 3", "column 3", "'y'", "missing value"],
    ),
    "line numbers count blank lines": (
        {"d.csv": "x1,x2,y\n\n0.5,1.0,0\n\n1.5,oops,1\n"},
        ["train", "d.csv", "--target", "y"],
        ["line 5", "column 2", "'oops'"],
    ),
    "missing target column": (
        {"d.csv": GOOD},
        ["train", "d.csv", "--target", "price"],
        ["'price'", "not found", "d.csv", "available columns: 'x1', 'x2', 'y'"],
    ),
    "no --target for a CSV": (
        {"d.csv": GOOD},
        ["train", "d.csv"],
        ["--target", "'x1', 'x2', 'y'"],
    ),
    "target with one class": (
        {"d.csv": "x1,x2,y\n0.5,1.0,1\n1.5,2.0,1\n0.2,0.3,1\n"},
        ["train", "d.csv", "--target", "y"],
        ["'y'", "d.csv", "only one class", "'1'", "3 rows"],
    ),
    "text target with one class": (
        {"d.csv": "x1,x2,kind\n0.5,1.0,cat\n1.5,2.0,cat\n"},
        ["train", "d.csv", "--target", "kind", "--task", "classify"],
        ["'kind'", "only one class", "'cat'"],
    ),
    "ragged row": (
        {"d.csv": "x1,x2,y\n0.5,1.0,0\n1.5,2.0\n"},
        ["train", "d.csv", "--target", "y"],
        ["d.csv", "line 3", "2 fields", "3 columns"],
    ),
    "duplicate header": (
        {"d.csv": "x,x,y\n0.5,1.0,0\n1.5,2.0,1\n"},
        ["train", "d.csv", "--target", "y"],
        ["duplicate column", "'x'"],
    ),
    "not UTF-8": (
        {"d.csv": b"x1,x2,y\n0.5,\xff\xfe,0\n"},
        ["train", "d.csv", "--target", "y"],
        ["d.csv", "not UTF-8"],
    ),
    "a directory as data": ({"sub/a.csv": GOOD}, ["train", "sub", "--target", "y"], ["directory"]),
    "bad --layers text": (
        {"d.csv": GOOD},
        ["train", "d.csv", "--target", "y", "--layers", "16,abc"],
        ["--layers", "'16,abc'", "'abc' is not a positive integer"],
    ),
    "negative --layers": (
        {},
        ["graph", "--layers", "4,-4"],
        ["--layers", "'-4' is not a positive integer"],
    ),
    "empty --layers for graph": (
        {},
        ["graph", "--layers", ""],
        ["--layers", "hidden sizes only", "'none' for no hidden layer"],
    ),
    "--layers with an empty entry": (
        {},
        ["check", "--sizes", "2,,1"],
        ["--sizes", "'' is not a positive integer"],
    ),
    "--layers too large": (
        {},
        ["graph", "--layers", "20000,20000"],
        ["2-20000-20000-1", "parameters", "limit"],
    ),
    "bad --epochs": ({}, ["demo", "--epochs", "ten"], ["--epochs", "'ten' is not an integer"]),
    "bad --lr": ({}, ["demo", "--lr", "-0.5"], ["--lr", "positive", "'-0.5'"]),
    "bad --val-split": (
        {},
        ["train", "xor", "--val-split", "1.5"],
        ["--val-split", "[0, 1)", "'1.5'"],
    ),
    "unknown option": ({}, ["demo", "--bogus"], ["unrecognized arguments: --bogus"]),
    "unknown command": ({}, ["fly"], ["invalid choice: 'fly'"]),
    "unwritable --out directory": (
        {"afile": "x"},
        ["demo", "--out", "afile/demo"],
        ["cannot create the output directory", "afile/demo"],
    ),
    "--out is a file": ({"afile": "x"}, ["demo", "--out", "afile"], ["'afile'", "not a directory"]),
    "unwritable graph --out": (
        {},
        ["graph", "--out", "no/such/dir/g.svg"],
        ["no/such/dir/g.svg", "does not exist"],
    ),
    "graph --out is a directory": ({"d/x": ""}, ["graph", "--out", "d"], ["'d'", "directory"]),
    "unwritable train --save": (
        {"afile": "x"},
        ["train", "xor", "--save", "afile/model.npz"],
        ["afile/model.npz"],
    ),
    "unwritable predict --out": (
        {"afile": "x", "m.npz": "not a model"},
        ["predict", "m.npz", "xor", "--out", "afile/p.csv"],
        ["afile/p.csv"],
    ),
    "missing model file": (
        {},
        ["predict", "nope.npz", "xor"],
        ["model file not found", "nope.npz"],
    ),
    "model file that is not a zip": (
        {"m.npz": "hello"},
        ["predict", "m.npz", "xor"],
        ["cannot load model", "m.npz"],
    ),
    "stdout needs dot": ({}, ["graph", "--out", "-"], ["--format dot"]),
    "training diverges": (
        {"r.csv": LINEAR},
        [
            "train",
            "r.csv",
            "--target",
            "y",
            "--task",
            "regress",
            "--optimizer",
            "sgd",
            "--lr",
            "100",
            "--activation",
            "relu",
            "--save",
            "m.npz",
            "-q",
        ],
        ["diverged", "smaller --lr", "no model was saved"],
    ),
    "values too large to scale": (
        {"big.csv": "a,y\n1e308,0\n-1e308,1\n1e308,0\n"},
        ["train", "big.csv", "--target", "y"],
        ["'a'", "too large"],
    ),
    "no --target, text columns (reported first)": (
        {"iris.csv": "sepal,species\n1.5,setosa\n2.5,virginica\n"},
        ["train", "iris.csv"],
        ["train needs --target", "'sepal', 'species'"],
    ),
    "a text target for --task regress": (
        {"d.csv": "x,kind\n0.5,cat\n1.5,dog\n"},
        ["train", "d.csv", "--target", "kind", "--task", "regress"],
        ["line 2", "column 2", "'kind'", "not a number", "'cat'"],
    ),
    "semicolons read with --sep ,": (
        {"s.csv": "a;b;y\n1;2;0\n3;4;1\n"},
        ["train", "s.csv", "--target", "y", "--sep", ","],
        ["'y'", "not found", "--sep ';'"],
    ),
    "an identifier column is not one-hot encoded": (
        {"ids.csv": "id,x,y\n" + "".join(f"u{i},{i % 7},{i % 2}\n" for i in range(150))},
        ["train", "ids.csv", "--target", "y"],
        ["'id'", "150 distinct text values", "--ignore id"],
    ),
    "text in a number column far down": (
        {"far.csv": "x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20000)) + "oops,1\n"},
        ["train", "far.csv", "--target", "y"],
        ["line 20002", "column 1", "'x'", "not a number", "'oops'"],
    ),
    "bad --missing": ({}, ["train", "xor", "--missing", "guess"], ["--missing", "'guess'"]),
    "bad --sep": ({}, ["train", "xor", "--sep", "ab"], ["--sep", "'ab'"]),
    "bad --patience": ({}, ["train", "xor", "--patience", "0"], ["--patience", "positive"]),
    "bad --dtype": ({}, ["train", "xor", "--dtype", "float16"], ["--dtype", "'float16'"]),
    "--save-split is a file": (
        {"afile": "x"},
        ["train", "xor", "--save-split", "afile"],
        ["'afile'", "not a directory"],
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, case):
    files, args, fragments = CASES[case]
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    res = cli(*args)
    assert_bad_input(res, *fragments)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before and ".mplconfig" not in str(p)] == [], (
        "a failed command left files behind"
    )


def test_debug_shows_the_traceback(cli):
    res = cli("train", "nope.csv", "--target", "y", "--debug")
    assert res.rc == 2
    assert "Traceback" in res.err
    assert res.err_lines[-1].startswith("gradsight: error: data file not found")


def test_digits_without_scikit_learn(cli, blocker):
    res = cli("train", "digits", extra_path=[blocker("sklearn")])
    assert_bad_input(res, "'digits'", "scikit-learn")


def test_unwritable_out_when_not_root(cli, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert_bad_input(cli("demo", "--out", locked), "cannot write", "locked")
