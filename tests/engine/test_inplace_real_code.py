"""In-place writes in the NumPy code people write, run unchanged on Tensors.

Each idiom is written as it appears in hand-written backprop code (in our own
words): a CS231n-style softmax loss that turns its probabilities into its own
gradient, min-char-rnn's ``dy = np.copy(ps[t]); dy[targets[t]] -= 1`` and its
clipping with ``out=``, an LSTM with state on the object that accumulates with
``+=`` into ``np.zeros`` arrays, writes through views, repeated writes, and a
write that overwrites a value backward needs (refused, never wrong). Each one's
hand-written gradient is checked with gs.check.backprop, the function unchanged,
and a planted bug is caught, so each check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs


def fd_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar NumPy function."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# ------------------------------------------------------------ CS231n softmax
def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss and its gradient, the probabilities turned into dscores in place."""
    N = X.shape[0]
    scores = np.dot(X, W)
    scores -= np.max(scores, axis=1, keepdims=True)  # numeric stability, in place
    P = np.exp(scores)
    P /= np.sum(P, axis=1, keepdims=True)
    loss = -np.sum(np.log(P[np.arange(N), y])) / N + reg * np.sum(W * W)
    P[np.arange(N), y] -= 1  # P becomes dL/dscores (times N)
    dW = np.dot(X.T, P) / N + 2 * reg * W
    return loss, dW


def _softmax_data(seed=0):
    rng = np.random.default_rng(seed)
    W = 0.01 * rng.standard_normal((5, 3))
    X = rng.standard_normal((7, 5))
    y = rng.integers(0, 3, size=7)
    return W, X, y


def test_cs231n_softmax_loss_writing_into_its_probabilities_checks_out():
    W, X, y = _softmax_data()

    def forward(p, X, y):
        return softmax_loss_vectorized(p["W"], X, y, 0.1)[0]

    def backward(p, X, y):
        return {"W": softmax_loss_vectorized(p["W"], X, y, 0.1)[1]}

    report = gs.check.backprop(forward, backward, {"W": W}, X, y)
    assert report.ok, report.to_text()


def test_cs231n_softmax_loss_runs_on_tensors_with_numpys_values_and_gradient():
    W, X, y = _softmax_data(1)
    loss_np, dW_np = softmax_loss_vectorized(W, X, y, 0.1)
    Wt = gs.tensor(W, requires_grad=True)
    loss, dW = softmax_loss_vectorized(Wt, X, y, 0.1)
    np.testing.assert_allclose(loss.item(), loss_np, rtol=1e-12)
    np.testing.assert_allclose(dW.data, dW_np, rtol=1e-12)  # the in-place writes ran
    loss.backward()
    np.testing.assert_allclose(Wt.grad.data, dW_np, rtol=1e-9, atol=1e-12)


def test_a_planted_bug_in_the_softmax_gradient_is_caught():
    W, X, y = _softmax_data(2)

    def forward(p, X, y):
        return softmax_loss_vectorized(p["W"], X, y, 0.1)[0]

    def backward(p, X, y):  # the bug: the regularisation term's gradient forgotten
        return {"W": softmax_loss_vectorized(p["W"], X, y, 0.1)[1] - 0.2 * p["W"]}

    report = gs.check.backprop(forward, backward, {"W": W}, X, y)
    assert not report.ok and report.mismatched_names == ("W",)


# ------------------------------------------------------------ min-char-rnn
def rnn_loss(params, inputs, targets, hprev):
    """min-char-rnn's lossFun: forward, then backward by hand with in-place writes."""
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    vocab_size = Why.shape[0]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # backprop into y
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)  # mitigate exploding gradients
    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
    return loss, grads, hs[len(inputs) - 1]


def _rnn_setup(seed=0, vocab=4, hidden=5, scale=0.3):
    rng = np.random.default_rng(seed)
    params = {
        "Wxh": scale * rng.standard_normal((hidden, vocab)),
        "Whh": scale * rng.standard_normal((hidden, hidden)),
        "Why": scale * rng.standard_normal((vocab, hidden)),
        "bh": np.zeros((hidden, 1)),
        "by": np.zeros((vocab, 1)),
    }
    inputs = [0, 2, 1, 3, 2]
    targets = [2, 1, 3, 2, 0]
    return params, inputs, targets, 0.1 * rng.standard_normal((hidden, 1))


def test_min_char_rnn_loss_with_its_in_place_backward_checks_out():
    params, inputs, targets, hprev = _rnn_setup()
    report = gs.check.backprop(
        lambda p, i, t, h: rnn_loss(p, i, t, h)[0],
        lambda p, i, t, h: rnn_loss(p, i, t, h)[1],
        params,
        inputs,
        targets,
        hprev,
    )
    assert report.ok, report.to_text()


