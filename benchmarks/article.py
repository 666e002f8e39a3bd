"""``python -m benchmarks.article``: the article's training step, gs.trace beside NumPy by hand.

python -m benchmarks.article                         # measure, print the table
python -m benchmarks.article --only article_xor --no-instructions
python -m benchmarks.article --json benchmarks/results/article.json --markdown docs/performance.md
python -m benchmarks.article --render benchmarks/results/article.json --markdown docs/performance.md

The rows (workloads.ARTICLE) are the step as the article writes it:
``gs.nn.MLP(sizes, activation="sigmoid", output_activation="sigmoid")``, the loss
``((y - t) ** 2).sum() / (2 * n)``, ``gs.optim.SGD`` without momentum, then
``zero_grad()``, ``backward()``, ``step()``; traced with ``gs.trace(step,
verify=False)`` and replayed. Beside it, the same math written by hand in NumPy
(benchmarks/peers/numpy_hand.py). For each row:

- **time**: both peers checked against each other (harness.build_and_check), then
  interleaved rounds in one process (harness.time_peers: each round one sample per
  peer, the order rotating); the ratio of the medians and its 95% bootstrap interval
  over rounds (report.ratio_interval). Wall-clock time: on a shared machine, noisy.
- **instructions**: per step, counted by valgrind (cachegrind) in a fresh
  interpreter as the difference between runs of N and 2N steps (start-up and
  tracing cancel out), with one BLAS thread, fixed hashing and no address
  randomisation, as ``benchmarks.interleaved --instructions`` counts them. A
  figure that other work on the machine does not move.
- **NumPy calls**: per step, counted by running each side once on arrays of an
  ndarray subclass that counts every ufunc call (operators, ``out=`` forms and
  reductions such as ``.sum()`` included) and every NumPy function given an array,
  plus ``copy``/``astype``. Views (``W.T``) and allocations with no array operand
  are not calls here. The traced side runs ``traced.source`` (the program as a
  module); the hand side runs its step.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MARK_START = "<!-- article-rows:start -->"
MARK_END = "<!-- article-rows:end -->"
HAND, TRACED = "numpy", "gradsight_traced"
# traced replay / NumPy by hand, median time per step (issue targets)
TARGETS = {"article_xor": 1.2, "article_small": 1.1, "article_784": 1.05, "article_1024": 1.05}
# steps per instruction count (N; the count also runs 2N)
COUNT_STEPS = {"article_xor": 200, "article_small": 50, "article_784": 6, "article_1024": 2}


# ---------------------------------------------------------------- counting NumPy calls
class _Calls:
    count = 0
    depth = 0


def _plain(x):
    if isinstance(x, _Counted):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _counted(x):
    if type(x) is np.ndarray:
        return x.view(_Counted)
    if isinstance(x, tuple):
        return tuple(_counted(v) for v in x)
    return x


class _Counted(np.ndarray):
    """An ndarray that counts the NumPy calls made on it (one per call, however NumPy
    implements it inside: the call runs on plain arrays)."""

    def _call(self, fn, args, kwargs):
        _Calls.count += _Calls.depth == 0
        _Calls.depth += 1
        try:
            result = fn(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        finally:
            _Calls.depth -= 1
        given = kwargs.get("out")
        if given is not None:  # written in place: hand back the caller's (counted) arrays
            return given[0] if isinstance(given, tuple) and len(given) == 1 else given
        return _counted(result)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return self._call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return self._call(func, args, kwargs)

    def copy(self, *args, **kwargs):
        _Calls.count += _Calls.depth == 0
        return _counted(self.view(np.ndarray).copy(*args, **kwargs))

    def astype(self, *args, **kwargs):
        _Calls.count += _Calls.depth == 0
        return _counted(self.view(np.ndarray).astype(*args, **kwargs))


def _count(fn) -> int:
    _Calls.count = 0
    fn()
    return _Calls.count


def _traced_parts(w, data: dict):
    """The article's step, written out, and gs.trace of it (as the gradsight_traced peer)."""
    import gradsight as gs
    from benchmarks.peers.gradsight_impl import mlp_parts

    model, x, t, loss_fn, opt = mlp_parts(w, data)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        return loss

    return model, x, t, gs.trace(step, verify=False)


