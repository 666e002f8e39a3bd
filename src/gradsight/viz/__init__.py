"""``gs.viz``: computation graphs you can read, gradients you can see, backprop
you can step through.

- ``draw_graph(root, ...)``: the graph that computed ``root`` (a Graphviz Digraph);
- ``draw_module(module)``: a Module's architecture, without running data;
- ``backprop_steps(loss, path)``: a self-contained HTML page that steps through
  the backward pass node by node (without ``path``: the page, shown inline in
  Jupyter).

Every label is escaped (names are shown literally), node ids are generated,
and rendering without Graphviz's ``dot`` program raises ``GraphvizNotFound``
with install instructions while ``.source`` keeps the DOT text.
"""

from __future__ import annotations

from .graph import draw_graph
from .module import draw_module
from .render import Drawing, GraphvizNotFound
from .steps import StepPage, backprop_steps

__all__ = [
    "draw_graph",
    "draw_module",
    "backprop_steps",
    "StepPage",
    "Drawing",
    "GraphvizNotFound",
]
