"""examples/check_your_backprop.py: the right backprop passes, the planted bug is named."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "check_your_backprop.py"


def test_example_passes_its_own_backprop_and_names_the_planted_bug(capsys):
    module = runpy.run_path(str(EXAMPLE), run_name="check_your_backprop")
    assert module["main"]() == 0
    out = capsys.readouterr().out
    assert "gradient check: 4 of 4 parameters ok" in out
    assert "mismatched: W1, b1" in out and "parameters to fix: W1, b1" in out