def test_min_char_rnn_clipping_with_out_is_recorded():
    """The hand gradient computed on Tensors, clipping included, is itself a graph:
    its values are NumPy's, and it can be differentiated (clip passes the gradient
    inside the bounds and stops it outside)."""
    params, inputs, targets, hprev = _rnn_setup(2, scale=2.0)  # large: 17 entries clip
    loss_np, grads_np, _ = rnn_loss(params, inputs, targets, hprev)
    assert any((np.abs(g) == 5).any() for g in grads_np.values())
    tensors = {k: gs.tensor(v, requires_grad=True) for k, v in params.items()}
    loss, grads, _ = rnn_loss(tensors, inputs, targets, hprev)
    np.testing.assert_allclose(loss.item(), loss_np, rtol=1e-12)
    for k, g in grads.items():
        np.testing.assert_allclose(g.data, grads_np[k], rtol=1e-10, atol=1e-12)
        assert g.grad_fn is not None
    dby = grads["by"]
    (d_dby_dWhy,) = gs.autograd.grad(dby.sum(), tensors["Why"])

    def dby_sum(why):
        return rnn_loss({**params, "Why": why}, inputs, targets, hprev)[1]["by"].sum()

    np.testing.assert_allclose(d_dby_dWhy.data, fd_grad(dby_sum, params["Why"]), atol=1e-5)


def test_a_planted_bug_in_the_rnn_backward_is_caught():
    params, inputs, targets, hprev = _rnn_setup(3)

    def buggy(p, i, t, h):
        grads = rnn_loss(p, i, t, h)[1]
        grads["bh"] = grads["bh"] * 0.5  # the bug
        return grads

    report = gs.check.backprop(
        lambda p, i, t, h: rnn_loss(p, i, t, h)[0], buggy, params, inputs, targets, hprev
    )
    assert not report.ok and "bh" in report.mismatched_names


# ------------------------------------------------------------ an LSTM with state
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


class LSTM:
    """An LSTM cell keeping its state and caches on the object; the gate
    pre-activations and the weight gradients are accumulated with += into
    arrays made with np.zeros."""

    def __init__(self, Wx, Wh, b):
        self.Wx, self.Wh, self.b = Wx, Wh, b
        self.H = Wh.shape[1]
        self.reset()

    def reset(self):
        self.h = np.zeros(self.H)
        self.c = np.zeros(self.H)
        self.cache = []

    def step(self, x):
        H = self.H
        z = np.zeros(4 * H)
        z += np.dot(self.Wx, x)
        z += np.dot(self.Wh, self.h)
        z += self.b
        i, f, o = _sigmoid(z[:H]), _sigmoid(z[H : 2 * H]), _sigmoid(z[2 * H : 3 * H])
        g = np.tanh(z[3 * H :])
        c = f * self.c + i * g
        h = o * np.tanh(c)
        self.cache.append((x, self.h, self.c, i, f, o, g, c))
        self.h, self.c = h, c
        return h

    def backward(self, dh_last):
        dWx = np.zeros(self.Wx.shape)
        dWh = np.zeros(self.Wh.shape)
        db = np.zeros(self.b.shape)
        dh, dc = dh_last, np.zeros(self.H)
        for x, h_prev, c_prev, i, f, o, g, c in reversed(self.cache):
            tc = np.tanh(c)
            do = dh * tc
            dc = dc + dh * o * (1 - tc**2)
            di, df, dg = dc * g, dc * c_prev, dc * i
            dz = np.concatenate(
                [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)]
            )
            dWx += np.outer(dz, x)
            dWh += np.outer(dz, h_prev)
            db += dz
            dh = np.dot(self.Wh.T, dz)
            dc = dc * f
        return {"Wx": dWx, "Wh": dWh, "b": db}


def _lstm_setup(seed=0, D=3, H=4, T=4):
    rng = np.random.default_rng(seed)
    params = {
        "Wx": 0.5 * rng.standard_normal((4 * H, D)),
        "Wh": 0.5 * rng.standard_normal((4 * H, H)),
        "b": 0.1 * rng.standard_normal(4 * H),
    }
    return params, rng.standard_normal((T, D)), rng.standard_normal(H)


def lstm_loss(p, xs, target):
    cell = LSTM(p["Wx"], p["Wh"], p["b"])
    for x in xs:
        h = cell.step(x)
    return 0.5 * np.sum((h - target) ** 2), cell, h


