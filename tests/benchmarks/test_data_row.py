"""The data row of the benchmarks: the generated file, the probes at toy size, the table."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import data as data_row  # noqa: E402


def test_generated_csv_and_probes_agree(tmp_path):
    path = tmp_path / "d.csv"
    data_row.generate(path, 2500, block=1000)
    ref = np.loadtxt(path, delimiter=",", skiprows=1)
    assert ref.shape == (2500, 11)
    res = data_row.run_probe("gradsight", path)
    assert res["rows"] == 2500 and res["features_mib"] == 2500 * 80 / 2**20
    assert res["growth_mib"] >= 0 and res["seconds"] > 0
    epoch = data_row.gradsight_epoch(path)
    assert epoch["rows"] == 2000  # 80 % of the rows


def test_table_ratios_and_markers(tmp_path):
    rows = [
        {"n": 10, "mib": 1.0, "gradsight": {"seconds": 3.0, "growth_mib": 6.0, "features_mib": 2.0},
         "loadtxt": {"seconds": 2.0, "growth_mib": 3.0}, "epoch": {"seconds": 4.0, "rows": 8},
         "torch": {"error": "no torch"}},
        {"n": 100, "mib": 10.0,
         "gradsight": {"seconds": 33.0, "growth_mib": 60.0, "features_mib": 20.0},
         "loadtxt": {"seconds": 20.0, "growth_mib": 30.0}, "epoch": {"seconds": 40.0, "rows": 80},
         "torch": {"seconds": 80.0}},
    ]  # fmt: skip
    text = data_row.markdown(rows)
    assert "| 3.00 s | 2.00 s | 1.50x | 6 MiB = 3.00x | 1.50x | 4.00 s | — |" in text
    assert "- 10 -> 100 rows (10x): read 11.0x, np.loadtxt 10.0x, epoch 10.0x" in text
    doc = tmp_path / "perf.md"
    doc.write_text("# Performance\n\nkept\n")
    data_row.update_markdown(doc, "first\n")
    data_row.update_markdown(doc, "second\n")
    assert doc.read_text() == (
        "# Performance\n\nkept\n\n" + data_row.MARK_START + "\nsecond\n" + data_row.MARK_END + "\n"
    )


def test_reader_targets_and_the_run_header():
    row = {"n": 10, "mib": 1.0, "loadtxt": {"seconds": 2.0},
           "gradsight": {"seconds": 5.0, "growth_mib": 4.0, "features_mib": 2.0}}  # fmt: skip
    (line,) = data_row.targets([row])
    assert line == (
        "- 10 rows: time 2.50x (limit 2.0x): missed; peak RSS growth 2.00x (limit 3.0x): met"
    )
    assert data_row.header(None) == "The results file records no machine or date for this run."
    meta = {"date": "2000-01-01T00:00:00+00:00", "cpu": "CPU X", "cpus_usable": 2,
            "platform": "linux", "python": "3.11", "loadavg_start": [0.25, 0, 0]}  # fmt: skip
    assert data_row.header(meta) == (
        "Run of 2000-01-01T00:00:00+00:00 on CPU X, 2 usable CPUs, linux; Python 3.11; "
        "load average (1 min) at start 0.25."
    )
    assert data_row.markdown([row], meta=meta).startswith(data_row.header(meta) + "\n\n| rows |")
