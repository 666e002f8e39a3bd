"""``gradsight graph``: draw the computation graph of an MLP on one batch, with gradients."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import graphviz
import numpy as np

import gradsight as gs

from . import options as opt
from .errors import CliError, one_line, output_file, write_atomic

FORMATS = ("svg", "png", "dot")
EXAMPLES = """\
examples:
  gradsight graph                                   # the article's 2-4-1 network -> graph.svg
  gradsight graph --layers 3,8,8,2 --activation tanh --out mlp.png
  gradsight graph --direction backward --out grads.svg   # what each backward sends
  gradsight graph --format dot --out -              # DOT text on stdout

The loss is the mean squared error against random targets in [0, 1].
"""


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "graph",
        parents=parents,
        help="draw an MLP's computation graph with its gradients (SVG, PNG or DOT)",
        description="Build an MLP with the given --layers, run one random batch through it\n"
        "and a loss, backpropagate, and draw the graph with parameter names and gradients.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--layers",
        type=opt.all_layers,
        default=[2, 4, 1],
        metavar="SIZES",
        help="all layer sizes, inputs to outputs (default 2,4,1: the article's network)",
    )
    acts = ("sigmoid", "tanh", "relu", "leaky_relu")
    p.add_argument("--activation", choices=acts, default="sigmoid")
    p.add_argument(
        "--output-activation",
        choices=(*acts, "none"),
        default="sigmoid",
        help="activation of the last layer (default sigmoid, as in the article)",
    )
    p.add_argument("--batch", type=opt.positive_int, default=4, help="rows in the batch")
    p.add_argument("--seed", type=opt.seed, default=0)
    p.add_argument("--out", metavar="FILE", default="graph.svg", help="'-' for stdout (dot only)")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's suffix, else svg")
    p.add_argument("--direction", choices=("forward", "backward"), default="forward")
    p.add_argument("--show-data", action="store_true", help="show tensor values too")
    p.add_argument("--no-grad", action="store_true", help="draw without gradients")
    p.add_argument(
        "--color-by-grad", action="store_true", help="colour by gradient magnitude, with legend"
    )
    p.set_defaults(run=run)


def run(args) -> int:
    fmt = args.format or _format_of(args.out)
    if args.out == "-" and fmt != "dot":
        raise CliError(f"--out - (stdout) needs --format dot, not {fmt}")
    out = None if args.out == "-" else output_file(args.out)
    opt.check_model_size(args.layers)
    loss, model = build(args.layers, args.activation, args.output_activation, args.batch, args.seed)
    drawing = draw(loss, model, args)
    if out is None:
        sys.stdout.write(drawing.source)
        return 0
    write_atomic(out, render(drawing, fmt))
    n = len(gs.autograd.graph_nodes(loss))
    sizes = "-".join(map(str, args.layers))
    print(f"drew the {sizes} {args.activation} MLP on a batch of {args.batch}: {n} nodes -> {out}")
    return 0


def _format_of(path: str) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"gv": "dot"}.get(suffix, suffix) if suffix in (*FORMATS, "gv") else "svg"


def build(sizes, activation, output_activation, batch, seed):
    """An MLP, a random batch, the MSE loss, and backward (graph kept for drawing)."""
    gs.manual_seed(seed)
    out_act = None if output_activation == "none" else output_activation
    model = gs.nn.MLP(sizes, activation=activation, output_activation=out_act)
    rng = np.random.default_rng(seed)
    x = gs.tensor(rng.normal(size=(batch, sizes[0])))
    y = rng.uniform(size=(batch, sizes[-1]))
    loss = gs.nn.functional.mse_loss(model(x), y)
    loss.backward(retain_graph=True)
    return loss, model


def draw(loss, model, args):
    from gradsight.viz import draw_graph

    try:
        return draw_graph(
            loss,
            params=model,
            show_data=args.show_data,
            show_grad=not args.no_grad,
            direction=args.direction,
            color_by_grad=args.color_by_grad,
        )
    except ValueError as err:  # e.g. too many nodes to draw
        raise CliError(f"cannot draw this graph: {one_line(err)}") from None


def render(drawing, fmt: str) -> bytes:
    """The drawing as bytes in ``fmt``; a missing ``dot`` program is a one-line CliError."""
    if fmt == "dot":
        return drawing.source.encode("utf-8")
    try:
        return drawing.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise CliError(
            "Graphviz's 'dot' program was not found, so the graph cannot be rendered to "
            f"{fmt}; install Graphviz (e.g. sudo apt-get install graphviz) or use --format dot"
        ) from None
