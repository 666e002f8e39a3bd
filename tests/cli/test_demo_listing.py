"""The demo shows the article's listing differentiated as written, and says why its
weights and loss are not those of the demo's first step."""

from __future__ import annotations

import re

import numpy as np

from gradsight.reference import listing_check


def test_demo_checks_the_listing_as_written(cli, tmp_path):
    res = cli("demo", "--out", "d", "--epochs", "5")
    assert res.rc == 0, res.err
    assert "The article's fixed listing, its NumPy forward differentiated as written" in res.out
    assert "OK: all 7 gradients agree three ways" in res.out
    report = (tmp_path / "d" / "report.md").read_text(encoding="utf-8")
    assert "## The article's listing, differentiated as written" in report
    assert "| hidden\\_layer\\_input | intermediate | (4, 4) |" in report


def test_demo_says_why_the_listings_weights_and_loss_differ(cli, tmp_path):
    res = cli("demo", "--out", "d", "--epochs", "5")
    assert res.rc == 0, res.err
    step1, listing = res.out.split("The article's fixed listing", 1)
    why = " ".join(listing.split("\n\n", 1)[0].split())  # the lines under its heading
    rand = listing_check.initial_params()["weights_ih"]
    assert rand.shape == (2, 4) and np.all((rand >= 0) & (rand < 1))  # as the note says
    assert re.search(r"^W\s+\(4, 2\)", step1, re.M)  # step 1's own table
    for said in (
        "weights_ih is 2×4 (inputs, hidden), used as X @ weights_ih",
        "np.random.seed(0) then rand, in [0, 1)",
        "W is 4×2 (hidden, inputs), used as x Wᵀ as gs.nn.Linear does",
    ):
        assert said in why, said
    # the losses the note names are the ones each check printed, and they differ
    mine = re.search(r"^Step 1 \(loss ([\d.]+)\)", step1, re.M).group(1)
    theirs = re.search(r"^backprop check: loss ([\d.]+);", listing, re.M).group(1)
    assert f"Different weights, so a different loss ({theirs} against {mine})." in why
    assert mine != theirs
    assert f"(before the first: {mine})" in res.out  # the loss training starts from
