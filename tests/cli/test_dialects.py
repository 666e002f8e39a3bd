"""CSV dialects a user's files come in: decimal commas and thousands separators,
CR-only line ends, pandas' index column, columns ignored by position; every
bad cell counted; identifier columns named; and what train learnt about the
file applied by predict to new files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradsight as gs
from gradsight.cli import table as tables
from gradsight.cli.errors import CliError

from .conftest import assert_bad_input


def number_column(frame: tables.Frame, name: str) -> np.ndarray:
    col = frame.columns[name]
    assert col.kind == "number", f"{name} read as {col.kind}"
    return np.concatenate(col.parts)


def comma(v: float, digits: int = 2) -> str:
    """A number as a spreadsheet in a decimal-comma locale writes it: 1,25."""
    return f"{v:.{digits}f}".replace(".", ",")


def two_class_rows(n: int, seed: int = 0):
    """(x, z, label): label = x + z > 1, x and z with two decimals."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(0, 2, n), 2)
    z = np.round(rng.uniform(-1, 1, n), 2)
    return x, z, np.where(x + z > 1, "yes", "no")


def write(path, header: str, rows: list[str], end: str = "\n") -> None:
    path.write_bytes((end.join([header, *rows]) + end).encode("utf-8"))


def predictions(res) -> list[str]:
    assert res.rc == 0, res.err
    return res.out.splitlines()


# ------------------------------------------------------------------ decimal commas
def test_semicolon_file_with_decimal_commas_is_read_as_numbers_and_said(cli, tmp_path):
    x, z, label = two_class_rows(300)
    rows = [f"{comma(a)};{comma(b)};{t}" for a, b, t in zip(x, z, label)]
    write(tmp_path / "eu.csv", "x;z;label", rows)
    res = cli("train", "eu.csv", "--target", "label", "--epochs", "2", "--save", "m.npz")
    assert res.rc == 0, res.err
    assert "prepared: read numbers with a decimal comma ('1,5' is 1.5" in res.out
    assert "2 features (x, z)" in res.out and "one-hot" not in res.out
    frame = tables.read(str(tmp_path / "eu.csv"), ["x", "z"])
    assert frame.decimal == "," and frame.decimal_detected
    np.testing.assert_array_equal(number_column(frame, "x"), x)
    np.testing.assert_array_equal(number_column(frame, "z"), z)
    with np.load(tmp_path / "m.npz") as f:
        meta = json.loads(f["meta_json"].tobytes())
    assert meta["dialect"] == {
        "sep": ";", "decimal": ",", "line_ending": "\n", "index": None, "ignored": [],
    }  # fmt: skip

    # the same rows with decimal points and commas between them: the same predictions
    write(tmp_path / "us.csv", "x,z,label", [f"{a},{b},{t}" for a, b, t in zip(x, z, label)])
    eu, us = cli("predict", "m.npz", "eu.csv"), cli("predict", "m.npz", "us.csv")
    assert predictions(eu) == predictions(us)
    assert "with a decimal comma (as in training" in eu.err and "decimal comma" not in us.err


def test_without_detection_a_decimal_comma_file_would_be_one_hot_encoded(tmp_path):
    # the oracle for the test above: as plain text the same cells are categories
    x, z, label = two_class_rows(50)
    rows = [f"{comma(a)};{comma(b)};{t}" for a, b, t in zip(x, z, label)]
    write(tmp_path / "eu.csv", "x;z;label", rows)
    frame = tables.read(str(tmp_path / "eu.csv"), ["x", "z"], decimal=".")
    assert frame.columns["x"].kind == "text" and not frame.decimal_detected


