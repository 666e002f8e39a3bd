"""Fenced code blocks of the Markdown pages, read as a notebook would run them.

A page's blocks are found by their info string (the word after the opening
fence): ``python`` (or ``py``) blocks run, in page order, in one namespace per
page; every other tag (``text``, ``bash``, ``json``, none) is shown, not run.
Extra words after ``python`` are options:

- ``requires=PKG[,PKG...]``: skip the page from this block on when a package
  cannot be imported (optional extras such as torch);
- ``raises=NAME``: the block shows an error: it must raise an exception of
  that class (or a subclass), e.g. ``python raises=TypeError``.

Any other word is an error, so a typo cannot make a block skip silently.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = ("python", "py")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")


@dataclass
class Block:
    """One fenced block; ``line`` is the 1-based line of its opening fence."""

    page: str
    line: int
    lang: str
    options: list[str] = field(default_factory=list)
    code: str = ""

    @property
    def runnable(self) -> bool:
        return self.lang in RUNNABLE

    @property
    def where(self) -> str:
        return f"{self.page}, the ```{self.lang} block at line {self.line}"

    def requires(self) -> list[str]:
        """Packages named by ``requires=`` options."""
        out = []
        for opt in self.options:
            key, _, value = opt.partition("=")
            if key == "requires":
                out += [v for v in value.split(",") if v]
        return out

    def raises(self) -> str | None:
        """The exception class name a ``raises=`` option expects, if any."""
        for opt in self.options:
            key, _, value = opt.partition("=")
            if key == "raises":
                return value
        return None

    def missing(self) -> list[str]:
        return [p for p in self.requires() if importlib.util.find_spec(p) is None]

    def check_options(self) -> None:
        for opt in self.options:
            key, _, value = opt.partition("=")
            if key not in ("requires", "raises") or not value:
                raise ValueError(
                    f"{self.where}: unknown option {opt!r} after ```{self.lang} "
                    "(known: requires=PKG[,PKG], raises=ExceptionName)"
                )


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def page_name(path: Path) -> str:
    """'docs/nn.md' for a page of this checkout, else the path as given."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of a page, with its info string split into lang and options.

    Indented fences (inside list items) are dedented by the fence's indent.
    An unclosed fence is an error naming its line.
    """
    name = page_name(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        words = m["info"].split()
        lang = words[0].lower() if words else ""
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if (
                close
                and close["fence"].startswith(fence[0] * len(fence))
                and not close["info"].strip()
            ):
                break
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        else:
            raise ValueError(f"{name}, line {start}: the ``` fence opened here is never closed")
        blocks.append(Block(name, start, lang, words[1:], "\n".join(body) + "\n"))
        i += 1
    return blocks
