"""The article's fixed listing, its own NumPy lines differentiated as written (issue 13)."""

from __future__ import annotations

import pytest

from gradsight.reference import listing, listing_check


def test_fixed_listing_agrees_three_ways():
    report = listing_check.check()
    assert report.ok, report
    assert {r.name for r in report.rows} == {
        "weights_ih", "weights_ho", "bias_h", "bias_o",
        "output_layer_input", "hidden_layer_output", "hidden_layer_input",
    }  # fmt: skip
    # the loss the check differentiated is the listing's own first recorded loss
    first = listing.run_listing(epochs=1).namespace["losses"][0]
    assert report.loss == first


def test_forward_and_backward_are_the_listings_own_lines():
    forward_src, backward_src = listing_check.sources()
    for line in (
        "hidden_layer_input = np.dot(X, weights_ih) + bias_h",
        "predicted_output = sigmoid(output_layer_input)",
        "losses.append(np.sum(error**2) / (2 * len(X)))",
    ):
        assert line in forward_src and line in listing.FIXED_LISTING
    for line in (
        "d_predicted_output = error * sigmoid_derivative(predicted_output) / len(X)",
        "hidden_layer_delta = output_layer_delta * sigmoid_derivative(hidden_layer_output)",
    ):
        assert line in backward_src and line in listing.FIXED_LISTING


def test_the_missing_scale_is_localised_to_the_output_delta():
    report = listing_check.check(listing.revert("scale"))
    assert report.first_divergence.name == "output_layer_input"
    row = report["output_layer_input"]
    assert row.hand == pytest.approx(4 * row.auto, rel=1e-12)  # n = 4 times too large


def test_the_mean_bias_terms_are_localised_to_the_biases():
    report = listing_check.check(listing.revert("bias-sum"))
    assert report.first_divergence is None
    assert set(report.mismatched_names) == {"bias_h", "bias_o"}
    assert 4 * report["bias_o"].hand == pytest.approx(report["bias_o"].auto, rel=1e-12)
    assert "every intermediate agrees" in report.verdict()
