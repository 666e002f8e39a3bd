"""``gradsight check``: the article's network, hand-derived gradients vs autograd.

Exit code 0 when every gradient agrees within the tolerances, 1 when one does not.
"""

from __future__ import annotations

import argparse

import numpy as np

import gradsight as gs

from . import options as opt
from .errors import EXIT_MISMATCH, CliError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
NAMES = ("W", "b", "V", "c")
FILE_TOL = (1e-8, 1e-5)  # gs.check's defaults: a user's own code
ARTICLE_TOL = (1e-10, 1e-7)  # the article's formulas agree with autograd to rounding
EXAMPLES = """\
examples:
  gradsight check                                  # the article's 2-4-1 network on XOR
  gradsight check --sizes 5,16,3 --batch 32 --activation tanh
  gradsight check --break V                        # what a wrong formula looks like (exit 1)
  gradsight check --file my_net.py                 # your NumPy forward/backward, unchanged

--file: the file defines forward(params, *data), backward(params, *data),
init_params() and make_data() in plain NumPy (see docs/check.md).

Manual: gs.reference.backward (the article's formulas, corrected; NumPy only).
Automatic: the same network as gs.nn.MLP, loss.backward().
Loss: L = 1/(2n) Σ (y - ŷ)² over the batch. W is (hidden, input), V (output, hidden).
"""


def add_parser(sub, parents) -> None:
    p = sub.add_parser(
        "check",
        parents=parents,
        help="check hand-written gradients: your NumPy file (--file) or the article's network",
        description="Check hand-written gradients against autograd's: your own NumPy\n"
        "forward/backward with --file, else the article's hand-derived gradients\n"
        "(gs.reference) for a 2-layer network of any size; exit code 1 on a mismatch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        type=opt.all_layers,
        default=[2, 4, 1],
        metavar="D,Q,M",
        help="inputs, hidden units, outputs (default 2,4,1)",
    )
    p.add_argument("--batch", type=opt.positive_int, default=4, help="samples (default 4)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid", help="hidden f")
    p.add_argument("--output-activation", choices=ACTIVATIONS, default="sigmoid", help="output g")
    p.add_argument("--seed", type=opt.seed, default=0, help="weights and random data")
    p.add_argument(
        "--atol",
        type=opt.non_negative_float,
        default=None,
        help=f"absolute tolerance (default {FILE_TOL[0]:g} with --file, as gs.check; "
        f"{ARTICLE_TOL[0]:g} for the article's network)",
    )
    p.add_argument(
        "--rtol",
        type=opt.non_negative_float,
        default=None,
        help=f"relative tolerance (default {FILE_TOL[1]:g} with --file; {ARTICLE_TOL[1]:g} "
        "for the article's network)",
    )
    p.add_argument(
        "--break",
        dest="broken",
        choices=NAMES,
        help="flip the sign of one manual gradient, to see a failing check",
    )
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument(
        "--file",
        metavar="PY",
        help="check your own NumPy forward/backward (exit 1 mismatch, 2 bad file)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    default = FILE_TOL if getattr(args, "file", None) else ARTICLE_TOL
    args.atol = default[0] if args.atol is None else args.atol
    args.rtol = default[1] if args.rtol is None else args.rtol
    if getattr(args, "file", None):
        from .check_file import run_file

        if args.broken:
            raise CliError("--break applies to the article's network; it cannot go with --file")
        return run_file(args)
    if len(args.sizes) != 3:
        raise CliError(
            f"--sizes {','.join(map(str, args.sizes))}: the article's network has exactly "
            "3 sizes (inputs, hidden units, outputs), e.g. 2,4,1"
        )
    opt.check_model_size(args.sizes)
    params, X, T = problem(args.sizes, args.batch, args.seed)
    f, g = args.activation, args.output_activation
    manual = manual_gradients(params, X, T, f, g)
    if args.broken:
        manual[args.broken] = -manual[args.broken]
    auto = autograd_gradients(params, X, T, f, g)
    report = compare(manual, auto, args.atol, args.rtol)
    d, q, m = args.sizes
    print(
        f"network {d}-{q}-{m} ({f} hidden, {g} output), batch {args.batch}, seed {args.seed}; "
        f"data: {'XOR' if _is_xor(args) else 'random'}; atol {args.atol:g}, rtol {args.rtol:g}"
        + (f"; the manual gradient of {args.broken} has its sign flipped" if args.broken else "")
    )
    print(report.to_markdown() if args.markdown else report.to_text())
    if report.ok:
        print(f"OK: all {len(NAMES)} gradients agree (atol {args.atol:g}, rtol {args.rtol:g})")
        return 0
    bad = ", ".join(report.mismatched_names)
    print(f"MISMATCH: {bad} (atol {args.atol:g}, rtol {args.rtol:g})")
    return EXIT_MISMATCH


def _is_xor(args) -> bool:
    return args.sizes == [2, 4, 1] and args.batch == 4


def problem(sizes, batch: int, seed: int):
    """Parameters (gs.reference's layout), inputs X (n, d) and targets T (n, m) in [0, 1]."""
    from gradsight import reference

    d, q, m = sizes
    params = reference.init_params(d, q, m, seed)
    if (d, q, m, batch) == (2, 4, 1, 4):
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return params, X, np.array([[0.0], [1.0], [1.0], [0.0]])
    rng = np.random.default_rng(seed + 1)
    return params, rng.normal(size=(batch, d)), rng.uniform(size=(batch, m))


def manual_gradients(params, X, T, f: str, g: str) -> dict:
    from gradsight import reference

    return dict(reference.backward(params, reference.forward(params, X, f, g), T, f, g))


def autograd_gradients(params, X, T, f: str, g: str) -> dict:
    """The same network as ``gs.nn.MLP([d, q, m], f, g)`` and the same loss, by autograd."""
    from gradsight.reference import MLP_NAMES as layer  # "W" -> "layers.0.weight", ...

    d, q, m = params["W"].shape[1], params["W"].shape[0], params["V"].shape[0]
    net = gs.nn.MLP([d, q, m], activation=f, output_activation=g)
    net.load_state_dict({layer[k]: params[k] for k in NAMES})
    y = net(gs.tensor(X))
    diff = y - T
    loss = (diff * diff).sum() * (0.5 / len(X))
    loss.backward()
    named = dict(net.named_parameters())
    return {k: named[layer[k]].grad.numpy() for k in NAMES}


def compare(manual: dict, auto: dict, atol: float, rtol: float):
    from gradsight.check import compare_gradients

    return compare_gradients(manual, auto, atol=atol, rtol=rtol)
