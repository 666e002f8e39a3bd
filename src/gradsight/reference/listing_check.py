"""The article's fixed listing, differentiated as written.

``forward`` and ``backward`` are built from the text of ``FIXED_LISTING``
itself: the listing's own forward lines (from ``# 前向传播`` to the line that
records the loss) become ``forward(params, X, y) -> L``, and its own
backward lines (the output delta and the hidden delta) plus the gradient
expressions of its update lines become ``backward(params, X, y)``. Nothing
is rewritten, so ``gs.check.backprop`` runs the article's NumPy code under
autograd unchanged and checks its hand derivation three ways.

The listing's deltas are *minus* gradients (it adds ``lr * delta`` terms):
``d_predicted_output`` is -dL/d(output_layer_input), ``output_layer_delta``
is -dL/d(hidden_layer_output) and ``hidden_layer_delta`` is
-dL/d(hidden_layer_input); the update terms are -dL/dW. The bias terms
have shape (units,) and the biases (1, units): the listing adds one to the
other by broadcasting, and the check reshapes them the same way.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np

from .listing import FIXED_LISTING

DOC = (
    "The fixed listing's own forward lines run under gradsight unchanged (NumPy's protocols "
    "record them); its own backward lines are checked against autograd and central finite "
    "differences at the first step. The listing's deltas are minus gradients: "
    "`d_predicted_output` is -dL/d`output_layer_input`, `output_layer_delta` is "
    "-dL/d`hidden_layer_output`, `hidden_layer_delta` is -dL/d`hidden_layer_input`."
)
PARAMS = ("weights_ih", "weights_ho", "bias_h", "bias_o")
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # the listing's data, integers as written
Y = np.array([[0], [1], [1], [0]])


def _block(start: str, end: str, source: str = FIXED_LISTING) -> str:
    """The listing's lines from the one containing ``start`` to the one containing ``end``."""
    lines = source.splitlines()
    i = next(k for k, line in enumerate(lines) if start in line)
    j = next(k for k, line in enumerate(lines) if k >= i and end in line)
    return textwrap.dedent("\n".join(lines[i : j + 1]))


def _update_terms(source: str = FIXED_LISTING) -> dict:
    """param -> the listing's expression for -dL/dparam, read off its step lines."""
    steps = {"step_ih": "weights_ih", "step_ho": "weights_ho"}
    steps.update({"step_h": "bias_h", "step_o": "bias_o"})
    terms = {}
    for step, param in steps.items():
        m = re.search(rf"{step} = momentum \* {step} \+ (.+) \* learning_rate", source)
        terms[param] = m[1]
    return terms


def sources(source: str = FIXED_LISTING) -> tuple[str, str]:
    """The Python source of forward and backward, assembled from a listing's lines
    (``FIXED_LISTING``, or one with fixes reverted by ``listing.revert``)."""
    activations = _block("def sigmoid(x):", "return x * (1 - x)", source)
    fwd = _block("# 前向传播", "losses.append(", source)
    bwd = _block("d_predicted_output = error", "hidden_layer_delta = ", source)
    unpack = "weights_ih, weights_ho, bias_h, bias_o = (params[k] for k in PARAMS)\nlosses = []\n"
    forward = f"{activations}\n\n\ndef forward(params, X, y):\n" + textwrap.indent(
        unpack + fwd + "\nreturn losses[-1]", "    "
    )
    grads = "".join(
        f"    {name!r}: np.reshape(-({expr}), params[{name!r}].shape),\n"
        for name, expr in _update_terms(source).items()
    )
    grads += (
        "    'output_layer_input': -d_predicted_output,\n"
        "    'hidden_layer_output': -output_layer_delta,\n"
        "    'hidden_layer_input': -hidden_layer_delta,\n"
    )
    backward = f"{activations}\n\n\ndef backward(params, X, y):\n" + textwrap.indent(
        unpack + fwd + "\n" + bwd + "\nreturn {\n" + grads + "}", "    "
    )
    return forward, backward


def functions(source: str = FIXED_LISTING):
    """(forward, backward) compiled from ``sources(source)``."""
    forward_src, backward_src = sources(source)
    f_ns: dict = {"np": np, "PARAMS": PARAMS}
    b_ns: dict = {"np": np, "PARAMS": PARAMS}
    exec(compile(forward_src, "<article listing: forward>", "exec"), f_ns)  # noqa: S102
    exec(compile(backward_src, "<article listing: backward>", "exec"), b_ns)  # noqa: S102
    return f_ns["forward"], b_ns["backward"]


def initial_params(seed: int = 0) -> dict:
    """The listing's first weights: np.random.seed(seed), rand (input, hidden), (hidden, output)."""
    rs = np.random.RandomState(seed)
    return {
        "weights_ih": rs.rand(2, 4),
        "weights_ho": rs.rand(4, 1),
        "bias_h": np.zeros((1, 4)),
        "bias_o": np.zeros((1, 1)),
    }


def check(source: str = FIXED_LISTING, seed: int = 0, **kw):
    """gs.check.backprop of a listing's forward and backward at its first step."""
    from gradsight.check import backprop

    forward, backward = functions(source)
    return backprop(forward, backward, initial_params(seed), X, Y, **kw)


def article_as_run() -> str:
    """ARTICLE_LISTING with only the three fixes without which it crashes (B1-B3).

    ``global`` in train (B1), the weights drawn (input, hidden) and (hidden,
    output) (B2), and the hidden delta's second weight product removed (B3).
    Everything else is the article's: learning rate 0.01, no momentum, mean
    bias steps, the outer loop over train, the argmax "convergence" test.
    """
    from .listing import ARTICLE_LISTING, FIXES

    src = ARTICLE_LISTING
    head = "def train(X, y, epochs, learning_rate):\n"
    src = src.replace(head, head + "    global weights_ih, weights_ho, bias_h, bias_o\n", 1)
    for fix in FIXES:
        if fix.key in ("layout", "hidden-delta"):
            for fixed, article in fix.pairs:
                if src.count(article) != 1:
                    raise ValueError(f"the article's text for {fix.key!r} is not found once")
                src = src.replace(article, fixed)
    return src
