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
forward stays plain NumPy); the report names the first intermediate,
walking back from the loss, where hand and autograd part ways.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from gradsight._core.grad_mode import no_grad
from gradsight._core.tensor import Tensor
from gradsight.autograd import grad as _grad

from .compare import _markdown_escape, _printable

__all__ = ["BackpropReport", "BackpropRow", "backprop"]


@dataclass(frozen=True)
class BackpropRow:
    """One parameter or intermediate: hand vs autograd (and vs finite differences).

    ``problem`` is set (and ``ok`` False) when the hand gradient is missing or
    has the wrong shape; the error columns are then NaN.
    """

    name: str
    kind: str  # "parameter" | "intermediate"
    shape: tuple
    max_abs_error: float  # |hand - autograd|
    max_rel_error: float
    worst_index: tuple
    hand: float  # the three values at worst_index
    auto: float
    fd: float  # NaN for intermediates (no finite differences)
    fd_abs_error: float  # |autograd - finite differences|, NaN for intermediates
    ok: bool
    fd_ok: bool = True
    problem: str = ""


@dataclass
class BackpropReport:
    """What ``backprop`` found: ``ok``, ``rows``, ``extra`` keys, ``first_divergence``."""

    loss: float
    rows: list
    extra: list = field(default_factory=list)  # backward keys naming nothing of forward
    atol: float = 1e-8
    rtol: float = 1e-5
    fd_eps: float = 1e-6

    @property
    def ok(self) -> bool:
        return all(r.ok and r.fd_ok for r in self.rows) and not self.extra

    @property
    def mismatched_names(self) -> tuple:
        return tuple(r.name for r in self.rows if not r.ok)

    @property
    def first_divergence(self) -> BackpropRow | None:
        """The first intermediate (from the loss back) where hand and autograd differ."""
        for row in self.rows:
            if row.kind == "intermediate" and not row.ok:
                return row
        return None

    def __getitem__(self, name: str) -> BackpropRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def verdict(self) -> str:
        """One or two sentences saying where the hand backward goes wrong, if it does."""
        inter = [r for r in self.rows if r.kind == "intermediate"]
        first = self.first_divergence
        lines = []
        if first is not None:
            after = [r.name for r in inter[: inter.index(first)]]
            tail = (
                f"everything after it ({', '.join(after)}) agrees"
                if after
                else "it is the first gradient from the loss"
            )
            lines.append(
                f"your gradient for {first.name} differs from dL/d{first.name} at index "
                f"{first.worst_index} (hand {first.hand:.6g}, autograd {first.auto:.6g}); "
                f"{tail}: the line of backward that computes it is the one to look at"
            )
        elif inter and not self.ok:
            bad = [r.name for r in self.rows if r.kind == "parameter" and not r.ok]
            if bad:
                lines.append(
                    f"every intermediate agrees; the parameter gradient(s) {', '.join(bad)} "
                    "differ: look at the lines that turn the intermediates into them"
                )
        fd_bad = [r.name for r in self.rows if not r.fd_ok]
        if fd_bad:
            lines.append(
                f"autograd and finite differences differ for {', '.join(fd_bad)}: forward may "
                "not be smooth there, or it is not differentiable as written"
            )
        for name in self.extra:
            lines.append(f"backward returned {name!r}, which is neither a parameter nor a "
                         "variable of forward")  # fmt: skip
        if not lines:
            n = len(self.rows)
            return f"OK: all {n} gradients agree three ways (hand, autograd, finite differences)"
        return "\n".join(lines)

    def _cells(self, esc) -> list:
        head = ["name", "kind", "shape", "max abs err", "max rel err", "worst index",
                "hand", "autograd", "finite diff", "auto vs fd", "ok"]  # fmt: skip
        body = []
        for r in self.rows:
            status = "ok" if r.ok and r.fd_ok else (r.problem or "MISMATCH")
            if r.ok and not r.fd_ok:
                status = "FD MISMATCH"
            body.append(
                [
                    esc(r.name),
                    r.kind,
                    str(r.shape),
                    _f(r.max_abs_error),
                    _f(r.max_rel_error),
                    str(r.worst_index),
                    _f(r.hand),
                    _f(r.auto),
                    _f(r.fd),
                    _f(r.fd_abs_error),
                    esc(status),
                ]  # fmt: skip
            )
        return [head, *body]

    def _summary(self) -> str:
        n_bad = sum(not (r.ok and r.fd_ok) for r in self.rows)
        return (
            f"backprop check: loss {self.loss:.6g}; {len(self.rows) - n_bad} of {len(self.rows)} "
            f"gradients ok (atol={self.atol:g}, rtol={self.rtol:g}; finite differences "
            f"eps={self.fd_eps:g})"
        )

    def to_text(self) -> str:
        cells = self._cells(_printable)
        widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join([self._summary(), *lines, self.verdict()])

    def to_markdown(self) -> str:
        cells = self._cells(_markdown_escape)
        lines = ["| " + " | ".join(r) + " |" for r in cells]
        lines.insert(1, "|" + "---|" * len(cells[0]))
        verdict = _markdown_escape(self.verdict()).replace("\n", "  \n")
        return "\n".join([self._summary(), "", *lines, "", verdict])

    def __str__(self) -> str:
        return self.to_text()


def _f(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.4g}"


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
class _Locals:
    """Captures the local variables of one function's frame when it returns."""

    def __init__(self, fn):
        self.code = getattr(fn, "__code__", None)
        self.names: dict = {}

    def __call__(self, frame, event, arg):
        if event == "return" and frame.f_code is self.code:
            self.names = dict(frame.f_locals)

    def run(self, fn, *args):
        old = sys.getprofile()
        sys.setprofile(self)
        try:
            return fn(*args)
        finally:
            sys.setprofile(old)


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
                f"forward writes into a parameter in place ({err}); compute a new array "
                "instead (W = W - x, not W -= x)"
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


