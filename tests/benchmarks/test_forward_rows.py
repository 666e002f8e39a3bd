"""The forward-mode benchmark rows compute what they say (no timings here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest` (not `python -m pytest`) leaves the root off
    sys.path.insert(0, str(REPO))

from benchmarks import forward_mode  # noqa: E402


@pytest.mark.parametrize("row", forward_mode.ROWS, ids=[r.name for r in forward_mode.ROWS])
def test_row_checks(row):
    if row.workload == "mlp_784":
        pytest.skip("the 784-wide network is the mlp_small row's code at a larger size")
    forward_mode.check(forward_mode.tiny(row))


def test_markdown_names_each_row_and_its_verdict():
    results = [
        forward_mode.time_row(forward_mode.tiny(forward_mode.BY_ROW[name]), quick=True)
        for name in ("jvp_xor", "jac_tall")
    ]
    for r in results:
        r["ratio"] = r["best_ratio"] = 2.0  # the table's text, not the machine's speed
    text = forward_mode.markdown(results)
    assert "| jvp_xor |" in text and "2.00x | 2.00x | <= 3x (met)" in text
    assert "| jac_tall |" in text
