"""The article's NumPy listing (section 4), verbatim, and a faithful runnable version of it.

``ARTICLE_LISTING`` is the listing as printed; run it and it stops at its first
line of training with UnboundLocalError. ``FIXED_LISTING`` is the same script
with the fewest changes that make it correct, each marked ``# FIX[key]`` with the
defect it removes; ``FIXES`` lists them, and ``revert(key)`` puts one defect
back so that tests can show what it breaks. ``run_listing`` executes a listing
(optionally with some of its top-level settings changed) and returns its
variables.

With learning_rate = 0.5 and momentum = 0.9 the fixed listing trains XOR to
L = 1/(2n) sum (y - y_hat)^2 of about 5e-5 in its 10000 epochs.

    python3 -c "from gradsight.reference import listing; listing.main()"
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ARTICLE_LISTING", "FIXED_LISTING", "FIXES", "ListingFix", "revert", "run_listing"]

ARTICLE_LISTING = """\
import numpy as np

# 初始化神经网络参数
input_size = 2
hidden_size = 4
output_size = 1
learning_rate = 0.01

# 初始化权重和偏置
np.random.seed(0)
weights_ih = np.random.rand(hidden_size, input_size)
weights_ho = np.random.rand(output_size, hidden_size)
bias_h = np.zeros((1, hidden_size))
bias_o = np.zeros((1, output_size))

# 定义激活函数
def sigmoid(x):
    return 1 / (1 + np.exp(-x))

def sigmoid_derivative(x):
    return x * (1 - x)

# 定义训练函数
def train(X, y, epochs, learning_rate):
    for epoch in range(epochs):
        # 前向传播
        hidden_layer_input = np.dot(X, weights_ih) + bias_h
        hidden_layer_output = sigmoid(hidden_layer_input)
        output_layer_input = np.dot(hidden_layer_output, weights_ho) + bias_o
        predicted_output = sigmoid(output_layer_input)

        # 计算误差
        error = y - predicted_output
        d_predicted_output = error * sigmoid_derivative(predicted_output)

        # 后向传播
        output_layer_delta = d_predicted_output.dot(weights_ho.T)
        hidden_layer_delta = d_predicted_output.dot(weights_ho.T).dot(weights_ih.T) * sigmoid_derivative(hidden_layer_output)

        # 更新权重和偏置
        weights_ho += hidden_layer_output.T.dot(d_predicted_output) * learning_rate
        weights_ih += X.T.dot(hidden_layer_delta) * learning_rate
        bias_o += np.mean(d_predicted_output, axis=0) * learning_rate
        bias_h += np.mean(hidden_layer_delta, axis=0) * learning_rate

    return predicted_output

# 生成训练数据
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
y = np.array([[0], [1], [1], [0]])

# 训练神经网络
epochs = 10000
for epoch in range(epochs):
    output = train(X, y, epochs, learning_rate)
    if np.argmax(output) == np.argmax(y):
        print(f"Converged in {epoch + 1} epochs")
        break
"""  # noqa: E501

FIXED_LISTING = """\
import numpy as np

# 初始化神经网络参数
input_size = 2
hidden_size = 4
output_size = 1
learning_rate = 0.5  # FIX[learning-rate]: was 0.01, which leaves L near 0.12 after 10000 epochs
momentum = 0.9  # FIX[momentum]: the text's alpha; the listing had no momentum term

# 初始化权重和偏置
np.random.seed(0)
# FIX[layout]: every product below is X @ W (rows are samples), so the weights must be
# (input, hidden) and (hidden, output): the article drew them transposed, a shape error.
weights_ih = np.random.rand(input_size, hidden_size)
weights_ho = np.random.rand(hidden_size, output_size)
bias_h = np.zeros((1, hidden_size))
bias_o = np.zeros((1, output_size))
# FIX[momentum]: the previous steps, Delta w(t-1), zero before the first update
step_ih, step_ho = np.zeros_like(weights_ih), np.zeros_like(weights_ho)
step_h, step_o = np.zeros_like(bias_h), np.zeros_like(bias_o)
losses = []  # FIX[convergence]: the text's L, recorded each epoch (never computed)

