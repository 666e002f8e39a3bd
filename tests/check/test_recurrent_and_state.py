"""gs.check.backprop on recurrent code: the right time step, and state kept on objects.

Two styles users write: an LSTM whose states live on per-step node objects,
its backward a method reading them and accumulating with ``np.add(out=)``;
and a min-char-rnn style loop keeping ``hs[t]`` in dicts. A bug planted at
step t is reported at step t.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class StepState:
    """What one time step keeps for backward."""

    def __init__(self):
        self.g = self.i = self.f = self.o = self.s = self.h = self.xc = None


class TinyLstm:
    """An LSTM over a short sequence with a squared loss at every step."""

    def __init__(self, n_x, n_h, bug_step=None):
        self.n_x, self.n_h, self.bug_step = n_x, n_h, bug_step
        self.nodes = []
        self.seen_types = set()

    def forward(self, p, xs, ys):
        self.nodes = []
        s_prev, h_prev = np.zeros(self.n_h), np.zeros(self.n_h)
        loss = 0.0
        for t in range(len(xs)):
            st = StepState()
            st.xc = np.hstack((xs[t], h_prev))
            st.g = np.tanh(p["Wg"] @ st.xc + p["bg"])
            st.i = sigmoid(p["Wi"] @ st.xc + p["bi"])
            st.f = sigmoid(p["Wf"] @ st.xc + p["bf"])
            st.o = sigmoid(p["Wo"] @ st.xc + p["bo"])
            st.s = st.g * st.i + s_prev * st.f
            st.h = np.tanh(st.s) * st.o
            self.nodes.append(st)
            loss = loss + 0.5 * np.sum((st.h - ys[t]) ** 2)
            s_prev, h_prev = st.s, st.h
        return loss

    def backward(self, p, xs, ys):
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        out = {}
        dh_next, ds_next = np.zeros(self.n_h), np.zeros(self.n_h)
        f_next = np.zeros(self.n_h)
        for t in reversed(range(len(xs))):
            st = self.nodes[t]
            self.seen_types.update(type(v) for v in vars(st).values())
            dh = (st.h - ys[t]) + dh_next
            ds = dh * st.o * (1 - np.tanh(st.s) ** 2) + ds_next * f_next
            if t == self.bug_step:
                ds = dh * st.o * (1 - np.tanh(st.s) ** 2)  # forgot the carry from t + 1
            s_prev = self.nodes[t - 1].s if t else np.zeros(self.n_h)
            pre = {
                "g": ds * st.i * (1 - st.g**2),
                "i": ds * st.g * st.i * (1 - st.i),
                "f": ds * s_prev * st.f * (1 - st.f),
                "o": dh * np.tanh(st.s) * st.o * (1 - st.o),
            }
            dxc = np.zeros_like(st.xc)
            for gate, d in pre.items():
                np.add(grads["W" + gate], np.outer(d, st.xc), out=grads["W" + gate])
                np.add(grads["b" + gate], d, out=grads["b" + gate])
                dxc += p["W" + gate].T @ d
            out[f"self.nodes[{t}].h"] = dh
            out[f"self.nodes[{t}].s"] = ds
            dh_next, ds_next, f_next = dxc[self.n_x :], ds, st.f
        return grads | out


def lstm_problem(bug_step=None):
    rng = np.random.default_rng(3)
    n_x, n_h, steps = 3, 4, 4
    p = {}
    for gate in "gifo":
        p["W" + gate] = rng.normal(scale=0.5, size=(n_h, n_x + n_h))
        p["b" + gate] = rng.normal(scale=0.1, size=n_h)
    xs, ys = rng.normal(size=(steps, n_x)), rng.normal(size=(steps, n_h))
    return TinyLstm(n_x, n_h, bug_step), p, xs, ys


def test_correct_lstm_with_states_on_objects_agrees():
    net, p, xs, ys = lstm_problem()
    report = gs.check.backprop(net.forward, net.backward, p, xs, ys)
    assert report.ok, report
    assert report.first_divergence is None


@pytest.mark.parametrize("step", [0, 1, 2])  # step 3 is the last: it has no carry to forget
def test_lstm_bug_at_step_t_is_found_at_step_t(step):
    net, p, xs, ys = lstm_problem(bug_step=step)
    report = gs.check.backprop(net.forward, net.backward, p, xs, ys)
    assert not report.ok
    assert report.first_divergence.name == f"self.nodes[{step}].s"
    assert f"your gradient for self.nodes[{step}].s differs" in report.verdict()


def test_lstm_hand_backward_never_receives_a_tensor():
    net, p, xs, ys = lstm_problem()
    gs.check.backprop(net.forward, net.backward, p, xs, ys)
    assert net.seen_types == {np.ndarray}  # np.add(out=) would have failed on a Tensor
    assert all(isinstance(st.h, np.ndarray) for st in net.nodes)  # the user's object after


def test_rnn_with_hidden_states_in_dicts_localises_step(step=1):
    """min-char-rnn style: hs[t] in a dict, one-hot inputs, softmax loss per step."""
    rng = np.random.default_rng(0)
    vocab, hidden, inputs, targets = 5, 6, [0, 3, 1, 4], [3, 1, 4, 2]
    p = {"Wxh": rng.normal(scale=0.3, size=(hidden, vocab)),
         "Whh": rng.normal(scale=0.3, size=(hidden, hidden)),
         "Why": rng.normal(scale=0.3, size=(vocab, hidden)),
         "bh": np.zeros((hidden, 1)), "by": np.zeros((vocab, 1))}  # fmt: skip

    def forward(p, inputs, targets):
        xs, hs, ps = {}, {}, {}
        hs[-1] = np.zeros((hidden, 1))
        loss = 0
        for t in range(len(inputs)):
            xs[t] = np.zeros((vocab, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(p["Wxh"], xs[t]) + np.dot(p["Whh"], hs[t - 1]) + p["bh"])
            ys = np.dot(p["Why"], hs[t]) + p["by"]
            ps[t] = np.exp(ys) / np.sum(np.exp(ys))
            loss = loss + -np.log(ps[t][targets[t], 0])
        return loss

    def backward(p, inputs, targets, bug_at=step):
        xs, hs, ps = {}, {-1: np.zeros((hidden, 1))}, {}
        for t in range(len(inputs)):
            xs[t] = np.zeros((vocab, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(p["Wxh"] @ xs[t] + p["Whh"] @ hs[t - 1] + p["bh"])
            ys = p["Why"] @ hs[t] + p["by"]
            ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        g = {k: np.zeros_like(v) for k, v in p.items()}
        out, dhnext = {}, np.zeros((hidden, 1))
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            g["Why"] += dy @ hs[t].T
            g["by"] += dy
            dh = p["Why"].T @ dy + (dhnext if t != bug_at else 2 * dhnext)
            out[f"hs[{t}]"] = dh
            dhraw = (1 - hs[t] * hs[t]) * dh
            g["bh"] += dhraw
            g["Wxh"] += dhraw @ xs[t].T
            g["Whh"] += dhraw @ hs[t - 1].T
            dhnext = p["Whh"].T @ dhraw
        return g | out

    report = gs.check.backprop(forward, backward, p, inputs, targets)
    assert report.first_divergence.name == f"hs[{step}]", report
    assert [r.name for r in report.rows[:4]] == ["hs[3]", "hs[2]", "hs[1]", "hs[0]"]
    fixed = gs.check.backprop(forward, lambda *a: backward(*a, bug_at=None), p, inputs, targets)
    assert fixed.ok, fixed


class DropoutNet:
    """Inverted dropout drawn from np.random in forward; backward reads the mask kept on self."""

    def __init__(self, keep=0.5):
        self.keep = keep

    def forward(self, p, X, T):
        self.H = np.tanh(X @ p["W1"])
        self.mask = (np.random.rand(*self.H.shape) < self.keep) / self.keep
        self.Hd = self.H * self.mask
        return 0.5 * np.sum((self.Hd @ p["W2"] - T) ** 2)

    def backward(self, p, X, T):
        dY = self.Hd @ p["W2"] - T
        dHd = dY @ p["W2"].T
        dZ = dHd * self.mask * (1 - self.H**2)
        return {"W1": X.T @ dZ, "W2": self.Hd.T @ dY}


def test_dropout_masks_match_in_every_run():
    rng = np.random.default_rng(1)
    X, T = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    p = {"W1": rng.normal(size=(3, 5)), "W2": rng.normal(size=(5, 2))}
    net = DropoutNet()
    np.random.seed(7)
    report = gs.check.backprop(net.forward, net.backward, p, X, T)
    assert report.ok, report
    after = np.random.rand()
    np.random.seed(7)
    np.random.rand(6, 5)  # what the user's own forward drew
    assert after == np.random.rand()  # the random state is left as the user's run left it


class GeneratorDropout(DropoutNet):
    """The mask drawn from a np.random.Generator kept on the object (the newer NumPy idiom)."""

    def __init__(self, seed):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def forward(self, p, X, T):
        self.H = np.tanh(X @ p["W1"])
        self.mask = (self.rng.random(self.H.shape) < self.keep) / self.keep
        self.Hd = self.H * self.mask
        return 0.5 * np.sum((self.Hd @ p["W2"] - T) ** 2)


def test_a_generator_kept_on_the_object_gives_the_same_mask_in_every_run():
    rng = np.random.default_rng(1)
    X, T = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    p = {"W1": rng.normal(size=(3, 5)), "W2": rng.normal(size=(5, 2))}
    net = GeneratorDropout(seed=5)
    report = gs.check.backprop(net.forward, net.backward, p, X, T)
    assert report.ok, report
    expected = (np.random.default_rng(5).random((6, 5)) < 0.5) / 0.5
    assert np.array_equal(net.mask, expected)  # the user's object drew once, as in their run


def test_a_forward_that_is_not_repeatable_is_refused():
    import random

    def forward(p, x):  # Python's random module: a state gs.check does not replay
        return np.sum(p["w"] * x) * random.random()

    with pytest.raises(ValueError, match="not repeatable"):
        gs.check.backprop(forward, lambda p, x: {"w": x}, {"w": np.ones(2)}, np.ones(2))
