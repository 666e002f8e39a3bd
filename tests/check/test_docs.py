"""docs/check.md: its Python blocks run in order and print what the page shows.

(tests/docs runs every page's blocks too; this test also compares output.)
A python block followed by "prints" and a text block must print that text;
numbers are compared to 4 significant digits, and values below 1e-6 (the
finite-difference noise, whose digits depend on the CPU's BLAS) as noise.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

CHECK_DOC = Path(__file__).resolve().parents[2] / "docs" / "check.md"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
FENCE = re.compile(r"```(\w*)[^\n]*\n(.*?)```(\n\nprints\n\n```\n(.*?)```)?", re.S)


def same_report(printed: str, shown: str) -> bool:
    """Equal text, numbers equal to 4 significant digits; rounding noise (< 1e-6) is noise."""
    words = lambda text: NUMBER.sub("#", text).split()  # noqa: E731 - column widths vary
    if words(printed) != words(shown):
        return False
    for a, b in zip(NUMBER.findall(printed), NUMBER.findall(shown)):
        x, y = float(a), float(b)
        if not (abs(x - y) <= 1e-3 * max(abs(x), abs(y)) or max(abs(x), abs(y)) < 1e-6):
            return False
    return True


def run_page(text: str) -> list:
    """[(code, printed, shown or None)] for the page's python blocks, run in order."""
    namespace: dict = {"__name__": "__main__"}
    out = []
    for m in FENCE.finditer(text):
        if m[1] != "python":
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(m[2], str(CHECK_DOC), "exec"), namespace)
        if "def test_my_backprop" in m[2]:  # run it while its forward and data are current
            try:
                namespace["test_my_backprop"]()
            except AssertionError as err:
                namespace["helper_failure"] = str(err)
        out.append((m[2], buf.getvalue(), m[4]))
    return out, namespace


def test_every_block_prints_what_the_page_shows():
    results, namespace = run_page(CHECK_DOC.read_text(encoding="utf-8"))
    shown = [r for r in results if r[2] is not None]
    assert len(shown) >= 4  # the unchanged code, layers, kinks, the witness
    for code, printed, expected in shown:
        assert same_report(printed, expected), f"{code[:200]}\n--- printed:\n{printed}"
    assert "kink" in shown[2][1] and "MISMATCH" not in shown[2][1]
    assert "likely mistake" in shown[0][1] and "likely mistake" in shown[1][1]
    # the pytest helper fails on the planted bug, its message the report
    assert "your gradient for Z1 differs" in namespace.get("helper_failure", "")


def test_same_report_sees_a_changed_number_and_ignores_noise():
    line = "W1  parameter  (3, 4)  2.825  0.91  (0, 1)  3.092  0.2672  0.2672  2.188e-10  MISMATCH"
    assert same_report(line, line.replace("2.188e-10", "1.638e-10"))
    assert not same_report(line, line.replace("3.092", "3.1"))
    assert not same_report(line, line.replace("MISMATCH", "ok"))


def regenerate() -> None:
    """Rewrite the page's "prints" blocks from a run (python -m tests.check.test_docs)."""
    text = CHECK_DOC.read_text(encoding="utf-8")
    results, _ = run_page(text)
    printed = iter(r[1] for r in results if r[2] is not None)
    text = re.sub(r"(\n\nprints\n\n```\n)(.*?)(```)", lambda m: m[1] + next(printed) + m[3],
                  text, flags=re.S)  # fmt: skip
    CHECK_DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    regenerate()
