"""``gradsight demo``: the article's XOR network end to end.

The 2-4-1 sigmoid network h = sigmoid(W x + b), y = sigmoid(V h + c) with the
loss L = 1/(2n) sum (y - target)^2: its first step's gradients by hand
(gs.reference) next to autograd's, training with SGD + momentum, and its
files: graph.svg, backprop.html, backprop.py (the traced step as NumPy code, gs.trace),
loss.png (loss.csv without matplotlib), report.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import gradsight as gs
from gradsight.reference import listing_check
from gradsight.tracing.article import side_by_side

from . import options as opt
from .errors import EXIT_MISMATCH, CliError, output_dir, write_atomic
from .graph import render
from .progress import Progress
from .report import demo_report

# the four XOR samples, one a row, and their targets
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])  # XOR
NAMES = ("W", "b", "V", "c")  # the article's names: W (hidden, input), V (output, hidden)


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "demo",
        parents=parents,
        help="the main job: the article's XOR network end to end (start here)",
        description="The article's 2-4-1 sigmoid network on XOR, end to end: hand-derived\n"
        "vs autograd gradients for the first step, training with SGD + momentum,\n"
        "and these files in --out: graph.svg (the graph with its gradients),\n"
        "backprop.html (step through backward), backprop.py (the traced training\n"
        "step as NumPy code), loss.png (loss.csv without matplotlib) and report.md.\n"
        "Takes a few seconds.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", metavar="DIR", default="demo-out", help="default: demo-out")
    p.add_argument("--epochs", type=opt.positive_int, default=2000, help="default: 2000")
    p.add_argument("--lr", type=opt.positive_float, default=0.5, help="η (default 0.5)")
    p.add_argument(
        "--momentum", type=opt.unit_interval, default=0.9, help="α in [0, 1) (default 0.9)"
    )
    p.add_argument("--seed", type=opt.seed, default=0, help="seed of the initial weights")
    p.set_defaults(run=run)


class ArticleNet(gs.nn.Module):
    """h = sigmoid(W x + b), y = sigmoid(V h + c); W is (hidden, input), V (output, hidden)."""

    def __init__(self, n_in: int = 2, n_hidden: int = 4, n_out: int = 1):
        super().__init__()
        self.hidden = gs.nn.Linear(n_in, n_hidden)
        self.output = gs.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.output(self.hidden(x).sigmoid()).sigmoid()

    def named(self) -> dict:
        """The parameters under the article's names."""
        h, o = self.hidden, self.output
        return dict(zip(NAMES, (h.weight, h.bias, o.weight, o.bias)))


def article_loss(y, target):
    """L = 1/(2n) sum over samples of (y - target)^2 (one output unit)."""
    d = y - target
    return (d * d).sum() * (0.5 / len(target))


def run(args) -> int:
    out = output_dir(args.out)
    start = time.perf_counter()
    gs.manual_seed(args.seed)
    net = ArticleNet()
    print(
        "The article's network: 2-4-1, sigmoid hidden and output units, "
        "L = 1/(2n) Σ (y - ŷ)², on XOR (n = 4)"
    )
    print(f"SGD with momentum: η = {args.lr:g}, α = {args.momentum:g}; seed {args.seed}\n")

    first = first_step(net)
    print(f"Step 1 (loss {first['loss']:.6g}): hand-derived gradients (gs.reference) vs autograd")
    print(first["report"].to_text() + "\n")
    listing = listing_check.check()  # the article's own NumPy code, as written
    print("The article's fixed listing, its NumPy forward differentiated as written")
    print(why_the_listing_differs(net, first["loss"], listing.loss) + "\n")
    print(listing.to_text() + "\n")

    losses, program = train(net, args)
    outputs = predictions(net)
    final = float(article_loss(outputs[:, None], T))
    print(f"\nloss after {args.epochs} steps: {final:.6g} (before the first: {losses[0]:.6g})")
    print(predictions_text(outputs))

    files = dict([first["graph"], ("backprop.html", first["html"])])
    files.update(loss_curve(losses))
    files["backprop.py"] = program.encode("utf-8")  # the traced step (gs.trace)
    settings = dict(epochs=args.epochs, lr=args.lr, momentum=args.momentum, seed=args.seed)
    report = demo_report(settings, first["report"], losses, final, X, T, outputs, list(files))
    report += f"\n## The article's listing, differentiated as written\n\n{listing_check.DOC}\n\n"
    report += listing.to_markdown() + "\n\n" + side_by_side(program)
    files["report.md"] = report.encode("utf-8")
    for name, content in files.items():  # everything was made in memory: now write it all
        write_atomic(out / name, content)
    elapsed = time.perf_counter() - start
    print(f"\nwrote {', '.join(str(out / n) for n in files)} in {elapsed:.1f} s")
    if not first["report"].ok:
        print("gradsight: the hand-derived gradients disagree with autograd", file=sys.stderr)
        return EXIT_MISMATCH
    return 0


