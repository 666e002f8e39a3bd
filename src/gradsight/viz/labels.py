"""Safe label text: every string shown in a drawing goes through ``text()``.

Graphviz reads labels as code (``\\n``, ``\\l``, record fields ``| { }``,
HTML-like ``<...>``). We only ever build HTML-like labels and put user text in
them escaped, so a name is always shown literally, never interpreted:

1. control and other invisible characters become visible escapes
   (newline -> ``\\n``, BEL -> ``\\x07``, zero-width space -> ``\\u200b``);
2. text longer than ``MAX_CHARS`` is cut and ends with ``…``;
3. ``& < > " '`` become HTML entities;
4. every backslash is doubled: even inside HTML-like labels Graphviz expands
   ``\\N`` (the node's id), ``\\G``, ``\\n`` ..., and reads ``\\\\`` as one
   backslash (entities do not help: ``&#92;N`` is decoded first, then expanded).

``| { }`` and brackets need nothing more: inside an HTML-like label they are
plain characters.
"""

from __future__ import annotations

import html
import unicodedata

import numpy as np

MAX_CHARS = 80
SMALL = 8  # arrays with at most this many elements are shown in full

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(s: str) -> str:
    """``s`` with control/format/unassigned characters written as escapes."""
    out = []
    for ch in s:
        if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029":
            out.append(ch)
        elif ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def truncate(s: str, limit: int = MAX_CHARS) -> str:
    """At most ``limit`` characters of ``s``, plus ``…`` when cut."""
    return s if len(s) <= limit else s[:limit] + "…"


def text(value, limit: int = MAX_CHARS) -> str:
    """Any value as escaped, visible, truncated text for an HTML-like label."""
    s = value if isinstance(value, str) else str(value)
    if len(s) > 4 * limit:  # don't scan a huge string just to throw most of it away
        s = s[: 4 * limit + 1]
    return html.escape(truncate(visible(s), limit), quote=True).replace("\\", "\\\\")


def fixed(s: str) -> str:
    """Our own fixed wording (never user text): escaped, not truncated."""
    return html.escape(s, quote=True)


def plain(value, limit: int = MAX_CHARS) -> str:
    """Visible, truncated text without HTML escaping (for JSON / textContent)."""
    s = value if isinstance(value, str) else str(value)
    if len(s) > 4 * limit:
        s = s[: 4 * limit + 1]
    return truncate(visible(s), limit)


# ---------------------------------------------------------------- numbers
def fmt_number(x) -> str:
    """One number with 4 significant digits (``nan``/``inf`` as NumPy writes them)."""
    return f"{float(x):.4g}"


def fmt_shape(shape) -> str:
    """``(4, 2)``; a 0-d shape as ``()``."""
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def array_lines(a: np.ndarray) -> list[str]:
    """A small array's values, one line per row (2-D) or one line (else)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return [fmt_number(a)]
    if a.ndim == 2 and a.shape[0] > 1:
        rows = [", ".join(fmt_number(v) for v in row) for row in a]
        return (
            ["[[" + rows[0] + "],"]
            + [" [" + r + "]," for r in rows[1:-1]]
            + [" [" + rows[-1] + "]]"]
        )
    return ["[" + ", ".join(fmt_number(v) for v in a.ravel()) + "]"]


def _finite_summary(a: np.ndarray) -> str:
    finite = np.isfinite(a)
    if finite.all():
        return ""
    return f", {int((~finite).sum())} non-finite"


def summary(a: np.ndarray) -> str:
    """min / mean / max of a larger array (float64 arithmetic, non-finite counted)."""
    a = np.asarray(a, dtype=np.float64)
    f = a[np.isfinite(a)]
    if f.size == 0:
        return "all non-finite"
    return (
        f"min {fmt_number(f.min())}  mean {fmt_number(f.mean())}  "
        f"max {fmt_number(f.max())}{_finite_summary(a)}"
    )


def grad_norm(a: np.ndarray) -> float:
    """The Euclidean (Frobenius) norm, in float64."""
    return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float64)))))


def value_lines(a: np.ndarray, small: int = SMALL) -> list[str]:
    """Values when ``a`` is small, else a min/mean/max summary."""
    a = np.asarray(a)
    if a.size <= small:
        return array_lines(a)
    return [summary(a)]


def grad_lines(g: np.ndarray, small: int = SMALL, measure: str = "norm") -> list[str]:
    """A gradient: values when small, else one magnitude (and the non-finite count).

    ``measure="norm"``: the Euclidean norm ``‖g‖``. ``measure="rms"``: the
    root-mean-square ``sqrt(mean(g²))``, the measure ``color_by_grad`` colours by,
    stated even beside a small gradient's values so label and colour agree.
    """
    g = np.asarray(g)
    if measure == "rms":
        line = f"rms(g) = {fmt_number(rms(g))}{_finite_summary(g)}"
        return (array_lines(g) + [line]) if g.size <= small else [line]
    if g.size <= small:
        return array_lines(g)
    return [f"‖g‖ = {fmt_number(grad_norm(g))}{_finite_summary(g)}"]


def rms(g: np.ndarray) -> float:
    """Root-mean-square magnitude (size-independent, used for colouring)."""
    g = np.asarray(g, dtype=np.float64)
    if g.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(g))))


# ---------------------------------------------------------------- HTML tables
def lines_html(lines: list[str]) -> str:
    """Lines of raw text, escaped and left-aligned with ``<BR ALIGN="LEFT"/>``."""
    return "".join(text(line) + '<BR ALIGN="LEFT"/>' for line in lines)


def table(rows: list[str], bgcolor: str | None = None) -> str:
    """An HTML-like label: one cell per row (rows are already escaped HTML)."""
    bg = f' BGCOLOR="{bgcolor}"' if bgcolor else ""
    cells = "".join(f'<TR><TD ALIGN="LEFT"{bg}>{r}</TD></TR>' for r in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'