# 定义激活函数
def sigmoid(x):
    return 1 / (1 + np.exp(-x))

def sigmoid_derivative(x):
    # NOTE: x must be sigmoid's output s = sigmoid(z): s * (1 - s) is sigmoid'(z)
    return x * (1 - x)

# 定义训练函数
def train(X, y, epochs, learning_rate):
    # FIX[global]: train assigns these names (+=), so Python would treat them as locals
    # and the first read would raise UnboundLocalError
    global weights_ih, weights_ho, bias_h, bias_o, step_ih, step_ho, step_h, step_o
    for epoch in range(epochs):
        # 前向传播
        hidden_layer_input = np.dot(X, weights_ih) + bias_h
        hidden_layer_output = sigmoid(hidden_layer_input)
        output_layer_input = np.dot(hidden_layer_output, weights_ho) + bias_o
        predicted_output = sigmoid(output_layer_input)

        # 计算误差
        error = y - predicted_output
        losses.append(np.sum(error**2) / (2 * len(X)))  # FIX[convergence]: the text's L
        # FIX[scale]: / len(X) makes this -dL/d(output_layer_input) for the text's 1/(2n) L
        d_predicted_output = error * sigmoid_derivative(predicted_output) / len(X)

        # 后向传播
        output_layer_delta = d_predicted_output.dot(weights_ho.T)
        # FIX[hidden-delta]: the article multiplied by the weights twice,
        # .dot(weights_ho.T).dot(weights_ih.T); the input weights play no part in this error
        hidden_layer_delta = output_layer_delta * sigmoid_derivative(hidden_layer_output)

        # 更新权重和偏置
        # FIX[momentum]: step(t) = -lr * dL/dw + momentum * step(t-1); w += step(t)
        # FIX[bias-sum]: np.sum over the samples for the biases too, as for the weights (not mean)
        step_ho = momentum * step_ho + hidden_layer_output.T.dot(d_predicted_output) * learning_rate
        step_ih = momentum * step_ih + X.T.dot(hidden_layer_delta) * learning_rate
        step_o = momentum * step_o + np.sum(d_predicted_output, axis=0) * learning_rate
        step_h = momentum * step_h + np.sum(hidden_layer_delta, axis=0) * learning_rate
        weights_ho += step_ho
        weights_ih += step_ih
        bias_o += step_o
        bias_h += step_h

    return predicted_output

# 生成训练数据
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
y = np.array([[0], [1], [1], [0]])

# 训练神经网络
epochs = 10000
output = train(X, y, epochs, learning_rate)  # FIX[outer-loop]: train() loops over the epochs
# FIX[convergence]: judge by the loss; the article tested np.argmax(output) == np.argmax(y)
converged = losses[-1] < 0.01
if converged:
    print(f"Converged: L = {losses[-1]:.6f} after {len(losses)} epochs")
