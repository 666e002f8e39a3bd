"""``python -m benchmarks.data``: the data row, reading a CSV and one epoch of training.

python -m benchmarks.data                 # 10^5 and 10^6 rows (a few minutes on 2 cores)
python -m benchmarks.data --full          # also 5 * 10^6 rows
python -m benchmarks.data --sizes 500000,5000000 --json benchmarks/results/data.json \
    --markdown docs/performance.md
python -m benchmarks.data --render benchmarks/results/data.json --markdown docs/performance.md

For each size a CSV of 11 numeric columns (10 features, a target; about
100 bytes a row) is generated in a temporary folder and deleted afterwards.
Each measurement runs in a fresh interpreter so its peak RSS is its own:

- read: ``gradsight train``'s reader (``cli.data.load``), and ``np.loadtxt``
  on the same file; seconds, rows per second, peak RSS growth over the RSS
  after imports, and that growth divided by the size of the (n, 10) float64
  feature array;
- one epoch: a 10-16-16-1 tanh MLP, Adam, batch 32, on 80 % of the rows,
  mini-batches drawn by index from one array: ``gradsight train``'s own
  loop (``--epochs 1``; the per-epoch metrics are timed apart and left out)
  and the same loop in PyTorch eager (float64 like gradsight, one thread:
  on 16-wide layers more threads only add synchronisation).

Growth ratios compare each size with the previous one: for linear growth
they equal the ratio of the row counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARK_START = "<!-- data-row:start -->"
MARK_END = "<!-- data-row:end -->"
# The reader's targets: its time over np.loadtxt's on the same file, and its peak RSS
# growth over the size of the (n, 10) float64 feature array it returns.
READ_TIME_LIMIT = 2.0
READ_MEMORY_LIMIT = 3.0


def generate(path: Path, n: int, seed: int = 0, block: int = 200_000) -> None:
    """n rows of 10 normal features and y = X w + noise, 6 significant digits."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w = rng.normal(size=10)
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(10)] + ["y"]) + "\n")
        for start in range(0, n, block):
            X = rng.normal(size=(min(block, n - start), 10))
            y = X @ w + rng.normal(0, 0.1, len(X))
            np.savetxt(f, np.column_stack([X, y]), delimiter=",", fmt="%.6g")


# ---------------------------------------------------------------- probes (fresh processes)
def probe(kind: str, path: str) -> dict:
    """Run one measurement in this process; returns seconds and memory in MiB."""
    import time

    import numpy as np

    from benchmarks.harness import peak_rss_bytes, rss_bytes

    if kind == "gradsight":
        from gradsight.cli import data as datasets
    elif kind == "torch":
        import torch  # noqa: F401
    base = rss_bytes()
    start = time.perf_counter()
    if kind == "gradsight":
        X = datasets.load(path, "y").X
    elif kind == "loadtxt":
        X = np.loadtxt(path, delimiter=",", skiprows=1)[:, :10]
    else:
        return torch_epoch(path)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    return {
        "seconds": seconds,
        "rows": len(X),
        "growth_mib": (peak - base) / 2**20,
        "features_mib": len(X) * 10 * 8 / 2**20,
    }