def test_predict_applies_the_training_files_decimal_comma(cli, tmp_path):
    """'1.500' is 1500 with a decimal comma ('.' groups thousands), 1.5 without."""
    x, z, label = two_class_rows(200, seed=1)
    x = x * 1000  # thousands: 1.234,00 with '.' grouping them
    cells = [f"{a:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for a in x]
    assert any("." in c for c in cells)
    rows = [f"{c};{comma(b)};{t}" for c, b, t in zip(cells, z, label)]
    write(tmp_path / "eu.csv", "x;z;label", rows)
    frame = tables.read(str(tmp_path / "eu.csv"), ["x"])
    np.testing.assert_allclose(number_column(frame, "x"), x, rtol=0, atol=1e-9)
    assert cli("train", "eu.csv", "--target", "label", "--epochs", "2", "--save", "m.npz",
               "-q").rc == 0  # fmt: skip
    # new rows whose cells hold no comma at all: nothing to detect a decimal comma from
    write(tmp_path / "new.csv", "x;z", ["1.500;0", "2.250;1", "700;-1"])
    write(tmp_path / "same.csv", "x;z", ["1500;0", "2250;1", "700;-1"])
    new, same = cli("predict", "m.npz", "new.csv"), cli("predict", "m.npz", "same.csv")
    assert predictions(new) == predictions(same)
    assert tables.read(str(tmp_path / "new.csv"), ["x"]).decimal == "."  # undetectable alone
    points = cli("predict", "m.npz", "new.csv", "--decimal", ".")
    assert predictions(points) != predictions(same)  # 1.5 and 2.25, not 1500 and 2250


def test_predict_scores_a_decimal_comma_regression_target(cli, tmp_path):
    x, z, _ = two_class_rows(120, seed=9)
    rows = [f"{comma(a)};{comma(b)};{comma(2 * a - b, 3)}" for a, b in zip(x, z)]
    write(tmp_path / "r.csv", "x;z;y", rows)
    res = cli("train", "r.csv", "--target", "y", "--epochs", "2", "--save", "r.npz", "-q")
    assert res.rc == 0 and "regress" in res.out, res.err
    res = cli("predict", "r.npz", "r.csv")
    assert res.rc == 0 and "(120 rows)" in res.err and "not scored" not in res.err, res.err


def test_decimal_comma_chunks_take_numpys_fast_path(tmp_path, monkeypatch):
    rows = [f"{comma(i / 8, 3)};{i % 5};cat{i % 3}" for i in range(3000)]
    write(tmp_path / "big.csv", "a;b;c", rows)
    fast = []
    original = tables._ChunkReader._fast
    monkeypatch.setattr(
        tables._ChunkReader, "_fast", lambda self, *a: fast.append(original(self, *a)) or fast[-1]
    )
    frame = tables.read(str(tmp_path / "big.csv"), ["a", "b", "c"], chunk_bytes=1000)
    assert frame.decimal_detected and len(fast) > 20 and all(fast)
    np.testing.assert_array_equal(number_column(frame, "a"), np.arange(3000) / 8)
    np.testing.assert_array_equal(number_column(frame, "b"), np.arange(3000) % 5)


@given(st.floats(-1e12, 1e12), st.integers(0, 6), st.sampled_from([".", " ", ""]))
def test_numbers_written_in_either_locale_read_back(v, digits, group):
    """Python's own formatting is the oracle: '{:,.Nf}' groups thousands with commas."""
    us = f"{v:,.{digits}f}"
    exact = float(us.replace(",", ""))
    assert tables.number(us) == exact
    assert tables.number(us.replace(",", "")) == exact
    eu = us.replace(",", "\0").replace(".", ",").replace("\0", group)
    assert tables.number(eu, ",") == exact
    if digits not in (0, 3) and "," not in us:  # '.' only groups thousands, in threes
        assert tables.number(us, ",") is None


def test_decimal_option_reads_decimal_commas_in_any_separator(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b\n"1.234,5","0,25"\n"-2 000,75",3\n"1e3",",5"\n')
    frame = tables.read(str(path), ["a", "b"], decimal=",")
    np.testing.assert_array_equal(number_column(frame, "a"), [1234.5, -2000.75, 1000.0])
    np.testing.assert_array_equal(number_column(frame, "b"), [0.25, 3.0, 0.5])
    # '.' only groups thousands in threes: 1.5 is no decimal-comma number
    path.write_text("a;b\n1,5;2\n1.5;3\n")
    with pytest.raises(
        CliError, match=r"line 3, column 1 \('a'\): not a number: '1.5'.*--decimal \."
    ):
        tables.read(str(path), ["a", "b"], decimal=",")


@pytest.mark.parametrize(
    "cells, kind, values",
    [
        (['"1,234"', '"12,345,678"', "7", '"-1,000.5"'], "number", [1234, 12345678, 7, -1000.5]),
        (['"1,234"', '"1,5"', "7", "8"], "bad", None),  # one comma cell is not grouped
        (['"1,5"', '"2,25"', '"1,234"', "x"], "text", None),  # mostly comma cells, ungrouped
    ],
)
def test_commas_are_thousands_only_if_every_comma_cell_groups_thousands(
    tmp_path, cells, kind, values
):
    path = tmp_path / "t.csv"
    path.write_text("a,y\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)))
    if kind == "bad":
        with pytest.raises(CliError, match="not a number: '1,5'.*decimal comma: use --decimal ,"):
            tables.read(str(path), ["a", "y"])
        return
    frame = tables.read(str(path), ["a", "y"])
    assert frame.columns["a"].kind == kind
    if values is not None:
        np.testing.assert_array_equal(number_column(frame, "a"), values)


def test_decimal_comma_text_columns_point_to_the_option(cli, tmp_path):
    rng = np.random.default_rng(2)
    many = [f'"{comma(v, 2)}",{i % 2}' for i, v in enumerate(rng.uniform(0, 1000, 150))]
    write(tmp_path / "many.csv", "x,y", many)
    assert_bad_input(
        cli("train", "many.csv", "--target", "y"),
        "'x' holds 150 distinct text values", "decimal comma", "--decimal ,",
    )  # fmt: skip
    few = [f'"{comma(v, 1)}",{i % 2}' for i, v in enumerate(rng.uniform(0, 1, 60))]
    write(tmp_path / "few.csv", "x,y", few)
    res = cli("train", "few.csv", "--target", "y", "--epochs", "1", "-q")
    assert res.rc == 0, res.err
    assert re.search(r"warning: column 'x' is one-hot encoded as text, but .*--decimal ,", res.err)
    res = cli("train", "few.csv", "--target", "y", "--epochs", "1", "-q", "--decimal", ",")
    assert res.rc == 0 and "warning" not in res.err and "1 features (x)" in res.out


def test_a_decimal_comma_target_points_to_the_option(cli, tmp_path):
    rows = [f'{i % 3},"{comma(i / 7, 2)}"' for i in range(40)]
    write(tmp_path / "t.csv", "x,y", rows)
    assert_bad_input(
        cli("train", "t.csv", "--target", "y", "--task", "regress"),
        "not a number: '0,00'", "--task regress needs a numeric target", "--decimal ,",
    )  # fmt: skip
    res = cli("train", "t.csv", "--target", "y", "--epochs", "1", "-q")
    assert re.search(r"warning: the target column 'y' is read as class labels, but .*--decimal ,",
                     res.err), res.err  # fmt: skip
    res = cli("train", "t.csv", "--target", "y", "--epochs", "1", "-q", "--decimal", ",")
    assert res.rc == 0 and "regress" in res.out and "warning" not in res.err, res.err


# ------------------------------------------------------------------ line ends
@pytest.mark.parametrize("end", ["\r", "\r\n"])
def test_cr_and_crlf_line_ends_read_every_row(cli, tmp_path, end):
    x, z, label = two_class_rows(200, seed=3)
    rows = [f"{a},{b},{t}" for a, b, t in zip(x, z, label)]
    write(tmp_path / "mac.csv", "x,z,label", rows, end=end)
    write(tmp_path / "unix.csv", "x,z,label", rows)
    for chunk in (1 << 20, 700):
        frame = tables.read(str(tmp_path / "mac.csv"), ["x", "z", "label"], chunk_bytes=chunk)
        assert frame.n_rows == 200 and frame.line_ending == end
        np.testing.assert_array_equal(number_column(frame, "x"), x)
        assert set(frame.columns["label"].values()) == {"no", "yes"}
    res = cli("train", "mac.csv", "--target", "label", "--epochs", "2", "--save", "m.npz",
              "--save-split", "s", "-q")  # fmt: skip
    assert res.rc == 0, res.err
    assert "200 rows" in res.out
    assert ("prepared: read lines ended by CR alone" in res.out) == (end == "\r")
    with np.load(tmp_path / "m.npz") as f:
        assert json.loads(f["meta_json"].tobytes())["dialect"]["line_ending"] == end
    assert predictions(cli("predict", "m.npz", "mac.csv")) == predictions(
        cli("predict", "m.npz", "unix.csv")
    )
    split = [(tmp_path / "s" / f).read_text().splitlines() for f in ("train.csv", "val.csv")]
    assert sum(len(lines) - 1 for lines in split) == 200


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 1 << 20])
def test_awkward_rows_with_cr_line_ends_at_every_chunk_size(tmp_path, chunk):
    """The same awkward rows (quotes, blank lines, a multi-line cell, no final line end)
    read alike with CR and with LF line ends; the LF file's oracle is in test_table."""
    from .test_table import AWKWARD, columns_of

    use = ["num", "col, with sep", "kind", "label"]
    got = {}
    for end in ("\n", "\r"):
        path = tmp_path / f"a{len(got)}.csv"
        path.write_bytes(AWKWARD.replace("\r\n", end).encode("utf-8"))
        frame = tables.read(str(path), use, chunk_bytes=chunk)
        assert frame.n_rows == 8 and frame.line_ending == end
        got[end] = columns_of(frame)
    for name in use:
        np.testing.assert_array_equal(got["\r"][name], got["\n"][name])
    assert "multi\nline" in got["\r"]["label"]


def test_a_bad_cell_in_a_cr_file_is_named_by_its_line(tmp_path):
    lines = ["a,y"] + [f"{i},{i % 2}" for i in range(300)]
    lines[151] = "oops,1"
    (tmp_path / "m.csv").write_bytes("\r".join(lines).encode())
    with pytest.raises(CliError, match=r"line 152, column 1 \('a'\): not a number: 'oops'"):
        tables.read(str(tmp_path / "m.csv"), ["a", "y"], chunk_bytes=500)


# ------------------------------------------------------------------ index column, --ignore
def pandas_style(tmp_path, n: int = 120, index=None) -> None:
    """What DataFrame.to_csv() writes: an empty first header cell, then the index."""
    x, z, label = two_class_rows(n, seed=4)
    index = range(n) if index is None else index
    rows = [f"{i},{a},{b},{t}" for i, a, b, t in zip(index, x, z, label)]
    write(tmp_path / "df.csv", ",x,z,label", rows)


def test_pandas_index_column_is_left_out_and_said(cli, tmp_path):
    pandas_style(tmp_path)
    res = cli("train", "df.csv", "--target", "label", "--epochs", "2", "--save", "m.npz")
    assert res.rc == 0, res.err
    assert "prepared: column 1 has no name and holds 0..119: read as the row index" in res.out
    assert "2 features (x, z)" in res.out
    with np.load(tmp_path / "m.npz") as f:
        assert json.loads(f["meta_json"].tobytes())["dialect"]["index"] == ""
    # predict reads such a file too, by the features' names
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "\n".join(line.split(",", 1)[1] for line in (tmp_path / "df.csv").read_text().splitlines())
        + "\n"
    )
    assert predictions(cli("predict", "m.npz", "df.csv")) == predictions(
        cli("predict", "m.npz", "plain.csv")
    )