"""


@dataclass(frozen=True)
class ListingFix:
    """One change from the article's listing: ``pairs`` of (text in FIXED_LISTING, article text).

    Putting the article text back (``revert``) brings back exactly this defect.
    """

    key: str
    defect: str
    pairs: tuple[tuple[str, str], ...]


def _find(pattern: str) -> str:
    """The text of FIXED_LISTING that ``pattern`` matches (it must match)."""
    found = re.search(pattern, FIXED_LISTING)
    if found is None:
        raise ValueError(f"FIXED_LISTING has no text matching {pattern!r}")
    return found[0]


FIXES: tuple[ListingFix, ...] = (
    ListingFix(
        "global",
        "train() assigns the weights with +=, so they are its locals: UnboundLocalError",
        ((_find(r"    # FIX\[global\].*\n.*\n    global .*\n"), ""),),
    ),
    ListingFix(
        "layout",
        "weights drawn (hidden, input) and (output, hidden) but used as X @ W: shape error",
        (
            (
                "weights_ih = np.random.rand(input_size, hidden_size)\n"
                "weights_ho = np.random.rand(hidden_size, output_size)\n",
                "weights_ih = np.random.rand(hidden_size, input_size)\n"
                "weights_ho = np.random.rand(output_size, hidden_size)\n",
            ),
        ),
    ),
    ListingFix(
        "hidden-delta",
        "the hidden delta is multiplied by the weights twice (.dot(weights_ih.T) too much)",
        (
            (
                "hidden_layer_delta = output_layer_delta * sigmoid_derivative(hidden_layer_output)",
                "hidden_layer_delta = d_predicted_output.dot(weights_ho.T).dot(weights_ih.T)"
                " * sigmoid_derivative(hidden_layer_output)",
            ),
        ),
    ),
    ListingFix(
        "bias-sum",
        "bias steps use np.mean over the samples, weight steps a sum: n times too small",
        (
            ("np.sum(d_predicted_output, axis=0)", "np.mean(d_predicted_output, axis=0)"),
            ("np.sum(hidden_layer_delta, axis=0)", "np.mean(hidden_layer_delta, axis=0)"),
        ),
    ),
    ListingFix(
        "scale",
        "the listing descends (1/2) sum (y - y_hat)^2, n times the text's L = 1/(2n) sum ...",
        (
            (
                "d_predicted_output = error * sigmoid_derivative(predicted_output) / len(X)",
                "d_predicted_output = error * sigmoid_derivative(predicted_output)",
            ),
        ),
    ),
    ListingFix(
        "learning-rate",
        "learning_rate = 0.01 leaves the loss near its starting value in 10000 epochs",
        ((_find(r"learning_rate = 0\.5 .*\n"), "learning_rate = 0.01\n"),),
    ),
    ListingFix(
        "momentum",
        "the text's update has the momentum term alpha * Delta w(t-1); the listing has none",
        ((_find(r"momentum = 0\.9 .*\n"), "momentum = 0.0\n"),),
    ),
    ListingFix(
        "outer-loop",
        "train(X, y, epochs, ...) is called inside another loop over epochs: epochs**2 updates",
        (
            (
                "output = train(X, y, epochs, learning_rate)  # FIX[outer-loop]: train() loops over"
                " the epochs\n",
                "for epoch in range(epochs):\n    output = train(X, y, epochs, learning_rate)\n",
            ),
        ),
    ),
    ListingFix(
        "convergence",
        "no loss is computed; 'converged' means np.argmax(output) == np.argmax(y)",
        (
            (
                "converged = losses[-1] < 0.01\n",
                "converged = np.argmax(output) == np.argmax(y)\n",
            ),
        ),
    ),
)


def _fix(key: str) -> ListingFix:
    for fix in FIXES:
        if fix.key == key:
            return fix
    raise KeyError(f"no listing fix {key!r}; the fixes are {[f.key for f in FIXES]}")


def revert(*keys: str, source: str = FIXED_LISTING) -> str:
    """``source`` with the named fixes undone: the article's text put back for each."""
    for key in keys:
        for fixed, article in _fix(key).pairs:
            count = source.count(fixed)
            if count != 1:
                raise ValueError(f"fix {key!r}: its text occurs {count} times in the source")
            source = source.replace(fixed, article)
    return source


@dataclass
class ListingRun:
    """The variables a listing left behind (``namespace``) and what it printed."""

    namespace: dict
    stdout: str


def run_listing(source: str = FIXED_LISTING, **settings) -> ListingRun:
    """Execute a listing; each keyword replaces the value of one top-level ``name = value`` line.

    ``run_listing(epochs=3, hidden_size=2)`` runs with those two lines changed.
    NumPy's global random state (which the listing seeds) is restored afterwards.
    """
    for name, value in settings.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        if len(pattern.findall(source)) != 1:
            raise ValueError(f"the listing has no single top-level line '{name} = ...' to replace")
        source = pattern.sub(lambda _: f"{name} = {value!r}", source)
    namespace = {"__name__": "article_listing"}
    out = io.StringIO()
    state = np.random.get_state()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<article listing>", "exec"), namespace)
    finally:
        np.random.set_state(state)
    return ListingRun(namespace, out.getvalue())


def main() -> None:
    """Run the fixed listing and print its result."""
    run = run_listing()
    losses = run.namespace["losses"]
    print(run.stdout, end="")
    print(f"L after {len(losses)} epochs: {losses[-1]:.3e} (first epoch: {losses[0]:.4f})")
