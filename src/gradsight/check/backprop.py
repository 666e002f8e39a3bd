"""gs.check.backprop: your NumPy forward and hand backward, checked three ways.

``backprop(forward, backward, params, *data)`` runs ``forward(params, *data)``
(plain NumPy code: ``np.dot``, ``np.tanh`` ... ) on Tensors through NumPy's
protocols, differentiates it, and compares per parameter

- by hand: ``backward(params, *data)``, a dict name -> gradient;
- by autograd: gradsight's reverse mode on forward as written;
- by central finite differences: forward run on plain arrays, the
  independent witness that trusts neither of the other two.

Localisation: ``backward`` may also return gradients for intermediates of
forward, keyed by their variable names in forward (``"Z1"`` for dL/dZ1).
forward's local variables are read when it returns (no marker needed, so
forward stays plain NumPy); a key may also be a path into a local
container or object (``"hs[2]"``, ``"self.h"``). The report names the first
divergence: a mismatched intermediate none of whose downstream intermediates
(towards the loss) mismatches.

Runs: forward on plain arrays and then backward, on the user's own objects;
the Tensor forward and the finite differences on deep copies (isolation.py),
each from the same NumPy random state. Where hand and autograd differ only at
a kink or tie of the forward, the row says ``kink`` (kinks.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.autograd import grad as _grad

from . import kinks, witness
from .diagnose import diagnose
from .graph import Replay, first_divergence, order_from_loss, source_node
from .isolation import Snapshot, _split, same_random_state
from .paths import lookup
from .report import BackpropReport, BackpropRow, scaled_rel_error

__all__ = ["BackpropReport", "BackpropRow", "backprop"]


# ---------------------------------------------------------------- inputs
def _check_params(params) -> dict:
    if not isinstance(params, Mapping) or not params:
        raise TypeError(
            f"params must be a non-empty dict of name -> float array, got {type(params).__name__}"
        )
    out = {}
    for name, value in params.items():
        arr = np.asarray(value.detach().numpy() if isinstance(value, Tensor) else value)
        if arr.dtype.kind != "f":
            raise TypeError(
                f"params[{name!r}] has dtype {arr.dtype}: gradients need floating-point "
                f"parameters; pass np.asarray(..., dtype=float)"
            )
        out[name] = np.array(arr, dtype=np.float64)
    return out


def _check_data(data) -> tuple:
    for i, d in enumerate(data):
        if isinstance(d, Tensor):
            raise TypeError(f"data[{i}] is a Tensor; pass plain arrays (params become Tensors)")
        arr = np.asarray(d)
        if arr.dtype.kind in "fc" and np.isnan(arr).any():
            where = tuple(int(j) for j in np.argwhere(np.isnan(arr))[0])
            raise ValueError(
                f"data[{i}] contains nan (first at index {where}): every gradient would be nan"
            )
    return data


# ---------------------------------------------------------------- the three sides
_LIBRARY_DIRS = tuple(
    str(Path(m.__file__).resolve().parent) for m in (np, sys.modules["gradsight"])
)


class _Locals:
    """The local variables of forward's frame when it returns.

    When forward only wraps the function that computes the loss (a lambda
    binding its options), the locals of the user's functions that returned
    the same loss object are read too; forward's own names come first.
    """

    def __init__(self, fn):
        func, _ = _split(fn)
        self.code = getattr(func, "__code__", None)
        self.names: dict = {}
        self.returned: dict = {}  # id(returned Tensor) -> locals of a user frame returning it

    def __call__(self, frame, event, arg):
        if event != "return":
            return
        if frame.f_code is self.code:
            self.names = dict(frame.f_locals)
        elif isinstance(arg, Tensor) and not frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
            # the Tensor is kept with its entry, so its id cannot be reused by another;
            # an inner function's names win over the wrapper's that returns the same value
            _, inner = self.returned.get(id(arg), (arg, {}))
            self.returned[id(arg)] = (arg, dict(frame.f_locals) | inner)

    def run(self, fn, *args):
        old = sys.getprofile()
        sys.setprofile(self)
        try:
            result = fn(*args)
        finally:
            sys.setprofile(old)
        self.names = self.returned.get(id(result), (None, {}))[1] | self.names
        self.returned = {}
        return result


def _run_forward(forward, params: dict, data: tuple):
    """forward on Tensors: (loss Tensor, its locals, the param Tensors)."""
    tensors = {n: Tensor(a, requires_grad=True) for n, a in params.items()}
    spy = _Locals(forward)
    try:
        loss = spy.run(forward, dict(tensors), *data)
    except RuntimeError as err:
        # only a write into a leaf that requires grad (a parameter here) is refused;
        # writes into intermediates are recorded (ops/inplace.py)
        if "leaf tensor that requires grad cannot be written in place" in str(err):
            raise ValueError(
                f"forward writes into a parameter in place, or into a value computed from "
                f"one ({err}); compute a new array instead (W = W - x, not W -= x). A loss "
                "function that also computes its gradient in place (CS231n's softmax_loss) "
                "can be checked with gs.check.layers, which differentiates it numerically"
            ) from None
        raise
    if not isinstance(loss, Tensor) or not loss.requires_grad:
        kind = type(loss).__name__
        raise ValueError(
            f"forward's result ({kind}) does not depend on params: the graph was cut. Did it "
            "call np.asarray, float() or .item() on the way, or ignore params?"
        )
    if loss.size != 1:
        raise ValueError(f"forward must return a scalar loss, got shape {loss.shape}")
    return loss, spy.names, tensors


def _intermediates(names: dict, hand: dict, params: dict, tensors: dict, loss: Tensor) -> dict:
    """forward's values that backward gave a gradient for, from the loss back: name -> Tensor."""
    param_ids = {id(t) for t in tensors.values()}
    found = {}
    for key in hand:
        if key in params:
            continue
        t = lookup(key, names)
        if isinstance(t, Tensor) and t.grad_fn is not None and id(t) not in param_ids:
            found[key] = t
    return {n: found[n] for n in order_from_loss(loss, found)}