def test_real_pandas_to_csv(cli, tmp_path):
    pd = pytest.importorskip("pandas")
    x, z, label = two_class_rows(80, seed=5)
    pd.DataFrame({"x": x, "z": z, "label": label}).to_csv(tmp_path / "df.csv")
    res = cli("train", "df.csv", "--target", "label", "--epochs", "1", "-q")
    assert res.rc == 0, res.err
    assert "read as the row index" in res.out and "2 features (x, z)" in res.out


def test_an_unnamed_first_column_that_is_no_index_is_refused_with_the_fix(cli, tmp_path):
    pandas_style(tmp_path, index=[3 * i for i in range(120)])
    assert_bad_input(
        cli("train", "df.csv", "--target", "label"),
        "column 1 has an empty name", "--ignore 1",
    )  # fmt: skip
    res = cli("train", "df.csv", "--target", "label", "--ignore", "1", "--epochs", "1")
    assert res.rc == 0, res.err
    assert "2 features (x, z)" in res.out and "row index" not in res.out
    res = cli("train", "df.csv", "--target", "label", "--ignore", "")
    assert res.rc == 2 and "a column without a name: its position, like 1" in res.err


def test_ignore_takes_names_or_positions_counted_from_one(cli, tmp_path):
    x, z, label = two_class_rows(60, seed=6)
    rows = [f"{a},{b},{i},{t}" for i, (a, b, t) in enumerate(zip(x, z, label))]
    write(tmp_path / "d.csv", "x,z,3,label", rows)  # a column named '3' wins over position 3
    by_position = cli("train", "d.csv", "--target", "label", "--ignore", "2", "--epochs", "1")
    assert by_position.rc == 0, by_position.err
    assert "2 features (x, 3)" in by_position.out
    by_name = cli("train", "d.csv", "--target", "label", "--ignore", "3", "--epochs", "1")
    assert "2 features (x, z)" in by_name.out
    assert_bad_input(
        cli("train", "d.csv", "--target", "label", "--ignore", "9"),
        "--ignore column 9", "has 4 columns", "from 1",
    )  # fmt: skip


