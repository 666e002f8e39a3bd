"""BackpropReport: what gs.check.backprop (and layer / layers) found, as a table and in words.

``max rel err`` of a row is its largest absolute error divided by the
tensor's scale, the largest |autograd| entry of that tensor:
max |hand - auto| / max |auto|. A gradient that is 0 at some entries does not
make it infinite; it is infinite only when autograd's whole tensor is 0 and
the hand's is not.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

from .compare import _markdown_escape, _printable

__all__ = ["BackpropReport", "BackpropRow", "scaled_rel_error"]


def scaled_rel_error(diff: np.ndarray, auto: np.ndarray) -> float:
    """max |hand - auto| / max |auto|; inf when auto is all 0 and diff is not (NaN: inf)."""
    if diff.size == 0:
        return 0.0
    worst = float(np.max(np.nan_to_num(diff, nan=np.inf)))
    scale = float(np.max(np.abs(np.nan_to_num(auto, nan=np.inf))))
    if scale > 0:
        return worst / scale
    return 0.0 if worst == 0 else float("inf")


@dataclass(frozen=True)
class BackpropRow:
    """One parameter or intermediate: hand vs autograd (and vs finite differences).

    ``problem`` is set (and ``ok`` False) when the hand gradient is missing or
    has the wrong shape; the error columns are then NaN. ``kink`` is set when
    hand and autograd differ only at kinks or ties of the forward, where both
    chose a valid subgradient (the row is then ok).
    """

    name: str
    kind: str  # "parameter" | "intermediate"
    shape: tuple
    max_abs_error: float  # |hand - autograd|
    max_rel_error: float  # max |hand - autograd| / max |autograd|
    worst_index: tuple
    hand: float  # the three values at worst_index
    auto: float
    fd: float  # NaN for intermediates (no finite differences)
    fd_abs_error: float  # |autograd - finite differences|, NaN for intermediates
    ok: bool
    fd_ok: bool = True
    problem: str = ""
    kink: object = None  # a kinks.KinkFinding

    @property
    def status(self) -> str:
        if self.problem:
            return self.problem
        if not self.ok:
            return "MISMATCH"
        if not self.fd_ok:
            return "FD MISMATCH"
        return "kink" if self.kink is not None else "ok"


@dataclass
class BackpropReport:
    """What ``backprop`` found: ``ok``, ``rows``, ``extra`` keys, ``first_divergence``."""

    loss: float
    rows: list
    extra: list = field(default_factory=list)  # backward keys naming nothing of forward
    atol: float = 1e-8
    rtol: float = 1e-5
    fd_eps: float = 1e-6
    first_divergence_name: str | None = None
    sampled: str = ""  # what the finite differences covered, in words
    diagnosis: object = None  # a diagnose.Diagnosis naming the typical mistake
    graph: object = field(default=None, repr=False, compare=False)  # (loss, {name: Tensor})
    computed_by: dict = field(default_factory=dict)  # row name -> the code that computes it

    @property
    def ok(self) -> bool:
        return all(r.ok and r.fd_ok for r in self.rows) and not self.extra

    @property
    def mismatched_names(self) -> tuple:
        return tuple(r.name for r in self.rows if not r.ok)

    @property
    def first_divergence(self) -> BackpropRow | None:
        """The mismatched intermediate none of whose downstream intermediates mismatches."""
        if self.first_divergence_name is None:
            return None
        return self[self.first_divergence_name]

    @property
    def kinks(self) -> tuple:
        """The rows that differ only at kinks or ties (each with its ``kink`` finding)."""
        return tuple(r for r in self.rows if r.kink is not None)

    def __getitem__(self, name: str) -> BackpropRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def graph_for_drawing(self) -> tuple:
        """(loss Tensor, {name: Tensor}, names to highlight) for ``gs.viz.draw_graph(report)``."""
        if self.graph is None:
            raise ValueError("this report carries no graph to draw")
        loss, tensors = self.graph
        first = self.first_divergence_name
        hot = [first] if first is not None else [n for n in self.mismatched_names if n in tensors]
        return loss, tensors, hot

    def verdict(self) -> str:
        """Sentences saying where the hand backward goes wrong, if it does, and what it is."""
        inter = [r for r in self.rows if r.kind == "intermediate"]
        first = self.first_divergence
        lines = []
        if first is not None:
            after = [r.name for r in inter if r.ok and inter.index(r) < inter.index(first)]
            tail = (
                f"everything after it ({', '.join(after)}) agrees"
                if after
                else "it is the first gradient from the loss"
            )
            if any(not r.ok for r in inter[: inter.index(first)]):
                tail = "everything it feeds into agrees"
            by = self.computed_by.get(first.name)
            look = (
                f"{by} is the one to look at"
                if by
                else ("the line of backward that computes it is the one to look at")
            )
            lines.append(
                f"your gradient for {first.name} differs from dL/d{first.name} at index "
                f"{first.worst_index} (hand {first.hand:.6g}, autograd {first.auto:.6g}); "
                f"{tail}: {look}"
            )
        elif inter and not self.ok:
            bad = [r.name for r in self.rows if r.kind == "parameter" and not r.ok]
            if bad:
                lines.append(
                    f"every intermediate agrees; the parameter gradient(s) {', '.join(bad)} "
                    "differ: look at the lines that turn the intermediates into them"
                )
        if self.diagnosis is not None:
            lines.append(str(self.diagnosis))
        for row in self.kinks:
            lines.append(row.kink.describe(row.name))
        fd_bad = [r.name for r in self.rows if not r.fd_ok]
        if fd_bad:
            lines.append(
                f"autograd and finite differences differ for {', '.join(fd_bad)}: forward may "
                "not be smooth there, or it is not differentiable as written"
            )
        for name in self.extra:
            lines.append(f"backward returned {name!r}, which is neither a parameter nor a "
                         "variable of forward")  # fmt: skip
        if not lines or (self.ok and all("kinks/ties" in x for x in lines)):
            n = len(self.rows)
            lines.insert(0, f"OK: all {n} gradients agree three ways (hand, autograd, "
                            "finite differences)")  # fmt: skip
        return "\n".join(lines)

    def _cells(self, esc) -> list:
        head = ["name", "kind", "shape", "max abs err", "max rel err", "worst index",
                "hand", "autograd", "finite diff", "auto vs fd", "ok"]  # fmt: skip
        body = []
        for r in self.rows:
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
                    esc(r.status),
                ]  # fmt: skip
            )
        return [head, *body]

    def _summary(self) -> str:
        n_bad = sum(not (r.ok and r.fd_ok) for r in self.rows)
        sampled = f"; {self.sampled}" if self.sampled else ""
        return (
            f"backprop check: loss {self.loss:.6g}; {len(self.rows) - n_bad} of {len(self.rows)} "
            f"gradients ok (atol={self.atol:g}, rtol={self.rtol:g}{sampled})"
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

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        cells = self._cells(lambda s: s)
        return html_table(self._summary(), cells, self.verdict(), [r.status for r in self.rows])


def _f(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.4g}"


_BAD = {"MISMATCH", "FD MISMATCH"}


def html_table(summary: str, cells: list, verdict: str, statuses: list) -> str:
    """A self-contained HTML table; rows whose status is not ok/kink are marked red."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in cells[0])
    rows = []
    for status, row in zip(statuses, cells[1:]):
        bad = status not in ("ok", "kink")
        style = ' style="background:#fde2e2;font-weight:bold"' if bad else ""
        mark = ' class="mismatch"' if bad else ""
        rows.append(f"<tr{mark}{style}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    notes = "<br>".join(esc(line) for line in verdict.splitlines()) if verdict else ""
    return (
        f'<div class="gradsight-check"><p>{esc(summary)}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p>{notes}</p></div>"
    )