def test_lstm_cell_accumulating_with_plus_equals_checks_out():
    params, xs, target = _lstm_setup()

    def backward(p, xs, target):
        _, cell, h = lstm_loss(p, xs, target)
        return cell.backward(h - target)

    report = gs.check.backprop(lambda p, x, t: lstm_loss(p, x, t)[0], backward, params, xs, target)
    assert report.ok, report.to_text()


def test_lstm_accumulator_made_with_np_zeros_is_rebound_to_the_recorded_tensor():
    params, xs, target = _lstm_setup(1)
    tensors = {k: gs.tensor(v, requires_grad=True) for k, v in params.items()}
    loss, cell, h = lstm_loss(tensors, xs, target)
    grads = cell.backward(h - target)  # dWx = np.zeros(...); dWx += np.outer(...): a Tensor
    assert all(isinstance(g, gs.Tensor) and g.grad_fn is not None for g in grads.values())
    _, cell_np, h_np = lstm_loss(params, xs, target)
    for k, g in cell_np.backward(h_np - target).items():
        np.testing.assert_allclose(grads[k].data, g, rtol=1e-10, atol=1e-12)
    loss.backward()
    np.testing.assert_allclose(tensors["Wx"].grad.data, grads["Wx"].data, rtol=1e-9, atol=1e-12)


def test_a_planted_bug_in_the_lstm_backward_is_caught():
    params, xs, target = _lstm_setup(2)

    def backward(p, xs, target):
        _, cell, h = lstm_loss(p, xs, target)
        grads = cell.backward(h - target)
        grads["Wh"] = grads["Wh"].T.T * 1.01  # the bug
        return grads

    report = gs.check.backprop(lambda p, x, t: lstm_loss(p, x, t)[0], backward, params, xs, target)
    assert not report.ok and report.mismatched_names == ("Wh",)


# ------------------------------------------------------------ views
def scale_tail(x):
    y = x * 2
    v = y[1:]
    v *= 3  # v is a view: y changes too, as in NumPy
    return np.sum(y * y)


def scale_tail_grad(x):
    s = np.full(x.shape, 2.0)
    s[1:] *= 3
    return {"x": 2 * (s * x) * s}


def test_a_write_through_a_view_changes_its_base_value_and_gradient():
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    x = gs.tensor(x0, requires_grad=True)
    y = x * 2
    v = y[1:]
    v *= 3
    np.testing.assert_array_equal(y.data, [2.0, -12.0, 3.0, 18.0])  # the base changed
    np.testing.assert_array_equal(v.data, y.data[1:])
    loss = (y * y).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.data, fd_grad(scale_tail, x0), rtol=1e-7)
    report = gs.check.backprop(
        lambda p: scale_tail(p["x"]), lambda p: scale_tail_grad(p["x"]), {"x": x0}
    )
    assert report.ok, report.to_text()


def test_a_write_through_a_view_of_a_constant_makes_the_base_require_grad():
    w0 = np.array([0.5, -1.0])
    w = gs.tensor(w0, requires_grad=True)
    buf = gs.zeros(4)  # a constant
    row = buf[1:3]
    row += w * w  # buf now depends on w
    assert buf.requires_grad and buf.grad_fn.name == "CopySlicesBackward"
    np.testing.assert_array_equal(buf.data, [0.0, 0.25, 1.0, 0.0])
    (buf * gs.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_allclose(w.grad.data, [2 * 2 * 0.5, 3 * 2 * -1.0])


def test_writes_into_gs_from_numpy_reach_the_callers_array():
    a = np.zeros(3)
    t = gs.from_numpy(a)
    w = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t += w * 2  # recorded, and written into a
    np.testing.assert_array_equal(a, [2.0, 4.0, 6.0])
    t.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0, 2.0])