def torch_epoch(path: str) -> dict:
    """One epoch of the same loop in PyTorch eager, on the same rows (float64)."""
    import time

    import numpy as np
    import torch

    from gradsight.cli import data as datasets

    torch.set_num_threads(1)  # tiny matrices: threads only add synchronisation
    data = datasets.load(path, "y")
    X = (data.X - data.X.mean(0)) / data.X.std(0)
    y = np.concatenate(data.target.parts)
    y = (y - y.mean()) / y.std()
    n_train = len(X) - int(len(X) * 0.2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).reshape(-1, 1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(),
        torch.nn.Linear(16, 1),
    ).double()  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    order = torch.from_numpy(np.random.default_rng(1).permutation(n_train))
    start = time.perf_counter()
    for k in range(0, n_train, 32):
        rows = order[k : k + 32]
        loss = torch.nn.functional.mse_loss(net(Xt[rows]), yt[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": n_train, "threads": torch.get_num_threads()}


def run_probe(kind: str, path: Path) -> dict:
    env_path = f"{REPO}:{REPO / 'src'}"
    cmd = [sys.executable, "-m", "benchmarks.data", "--probe", kind, str(path)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": env_path, "PATH": ""}
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gradsight_epoch(path: Path) -> dict:
    """``gradsight train --epochs 1``: its own report of the epoch's steps."""
    cmd = [sys.executable, "-m", "gradsight", "train", str(path), "--target", "y",
           "--task", "regress", "--epochs", "1", "--layers", "16,16", "-q"]  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src")}
    )
    m = re.search(r"trained 1 epoch x ([\d,]+) rows in ([\d.]+) s", proc.stdout)
    if proc.returncode != 0 or not m:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return {"seconds": float(m.group(2)), "rows": int(m.group(1).replace(",", ""))}


# ---------------------------------------------------------------- the run
def run_meta() -> dict:
    """Date, CPU, platform, Python and load of this run, recorded with its results."""
    import datetime
    import os
    import platform

    from benchmarks.report import _cpu_model

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg_start": os.getloadavg(),
    }


def measure(sizes: list[int], with_torch: bool) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="gradsight-data-bench-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"rows_{n}.csv"
            generate(path, n)
            row = {"n": n, "mib": path.stat().st_size / 2**20}
            row["gradsight"] = run_probe("gradsight", path)
            row["loadtxt"] = run_probe("loadtxt", path)
            row["epoch"] = gradsight_epoch(path)
            row["torch"] = run_probe("torch", path) if with_torch else {"error": "no torch"}
            print(json.dumps(row), flush=True)
            path.unlink()
            rows.append(row)
    return rows


def _fmt(x, spec: str, unit: str = "") -> str:
    return "—" if x is None else format(x, spec) + unit


def _get(r: dict, k: str, f: str):
    return r[k].get(f) if isinstance(r.get(k), dict) else None


def header(meta: dict | None) -> str:
    """Where and when the run was measured, as its results file records it."""
    if not meta:
        return "The results file records no machine or date for this run."
    load = meta.get("loadavg_start")
    return (
        f"Run of {meta.get('date', '?')} on {meta.get('cpu', '?')}, "
        f"{meta.get('cpus_usable', '?')} usable CPUs, {meta.get('platform', '?')}; "
        f"Python {meta.get('python', '?')}"
        + (f"; load average (1 min) at start {load[0]:.2f}" if load else "")
        + "."
    )


def targets(rows: list[dict]) -> list[str]:
    """One line per size: the reader's time and memory against their limits."""
    out = []
    for r in rows:
        g, lt = _get(r, "gradsight", "seconds"), _get(r, "loadtxt", "seconds")
        gm, feat = _get(r, "gradsight", "growth_mib"), _get(r, "gradsight", "features_mib")
        parts = []
        for what, value, limit in (
            ("time", g / lt if g and lt else None, READ_TIME_LIMIT),
            ("peak RSS growth", gm / feat if gm and feat else None, READ_MEMORY_LIMIT),
        ):
            verdict = "not measured" if value is None else "met" if value <= limit else "missed"
            measured = "–" if value is None else f"{value:.2f}x"
            parts.append(f"{what} {measured} (limit {limit:.1f}x): {verdict}")
        out.append(f"- {r['n']:,} rows: " + "; ".join(parts))
    return out


def markdown(rows: list[dict], note: str = "", meta: dict | None = None) -> str:
    get = _get
    out = [
        header(meta),
        "",
        "| rows | CSV | read: gradsight | np.loadtxt | time ratio | gradsight peak RSS "
        "growth / feature array | np.loadtxt's | epoch: gradsight | PyTorch | rows/s gradsight |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        g, lt = get(r, "gradsight", "seconds"), get(r, "loadtxt", "seconds")
        feat = get(r, "gradsight", "features_mib")
        gm, lm = get(r, "gradsight", "growth_mib"), get(r, "loadtxt", "growth_mib")
        e, t = get(r, "epoch", "seconds"), get(r, "torch", "seconds")
        er = get(r, "epoch", "rows")
        out.append(
            f"| {r['n']:,} | {r['mib']:.0f} MiB | {_fmt(g, '.2f', ' s')} | "
            f"{_fmt(lt, '.2f', ' s')} | {_fmt(g / lt if g and lt else None, '.2f', 'x')} | "
            f"{_fmt(gm, '.0f', ' MiB')} = {_fmt(gm / feat if gm and feat else None, '.2f', 'x')} | "
            f"{_fmt(lm / feat if lm and feat else None, '.2f', 'x')} | {_fmt(e, '.2f', ' s')} | "
            f"{_fmt(t, '.2f', ' s')} | {_fmt(er / e if e and er else None, ',.0f')} |"
        )
    out.append("")
    for a, b in zip(rows, rows[1:]):
        parts = []
        for label, k in (("read", "gradsight"), ("np.loadtxt", "loadtxt"), ("epoch", "epoch")):
            x, y = get(a, k, "seconds"), get(b, k, "seconds")
            if x and y:
                parts.append(f"{label} {y / x:.1f}x")
        gm_a, gm_b = get(a, "gradsight", "growth_mib"), get(b, "gradsight", "growth_mib")
        if gm_a and gm_b:
            parts.append(f"read memory {gm_b / gm_a:.1f}x")
        out.append(f"- {a['n']:,} -> {b['n']:,} rows ({b['n'] / a['n']:.0f}x): " + ", ".join(parts))
    out += ["", "Targets of the reader (time over np.loadtxt's, memory over the feature array):"]
    out += targets(rows)
    if note:
        out += ["", note]
    return "\n".join(out) + "\n"


def update_markdown(path: Path, text: str) -> None:
    """Put ``text`` between the data-row markers of ``path`` (appended if absent)."""
    doc = path.read_text() if path.exists() else ""
    block = f"{MARK_START}\n{text}{MARK_END}"
    if MARK_START in doc and MARK_END in doc:
        head, rest = doc.split(MARK_START, 1)
        doc = head + block + rest.split(MARK_END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.data", description=__doc__.split("\n")[0]
    )
    p.add_argument("--full", action="store_true", help="add 5,000,000 rows")
    p.add_argument("--sizes", help="comma-separated row counts instead of the defaults")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch's epoch")
    p.add_argument("--json", type=Path, help="write the measurements here")
    p.add_argument("--markdown", type=Path, help="write the table between the data-row markers")
    p.add_argument("--render", type=Path, help="re-render a --json file instead of measuring")
    p.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(*args.probe)))
        return 0
    meta = None
    if args.render:
        saved = json.loads(args.render.read_text())
        rows, meta = saved["rows"], saved.get("meta")
    else:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [100_000, 1_000_000]
        if args.full and not args.sizes:
            sizes.append(5_000_000)
        with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
        meta = run_meta()
        rows = measure(sizes, with_torch)
    text = markdown(rows, meta=meta)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    if args.markdown:
        update_markdown(args.markdown, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