# ------------------------------------------------------------------ bad cells, identifiers
def test_every_bad_cell_of_the_file_is_counted(cli, tmp_path):
    bad_rows = set(range(100, 3000, 5)[:500])
    assert len(bad_rows) == 500
    lines = ["a,b,y"] + [
        f"{'text' if i in bad_rows else i * 0.5},{i % 7},{i % 2}" for i in range(3000)
    ]
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    first, last = min(bad_rows) + 2, max(bad_rows) + 2
    res = cli("train", "b.csv", "--target", "y")
    line = assert_bad_input(res, f"line {first}", "'text'")
    assert f"(and 499 more bad cells in the file, the last on line {last})" in line
    with pytest.raises(CliError, match="and 499 more bad cells"):
        tables.read(str(tmp_path / "b.csv"), ["a", "b", "y"], chunk_bytes=2000)


def test_a_sequential_id_column_is_named_in_a_warning(cli, tmp_path):
    x, z, label = two_class_rows(100, seed=7)
    rows = [f"{i + 1},{a},{b},{t}" for i, (a, b, t) in enumerate(zip(x, z, label))]
    write(tmp_path / "ids.csv", "customer_id,x,z,label", rows)
    res = cli("train", "ids.csv", "--target", "label", "--epochs", "1")
    assert res.rc == 0, res.err
    assert re.search(
        r"warning: column 'customer_id' numbers the rows \(1, 2, \.\.\., 100: unique, "
        r"sequential\).*--ignore customer_id",
        res.err,
    ), res.err
    res = cli("train", "ids.csv", "--target", "label", "--epochs", "1", "--ignore", "customer_id")
    assert res.rc == 0 and "warning" not in res.err
    # the same numbers shuffled are not flagged
    order = np.random.default_rng(0).permutation(100)
    write(tmp_path / "shuffled.csv", "n,x,z,label", [rows[k] for k in order])
    res = cli("train", "shuffled.csv", "--target", "label", "--epochs", "1")
    assert res.rc == 0 and "warning" not in res.err


