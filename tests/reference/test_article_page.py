"""docs/article.md, completed (issue 13 section 3): the defect half of A1, A2, A7
and A14, the unused output_layer_delta, the listing as the article runs it, and
the Chinese original quoted verbatim next to each paraphrase."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import numpy as np
import pytest

import gradsight as gs
from gradsight import reference as ref
from gradsight.reference import listing, listing_check

ROOT = Path(__file__).resolve().parents[2]
ARTICLE_DOC = ROOT / "docs" / "article.md"
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])


def _names(source: str, ctx) -> list:
    return [
        n.id
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)
    ]


def test_output_layer_delta_is_computed_and_never_used():
    """B10: the article's listing computes the right product and throws it away."""
    assert "output_layer_delta" in _names(listing.ARTICLE_LISTING, ast.Store)
    assert "output_layer_delta" not in _names(listing.ARTICLE_LISTING, ast.Load)
    assert "output_layer_delta" in _names(listing.FIXED_LISTING, ast.Load)  # the fix uses it


def test_article_listing_as_run_with_only_crash_fixes():
    """Converged after 4 x 10000 updates by the argmax test, yet [1, 1] is predicted 1."""
    run = listing.run_listing(listing_check.article_as_run())
    assert run.stdout == "Converged in 4 epochs\n"
    out = run.namespace["output"].ravel()
    assert out[3] > 0.5  # target 0 for [1, 1]: wrong
    assert np.sum((out - T.ravel()) ** 2) / 8 == pytest.approx(0.103, abs=5e-4)  # docs: 0.103


def test_a1_article_steps_alone_never_change_the_parameters():
    """As printed (3.1.1 steps 2-6): forward, activation, loss, repeated. Nothing moves."""
    p = ref.init_params(2, 4, 1, seed=0)
    before = {k: v.copy() for k, v in p.items()}
    losses = []
    for _ in range(50):  # "repeat steps 2-5 until convergence"
        fw = ref.forward(p, X)  # steps 2-4: the activation "adjusting weights and biases"
        losses.append(ref.loss(fw.Y, T))  # step 5: the loss "adjusting weights and biases"
    assert all(np.array_equal(p[k], before[k]) for k in p)
    assert len(set(losses)) == 1  # no step of the list learns


def test_a2_the_legends_layout_does_not_fit_the_formula():
    """As printed: w_ij 'from the hidden layer to the input layer' gives W as (input, hidden);
    h_i = f(sum_j w_ij x_j + b_i) for the 4 hidden units then indexes past it."""
    p = ref.init_params(2, 4, 1, seed=0)
    w_legend = p["W"].T  # (input, hidden): the legend's direction
    x = X[3]
    with pytest.raises(IndexError):
        [sum(w_legend[i, j] * x[j] for j in range(2)) for i in range(4)]


def test_a7_the_errors_the_steps_name_cannot_give_dL_dV():
    """As printed: step 2's hidden error dL/dH and step 3's input error dL/dX; the output
    error is never computed, and neither named error yields dL/dV (shape (1, 4))."""
    p = ref.init_params(2, 4, 1, seed=0)
    params = {k: gs.tensor(v, requires_grad=True) for k, v in p.items()}
    x = gs.tensor(X, requires_grad=True)
    h = (x @ params["W"].T + params["b"]).sigmoid()
    h.retain_grad()
    y = (h @ params["V"].T + params["c"]).sigmoid()
    (((y - T) ** 2).sum() / 8).backward()
    d_h, d_x, d_v = h.grad.numpy(), x.grad.numpy(), params["V"].grad.numpy()
    candidates = [d_h.T @ h.numpy(), d_x.T @ h.numpy(), d_h.T @ x.numpy()]
    assert all(c.shape != d_v.shape for c in candidates)


