"""gs.check.layer / layers on layer classes written in three public styles (in our own words).

- CS231n style: ``self.W``/``self.b``, a cache, ``backward(dout)`` sets ``self.dW``
  and returns dx; the loss is a function returning ``(loss, dx)``.
- numpy-ml style: ``self.parameters`` and ``self.gradients`` dicts, backward
  accumulates into ``gradients`` and returns dX.
- nnfs style: ``weights``/``biases``, forward and backward return nothing and
  keep ``output``/``dweights``/``dbiases``/``dinputs``; the loss is an object.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


# ------------------------------------------------------------------ CS231n style
class Affine:
    def __init__(self, d, m, rng):
        self.W = rng.normal(scale=0.5, size=(d, m))
        self.b = np.zeros(m)
        self.cache = None

    def forward(self, x):
        self.cache = x
        return x @ self.W + self.b

    def backward(self, dout):
        x = self.cache
        self.dW = x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):
        self.cache = x
        return np.maximum(0, x)

    def backward(self, dout):
        return dout * (self.cache > 0)


class Tanh:
    def __init__(self, bug=False):
        self.bug = bug

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out if self.bug else 1 - self.out**2)


def softmax_loss(scores, y):
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = scores.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng, rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)


def test_cs231n_style_network_in_three_lines(data):
    rng, X, y = data
    net = [Affine(4, 5, rng), Tanh(), Affine(5, 3, rng)]
    report = gs.check.layers(net, X, softmax_loss, y=y)
    assert report.ok, report
    assert {"0.W", "0.b", "2.W", "2.b", "x"} <= {r.name for r in report.rows}


def test_cs231n_style_bug_is_localised_to_its_layer(data):
    rng, X, y = data
    net = [Affine(4, 5, rng), Tanh(bug=True), Affine(5, 3, rng)]
    report = gs.check.layers(net, X, softmax_loss, y=y)
    assert not report.ok
    # out[1] (Tanh's output) agrees; out[0] is what Tanh.backward returned: Tanh is wrong
    assert report["out[1]"].ok and report.first_divergence.name == "out[0]"
    assert "0.W" in report.mismatched_names and "2.W" not in report.mismatched_names


def test_single_layer_with_and_without_dout(data):
    rng, X, _ = data
    report = gs.check.layer(Affine(4, 3, rng), X)
    assert report.ok and {r.name for r in report.rows} == {"out[0]", "x", "W", "b"}
    dout = rng.normal(size=(6, 3))
    assert gs.check.layer(Affine(4, 3, rng), X, dout=dout).ok
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3\)"):
        gs.check.layer(Affine(4, 3, rng), X, dout=np.ones((2, 3)))


def test_user_layers_keep_their_own_arrays_and_see_no_tensor(data):
    rng, X, y = data
    net = [Affine(4, 5, rng), Relu(), Affine(5, 3, rng)]
    W = net[0].W
    gs.check.layers(net, X, softmax_loss, y=y)
    assert net[0].W is W and type(net[0].cache) is np.ndarray and type(net[1].cache) is np.ndarray
    assert type(net[0].dW) is np.ndarray


# ------------------------------------------------------------------ numpy-ml style
class FullyConnectedML:
    def __init__(self, n_in, n_out, rng, bug=False):
        self.parameters = {
            "W": rng.normal(scale=0.5, size=(n_in, n_out)),
            "b": np.zeros((1, n_out)),
        }
        self.gradients = {k: np.zeros_like(v) for k, v in self.parameters.items()}
        self.X, self.bug = [], bug

    def forward(self, X):
        self.X.append(X)
        return np.tanh(X @ self.parameters["W"] + self.parameters["b"])

    def backward(self, dLdy):
        X = self.X[-1]
        Z = X @ self.parameters["W"] + self.parameters["b"]
        dZ = dLdy * (1 - np.tanh(Z) ** 2)
        self.gradients["W"] += X.T @ dZ * (2.0 if self.bug else 1.0)
        self.gradients["b"] += dZ.sum(axis=0, keepdims=True)
        return dZ @ self.parameters["W"].T


def test_numpy_ml_style_layer_in_one_line(data):
    rng, X, _ = data
    assert gs.check.layer(FullyConnectedML(4, 3, rng), X).ok


def test_numpy_ml_style_bug_is_named(data):
    rng, X, _ = data
    report = gs.check.layer(FullyConnectedML(4, 3, rng, bug=True), X)
    assert report.mismatched_names == ("W",)


# ------------------------------------------------------------------ nnfs style
class LayerDense:
    def __init__(self, n_inputs, n_neurons, rng):
        self.weights = 0.5 * rng.normal(size=(n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class ActivationReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class SoftmaxCrossEntropy:
    """Softmax and categorical cross-entropy together, as nnfs combines them."""

    def forward(self, inputs, y_true):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        picked = np.sum(self.output * np.eye(inputs.shape[1])[y_true], axis=1)
        return -np.log(picked)  # per sample: the loss is their mean

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        self.dinputs = self.output.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


def test_nnfs_style_network_in_three_lines(data):
    rng, X, y = data
    net = [LayerDense(4, 5, rng), ActivationReLU(), LayerDense(5, 3, rng)]
    report = gs.check.layers(net, X, SoftmaxCrossEntropy(), y=y)
    assert report.ok, report
    assert {"0.weights", "0.biases", "2.weights", "2.biases"} <= {r.name for r in report.rows}
    assert "0.inputs" not in {r.name for r in report.rows}  # the input it keeps is no parameter


def test_grads_argument_names_an_unusual_gradient(data):
    rng, X, _ = data

    class Odd(Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.slopes = {"W": self.dW, "b": self.db}
            del self.dW, self.db
            return dx

    with pytest.raises(ValueError, match="found no parameter"):
        gs.check.layer(Odd(4, 3, rng), X)
    report = gs.check.layer(Odd(4, 3, rng), X, grads={"W": "slopes['W']", "b": "slopes['b']"})
    assert report.ok and {"W", "b"} <= {r.name for r in report.rows}


def test_a_loss_computing_its_gradient_in_place_runs_under_backprop_and_layers(data):
    rng, X, y = data
    W = rng.normal(size=(4, 3))

    def forward(p, X, y):
        loss, _ = softmax_loss(X @ p["W"], y)  # its dx[...] -= 1 is recorded on a Tensor
        return loss

    report = gs.check.backprop(forward, lambda p, X, y: {"W": 0 * p["W"]}, {"W": W}, X, y)
    (row,) = [r for r in report.rows if r.name == "W"]
    assert not row.ok and row.fd_ok  # the zero hand gradient is wrong; autograd agrees with FD
    layer = Affine(4, 3, rng)
    assert gs.check.layers([layer], X, softmax_loss, y=y).ok  # the way out
