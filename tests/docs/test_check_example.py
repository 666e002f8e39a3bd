"""examples/check_numpy_backprop.py is docs/check.md's example as a script.

The page says so; these tests hold it: the script's data, forward and
backward give the report the page's first example gives, and print what the
page shows, compared at the precision that matters (the columns that carry
rounding noise, where autograd and the hand code agree to the last bits or
where finite differences are compared with autograd, are left out).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "check.md"
SCRIPT = ROOT / "examples" / "check_numpy_backprop.py"
TEXT = PAGE.read_text(encoding="utf-8")
# Columns whose printed digits are rounding noise: for rows that agree, the error
# columns and the worst index (the largest of errors near 1e-17); for every
# parameter, |autograd - finite differences| (truncation and rounding of the FD).
NOISE_WHEN_OK = ("max abs err", "max rel err", "worst index", "hand", "autograd", "finite diff")
NOISE_ALWAYS = ("auto vs fd",)


def load_script():
    spec = importlib.util.spec_from_file_location("check_numpy_backprop_doc", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def page_example() -> dict:
    """The namespace of the page's first python block, run as the page runs it."""
    block = re.search(r"```python\n(.*?)```", TEXT, re.S).group(1)
    namespace: dict = {"print": lambda *a, **k: None}
    exec(compile(block, str(PAGE), "exec"), namespace)
    return namespace


def shown_output() -> str:
    return re.search(r"prints\n\n```\n(.*?)```", TEXT, re.S).group(1)


def table_cells(text: str) -> tuple[str, str, list[dict]]:
    """(first line, the lines after the table, one {column: cell} per table row) of a report;
    the columns are cut where the header's words start (the table is fixed-width)."""
    lines = text.rstrip("\n").splitlines()
    header = lines[1]
    names = re.findall(r"\S+(?: \S+)*", header)
    starts = [header.index(n) for n in names] + [None]
    kinds = ("intermediate", "parameter")
    body = [line for line in lines[3:] if line[starts[1] :].split()[:1] in ([k] for k in kinds)]
    rows = [
        dict(zip(names, (line[a:b].strip() for a, b in zip(starts, starts[1:])))) for line in body
    ]
    return lines[0], "\n".join(lines[3 + len(body) :]), rows


def stable(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        ok = row["ok"] == "ok"
        drop = NOISE_ALWAYS + (NOISE_WHEN_OK if ok else ())
        out.append({k: v for k, v in row.items() if k not in drop})
    return out


def test_script_uses_the_pages_data_and_parameters():
    mod, page = load_script(), page_example()
    X, T = mod.make_data()
    np.testing.assert_array_equal(X, page["X"])
    np.testing.assert_array_equal(T, page["T"])
    params = mod.init_params()
    assert params.keys() == page["params"].keys()
    for name in params:
        np.testing.assert_array_equal(params[name], page["params"][name])


def test_script_and_page_give_the_same_report():
    mod, page = load_script(), page_example()
    mod.BUG = True
    ours = gs.check.backprop(mod.forward, mod.backward, mod.init_params(), *mod.make_data())
    theirs = page["report"]
    assert ours.loss == pytest.approx(theirs.loss, rel=1e-12)
    assert [(r.name, r.kind, r.shape, r.ok) for r in ours.rows] == [
        (r.name, r.kind, r.shape, r.ok) for r in theirs.rows
    ]
    for a, b in zip(ours.rows, theirs.rows):
        if not a.ok:  # a real mismatch: its place and values are not noise
            assert a.worst_index == b.worst_index
            assert (a.hand, a.auto) == pytest.approx((b.hand, b.auto), rel=1e-9)


def test_script_prints_what_the_page_shows():
    run = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=120,
    )
    assert run.returncode == 1, run.stderr  # the planted bug
    first, last, rows = table_cells(run.stdout)
    page_first, page_last, page_rows = table_cells(shown_output())
    assert first == page_first  # loss 1.54567; 4 of 7 gradients ok
    assert last == page_last  # names Z1 and its hand and autograd values
    assert stable(rows) == stable(page_rows)


def test_the_table_reader_sees_every_column():
    _, _, rows = table_cells(shown_output())
    assert [r["name"] for r in rows] == ["Z2", "H1", "Z1", "W1", "b1", "W2", "b2"]
    assert rows[2]["shape"] == "(8, 4)" and rows[2]["ok"] == "MISMATCH"
    assert rows[3]["worst index"] == "(0, 1)" and rows[3]["finite diff"] == "0.2672"
