"""gs.trace on the ways people write and call steps: keywords, tensors made inside
the step, the functional transforms. Every replay is compared with the eager
function on the same new values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import gradsight as gs

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


def _twin_steps():
    """The same manual-update step on two identical models: (eager, traced, models)."""
    gs.manual_seed(3)
    a = gs.nn.MLP([3, 4, 2])
    b = gs.nn.MLP([3, 4, 2])
    b.load_state_dict(a.state_dict())

    def make(model):
        def step(x, y, lr=0.1, scale=1.0):
            model.zero_grad()
            loss = gs.nn.functional.mse_loss(model(x) * scale, y)
            loss.backward()
            with gs.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
            return loss

        return step

    return make(a), gs.trace(make(b)), (a, b)


def _same_state(models) -> bool:
    a, b = models
    return all(np.array_equal(p.numpy(), q.numpy()) for p, q in zip(a.parameters(), b.parameters()))


def test_keyword_arguments_replay_like_positional_ones():
    eager, traced, models = _twin_steps()
    rng = np.random.default_rng(0)
    for i in range(8):
        x, y = gs.tensor(rng.standard_normal((5, 3))), gs.tensor(rng.standard_normal((5, 2)))
        args, kwargs = [
            ((x, y), {}),
            ((), {"x": x, "y": y}),
            ((x,), {"y": y, "lr": 0.05}),
            ((x, y), {"scale": 2.0}),  # lr's default filled in before scale
        ][i % 4]
        assert float(traced(*args, **kwargs)) == float(eager(*args, **kwargs))
        assert _same_state(models)
    # the second round replays the first round's programs: keywords bound to positions
    assert traced.replays >= 3, traced


def test_keyword_only_parameter_is_a_clear_type_error():
    def step(x, *, y):
        return (x * y).sum()

    traced = gs.trace(step)
    with pytest.raises(TypeError, match=r"by position.*'y' only by keyword"):
        traced(gs.tensor([1.0]), y=gs.tensor([2.0]))


def test_unknown_keyword_is_the_type_error_the_step_would_raise():
    _, traced, _ = _twin_steps()
    with pytest.raises(TypeError, match="lerning_rate"):
        traced(gs.tensor(np.ones((5, 3))), gs.tensor(np.ones((5, 2))), lerning_rate=0.1)
    assert traced.traces == 0


def _cube(v):
    return (v**3).sum()


INSIDE_THE_STEP = {
    "gs.tensor copy": lambda x: gs.tensor(x) * 2,
    "gs.tensor cast": lambda x: gs.tensor(x, dtype="float32") * 2,
    "zeros_like": lambda x: gs.zeros_like(x) + x,
    "ones_like": lambda x: gs.ones_like(x) * x,
    "grad": lambda x: gs.grad(_cube)(x),
    "value_and_grad": lambda x: gs.value_and_grad(_cube)(x)[1],
    "jacobian": lambda x: gs.jacobian(lambda v: v.tanh() * v)(x),
    "hessian": lambda x: gs.hessian(_cube)(x),
    "grad of grad": lambda x: gs.grad(lambda v: gs.grad(_cube)(v).sum())(x),
}


@pytest.mark.parametrize("as_array", [False, True], ids=["tensor", "ndarray"])
@pytest.mark.parametrize("name", list(INSIDE_THE_STEP))
def test_tensors_made_inside_the_step_are_recorded_copies_not_value_reads(name, as_array):
    # these converted the traced array with np.array and were refused as value reads
    fn = INSIDE_THE_STEP[name]
    traced = gs.trace(fn)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = rng.standard_normal(3)
        x = x if as_array else gs.tensor(x)
        got, want = traced(x), fn(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert (traced.traces, traced.replays) == (1, 3)
