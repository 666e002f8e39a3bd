"""Every Python block of README.md and docs/*.md runs, page by page, as a notebook would.

Each page is one test: its ``python`` blocks run in order in one namespace, in
a fresh temporary directory (blocks that write files write there). A failure
names the page and the line of the block, and the traceback points at page
lines. Blocks that are not meant to run are tagged ``text`` (or ``bash``,
``json``, ...); ``python requires=torch`` skips the page from that block on
when torch is not installed; ``python raises=TypeError`` shows an error and
must raise it. Pages added later are picked up automatically.
"""

from __future__ import annotations

import traceback

import pytest

import gradsight as gs

from .blocks import page_name, pages, read_blocks

RUNNABLE_PAGES = [p for p in pages() if any(b.runnable for b in read_blocks(p))]


def test_the_runner_sees_the_pages():
    names = [page_name(p) for p in RUNNABLE_PAGES]
    assert "README.md" in names and "docs/nn.md" in names and "docs/visualization.md" in names


@pytest.mark.parametrize("path", pages(), ids=page_name)
def test_block_tags_are_known(path):
    for block in read_blocks(path):
        if block.runnable:
            block.check_options()
        elif block.lang in ("", "text") and block.options:
            raise AssertionError(f"{block.where}: options on a ``` {block.lang} block do nothing")


@pytest.mark.parametrize("path", RUNNABLE_PAGES, ids=page_name)
def test_page_runs_in_order(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__main__"}
    for block in (b for b in read_blocks(path) if b.runnable):
        run_block(block, path, namespace)
    assert gs.is_grad_enabled(), f"{page_name(path)} left grad mode off"


def run_block(block, path, namespace: dict) -> None:
    block.check_options()
    missing = block.missing()
    if missing:
        pytest.skip(f"{block.where} and later need {', '.join(missing)}, not installed")
    source = "\n" * block.line + block.code  # tracebacks show the page's own line numbers
    expected = block.raises()
    try:
        exec(compile(source, str(path), "exec"), namespace)
    except Exception as err:
        if expected in {k.__name__ for k in type(err).__mro__}:
            return  # the error the page shows
        tb = "".join(traceback.format_exception(type(err), err, err.__traceback__.tb_next))
        failure = f"{block.where} failed: {type(err).__name__}: {err}\n\n{tb}"
    else:
        if expected is None:
            return
        failure = f"{block.where} should raise {expected} (its raises= tag) but did not"
    pytest.fail(failure, pytrace=False)
