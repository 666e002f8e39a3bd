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

FORMATS = ("svg", "png", "pdf", "dot")
SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
EXAMPLES = """\
examples:
  gradsight graph                                   # the article's 2-4-1 network -> graph.svg
  gradsight graph --inputs 3 --layers 8,8 --outputs 2 --activation tanh --out mlp.png
  gradsight graph --layers none --out linear.pdf    # no hidden layer: a 2-1 network
  gradsight graph --direction backward --out grads.svg   # what each backward sends
  gradsight graph --format dot --out -              # DOT text on stdout

--layers gives the hidden layer sizes, as in `gradsight train`; --inputs and
--outputs give the other two. The format comes from --out's extension: .svg,
.png, .pdf, .dot (or .gv). The loss is the mean squared error against random
targets in [0, 1].
"""


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "graph",
        parents=parents,
        help="draw an MLP's computation graph with its gradients (SVG, PNG, PDF or DOT)",
        description="Build an MLP with the given sizes, run one random batch through it\n"
        "and a loss, backpropagate, and draw the graph with parameter names and gradients.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--layers",
        type=opt.hidden_layers,
        default=[4],
        metavar="SIZES",
        help="hidden layer sizes, e.g. 16,16; 'none' (or 0) for no hidden layer (default 4)",
    )
    p.add_argument(
        "--inputs", type=opt.layer_size, default=2, metavar="N", help="input features (default 2)"
    )
    p.add_argument(
        "--outputs", type=opt.layer_size, default=1, metavar="N", help="output units (default 1)"
    )
    acts = ("sigmoid", "tanh", "relu", "leaky_relu")
    p.add_argument(
        "--activation",
        choices=acts,
        default="sigmoid",
        help="of the hidden layers (default sigmoid)",
    )
    p.add_argument(
        "--output-activation",
        choices=(*acts, "none"),
        default="sigmoid",
        help="activation of the last layer (default sigmoid, as in the article)",
    )
    p.add_argument(
        "--batch", type=opt.positive_int, default=4, help="rows in the batch (default 4)"
    )
    p.add_argument("--seed", type=opt.seed, default=0, help="weights and batch (default 0)")
    p.add_argument(
        "--out",
        metavar="FILE",
        default="graph.svg",
        help="default graph.svg; the extension picks the format; '-' for stdout (dot only)",
    )
    p.add_argument(
        "--format", choices=FORMATS, help="needed only for --out - or a name without extension"
    )
    p.add_argument(
        "--rankdir",
        choices=("auto", "LR", "TB", "RL", "BT"),
        default="auto",
        help="layout: LR left to right, TB top to bottom; auto (default) picks by the "
        "graph's shape",
    )
    p.add_argument("--direction", choices=("forward", "backward"), default="forward")
    p.add_argument("--show-data", action="store_true", help="show tensor values too")
    p.add_argument("--no-grad", action="store_true", help="draw without gradients")
    p.add_argument(
        "--color-by-grad", action="store_true", help="colour by gradient magnitude, with legend"
    )
    p.set_defaults(run=run)


def run(args) -> int:
    out = None if args.out == "-" else output_file(args.out)
    fmt = output_format(args.out, args.format)
    sizes = [args.inputs, *args.layers, args.outputs]
    opt.check_model_size(sizes)
    loss, model = build(sizes, args.activation, args.output_activation, args.batch, args.seed)
    drawing = draw(loss, model, args)
    if out is None:
        sys.stdout.write(drawing.source)
        return 0
    write_atomic(out, render(drawing, fmt))
    n = len(gs.autograd.graph_nodes(loss))
    print(
        f"drew {describe(sizes, args.activation, args.output_activation)} "
        f"on a batch of {args.batch}: {n} nodes -> {out} ({fmt})"
    )
    return 0


def describe(sizes: list[int], activation: str, output_activation: str) -> str:
    """What was built, in words: 'the 2-4-1 MLP (sigmoid hidden, sigmoid output)'."""
    shape = "-".join(map(str, sizes))
    out = "no output activation" if output_activation == "none" else f"{output_activation} output"
    if len(sizes) == 2:
        return f"the {shape} network with no hidden layer ({out})"
    return f"the {shape} MLP ({activation} hidden, {out})"


def output_format(out: str, given: str | None) -> str:
    """The format --out's extension names; --format must agree with it, or stand in
    for a missing one. Anything else is a CliError naming the extension."""
    if out == "-":
        if given != "dot":
            raise CliError(f"--out - (stdout) needs --format dot, not {given or 'none'}")
        return "dot"
    suffix = Path(out).suffix.lower()
    known = ", ".join(SUFFIXES)
    if suffix in SUFFIXES:
        fmt = SUFFIXES[suffix]
        if given is not None and given != fmt:
            raise CliError(f"--out {out!r} is a {fmt} file name, but --format says {given}")
        return fmt
    if given is not None and not suffix:
        return given
    what = f"has the extension {suffix!r}" if suffix else "has no extension"
    raise CliError(f"--out {out!r} {what}: use one of {known} (the extension picks the format)")


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
            rankdir=args.rankdir,
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
