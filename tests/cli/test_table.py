"""The chunked CSV reader against an independent oracle (the csv module on the
whole file), with chunk boundaries falling everywhere inside awkward rows."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from gradsight.cli import data as datasets
from gradsight.cli import main
from gradsight.cli import table as tables
from gradsight.cli.errors import CliError

LONG = "w" * (tables.TEXT_WIDTH + 5)  # longer than the fast path's text cells
AWKWARD = (
    '\ufeffnum,"col, with sep",kind,label\r\n'
    "1.5,2,red,yes\r\n"
    "\r\n"
    '-3,"4","blue, dark",no\r\n'
    ' 7 ,NA,red,"multi\r\nline"\r\n'
    "   \r\n"
    "1e3,,green,yes\r\n"
    "?,null,N/A,no\r\n"
    f'nan,8,"{LONG}",yes\r\n'
    '0.25,-1,"say ""hi""",no\r\n'
    "2,3,red,yes"  # no line end at the very end
)


def oracle(text: str, number_cols: set[str]):
    """Columns from csv.reader on the whole text: floats (NaN missing) or stripped text."""
    rows = [
        r
        for r in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        if any(c.strip() for c in r)
    ]
    header, rows = [c.strip() for c in rows[0]], rows[1:]
    out = {}
    for j, name in enumerate(header):
        cells = [r[j].strip() for r in rows]
        if name in number_cols:
            out[name] = np.array(
                [math.nan if c.lower() in tables.MISSING else float(c) for c in cells]
            )
        else:
            out[name] = [None if c.lower() in tables.MISSING else c for c in cells]
    return out


def columns_of(frame: tables.Frame) -> dict:
    out = {}
    for name, col in frame.columns.items():
        part = np.concatenate(col.parts)
        if col.kind == "number":
            out[name] = part
        else:
            values = col.values()
            out[name] = [values[c] if c >= 0 else None for c in part.tolist()]
    return out


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 1 << 20])
def test_awkward_rows_at_every_chunk_size(tmp_path, chunk):
    path = tmp_path / "a.csv"
    path.write_bytes(AWKWARD.encode("utf-8"))
    use = ["num", "col, with sep", "kind", "label"]
    frame = tables.read(str(path), use, chunk_bytes=chunk)
    expect = oracle(AWKWARD, {"num", "col, with sep"})
    got = columns_of(frame)
    assert frame.n_rows == 8
    assert [frame.columns[n].kind for n in use] == ["number", "number", "text", "text"]
    for name in ("num", "col, with sep"):
        np.testing.assert_array_equal(got[name], expect[name])
    for name in ("kind", "label"):
        assert got[name] == expect[name]
    assert frame.columns["num"].missing == 2 and frame.columns["col, with sep"].missing == 3
    assert frame.columns["kind"].missing == 1
    assert frame.columns["label"].values()[:3] == ["yes", "no", "multi\r\nline"]


def plain_file(tmp_path, n=3000, bad=None):
    """n rows 'i,i*0.5,cat{i%3},label': plain text, so later chunks take the fast path."""
    lines = ["a,b,c,y"]
    for i in range(n):
        row = [str(i), repr(i * 0.5), f"cat{i % 3}", "yes" if i % 2 else "no"]
        if bad and i in bad:
            row[bad[i][0]] = bad[i][1]
        lines.append(",".join(row))
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fast_and_csv_paths_agree(tmp_path, monkeypatch):
    path = plain_file(tmp_path)
    fast_chunks = []
    original = tables._ChunkReader._fast

    def spy(self, text, line):
        ok = original(self, text, line)
        fast_chunks.append(ok)
        return ok

    monkeypatch.setattr(tables._ChunkReader, "_fast", spy)
    frame = tables.read(str(path), ["a", "b", "c", "y"], chunk_bytes=1000)
    assert len(fast_chunks) > 20 and all(fast_chunks)  # NumPy's reader did the work
    got = columns_of(frame)
    expect = oracle(path.read_text(), {"a", "b"})
    for name in ("a", "b"):
        np.testing.assert_array_equal(got[name], expect[name])
    for name in ("c", "y"):
        assert got[name] == expect[name]
    assert frame.chunk_rows and sum(frame.chunk_rows) == 3000


