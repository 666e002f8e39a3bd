"""The pages are written for users: no changelog language, no issue numbers, no commit hashes.

History (what changed in which round, which commit measured what) lives in git;
a page says what gradsight does now. Only the Markdown pages are read (an SVG's
colours and a results file's hashes are not prose).
"""

from __future__ import annotations

import re

import pytest

from .blocks import page_name, pages

# Phrases that date a page to a piece of work instead of describing the tool.
CHANGELOG = re.compile(
    r"\b(?:this|the previous|previous|last|next|first|second|third) round\b"
    r"|\bround's\b|\brounds? of (?:speed )?work\b"
    r"|\bthis (?:change|session|PR|pull request|commit)\b"
    r"|\b(?:before|after|until|since) this\b(?! (?:call|step|op|block|page|function|line))"
    r"|\bissues? #?\d+\b|\bissue's\b|\(issue \d+\)"
    r"|\bwhat landed\b|\bnow (?:stores|frees|holds|made|makes)\b",
    re.IGNORECASE,
)
# A commit hash: 7 to 40 hex digits standing alone (not part of a file name, a
# version or an identifier), with at least one letter and one digit.
HASH = re.compile(r"(?<![\w.\-/#])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?![\w.\-/])")


def findings(text: str) -> list[str]:
    """'line N: <what>' for every changelog phrase and every commit hash in ``text``."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        out += [f"line {number}: {m.group(0)!r}" for m in CHANGELOG.finditer(line)]
        out += [f"line {number}: hash-like {m.group(0)!r}" for m in HASH.finditer(line)]
    return out


@pytest.mark.parametrize("path", pages(), ids=page_name)
def test_page_has_no_changelog_words_or_commit_hashes(path):
    found = findings(path.read_text(encoding="utf-8"))
    assert not found, f"{page_name(path)} reads like a changelog:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "text",
    [
        "The replay held them until this round.",
        "measured at fae1ec5 (2026-12-01)",
        "the base commit (eb7567b) and this change alternating",
        "fixed in 359e6e8",
        "see issue 15 for the targets",
        "What landed after the run",
        "a full run at 6b82a4b2c0ffee",
    ],
)
def test_the_check_catches_changelog_text(text):
    assert findings(text)


@pytest.mark.parametrize(
    "text",
    [
        "libscipy_openblas-6cdc3b4a.so (openblas 0.3.30)",
        "colour #1f77b4 and fill='#deadbe'",
        "1234567 rows in 0.0078125 s, e.g. 1e-10",
        "round(n_c x 0.2) rows; the rounds are resampled; rounding noise",
        "before this call the gradient is None; after this step it is set",
        "decade facade accede",
    ],
)
def test_the_check_passes_ordinary_text(text):
    assert not findings(text)
