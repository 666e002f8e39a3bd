"""The Python examples in docs/check.md run, and print what the page says."""

from __future__ import annotations

import re
from pathlib import Path

CHECK_DOC = Path(__file__).resolve().parents[2] / "docs" / "check.md"


def test_check_doc_examples_run_in_order(capsys):
    text = CHECK_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(CHECK_DOC), "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    shown = re.search(r"prints\n\n```\n(.*?)```", text, re.S)[1].splitlines()
    assert printed[0] == shown[0]
    assert [line.split()[:2] for line in printed[3:]] == [line.split()[:2] for line in shown[3:]]
    assert namespace["report"].ok
