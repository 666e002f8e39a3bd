"""Compare hand-written gradients with autograd's, parameter by parameter.

An element passes when |manual - auto| <= atol + rtol * |auto| (NumPy's
``isclose`` with autograd as the reference); NaN anywhere fails. For each
parameter the report gives the largest absolute error, the relative error
relative to the tensor's scale, max |manual - auto| / max |auto| (infinite
only when autograd's whole tensor is 0 and the manual one is not), and the
worst index: the element furthest past its tolerance (when all pass,
the one closest to failing).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from gradsight._core.tensor import Tensor
from gradsight.autograd import grad as _autograd_grad

__all__ = ["GradientReport", "GradientRow", "autograd_gradients", "compare_gradients"]


@dataclass(frozen=True)
class GradientRow:
    """One parameter's comparison; ``worst_index`` is () for a 0-d or empty gradient."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    ok: bool


class GradientReport:
    """The result of ``compare_gradients``: ``ok``, ``rows``, and text/Markdown tables.

    ``assert report.ok, report`` in a test prints the table when it fails.
    """

    def __init__(self, rows: tuple[GradientRow, ...], atol: float, rtol: float):
        self.rows = rows
        self.atol = atol
        self.rtol = rtol

    @property
    def ok(self) -> bool:
        """True when every element of every parameter is within tolerance."""
        return all(row.ok for row in self.rows)

    @property
    def mismatched_names(self) -> tuple[str, ...]:
        """Names of the parameters that are not ok, in row order (e.g. for gs.viz to mark)."""
        return tuple(row.name for row in self.rows if not row.ok)

    def __getitem__(self, name: str) -> GradientRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def _cells(self, escape: Callable[[str], str]) -> list[list[str]]:
        header = ["parameter", "shape", "max abs error", "max rel error", "worst index", "ok"]
        body = [
            [
                escape(row.name),
                str(row.shape),
                f"{row.max_abs_error:.3e}",
                f"{row.max_rel_error:.3e}",
                str(row.worst_index),
                "ok" if row.ok else "MISMATCH",
            ]
            for row in self.rows
        ]
        return [header, *body]

    def _summary(self, escape: Callable[[str], str]) -> str:
        n_bad = len(self.mismatched_names)
        head = f"gradient check: {len(self.rows) - n_bad} of {len(self.rows)} parameters ok"
        tol = f"(atol={self.atol:g}, rtol={self.rtol:g})"
        if not n_bad:
            return f"{head} {tol}"
        return f"{head} {tol}; mismatched: {', '.join(escape(n) for n in self.mismatched_names)}"

    def to_text(self) -> str:
        """A plain-text table for the terminal, one line per parameter, after a summary line."""
        cells = self._cells(_printable)
        widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join([self._summary(_printable), *lines])

    def to_markdown(self) -> str:
        """A Markdown table (names escaped, so they show literally) after a summary line."""
        cells = self._cells(_markdown_escape)
        lines = ["| " + " | ".join(r) + " |" for r in cells]
        lines.insert(1, "|" + "---|" * len(cells[0]))
        return "\n".join([self._summary(_markdown_escape), "", *lines])

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        from .report import html_table

        statuses = ["ok" if row.ok else "MISMATCH" for row in self.rows]
        return html_table(self._summary(_printable), self._cells(str), "", statuses)