def test_a14_the_article_updates_leave_the_biases_behind():
    """As printed: update formulas for w and v only. The biases never move, though
    their gradient is not zero at the start nor after 500 such steps."""
    p = ref.init_params(2, 4, 1, seed=0)
    b0, c0 = p["b"].copy(), p["c"].copy()
    for _ in range(500):
        g = ref.backward(p, ref.forward(p, X), T)
        p["W"] = p["W"] - 0.5 * g["W"]  # the article's two formulas: weights only
        p["V"] = p["V"] - 0.5 * g["V"]
    g = ref.backward(p, ref.forward(p, X), T)
    assert np.array_equal(p["b"], b0) and np.array_equal(p["c"], c0)
    assert np.abs(g["b"]).max() > 1e-4 and np.abs(g["c"]).max() > 1e-4


def test_doc_shows_the_listing_check_report_as_it_is():
    """The doc's table is this machine's, up to rounding noise (see tests/report_text.py).
    Where a row's errors are noise its worst index is too; the doc's values are then
    checked against the hand gradient at the doc's index (autograd agrees with it to
    1e-12 in such a row, far below the 4 digits printed)."""
    from tests.report_text import assert_same_report

    text = ARTICLE_DOC.read_text(encoding="utf-8")
    shown = re.search(r"\n(backprop check: loss [^\n]*\n\n\|.*?)\n\n", text, re.S)
    assert shown, "docs/article.md lost the listing's check report"
    table = listing_check.check().to_markdown().split("\n\nOK:")[0]
    _, backward = listing_check.functions()
    hand = backward(listing_check.initial_params(), listing_check.X, listing_check.Y)

    def values_at(name, index_text):
        index = tuple(int(i) for i in re.findall(r"-?\d+", index_text))
        value = float(np.asarray(hand[name])[index])
        return value, value

    assert_same_report(table, shown[1], values_at)
    assert "OK: all 7 gradients agree three ways" in text


# The 原文 quotes: 「...」 on one line, copied from the article (its text is not in
# the repository; set GRADSIGHT_ARTICLE to the file, or keep it in a shared/seed/
# folder next to or above the checkout).
QUOTE = re.compile(r"「([^」\n]*)」")
CJK = re.compile(r"[\u3400-\u9fff]+")


def _article_text() -> str | None:
    """The article, recognised by containing the listing verbatim."""
    env = os.environ.get("GRADSIGHT_ARTICLE")
    places = [Path(env)] if env else []
    places += [d / "shared" / "seed" for d in (ROOT, *ROOT.parents)]
    for place in places:
        files = (
            [place] if place.is_file() else sorted(place.glob("*.txt")) if place.is_dir() else []
        )
        for f in files:
            text = f.read_text(encoding="utf-8", errors="replace")
            if listing.ARTICLE_LISTING in text:
                return text
    return None


def test_the_page_quotes_the_original_next_to_each_paraphrase():
    text = ARTICLE_DOC.read_text(encoding="utf-8")
    assert text.count("「") == text.count("」") == len(QUOTE.findall(text))  # none spans lines
    rows = [line for line in text.splitlines() if re.match(r"\| A\d+ \|", line)]
    assert len(rows) == 14 and all("原文：「" in row for row in rows)
    ours = text.split("## 1. The network, in our words")[1].split("## 2. Errata")[0]
    for part in (
        "**Sizes.**",
        "**Layout.**",
        "**Forward.**",
        "**Loss.**",
        "**Backward.**",
        "**Update with momentum.**",
        "**Training XOR.**",
    ):
        paragraph = ours.split(part)[1].split("**")[0]
        assert "> 原文" in paragraph and QUOTE.search(paragraph), part


def test_every_chinese_quote_is_verbatim_in_the_article():
    article = _article_text()
    if article is None:
        pytest.skip("the article (shared/seed/*.txt or $GRADSIGHT_ARTICLE) is not here")
    text = ARTICLE_DOC.read_text(encoding="utf-8")
    quotes = QUOTE.findall(text)
    assert len(quotes) >= 60
    assert [q for q in quotes if q not in article] == []
    # Chinese outside the quotes and code blocks is the article's too (a term in
    # parentheses), never our own Chinese that could pass for a quote
    prose = QUOTE.sub("", re.sub(r"```.*?```", "", text, flags=re.S)).replace("原文", "")
    assert [w for w in CJK.findall(prose) if w not in article] == []
