"""Training loops as users write them, traced and eager side by side: the replay
equals the eager step bit for bit, or the call is refused with a clear TraceError."""

from __future__ import annotations

import numpy as np

import gradsight as gs


def _net(dtype=np.float64, seed=0):
    gs.manual_seed(seed)
    net = gs.nn.MLP([4, 8, 3], activation="tanh")
    if dtype != np.float64:
        for p in net.parameters():
            p.data = p.data.astype(dtype)
    return net


def _batches(n, dtype=np.float64, rows=6):
    rng = np.random.default_rng(7)
    return [(rng.normal(size=(rows, 4)).astype(dtype), rng.integers(0, 3, rows)) for _ in range(n)]


def test_float32_model_with_a_numpy_schedule_and_a_snapshot_of_the_weight():
    # lr from np.linspace is a np.float64: the float32 update computes in float64 and
    # out= casts back. The snapshot keeps the weight's array held, so the update is
    # made on a copy: that copy must be float32 too, as the eager update leaves it
    schedule = np.linspace(0.1, 0.01, 3)

    def make():
        net = _net(np.float32)
        opt = gs.optim.SGD(net.parameters(), lr=float(schedule[0]), momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = gs.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss

        return net, opt, step

    (eager_net, eager_opt, eager), (net, opt, traced) = make(), make()
    traced = gs.trace(traced)
    snapshots = []
    for k, (x, y) in enumerate(_batches(9, np.float32)):
        epoch = k // 3  # three batches an epoch, a new rate (a retrace) each epoch
        for o in (eager_opt, opt):
            o.param_groups[0]["lr"] = schedule[epoch]
        snapshots.append(net.layers[0].weight.data)  # held: the update copies it
        want, got = eager(gs.tensor(x), y), traced(gs.tensor(x), y)
        assert got.data.tobytes() == want.data.tobytes(), k
    for p, q in zip(net.parameters(), eager_net.parameters()):
        assert p.dtype == np.float32
        assert p.data.tobytes() == q.data.tobytes()
    assert traced.replays >= 3
