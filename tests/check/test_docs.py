"""The Python examples in docs/check.md run, and print what the page says."""

from __future__ import annotations

import re
from pathlib import Path

from tests.report_text import assert_same_report

CHECK_DOC = Path(__file__).resolve().parents[2] / "docs" / "check.md"


def test_check_doc_examples_run_in_order(capsys):
    text = CHECK_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 4
    namespace: dict = {}
    exec(compile(blocks[0], str(CHECK_DOC), "exec"), namespace)  # the NumPy way, as printed
    printed = capsys.readouterr().out
    shown = re.search(r"prints\n\n```\n(.*?)```", text, re.S)[1]
    assert_same_report(printed, shown)  # up to rounding noise: tests/report_text.py
    assert not namespace["report"].ok
    exec(compile(blocks[1], str(CHECK_DOC), "exec"), namespace)  # the pytest helper fails on it
    try:
        namespace["test_my_backprop"]()
    except AssertionError as err:
        assert "your gradient for Z1 differs" in str(err)
    else:
        raise AssertionError("assert_gradients_close passed a wrong backward")
    for block in blocks[2:]:  # the second way: gs ops
        exec(compile(block, str(CHECK_DOC), "exec"), namespace)
    assert namespace["report"].ok