@pytest.mark.torch
def test_nested_views_and_repeated_writes_match_pytorch():
    torch = pytest.importorskip("torch")
    x0 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)

    def run(lib, x):
        y = x * 1.5
        row = y[1]
        part = row[1:3]
        part *= x[0, :2]  # a view of a view, by a tensor
        y[0, ::2] += x[2, 1:3] ** 2  # a strided region
        y[:, 3] = y[:, 0] * 2  # overwrite a column from another
        y[2] -= 1.0
        y[[0, 2], [1, 1]] = x[1, :2] * 10  # an integer-array index
        # (row was overwritten through y since; part, inside it, was not)
        return y, (y * y).sum() + (part * 3).sum() + (y[1] * 2).sum()

    xg = gs.tensor(x0, requires_grad=True)
    yg, lg = run(gs, xg)
    lg.backward()
    xt = torch.tensor(x0, requires_grad=True)
    yt, lt = run(torch, xt)
    lt.backward()
    np.testing.assert_allclose(yg.data, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xg.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_repeated_index_gives_the_gradient_to_the_write_that_stays():
    """NumPy keeps the last of repeated writes; the overwritten values get no
    gradient (PyTorch leaves index_put_ with repeats undefined: it gives all of them
    one, so this is checked against finite differences)."""
    x0 = np.array([0.5, -1.5, 2.0])

    def f(x):
        y = np.zeros(4) + x[0]
        y[[1, 3, 1]] = x * np.array([1.0, 2.0, 3.0])  # y[1] = 3 x[2]; 1 x[0] is overwritten
        return np.sum(y * y)

    x = gs.tensor(x0, requires_grad=True)
    f(x).backward()
    np.testing.assert_allclose(x.grad.data, fd_grad(f, x0), rtol=1e-7)


def test_repeated_writes_check_out():
    def forward(p):
        t = p["x"] * 1.0
        for k in range(3):
            t[k] *= t[k + 1]
            t += p["x"]
        return np.sum(t**2)

    def fwd_np(x):
        return forward({"x": x})

    x0 = np.array([0.3, -0.7, 1.1, 0.4])

    def backward(p):
        return {"x": fd_grad(fwd_np, p["x"])}

    report = gs.check.backprop(forward, backward, {"x": x0}, finite_differences=False)
    assert report.ok, report.to_text()
    x = gs.tensor(x0, requires_grad=True)
    forward({"x": x}).backward()
    np.testing.assert_allclose(x.grad.data, fd_grad(fwd_np, x0), rtol=1e-6)


# ------------------------------------------------------------ overwriting what backward needs
def test_overwriting_a_saved_input_is_refused_at_backward_never_used():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    w = gs.tensor([3.0, 4.0], requires_grad=True)
    h = x * 1.0
    y = h * w  # MulBackward saved h for w's gradient
    h += 10.0  # overwrites it
    with pytest.raises(RuntimeError, match="MulBackward.*modified by an in-place write"):
        y.sum().backward()
    assert x.grad is None and w.grad is None  # nothing half-written


def test_overwriting_an_unused_saved_input_is_fine():
    x = gs.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    y = h + 5.0  # add saves h but its rule never reads it
    h *= 10.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_overwriting_an_output_its_own_node_reads_keeps_the_gradient_right():
    """exp's rule reads its output: it is copied just before the write (the saved
    side pays, only then), so the gradient is right, where PyTorch raises."""
    x0 = np.array([0.1, -0.4, 0.9])
    x = gs.tensor(x0, requires_grad=True)
    e = np.exp(x)
    e[1] = 0.0
    e *= 2.0
    (e * e).sum().backward()

    def f(x):
        e = np.exp(x)
        e[1] = 0.0
        e *= 2.0
        return np.sum(e * e)

    np.testing.assert_allclose(x.grad.data, fd_grad(f, x0), rtol=1e-7)


def test_using_a_view_its_base_overwrote_is_refused():
    """v was made before y was written; its history says y_old[:2], its values are
    y_new[:2]: a gradient through it would be wrong, so backward refuses."""
    x = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    v = y[:2]
    y[1] = 100.0
    with pytest.raises(RuntimeError, match="overwritten in place"):
        (v * 2).sum().backward()
    assert x.grad is None
    (y[:2] * 2).sum().backward()  # the view taken again after the write is right
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 0.0])


def test_a_write_into_a_view_of_a_leaf_that_requires_grad_is_refused_naming_the_leaf():
    w = gs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        w[1:] *= 2
    np.testing.assert_array_equal(w.data, [1.0, 2.0, 3.0])
    with gs.no_grad():
        w[1:] *= 2
    np.testing.assert_array_equal(w.data, [1.0, 4.0, 6.0])


# ------------------------------------------------------------ gradcheck and second order
def chained_writes(x):
    y = x * x
    v = y[1:]
    v *= x[:2]  # through a view, by a tensor
    y[0] = y[2] * 3  # a region from another region
    np.multiply(y, y, out=y)  # out= the tensor itself, an input aliasing it
    return y.sum()


def test_in_place_writes_pass_gradcheck_and_their_hessian_matches_finite_differences():
    x0 = np.array([0.3, -0.8, 1.2])
    assert gs.gradcheck(chained_writes, (gs.tensor(x0, requires_grad=True),))
    H = gs.hessian(chained_writes)(gs.tensor(x0)).numpy()  # create_graph through CopySlices

    def grad_at(xv):
        t = gs.tensor(xv, requires_grad=True)
        chained_writes(t).backward()
        return t.grad.numpy().copy()

    eps = 1e-5
    H_fd = np.stack(
        [(grad_at(x0 + eps * e) - grad_at(x0 - eps * e)) / (2 * eps) for e in np.eye(3)], 1
    )
    np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-7)