def _order_from_loss(loss: Tensor, candidates: dict) -> list:
    """Names of candidate tensors ordered from the loss back (by graph position)."""
    by_node = {id(t.grad_fn): n for n, t in candidates.items()}
    order, seen, frontier = [], set(), [loss.grad_fn]
    while frontier:  # breadth first: nearer the loss first
        nxt = []
        for node in frontier:
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if id(node) in by_node:
                order.append(by_node[id(node)])
            nxt.extend(getattr(node, "parents", ()))
        frontier = nxt
    return order


def _intermediates(names: dict, hand: dict, params: dict, tensors: dict, loss: Tensor) -> dict:
    """forward's locals that backward gave a gradient for: name -> recorded Tensor."""
    param_ids = {id(t) for t in tensors.values()}
    found = {}
    for key in hand:
        if key in params:
            continue
        t = names.get(key)
        if isinstance(t, Tensor) and t.grad_fn is not None and id(t) not in param_ids:
            found[key] = t
    return {n: found[n] for n in _order_from_loss(loss, found)} | found


def _central_differences(forward, params: dict, data: tuple, eps: float) -> dict:
    """d forward / d param by (f(p + eps) - f(p - eps)) / (2 eps), on plain arrays."""
    grads = {}
    for name, value in params.items():
        g = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            vals = []
            for step in (eps, -eps):
                trial = {n: a.copy() for n, a in params.items()}
                trial[name][i] += step
                with no_grad():
                    vals.append(float(np.asarray(forward(trial, *data))))
            g[i] = (vals[0] - vals[1]) / (2 * eps)
        grads[name] = g
    return grads


def _hand(backward, params: dict, data: tuple) -> dict:
    result = backward({n: a.copy() for n, a in params.items()}, *data)
    if not isinstance(result, Mapping):
        raise TypeError(
            f"backward must return a dict of name -> gradient, got {type(result).__name__}"
        )
    return dict(result)


# ---------------------------------------------------------------- rows
def _row(name, kind, hand, auto, fd, atol, rtol) -> BackpropRow:
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
    scale = np.abs(auto)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / scale, np.where(diff > 0, np.inf, 0.0))
    excess = np.nan_to_num(diff - (atol + rtol * scale), nan=np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), shape) if diff.size else ()
    worst = tuple(int(i) for i in worst)
    fd_err, fd_ok, fd_at = nan, True, nan
    if fd is not None and diff.size:
        fd_diff = np.abs(auto - fd)
        fd_err = float(np.max(fd_diff))
        fd_ok = bool(np.all(fd_diff <= 1e-4 + 1e-3 * np.abs(fd)))
        fd_at = float(fd[worst])
    return BackpropRow(
        name, kind, shape,
        float(np.max(diff)) if diff.size else 0.0,
        float(np.max(rel)) if diff.size else 0.0,
        worst,
        float(hand[worst]) if diff.size else nan,
        float(auto[worst]) if diff.size else nan,
        fd_at, fd_err,
        bool(np.all(excess <= 0)),
        fd_ok,
    )  # fmt: skip


def backprop(
    forward: Callable,
    backward: Callable,
    params: Mapping,
    *data,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    fd_eps: float = 1e-6,
    finite_differences: bool = True,
) -> BackpropReport:
    """Check a hand-written ``backward`` against ``forward`` as written, three ways.

    Parameters
    ----------
    forward : callable
        ``forward(params, *data) -> loss``: plain NumPy code returning a scalar.
    backward : callable
        ``backward(params, *data) -> {name: gradient}``: dL/d param for every
        parameter, and optionally dL/dV for variables V of forward (named as
        in forward) to localise a mistake.
    params : dict of name -> float array
    data : arrays passed to both after params (never differentiated).
    atol, rtol : hand vs autograd passes where |hand - auto| <= atol + rtol |auto|.
    fd_eps, finite_differences : the central-difference step; False skips that
        column (2 forward calls per parameter element).

    Returns
    -------
    BackpropReport: ``ok``, ``rows`` (intermediates from the loss back, then
    parameters), ``first_divergence``, ``extra``, ``to_text()``/``to_markdown()``.
    Missing, extra or wrong-shaped keys of backward are listed in the report.

    Raises
    ------
    TypeError, ValueError for unusable inputs (integer params, nan in data, a
    forward whose result is not a scalar in the graph, or writes in place).
    """
    params = _check_params(params)
    data = _check_data(data)
    loss, local_vars, tensors = _run_forward(forward, params, data)
    hand = _hand(backward, params, data)
    inter = _intermediates(local_vars, hand, params, tensors, loss)
    wrt = [*tensors.values(), *inter.values()]
    autos = _grad(loss, wrt, allow_unused=True)
    auto = {
        n: (np.zeros(t.shape) if g is None else np.asarray(g.data, dtype=np.float64))
        for n, t, g in zip([*tensors, *inter], wrt, autos)
    }
    fd = _central_differences(forward, params, data, fd_eps) if finite_differences else {}
    rows = [_row(n, "intermediate", hand.get(n), auto[n], None, atol, rtol) for n in inter]
    rows += [_row(n, "parameter", hand.get(n), auto[n], fd.get(n), atol, rtol) for n in params]
    extra = [k for k in hand if k not in params and k not in inter]
    return BackpropReport(float(loss.data), rows, extra, atol, rtol, fd_eps)
