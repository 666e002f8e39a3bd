"""Compare a gradient-check table printed in a doc with the one this machine prints.

A report's error columns hold rounding noise when hand, autograd and finite
differences agree: 1e-17 on one CPU, 2e-18 on another (BLAS kernels sum in
other orders), and the worst index is then the argmax of that noise. What
matters is the rest: names, shapes, verdicts, the values, and that the noise
is noise. So cells are compared exactly, numbers to 4 significant digits, and
an error cell whose two numbers both lie under its column's noise floor
matches whatever they are; in such a row the worst index may differ, and the
values printed at it are then checked by ``values_at(name, index)``.
"""

from __future__ import annotations

import re

# column -> the size below which a number in it is rounding noise in float64
NOISE_FLOORS = {
    "max abs err": 1e-12,
    "max rel err": 1e-10,
    "auto vs fd": 1e-8,  # central differences with eps=1e-6: truncation + rounding ~1e-10
    "max abs error": 1e-12,
    "max rel error": 1e-10,
}
VALUE_COLUMNS = ("hand", "autograd", "finite diff")


def _cells(line: str) -> list[str] | None:
    """A table row's cells (markdown ``| a | b |`` or columns split by 2+ spaces)."""
    line = line.strip()
    if line.startswith("|"):
        return [c.strip().replace("\\_", "_") for c in line.strip("|").split("|")]
    if "  " in line:
        return re.split(r"\s{2,}", line)
    return None


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 5e-4 * max(abs(a), abs(b))  # 4 significant digits


def _rows(text: str):
    """(header, rows) of the first table in text; other lines kept as plain lines."""
    header, rows, lines = None, [], []
    for line in text.strip().splitlines():
        cells = _cells(line)
        if cells and header is None and cells[0] in ("name", "parameter"):
            header = cells
        elif cells and header is not None and set("".join(cells)) <= set("-| "):
            continue  # the rule under the header
        elif cells and header is not None and len(cells) == len(header):
            rows.append(dict(zip(header, cells)))
        else:
            lines.append(line.strip())
    return header, rows, lines


def assert_same_report(actual: str, shown: str, values_at=None) -> None:
    """Fail, naming the cell, where ``shown`` (a doc) differs from ``actual`` in what
    matters; see the module docstring. ``values_at(name, index_text)`` returns the
    (hand, autograd) values at an index, for rows whose worst index is noise."""
    head_a, rows_a, lines_a = _rows(actual)
    head_s, rows_s, lines_s = _rows(shown)
    assert head_a == head_s, f"table header differs: {head_s} in the doc, {head_a} here"
    assert [r[head_a[0]] for r in rows_a] == [r[head_s[0]] for r in rows_s], "row names differ"
    for ra, rs in zip(rows_a, rows_s):
        name = ra[head_a[0]]
        noisy = []
        for col in head_a:
            a, s = ra[col], rs[col]
            floor = NOISE_FLOORS.get(col)
            na, ns = _number(a), _number(s)
            if floor is not None and na is not None and ns is not None:
                if na < floor and ns < floor:
                    noisy.append(col)
                    continue
                assert _close(na, ns), f"{name}, {col}: doc {s}, here {a}"
            elif col == "worst index" or col in VALUE_COLUMNS:
                continue  # below
            elif na is not None and ns is not None:
                assert _close(na, ns), f"{name}, {col}: doc {s}, here {a}"
            else:
                assert a == s, f"{name}, {col}: doc {s!r}, here {a!r}"
        error_cols = [c for c in head_a if c in NOISE_FLOORS and c != "auto vs fd"]
        index_is_noise = all(c in noisy for c in error_cols)
        if ra.get("worst index") == rs.get("worst index") or not index_is_noise:
            assert ra.get("worst index") == rs.get("worst index"), f"{name}: worst index"
            for col in VALUE_COLUMNS:
                if col in ra:
                    na, ns = _number(ra[col]), _number(rs[col])
                    same = _close(na, ns) if None not in (na, ns) else ra[col] == rs[col]
                    assert same, f"{name}, {col}: doc {rs[col]}, here {ra[col]}"
        else:
            assert values_at is not None, (
                f"{name}: the worst index of rounding noise is {ra['worst index']} here, "
                f"{rs['worst index']} in the doc, and no values_at to check the doc's values"
            )
            hand, auto = values_at(name, rs["worst index"])
            assert _close(hand, float(rs["hand"])), f"{name}: doc's hand value at its index"
            assert _close(auto, float(rs["autograd"])), f"{name}: doc's autograd value"
    # the lines around the table: numbers to 4 digits, words exactly
    assert len(lines_a) == len(lines_s), f"lines differ:\n{shown}\n---\n{actual}"
    for la, ls in zip(lines_a, lines_s):
        wa, ws = la.split(), ls.split()
        assert len(wa) == len(ws), f"doc line {ls!r}, here {la!r}"
        for x, y in zip(wa, ws):
            nx, ny = _number(x.strip("(),;:")), _number(y.strip("(),;:"))
            assert (nx is not None and ny is not None and _close(nx, ny)) or x == y, (
                f"doc line {ls!r}, here {la!r}"
            )