def numpy_calls(w) -> dict:
    """NumPy calls per step: {"hand": n, "traced": n} (see the module docstring)."""
    from benchmarks.peers import numpy_hand
    from benchmarks.workloads import make_data
    from gradsight.tracing.codegen import identifier

    data = make_data(w)
    counted = {
        "x": data["x"].view(_Counted),
        "y": data["y"].view(_Counted),
        "params": [p.view(_Counted) for p in data["params"]],
    }
    hand = numpy_hand.build(w, counted)
    hand.step()  # the first step: nothing lazily made is counted
    hand_calls = _count(hand.step)

    model, x, t, traced = _traced_parts(w, make_data(w))
    traced()
    traced()  # traced, then replayed: the program of a replay is counted
    ns: dict = {}
    exec(compile(traced.source, "<traced.source>", "exec"), ns)  # noqa: S102 - gradsight's
    arrays = {"x": x.numpy(), "t": t.numpy()}  # the step reads x and t from its closure
    arrays.update({identifier(n): p.numpy() for n, p in model.named_parameters()})
    # (the options, own= and held=, keep their defaults: the same calls, new arrays)
    wanted = [
        n for n, p in inspect.signature(ns["step"]).parameters.items() if p.default is p.empty
    ]
    missing = [n for n in wanted if n not in arrays]
    if missing:
        raise SystemExit(f"{w.name}: the program takes {missing}, not known here")
    given = {n: arrays[n].copy().view(_Counted) for n in wanted}
    return {"hand": hand_calls, "traced": _count(lambda: ns["step"](**given))}


# ---------------------------------------------------------------- instructions
def _probe(name: str, peer: str, steps: int) -> None:
    """Child process: build ``peer`` on workload ``name``, run 2 + ``steps`` steps."""
    from benchmarks.peers import load
    from benchmarks.workloads import BY_NAME, make_data

    w = BY_NAME[name]
    runner = load(peer).build(w, make_data(w))
    runner.step()  # (the traced peer traces here)
    runner.step()
    for _ in range(steps):
        runner.step()