@pytest.mark.parametrize(
    "bad, fragments",
    [
        ({2500: (1, "oops")}, ["line 2502", "column 2 ('b')", "not a number", "'oops'"]),
        ({2900: (0, "-inf")}, ["line 2902", "column 1 ('a')", "infinite"]),
        ({1800: (0, "1_000")}, ["line 1802", "column 1", "'1_000'"]),
    ],
)
def test_a_bad_cell_far_down_is_named_exactly(tmp_path, bad, fragments):
    path = plain_file(tmp_path, bad=bad)
    with pytest.raises(CliError) as err:
        tables.read(str(path), ["a", "b", "c", "y"], chunk_bytes=1000)
    for f in fragments:
        assert f in str(err.value)


def test_ragged_row_and_bad_bytes_far_down(tmp_path):
    path = plain_file(tmp_path)
    lines = path.read_text().splitlines()
    lines[2000] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CliError, match="line 2001: 5 fields, but the header has 4"):
        tables.read(str(path), ["a", "y"], chunk_bytes=700)
    raw = plain_file(tmp_path).read_bytes()
    at = raw.index(b"\n2222,") + 1
    path.write_bytes(raw[:at] + b"\xff" + raw[at:])
    with pytest.raises(CliError, match=f"not UTF-8 text .undecodable byte at offset {at}"):
        tables.read(str(path), ["a", "y"], chunk_bytes=700)


def test_missing_error_names_the_first_missing_cell(tmp_path):
    path = plain_file(tmp_path, bad={2222: (2, "NA")})
    with pytest.raises(CliError, match=r"line 2224, column 3 \('c'\): empty or missing"):
        tables.read(str(path), ["a", "c"], chunk_bytes=900, missing_ok=False)
    frame = tables.read(str(path), ["a", "c"], chunk_bytes=900)
    assert frame.columns["c"].missing == 1 and frame.columns["c"].first_missing == 2224


def test_separator_sniffed_and_given(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a;b;y\n1,5;2;x\n3;4;z\n")
    assert tables.read_header(str(path))[1:] == (["a", "b", "y"], ";")
    frame = tables.read(str(path), ["b", "y"])
    assert columns_of(frame)["b"].tolist() == [2.0, 4.0]
    tabs = tmp_path / "t.tsv"
    tabs.write_text("a\tb\n1\t2\n")
    assert tables.read_header(str(tabs))[2] == "\t"
    assert tables.read_header(str(tabs), ",")[1] == ["a\tb"]


def test_one_hot_assembly_matches_a_direct_encoding(tmp_path):
    path = plain_file(tmp_path, n=500, bad={7: (2, "")})
    frame = tables.read(str(path), ["a", "c"], chunk_bytes=400)
    columns = [datasets._encoding(frame.columns[n]) for n in ("a", "c")]
    X = datasets.assemble(frame, columns, np.float32)
    assert X.dtype == np.float32 and X.shape == (500, 4)
    i = np.arange(500)
    expect = np.zeros((500, 4), np.float32)
    expect[:, 0] = i
    expect[i, 1 + i % 3] = 1
    expect[7, 1:] = np.nan
    np.testing.assert_array_equal(X, expect)
    assert all(p is None for p in frame.columns["a"].parts)  # freed while assembling


def test_memory_estimate_refuses_early(tmp_path, monkeypatch, capsys):
    path = plain_file(tmp_path)
    monkeypatch.setattr(tables, "available_memory", lambda: 10_000)
    code = main(["train", str(path), "--target", "y", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "memory" in err and "--dtype float32" in err and "available" in err
    assert "Traceback" not in err
