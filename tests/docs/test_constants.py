"""Limits the pages state are the constants the code uses.

A page that says "more than 1,000 nodes" or "4 GiB" is read here, and the
number compared with the constant it describes, so changing one without the
other fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradsight import io
from gradsight._core import engine
from gradsight.ops import _util

DOCS = Path(__file__).resolve().parents[2] / "docs"


def stated(page: str, pattern: str) -> int:
    """The number (commas allowed) captured by ``pattern`` on ``page``; it must occur once."""
    found = re.findall(pattern, (DOCS / page).read_text(encoding="utf-8"))
    assert len(found) == 1, f"{page}: {pattern!r} found {len(found)} times"
    return int(found[0].replace(",", ""))


@pytest.mark.parametrize(
    ("page", "pattern", "value"),
    [
        ("engine.md", r"On graphs of more than ([\d,]+) nodes", engine.GC_PAUSE_NODES),
        ("engine.md", r"float32 sums of more than ([\d,]+) terms", _util._ACCURATE_FROM),
        ("nn.md", r"none declares more than (\d+) GiB", io.MAX_MEMBER_BYTES // 2**30),
        ("reliability.md", r"\*\*limit: (\d+) GiB\*\*", io.MAX_TOTAL_BYTES // 2**30),
    ],
)
def test_stated_limit_is_the_code(page, pattern, value):
    assert stated(page, pattern) == value


def test_the_sign_gap_engine_md_states_is_the_behaviour():
    text = (DOCS / "engine.md").read_text(encoding="utf-8")
    if "a gap: `sign`" not in text:
        pytest.skip("engine.md no longer describes sign as a gap")
    import numpy as np

    import gradsight as gs

    x = gs.tensor([1.0, -2.0], requires_grad=True)
    stale = "engine.md (section 8) says sign records no gradient: update the page"
    assert gs.sign(x).grad_fn is None and not gs.sign(x).requires_grad, stale
    assert np.sign(x).grad_fn is None, stale
    assert x.sign().grad_fn is None, stale
    assert gs.floor(x).grad_fn is not None, "engine.md says floor records: update the page"
