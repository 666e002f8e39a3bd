"""docs/article.md against the code: the listing shown is the real one, each row has tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from gradsight.reference import listing

ROOT = Path(__file__).resolve().parents[2]
ARTICLE_DOC = ROOT / "docs" / "article.md"


def _test_names() -> set[str]:
    names = set()
    for folder in ("reference", "check"):
        for path in (ROOT / "tests" / folder).glob("test_*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return {n for n in names if n.startswith("test_")}


def _errata_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\| [AB]\d+ \|", line)]


def test_doc_shows_the_fixed_listing_verbatim():
    text = ARTICLE_DOC.read_text(encoding="utf-8")
    assert f"```python\n{listing.FIXED_LISTING}```" in text


def test_every_listing_fix_has_an_errata_row():
    rows = _errata_rows(ARTICLE_DOC.read_text(encoding="utf-8"))
    keys = {re.match(r"\| B\d+ \| `([^`]+)` \|", r)[1] for r in rows if r.startswith("| B")}
    # every fix has a row; the one more row is a defect the fixed listing repairs by use (B10)
    assert keys == {fix.key for fix in listing.FIXES} | {"output_layer_delta"}


def test_every_errata_row_names_existing_tests():
    text = ARTICLE_DOC.read_text(encoding="utf-8")
    rows = _errata_rows(text)
    assert len(rows) >= 20
    known = _test_names()
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row)
        assert named, row[:60]
        assert set(named) <= known, set(named) - known
    assert set(re.findall(r"`(test_\w+)`", text)) <= known