def _printable(text: str) -> str:
    """text with control characters (newlines, escapes) shown as Python escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


_MD_SPECIAL = set("\\`*_[]|~$")


def _markdown_escape(text: str) -> str:
    """text shown literally in a Markdown table cell."""
    out = []
    for c in _printable(text):
        if c in _MD_SPECIAL:
            out.append("\\" + c)
        elif c in "<>&":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;"}[c])
        else:
            out.append(c)
    return "".join(out)


def _as_array(value, side: str, name: str) -> np.ndarray:
    """A gradient as a float64 ndarray; TypeError naming the parameter otherwise."""
    if value is None:
        raise TypeError(f"{side} gradient for {name!r} is None")
    if isinstance(value, Tensor):
        value = value.data
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{side} gradient for {name!r} is not an array: {err}") from None
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{side} gradient for {name!r} must be real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _autograd_side(auto) -> dict:
    """name -> gradient from a mapping, or from a Module's parameters' ``.grad``."""
    if isinstance(auto, Mapping):
        return dict(auto)
    if hasattr(auto, "named_parameters"):
        named = dict(auto.named_parameters())
        missing = [n for n, p in named.items() if p.grad is None]
        if missing:
            raise ValueError(
                f"parameters {missing} have no .grad; call loss.backward() before comparing"
            )
        return {n: p.grad for n, p in named.items()}
    raise TypeError(
        f"auto must be a mapping of name -> gradient or a gs.nn.Module, got {type(auto).__name__}"
    )


def _row(name: str, manual: np.ndarray, auto: np.ndarray, atol: float, rtol: float) -> GradientRow:
    if manual.size == 0:
        return GradientRow(name, manual.shape, 0.0, 0.0, (), True)
    from .report import scaled_rel_error

    diff = np.abs(manual - auto)
    scale = np.abs(auto)
    excess = diff - (atol + rtol * scale)
    excess = np.where(np.isnan(excess), np.inf, excess)  # NaN is the worst of all
    worst = np.unravel_index(int(np.argmax(excess)), manual.shape)
    return GradientRow(
        name=name,
        shape=manual.shape,
        max_abs_error=float(np.max(diff)),
        max_rel_error=scaled_rel_error(diff, auto),
        worst_index=tuple(int(i) for i in worst),
        ok=bool(np.all(excess <= 0)),
    )


def compare_gradients(manual, auto, atol: float = 1e-8, rtol: float = 1e-5) -> GradientReport:
    """Compare hand-written gradients with autograd's, number by number.

    Parameters
    ----------
    manual : mapping of name -> array-like (or Tensor)
        Your gradients, e.g. ``{"W": dW, "b": db}``.
    auto : mapping of name -> array-like (or Tensor), or a ``gs.nn.Module``
        The reference. A Module contributes ``named_parameters()`` and their
        ``.grad`` (run ``loss.backward()`` first).
    atol, rtol : float
        An element is ok when |manual - auto| <= atol + rtol * |auto|.

    Returns
    -------
    GradientReport
        ``.ok``, ``.rows`` (in the order of ``auto``), ``.mismatched_names``,
        ``.to_text()`` (also ``str(report)``) and ``.to_markdown()``.

    Raises
    ------
    ValueError
        If the names differ (listing the missing and unexpected ones) or any
        shapes differ (listing each name with both shapes).
    """
    for label, tol in (("atol", atol), ("rtol", rtol)):
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 <= tol < np.inf:
            raise ValueError(f"{label} must be a finite number >= 0, got {tol!r}")
    if not isinstance(manual, Mapping):
        raise TypeError(
            f"manual must be a mapping of name -> gradient, got {type(manual).__name__}"
        )
    auto = _autograd_side(auto)
    missing = [n for n in auto if n not in manual]
    extra = [n for n in manual if n not in auto]
    if missing or extra:
        raise ValueError(
            "manual and autograd gradients name different parameters: missing from manual "
            f"{missing}, not in autograd {extra}"
        )
    pairs = {
        n: (_as_array(manual[n], "manual", n), _as_array(auto[n], "autograd", n)) for n in auto
    }
    bad = [
        f"{n!r}: manual {m.shape} vs autograd {a.shape}"
        for n, (m, a) in pairs.items()
        if m.shape != a.shape
    ]
    if bad:
        raise ValueError("gradient shapes differ: " + "; ".join(bad))
    rows = tuple(_row(n, m, a, float(atol), float(rtol)) for n, (m, a) in pairs.items())
    return GradientReport(rows, float(atol), float(rtol))


def autograd_gradients(loss_fn: Callable, params: Mapping) -> dict[str, np.ndarray]:
    """d loss / d param for each named array, by gradsight's autograd.

    ``loss_fn`` receives a dict name -> Tensor (float64 copies of ``params``
    that require grad) and returns a single-element Tensor, computed with gs ops.
    A parameter the loss does not use gets a zero gradient.

    >>> auto = autograd_gradients(lambda p: ((x @ p["W"].T).sigmoid() - t).sum(), {"W": W})
    """
    names = list(params)
    tensors = {}
    for n in names:
        value = params[n]
        data = value.data if isinstance(value, Tensor) else value
        tensors[n] = Tensor(np.array(data, dtype=np.float64), requires_grad=True)
    out = loss_fn(dict(tensors))
    if not isinstance(out, Tensor) or out.size != 1:
        shape = out.shape if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"loss_fn must return a single-element Tensor, got {shape}")
    grads = _autograd_grad(out, [tensors[n] for n in names], allow_unused=True)
    return {
        n: (np.zeros(tensors[n].shape) if g is None else g.numpy().copy())
        for n, g in zip(names, grads)
    }