# ------------------------------------------------------------------ words
def test_values_with_commas_are_quoted_in_the_one_hot_note(cli, tmp_path):
    cities = ["Berlin", "New York, NY", "Paris"]
    rows = [f'"{cities[i % 3]}",{i % 5},{i % 2}' for i in range(60)]
    write(tmp_path / "c.csv", "city,n,y", rows)
    res = cli("train", "c.csv", "--target", "y", "--epochs", "1")
    assert res.rc == 0, res.err
    assert "one-hot encoded 'city' (3 values: 'Berlin', 'New York, NY', 'Paris')" in res.out


def test_train_help_says_text_columns_are_encoded_and_how_positions_count(cli):
    res = cli("train", "--help")
    text = " ".join(res.out.split())
    assert "numeric features" not in text
    assert "text columns are one-hot encoded" in text
    assert "by position counted from 1" in text and "--decimal" in text


# ------------------------------------------------------------------ old model files
def test_a_version_2_model_loads_but_its_fingerprint_is_not_used(cli, tmp_path):
    x, z, label = two_class_rows(60, seed=8)
    write(tmp_path / "d.csv", "x;z;label", [f"{a};{b};{t}" for a, b, t in zip(x, z, label)])
    assert cli("train", "d.csv", "--target", "label", "--epochs", "1", "--save", "m.npz",
               "-q").rc == 0  # fmt: skip
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "__manifest__"}
    meta = json.loads(arrays["meta_json"].tobytes())
    meta["sep"] = meta.pop("dialect")["sep"]
    meta["version"] = 2
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    gs.save(arrays, tmp_path / "v2.npz")
    new, old = cli("predict", "m.npz", "d.csv"), cli("predict", "v2.npz", "d.csv")
    assert predictions(old) == predictions(new)
    assert "rows are rows the model was trained on" in new.err
    assert "rows the model was trained on" not in old.err
    assert "fingerprint of its training rows is of an older kind" in old.err
    meta["version"] = 4
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    gs.save(arrays, tmp_path / "v4.npz")
    assert_bad_input(cli("predict", "v4.npz", "d.csv"), "format version 4", "1, 2, 3")