class _PlainLoss:
    """forward on plain arrays, each run on fresh copies and from the same random state."""

    def __init__(self, snapshot: Snapshot, rng_state):
        self.snapshot, self.rng_state = snapshot, rng_state

    def __call__(self, params: dict) -> float:
        fn, data = self.snapshot.fresh()
        with same_random_state(self.rng_state):
            return _scalar(fn(params, *data))


def _hand(backward, params: dict, data: tuple) -> dict:
    result = backward({n: a.copy() for n, a in params.items()}, *data)
    if not isinstance(result, Mapping):
        raise TypeError(
            f"backward must return a dict of name -> gradient, got {type(result).__name__}"
        )
    for key, value in result.items():
        if isinstance(value, Tensor):  # can only come from the user's own gs code
            raise TypeError(f"backward returned a Tensor for {key!r}: return NumPy arrays")
    return dict(result)


# ---------------------------------------------------------------- rows
def _row(name, kind, hand, auto, fd, atol, rtol, explain=None) -> BackpropRow:
    nan = float("nan")
    shape = tuple(np.shape(auto))
    if hand is None:
        return BackpropRow(name, kind, shape, nan, nan, (), nan, nan, nan, nan, False,
                           problem="missing from backward")  # fmt: skip
    hand = np.asarray(hand, dtype=np.float64)
    if hand.shape != shape:
        return BackpropRow(name, kind, shape, nan, nan, (), nan, nan, nan, nan, False,
                           problem=f"shape {hand.shape} != {shape}")  # fmt: skip
    diff = np.abs(hand - auto)
    excess = np.nan_to_num(diff - (atol + rtol * np.abs(auto)), nan=np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), shape) if diff.size else ()
    worst = tuple(int(i) for i in worst)
    ok = bool(np.all(excess <= 0))
    finding = None
    if not ok and explain is not None and np.all(np.isfinite(hand)):
        finding = explain(hand, auto, excess > 0)
        ok = finding is not None
    fd_err, fd_ok, fd_at = nan, True, nan
    if fd is not None and diff.size:
        fd_err, fd_ok = fd.error, fd.ok
        fd_at = fd.at(worst)
    return BackpropRow(
        name, kind, shape,
        float(np.max(diff)) if diff.size else 0.0,
        scaled_rel_error(diff, auto),
        worst,
        float(hand[worst]) if diff.size else nan,
        float(auto[worst]) if diff.size else nan,
        fd_at, fd_err, ok, fd_ok, "", finding,
    )  # fmt: skip


def _kink_explainer(replay, node, base, atol):
    def explain(hand, auto, failing):
        return kinks.explain(replay, node, base, hand, auto, failing, atol)

    return explain