def _instructions_of(name: str, peer: str, steps: int) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["MKL_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    wrap = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    if shutil.which("setarch"):  # the same addresses every run (NumPy's loops peel by alignment)
        wrap = ["setarch", platform.machine(), "-R", *wrap]
    cmd = [*wrap, sys.executable, "-m", "benchmarks.article", "--probe", name, peer, str(steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    match = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode or match is None:
        raise SystemExit(f"no instruction count for {name} / {peer}:\n{proc.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def instructions(name: str, peer: str, steps: int) -> float:
    """Instructions per step: the count of 2N steps minus that of N, over N."""
    return (_instructions_of(name, peer, 2 * steps) - _instructions_of(name, peer, steps)) / steps


# ---------------------------------------------------------------- measuring
def measure_row(w, with_instructions: bool = True, log=print) -> dict:
    from benchmarks import harness, report

    runners, results = harness.build_and_check(w, (HAND, TRACED))
    errors = {k: r.error for k, r in results.items() if r.error}
    if errors:
        raise SystemExit(f"{w.name}: {errors}")
    log(f"{w.name}: {w.title}")
    harness.time_peers(w, runners, results, harness.Settings(memory=False), log=log)
    row = {
        "name": w.name,
        "title": w.title,
        "n_ops": 0,
        "peers": {k: r.to_json() for k, r in results.items()},
    }
    row["ratio"] = report.ratio(row, TRACED, HAND)
    row["interval"] = report.ratio_interval(row, TRACED, HAND)
    row["target"] = TARGETS.get(w.name)
    row["numpy_calls"] = numpy_calls(w)
    if with_instructions:
        steps = COUNT_STEPS.get(w.name, 10)
        per = {k: instructions(w.name, k, steps) for k in (HAND, TRACED)}
        row["instructions"] = {**per, "steps": steps, "ratio": per[TRACED] / per[HAND]}
    log(f"  traced / hand {row['ratio']:.3f} {row['interval']}, calls {row['numpy_calls']}")
    if with_instructions:
        log(f"  instructions {row['instructions']}")
    return row


def measure(names: list, with_instructions: bool = True, skip: tuple = ()) -> dict:
    from benchmarks import report
    from benchmarks.workloads import BY_NAME

    meta = report.machine_info((HAND, TRACED))
    meta["loadavg_start"] = list(os.getloadavg())
    rows = [measure_row(BY_NAME[n], with_instructions and n not in skip) for n in names]
    meta["loadavg_end"] = list(os.getloadavg())
    return {"meta": meta, "rows": rows}


# ---------------------------------------------------------------- rendering
def _x(r) -> str:
    return "–" if r is None else f"{r:.2f}×"


def _threads(meta: dict) -> str:
    env = meta.get("env") or {}
    if not env:
        return "BLAS threads: the library's default"
    return ", ".join(f"{k}={v}" for k, v in sorted(env.items()))


def markdown(saved: dict) -> str:
    """The rows as a table, under a line naming the run's machine."""
    from benchmarks.harness import fmt_time
    from benchmarks.report import verdict

    meta = saved["meta"]
    load = " / ".join(f"{meta[k][0]:.2f}" for k in ("loadavg_start", "loadavg_end"))
    lines = [
        f"Run of {meta['date']} on {meta['cpu']}, {meta['cpus_usable']} usable CPUs, "
        f"{meta['platform']}; Python {meta['python']}, NumPy {meta['versions'][HAND]}, "
        f"BLAS {meta['numpy_blas']}; {_threads(meta)}; load average (1 min) at start / end: "
        f"{load}.",
        "",
        "| step | NumPy by hand | traced replay | traced / hand (median) | 95% interval "
        "| rounds | target | verdict | instructions per step: hand / traced | "
        "instructions: traced / hand | NumPy calls per step: hand / traced |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in saved["rows"]:
        hand, traced = row["peers"][HAND], row["peers"][TRACED]
        interval = row.get("interval")
        ins = row.get("instructions")
        calls = row["numpy_calls"]
        limit = row.get("target")
        lines.append(
            "| "
            + " | ".join(
                [
                    row["title"],
                    fmt_time(hand["median_s"]),
                    fmt_time(traced["median_s"]),
                    _x(row["ratio"]),
                    "–" if interval is None else f"{interval[0]:.2f}–{interval[1]:.2f}",
                    str(min(hand["samples"], traced["samples"])),
                    "–" if limit is None else f"≤ {limit:.2f}×",
                    "–" if limit is None else verdict(row["ratio"], limit, interval),
                    "–" if ins is None else f"{ins[HAND]:,.0f} / {ins[TRACED]:,.0f}",
                    "–" if ins is None else _x(ins["ratio"]),
                    f"{calls['hand']} / {calls['traced']}",
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def update_markdown(path: Path, text: str) -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{MARK_START}\n{text}{MARK_END}"
    if MARK_START in doc and MARK_END in doc:
        head, rest = doc.split(MARK_START, 1)
        doc = head + block + rest.split(MARK_END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def main(argv=None) -> int:
    from benchmarks.workloads import ARTICLE

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.article", description=__doc__.split("\n")[0]
    )
    p.add_argument("--only", help="comma-separated rows (default: all)")
    p.add_argument("--no-instructions", action="store_true", help="skip the valgrind counts")
    p.add_argument(
        "--no-instructions-for", default="", help="rows (comma-separated) counted without valgrind"
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--markdown", type=Path, help="write the table between the page's markers")
    p.add_argument("--render", type=Path, help="render a saved results file, measure nothing")
    p.add_argument("--probe", nargs=3, metavar=("ROW", "PEER", "STEPS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        _probe(args.probe[0], args.probe[1], int(args.probe[2]))
        return 0
    if args.render:
        saved = json.loads(args.render.read_text())
    else:
        known = [w.name for w in ARTICLE]
        names = args.only.split(",") if args.only else known
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"unknown rows {unknown}; known: {', '.join(known)}")
        skip = tuple(filter(None, args.no_instructions_for.split(",")))
        saved = measure(names, not args.no_instructions, skip)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(saved, indent=1) + "\n")
    text = markdown(saved)
    print(text)
    if args.markdown:
        update_markdown(args.markdown, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
