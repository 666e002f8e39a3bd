"""The four scikit-learn data sets of docs/train.md train from their CSV with one command
each (text labels; wine with a text column and missing cells; diabetes a regression)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FLOORS = {  # validation score after 30 epochs: well above chance, below the doc's 100-epoch run
    "iris": ("acc", 80.0),
    "breast_cancer": ("acc", 90.0),
    "wine": ("acc", 90.0),
    "diabetes": ("r2", 0.3),
}


def test_four_sklearn_sets_train_with_one_command_each(cli, tmp_path):
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.train_vs_sklearn import export
    finally:
        sys.path.remove(str(REPO))
    specs = export(tmp_path)
    wine = (tmp_path / "wine.csv").read_text().splitlines()
    assert wine[0].endswith(",colour,cultivar") and ",NA," in "\n".join(wine)
    for spec in specs:
        res = cli("train", spec["path"].name, "--target", spec["target"], "--epochs", "30", "-q")
        assert res.rc == 0, res.err
        final = next(s for s in res.out.splitlines() if s.startswith("final:"))
        metric, floor = FLOORS[spec["name"]]
        value = float(re.search(rf"val .*{metric} (-?[\d.]+)", final).group(1))
        assert value >= floor, (spec["name"], final)
        if spec["name"] == "wine":
            assert "one-hot encoded 'colour'" in res.out and "filled missing cells" in res.out