def backprop(
    forward: Callable,
    backward: Callable,
    params: Mapping,
    *data,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    fd_eps: float = 1e-6,
    finite_differences: bool | str = "auto",
) -> BackpropReport:
    """Check a hand-written ``backward`` against ``forward`` as written, three ways.

    Parameters
    ----------
    forward : callable
        ``forward(params, *data) -> loss``: plain NumPy code returning a scalar.
    backward : callable
        ``backward(params, *data) -> {name: gradient}``: dL/d param for every
        parameter, and optionally dL/dV for values V of forward (named as in
        forward, or a path such as ``"hs[2]"``) to localise a mistake.
    params : dict of name -> float array
    data : passed to both after params (never differentiated); objects too.
    atol, rtol : hand vs autograd passes where |hand - auto| <= atol + rtol |auto|.
    fd_eps : the central-difference step.
    finite_differences : "auto" (default), True or "full", "witness", False
        "full": every coordinate (2 forward calls per parameter element);
        "witness": random directions and the coordinates where hand and
        autograd differ most (see witness.py); "auto" is "full" up to
        ``witness.FULL_LIMIT`` parameter elements, else "witness".

    Returns
    -------
    BackpropReport: ``ok``, ``rows`` (intermediates from the loss back, then
    parameters), ``first_divergence``, ``kinks``, ``diagnosis``, ``extra``,
    ``to_text()``/``to_markdown()``/``_repr_html_()``.

    Raises
    ------
    TypeError, ValueError for unusable inputs (integer params, nan in data, a
    forward whose result is not a scalar in the graph, or writes in place, or
    a forward that gives another loss each time it runs).
    """
    params = _check_params(params)
    data = _check_data(data)
    mode = witness.resolve_mode(finite_differences, params)
    start_state = np.random.get_state()
    snapshot = Snapshot(forward, data)
    plain_loss = _scalar(forward({n: a.copy() for n, a in params.items()}, *data))
    hand = _hand(backward, params, data)
    after_user = np.random.get_state()
    try:
        fn, fdata = snapshot.fresh()
        with same_random_state(start_state):
            loss, local_vars, tensors = _run_forward(fn, params, fdata)
        _same_loss(plain_loss, float(loss.data))
        inter = _intermediates(local_vars, hand, params, tensors, loss)
        wrt = [*tensors.values(), *inter.values()]
        autos = _grad(loss, wrt, allow_unused=True, retain_graph=True)
        auto = {
            n: (np.zeros(t.shape) if g is None else np.asarray(g.data, dtype=np.float64))
            for n, t, g in zip([*tensors, *inter], wrt, autos)
        }
        plain = _PlainLoss(snapshot, start_state)
        fd, sampled = witness.finite_differences(mode, plain, params, hand, auto, fd_eps, rtol)
    finally:
        np.random.set_state(after_user)
    replay = Replay(loss)
    rows = []
    for n, t in [*inter.items(), *tensors.items()]:
        kind = "parameter" if n in params else "intermediate"
        explain = _kink_explainer(replay, source_node(t), t.data, atol)
        rows.append(_row(n, kind, hand.get(n), auto[n], fd.get(n), atol, rtol, explain))
    extra = [k for k in hand if k not in params and k not in inter]
    mismatched = {r.name for r in rows if r.kind == "intermediate" and not r.ok}
    first = first_divergence(loss, inter, mismatched) if mismatched else None
    report = BackpropReport(float(loss.data), rows, extra, atol, rtol, fd_eps, first, sampled,
                            graph=(loss, {**tensors, **inter}))  # fmt: skip
    report.diagnosis = diagnose(report, hand, auto, atol, rtol)
    return report


def _scalar(value) -> float:
    """forward's result on plain arrays as a float; ValueError unless it is one number."""
    if isinstance(value, Tensor):  # the user's forward builds its own Tensors
        value = value.data
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "fiub":
        dtype = "" if arr.dtype.kind in "fiub" else f" and dtype {arr.dtype}"
        raise ValueError(f"forward must return a scalar loss, got shape {arr.shape}{dtype}")
    return float(arr.reshape(-1)[0])


def _same_loss(plain: float, recorded: float) -> None:
    if not np.isclose(plain, recorded, rtol=1e-9, atol=1e-12) and not (
        np.isnan(plain) and np.isnan(recorded)
    ):
        raise ValueError(
            f"forward gave loss {plain!r} on plain arrays but {recorded!r} on a second run from "
            "the same state: it is not repeatable (random numbers from a source other than "
            "np.random's global state or a Generator reachable from forward, or state that "
            "forward changes and gs.check cannot copy), so no check would be right"
        )
