"""The notebook a learner writes: the article's XOR network with its weights in a
dict, a training step with an MLP and SGD traced by gs.trace, and a two-layer NumPy
forward/backward checked by gs.check.backprop. Each display cell ends in the object
to show, as one does in Jupyter."""

SETUP = """\
import numpy as np
import gradsight as gs

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
T = np.array([[0], [1], [1], [0]], dtype=float)
np.random.seed(0)
params = {
    "W": gs.tensor(np.random.rand(4, 2), requires_grad=True),
    "b": gs.zeros(4, dtype="float64", requires_grad=True),
    "V": gs.tensor(np.random.rand(1, 4), requires_grad=True),
    "c": gs.zeros(1, dtype="float64", requires_grad=True),
}
h = gs.linear(gs.tensor(X), params["W"], params["b"]).sigmoid()
y = gs.linear(h, params["V"], params["c"]).sigmoid()
loss = ((y - gs.tensor(T)) ** 2).sum() / (2 * len(X))
"""

STEPS = "gs.viz.backprop_steps(loss, params=params)"

TRACED = """\
gs.manual_seed(0)
model = gs.nn.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid")
opt = gs.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)


@gs.trace
def train_step(x, t):
    opt.zero_grad()
    out = model(x)
    loss = ((out - t) ** 2).mean()
    loss.backward()
    opt.step()
    return loss


train_step(gs.tensor(X), gs.tensor(T))
train_step
"""

SOURCE = "print(train_step.source)"

REPORT = """\
rng = np.random.default_rng(0)
Xc, Tc = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
weights = {"W1": rng.normal(size=(3, 4)), "b1": np.zeros(4),
           "W2": rng.normal(size=(4, 2)), "b2": np.zeros(2)}


def forward(p, X, T):
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.tanh(Z1)
    Z2 = H1 @ p["W2"] + p["b2"]
    return 0.5 * np.sum((Z2 - T) ** 2) / len(X)


def backward(p, X, T):
    Z1 = X @ p["W1"] + p["b1"]
    H1 = np.tanh(Z1)
    Z2 = H1 @ p["W2"] + p["b2"]
    dZ2 = (Z2 - T) / len(X)
    dH1 = dZ2 @ p["W2"].T
    dZ1 = dH1 * (1 - H1)  # the slip: tanh' is 1 - H1**2
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(0), "W2": H1.T @ dZ2, "b2": dZ2.sum(0),
            "Z2": dZ2, "H1": dH1, "Z1": dZ1}


gs.check.backprop(forward, backward, weights, Xc, Tc)
"""

CELLS = {"setup": SETUP, "steps": STEPS, "traced": TRACED, "source": SOURCE, "report": REPORT}
