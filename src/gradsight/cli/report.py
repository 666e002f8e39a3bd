"""The demo's report.md: settings, the gradient table, training and results."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

import gradsight as gs


def demo_report(settings: dict, check, losses, final, X, T, outputs, files: list[str]) -> str:
    """Markdown for the demo run: what was run, what was compared, what came out."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# gradsight demo: the article's XOR network",
        "",
        f"gradsight {gs.__version__}, {when}.",
        "",
        "The network: h = sigmoid(W x + b), y = sigmoid(V h + c), with W (4 x 2: hidden x "
        "input), b (4), V (1 x 4: output x hidden), c (1); the loss is "
        "L = 1/(2n) Σ (y - ŷ)² over the n = 4 XOR samples.",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        f"| epochs (full-batch steps) | {settings['epochs']} |",
        f"| learning rate η | {settings['lr']:g} |",
        f"| momentum α | {settings['momentum']:g} |",
        f"| seed | {settings['seed']} |",
        "| initial weights | U(-1/√fan_in, 1/√fan_in), like PyTorch's Linear |",
        "",
        "Update: Δw(t) = -η ∂L/∂w + α Δw(t-1), i.e. `gs.optim.SGD(lr=η, momentum=α)`.",
        "",
        "## Step 1: hand-derived vs autograd gradients",
        "",
        "Manual: the article's backward pass with its formulas corrected (`gs.reference`); "
        "automatic: `loss.backward()`. Compared with `gs.check.compare_gradients`.",
        "",
        check.to_markdown(),
        "",
        f"All gradients agree: **{'yes' if check.ok else 'NO'}**.",
        "",
        "## Training",
        "",
        f"Loss before the first step: {losses[0]:.6g}; after {len(losses)} steps: {final:.6g}.",
        "",
        "| step | loss before it |",
        "|---|---|",
        *(f"| {e} | {losses[e - 1]:.6g} |" for e in _milestones(len(losses))),
        "",
        "## Predictions",
        "",
        "| x1 | x2 | target | prediction |",
        "|---|---|---|---|",
        *(f"| {a:g} | {b:g} | {t:g} | {y:.4f} |" for (a, b), t, y in zip(X, np.ravel(T), outputs)),
        "",
        "## Files",
        "",
        *(f"- [{name}]({name}): {_DESCRIBE.get(name, '')}" for name in files),
        "",
    ]
    if "graph.svg" in files:
        lines += ["![the computation graph of step 1](graph.svg)", ""]
    if "loss.png" in files:
        lines += ["![loss curve](loss.png)", ""]
    return "\n".join(lines)


_DESCRIBE = {
    "graph.svg": "the computation graph of step 1 with every gradient",
    "graph.dot": "the computation graph of step 1 (DOT; Graphviz was not installed)",
    "backprop.html": "step through the backward pass node by node (open in a browser)",
    "backprop.py": "the training step as the NumPy program gs.trace recorded (runs alone)",
    "loss.png": "the loss curve",
    "loss.csv": "the loss per epoch (matplotlib was not installed)",
}


def _milestones(n: int) -> list[int]:
    """About ten epochs spread over 1..n, log-spaced (the loss falls fastest early)."""
    picks = np.unique(np.round(np.geomspace(1, n, num=min(n, 10))).astype(int))
    return [int(e) for e in picks]
