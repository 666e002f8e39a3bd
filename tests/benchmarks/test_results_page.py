"""docs/performance.md shows the committed results files as the renderers print them.

The tables between the page's markers are not written by hand: they are what
``python -m benchmarks --render benchmarks/results/full.json --markdown
docs/performance.md`` and ``python -m benchmarks.data --render
benchmarks/results/data.json --markdown docs/performance.md`` and ``python -m
benchmarks.article --render benchmarks/results/article.json --markdown
docs/performance.md`` put there. These
tests render the files again and compare the text, so an edited number, a
results file replaced without re-rendering, or a renderer change that was not
run on the page fails here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.workloads import ARTICLE  # noqa: E402

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import article as article_rows  # noqa: E402
from benchmarks import data as data_row  # noqa: E402
from benchmarks import report  # noqa: E402

PAGE = REPO / "docs" / "performance.md"
RESULTS = REPO / "benchmarks" / "results"


def between(text: str, start: str, end: str) -> str:
    assert text.count(start) == 1 and text.count(end) == 1, (start, end)
    return text.split(start, 1)[1].split(end, 1)[0].lstrip("\n")


def test_the_results_block_is_the_committed_full_run_rendered():
    results = json.loads((RESULTS / "full.json").read_text())
    assert not results["meta"]["quick"], "the page shows a full run"
    shown = between(PAGE.read_text(encoding="utf-8"), report.BEGIN, report.END)
    assert shown == report.markdown(results)


def test_the_data_block_is_the_committed_data_run_rendered():
    saved = json.loads((RESULTS / "data.json").read_text())
    shown = between(PAGE.read_text(encoding="utf-8"), data_row.MARK_START, data_row.MARK_END)
    assert shown == data_row.markdown(saved["rows"], meta=saved.get("meta"))


def test_the_article_block_is_the_committed_article_run_rendered():
    saved = json.loads((RESULTS / "article.json").read_text())
    marks = article_rows.MARK_START, article_rows.MARK_END
    shown = between(PAGE.read_text(encoding="utf-8"), *marks)
    assert shown == article_rows.markdown(saved)
    assert [row["name"] for row in saved["rows"]] == [w.name for w in ARTICLE]
    for row in saved["rows"]:  # every figure the table shows was measured in this run
        assert row["numpy_calls"] and row["interval"]
        if "instructions" in row:  # a row counted with valgrind shows its ratio
            assert f"{row['instructions']['ratio']:.2f}×" in shown


def test_render_command_rewrites_only_the_block(tmp_path, capsys):
    page = tmp_path / "performance.md"
    page.write_text(PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    stale = text.replace("| met |", "| **missed** |", 1)
    assert stale != text
    page.write_text(stale, encoding="utf-8")
    cli.main(["--render", str(RESULTS / "full.json"), "--markdown", str(page)])
    data_row.main(["--render", str(RESULTS / "data.json"), "--markdown", str(page)])
    article_rows.main(["--render", str(RESULTS / "article.json"), "--markdown", str(page)])
    capsys.readouterr()
    assert page.read_text(encoding="utf-8") == text


def test_only_the_used_results_files_are_kept():
    assert sorted(p.name for p in RESULTS.iterdir()) == ["article.json", "data.json", "full.json"]
    assert not list((REPO / "docs").glob("*.json")), "measurement data lives in benchmarks/"
    text = PAGE.read_text(encoding="utf-8")
    for name in ("full.json", "data.json", "article.json"):
        assert f"benchmarks/results/{name}" in text


@pytest.mark.parametrize("name", ["full.json", "data.json", "article.json"])
def test_results_files_parse(name):
    saved = json.loads((RESULTS / name).read_text())
    assert saved["workloads" if name == "full.json" else "rows"]
