"""The demo shows the article's listing differentiated as written (issue 13)."""

from __future__ import annotations


def test_demo_checks_the_listing_as_written(cli, tmp_path):
    res = cli("demo", "--out", "d", "--epochs", "5")
    assert res.rc == 0, res.err
    assert "The article's fixed listing, its NumPy forward differentiated as written" in res.out
    assert "OK: all 7 gradients agree three ways" in res.out
    report = (tmp_path / "d" / "report.md").read_text(encoding="utf-8")
    assert "## The article's listing, differentiated as written" in report
    assert "| hidden\\_layer\\_input | intermediate | (4, 4) |" in report
