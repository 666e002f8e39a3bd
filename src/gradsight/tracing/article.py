"""The demo's view of a traced step: the generated program beside the article's listing."""

from __future__ import annotations

import html


def listing_train_body() -> str:
    """The ``for epoch`` body of the article's listing (fixed version, gs.reference)."""
    from gradsight.reference.listing import FIXED_LISTING

    lines = FIXED_LISTING.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("for epoch"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("return"))
    return "\n".join(lines[start:end]).rstrip()


def program_body(source: str) -> str:
    """The ``def step`` function of a generated program (without its module docstring)."""
    i = source.index("def step(")
    return source[i:].rstrip()


def side_by_side(source: str) -> str:
    """A report.md section: the listing's training step and the traced one, side by side.

    An HTML table (Markdown has no two-column code blocks); both texts are escaped.
    """
    left = html.escape(listing_train_body())
    right = html.escape(program_body(source))
    return "\n".join(
        [
            "## The step as NumPy code: the article's listing and gs.trace's",
            "",
            "Left, the body of the article's training loop (section 4, with the corrections "
            "of `gs.reference.listing`); right, the program `gs.trace` recorded from one "
            "gradsight training step (forward, `loss.backward()`, `SGD.step()`), saved as "
            "[backprop.py](backprop.py). Both are straight-line NumPy: the right one was "
            "written by the tracer, one statement per NumPy call the step made, and its "
            "replay is what trained the network above (bit for bit the eager result).",
            "",
            "<table>",
            "<tr><th>the article's listing (fixed)</th><th>backprop.py (generated)</th></tr>",
            '<tr><td valign="top"><pre>',
            left,
            '</pre></td><td valign="top"><pre>',
            right,
            "</pre></td></tr>",
            "</table>",
            "",
        ]
    )
