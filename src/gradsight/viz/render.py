"""The Digraph we return: plain ``graphviz.Digraph`` plus a clear message when
the Graphviz ``dot`` program is missing (the DOT source stays available)."""

from __future__ import annotations

import graphviz

INSTALL_HELP = (
    "Install Graphviz (the Python package `graphviz` alone is not enough), then try again:\n"
    "  Debian/Ubuntu: sudo apt-get install graphviz\n"
    "  Fedora:        sudo dnf install graphviz\n"
    "  macOS:         brew install graphviz\n"
    "  conda:         conda install -c conda-forge graphviz\n"
    "  Windows:       winget install graphviz  (or https://graphviz.org/download/)"
)


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Rendering needs Graphviz's ``dot`` program, which is not on PATH."""

    def __init__(self, saved: str | None = None):
        where = f" and was saved to {saved}" if saved else ""
        RuntimeError.__init__(
            self,
            "the Graphviz `dot` program was not found on PATH, so the graph could not be "
            f"rendered. Its DOT source is in the graph's .source attribute{where}.\n"
            + INSTALL_HELP,
        )


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph``; rendering without ``dot`` raises GraphvizNotFound
    (a ``graphviz.ExecutableNotFound``) explaining how to install Graphviz, and
    Jupyter shows that message with the DOT source instead of failing."""

    def pipe(self, *args, **kwargs):
        try:
            return super().pipe(*args, **kwargs)
        except GraphvizNotFound:
            raise
        except graphviz.ExecutableNotFound as err:
            raise GraphvizNotFound() from err

    def render(self, *args, **kwargs):
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as err:
            raise GraphvizNotFound(self.filepath) from err

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except GraphvizNotFound as err:
            return {"text/plain": f"{err}\n\n{self.source}"}