def why_the_listing_differs(net: ArticleNet, loss: float, listing_loss: float) -> str:
    """Why the listing's weights, their layout and its loss are not step 1's."""
    W = net.named()["W"]
    ih = listing_check.initial_params()["weights_ih"]
    return (
        "The same network and loss, as the article writes them, with the article's weights:\n"
        f"  listing: weights_ih is {_shape(ih.shape)} (inputs, hidden), used as X @ weights_ih, "
        "from np.random.seed(0) then rand, in [0, 1);\n"
        f"  step 1:  W is {_shape(W.shape)} (hidden, inputs), used as x Wᵀ as gs.nn.Linear "
        "does, from U(-1/√inputs, 1/√inputs) with --seed.\n"
        f"Different weights, so a different loss ({listing_loss:.6g} against {loss:.6g})."
    )


def _shape(shape) -> str:
    return "×".join(str(d) for d in shape)


def first_step(net: ArticleNet) -> dict:
    """Gradients of the first step by hand and by autograd, the graph and the step-through."""
    from gradsight.check import compare_gradients
    from gradsight.viz import backprop_steps, draw_graph

    params = net.named()
    loss = article_loss(net(gs.tensor(X)), T)
    loss.backward(retain_graph=True)  # keep the graph alive for the drawings
    auto = {k: p.grad.numpy() for k, p in params.items()}
    manual = manual_gradients({k: p.numpy() for k, p in params.items()})
    report = compare_gradients(manual, auto, atol=1e-12, rtol=1e-9)
    drawing = draw_graph(loss, params=params, show_grad=True)
    try:
        graph = ("graph.svg", render(drawing, "svg"))
    except CliError as err:  # no Graphviz `dot`: keep the DOT text, say how to get the SVG
        print(f"gradsight: warning: {err}; writing graph.dot instead", file=sys.stderr)
        graph = ("graph.dot", drawing.source.encode("utf-8"))
    page = backprop_steps(loss, params=params)  # steps name W, b, V, c as graph.svg does
    html = page.html.encode("utf-8")
    return dict(report=report, graph=graph, html=html, loss=loss.item())


def manual_gradients(params: dict) -> dict:
    """dL/dW, dL/db, dL/dV, dL/dc by the article's corrected formulas (gs.reference, NumPy)."""
    from gradsight import reference

    return reference.backward(params, reference.forward(params, X), T)


def train(net: ArticleNet, args) -> tuple[list[float], str]:
    """Full-batch SGD with momentum, traced (gs.trace); returns the loss before each
    step and the traced step's NumPy source."""
    optimizer = gs.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    x = gs.tensor(X)
    losses = []

    def one_step():
        loss = article_loss(net(x), T)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    step = gs.trace(one_step, names=net.named())
    bar = Progress(args.epochs, "train", args.quiet)
    try:
        for epoch in range(1, args.epochs + 1):
            losses.append(step().item())
            metrics = f"loss {losses[-1]:.6f}"
            bar.update(epoch, f"epoch {epoch:>{len(str(args.epochs))}}  {metrics}", metrics)
    finally:
        bar.close()
    return losses, step.source


def predictions(net: ArticleNet) -> np.ndarray:
    """The network's outputs for the four XOR inputs, shape (4,)."""
    with gs.no_grad():
        return net(gs.tensor(X)).numpy()[:, 0]


def predictions_text(outputs: np.ndarray) -> str:
    lines = ["x1  x2  target  prediction"]
    for (a, b), t, y in zip(X, T[:, 0], outputs):
        lines.append(f"{a:2.0f}  {b:2.0f}  {t:6.0f}  {y:10.4f}")
    return "\n".join(lines)


def loss_curve(losses: list[float]) -> dict:
    """{'loss.png': bytes}, or {'loss.csv': bytes} when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        rows = "".join(f"{i},{v!r}\n" for i, v in enumerate(losses, 1))
        print("matplotlib is not installed: writing loss.csv instead of loss.png")
        return {"loss.csv": ("epoch,loss\n" + rows).encode("utf-8")}
    import io

    fig = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.semilogy(np.arange(1, len(losses) + 1), losses)
    ax.set(xlabel="epoch", ylabel="loss L = 1/(2n) Σ (y - ŷ)²", title="XOR, 2-4-1 sigmoid")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return {"loss.png": buf.getvalue()}
