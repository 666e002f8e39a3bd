"""The Python examples in docs/check.md run, and print what the page says."""

from __future__ import annotations

import re
from pathlib import Path

CHECK_DOC = Path(__file__).resolve().parents[2] / "docs" / "check.md"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def same_report(printed: str, shown: str) -> bool:
    """Equal text, numbers equal to 4 significant digits; rounding noise (< 1e-6) is noise.

    The finite-difference column holds |autograd - fd| ~ 1e-10, whose digits
    depend on the CPU's BLAS; a test must not.
    """
    if NUMBER.sub("#", printed) != NUMBER.sub("#", shown):
        return False
    for a, b in zip(NUMBER.findall(printed), NUMBER.findall(shown)):
        x, y = float(a), float(b)
        if not (abs(x - y) <= 1e-3 * max(abs(x), abs(y)) or max(abs(x), abs(y)) < 1e-6):
            return False
    return True


def python_blocks() -> list:
    return re.findall(r"```python\n(.*?)```", CHECK_DOC.read_text(encoding="utf-8"), re.S)


def shown_outputs() -> list:
    """The text blocks that follow "prints" on the page, in order."""
    text = CHECK_DOC.read_text(encoding="utf-8")
    return re.findall(r"prints\n\n```\n(.*?)```", text, re.S)


def test_check_doc_first_example_prints_what_the_page_shows(capsys):
    namespace: dict = {}
    exec(compile(python_blocks()[0], str(CHECK_DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert same_report(printed, shown_outputs()[0]), printed
    assert not namespace["report"].ok


def test_same_report_sees_a_changed_number_and_ignores_noise():
    line = "W1  parameter  (3, 4)  2.825  0.91  (0, 1)  3.092  0.2672  0.2672  2.188e-10  MISMATCH"
    assert same_report(line, line.replace("2.188e-10", "1.638e-10"))
    assert not same_report(line, line.replace("3.092", "3.1"))
    assert not same_report(line, line.replace("MISMATCH", "ok"))
