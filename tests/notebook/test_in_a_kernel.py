"""gradsight in Jupyter: a notebook executed by a real IPython kernel (nbclient and
ipykernel, the ``notebook`` extra), each display cell's output read back as
Jupyter stores it. Skipped, with a note, when the extra is not installed."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import pytest

from .cells import CELLS

WHY = "the notebook extra is not installed: pip install -e '.[notebook]' (./run test installs it)"
nbformat = pytest.importorskip("nbformat", reason=WHY)
nbclient = pytest.importorskip("nbclient", reason=WHY)
pytest.importorskip("ipykernel", reason=WHY)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict:
    """cell name -> its outputs, after a real kernel ran the whole notebook in order."""
    from jupyter_client.kernelspec import NoSuchKernel

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code, metadata={"name": n}) for n, code in CELLS.items()]
    where = tmp_path_factory.mktemp("notebook")
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(where)}}
    )
    try:
        client.execute()
    except NoSuchKernel:
        pytest.skip(f"no python3 Jupyter kernel ({WHY})")
    nbformat.validate(nb)  # what a notebook file would store
    return {cell.metadata["name"]: cell.outputs for cell in nb.cells}


def shown(outputs, cell: str) -> dict:
    """The rich display of a cell's last expression (its ``execute_result``)."""
    (result,) = [o for o in outputs[cell] if o.output_type == "execute_result"]
    return result.data


def test_every_cell_ran_without_an_error(outputs):
    assert set(outputs) == set(CELLS)
    for name, outs in outputs.items():
        errors = [f"{o.ename}: {o.evalue}" for o in outs if o.output_type == "error"]
        assert not errors, (name, errors)


class Frames(HTMLParser):
    def __init__(self):
        super().__init__()
        self.frames = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))


def test_the_step_through_page_displays_inline(outputs):
    data = shown(outputs, "steps")
    parser = Frames()
    parser.feed(data["text/html"])
    (frame,) = parser.frames
    page = frame["srcdoc"]
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    raw = re.search(r'<script type="application/json" id="gs-data">(.*?)</script>', page, re.S)
    steps = json.loads(raw.group(1))["steps"]
    assert len(steps) == 12  # 8 ops and the 4 parameters, as in the file the demo writes
    leaves = sorted(s["title"] for s in steps if s["title"].startswith("AccumulateGrad"))
    assert leaves == [
        "AccumulateGrad: V, shape (1, 4)",
        "AccumulateGrad: W, shape (4, 2)",
        "AccumulateGrad: b, shape (4,)",
        "AccumulateGrad: c, shape (1,)",
    ]
    assert data["text/plain"] == (
        "<gs.viz step-through page 'Backpropagation, step by step': 12 steps>"
    )


def test_the_traced_step_shows_its_program(outputs):
    data = shown(outputs, "traced")
    assert data["text/plain"].startswith("<gs.trace of train_step: 1 trace(s), 0 replay(s)>")
    (program,) = re.findall(r"<pre>(.*)</pre>", data["text/html"], re.S)
    (printed,) = [o.text for o in outputs["source"] if o.output_type == "stream"]
    assert html.unescape(program) == printed.removesuffix("\n")  # its source, all of it
    assert "def " in printed and "np." in printed  # NumPy code, as traced.source says
    assert "<" not in program  # escaped: nothing in it is read as markup


def test_a_check_report_displays_as_a_table(outputs):
    data = shown(outputs, "report")
    assert not data["text/plain"].startswith("BackpropReport(")  # not a dataclass dump
    assert "<table" in data["text/html"]
    for name in ("W1", "b1", "W2", "b2", "Z1"):  # a row for each gradient checked
        assert name in data["text/html"], name
