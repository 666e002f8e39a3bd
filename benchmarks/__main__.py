"""``python -m benchmarks``: run the workloads, print tables, write JSON/Markdown/plots.

python -m benchmarks                      # full run (about 5 minutes on 2 cores)
python -m benchmarks --quick              # under a minute (no 100k rows, no micrograd)
python -m benchmarks --only xor,chain_3k --peers numpy,gradsight,torch
python -m benchmarks --json benchmarks/results/full.json --markdown docs/performance.md
python -m benchmarks --plot bars.png --scaling scaling.png
python -m benchmarks --profile mlp_784    # cProfile of gradsight's step
python -m benchmarks --breakdown xor      # gradsight's time per phase of a step
python -m benchmarks --render benchmarks/results/full.json --markdown docs/performance.md
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("gradsight") is None:  # running from a checkout, not installed
    sys.path.insert(0, str(REPO / "src"))

from benchmarks import peers as peer_registry  # noqa: E402
from benchmarks import report  # noqa: E402
from benchmarks.harness import Settings, fmt_time, memory_probe, run_workload  # noqa: E402
from benchmarks.workloads import BY_NAME, WORKLOADS  # noqa: E402


def _names(text: str | None, known, what: str) -> list:
    if text is None:
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def _read_results(path: Path, flag: str) -> dict:
    """A saved run's JSON, or exit naming the flag, the file and what is wrong."""
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise SystemExit(f"{flag} {path}: cannot read it ({err.strerror})") from None
    except ValueError as err:
        raise SystemExit(f"{flag} {path}: not JSON ({err})") from None
    if not isinstance(data, dict) or not {"meta", "workloads"} <= data.keys():
        raise SystemExit(f"{flag} {path}: not a benchmark run (no 'meta' and 'workloads')")
    return data


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer samples, finishes in < 1 minute")
    p.add_argument("--only", metavar="NAMES", help="comma-separated workloads (see --list)")
    p.add_argument("--peers", metavar="KEYS", help="comma-separated peers (see --list)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--json", metavar="PATH", type=Path, help="write all results as JSON")
    p.add_argument("--plot", metavar="PATH", type=Path, help="bar chart of medians (matplotlib)")
    p.add_argument(
        "--markdown",
        metavar="PATH",
        type=Path,
        help="write the tables into PATH (between its markers, if it has them)",
    )
    p.add_argument(
        "--scaling",
        metavar="PATH",
        type=Path,
        help="also sweep graph size and tensor size; plot to PATH",
    )
    p.add_argument(
        "--render",
        metavar="JSON",
        type=Path,
        help="re-render tables/plots from a saved JSON instead of measuring",
    )
    p.add_argument(
        "--baseline",
        metavar="JSON",
        type=Path,
        action="append",
        default=[],
        help="add a before/after table against an earlier run's JSON (repeatable)",
    )
    p.add_argument("--label", help="a name for this run (shown in before/after tables)")
    p.add_argument(
        "--wait-idle",
        metavar="SECONDS",
        type=float,
        default=0.0,
        help="first wait up to SECONDS for the 1-minute load average to fall below 0.5",
    )
    p.add_argument("--profile", metavar="NAME", help="cProfile one peer's step on a workload")
    p.add_argument("--profile-peer", default="gradsight", metavar="KEY")
    p.add_argument("--breakdown", metavar="NAME", help="gradsight's time per phase of a step")
    p.add_argument("--list", action="store_true", help="list workloads and peers")
    p.add_argument("--memory-probe", nargs=2, metavar=("NAME", "KEY"), help=argparse.SUPPRESS)
    p.add_argument("--memory-steps", type=int, default=3, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def profile(name: str, key: str, steps: int = 20) -> None:
    """Print the top functions of ``steps`` steps of ``key`` on workload ``name``."""
    import cProfile
    import pstats

    from benchmarks.workloads import make_data

    w = BY_NAME[name]
    runner = peer_registry.load(key).build(w, make_data(w))
    runner.step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        runner.step()
    prof.disable()
    print(f"cProfile of {steps} steps of {key} on {name} ({w.title}):")
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def wait_idle(limit_s: float, threshold: float = 0.5) -> None:
    """Sleep until the 1-minute load average is below ``threshold`` (at most ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        print(f"waiting for an idle machine: load average {os.getloadavg()[0]:.2f}", flush=True)
        time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))


def measure(args) -> dict:
    names = _names(args.only, BY_NAME, "workloads")
    keys = _names(args.peers, peer_registry.PEERS, "peers")
    keys = [k for k in keys if peer_registry.available(k)]
    settings = Settings.for_mode(args.quick)
    settings.memory = not args.no_memory
    results = {"meta": report.machine_info(keys), "workloads": [], "scaling": None}
    results["meta"]["quick"] = args.quick
    results["meta"]["label"] = args.label
    results["meta"]["loadavg_start"] = os.getloadavg()
    if os.getloadavg()[0] > 0.5:
        print(f"note: load average {os.getloadavg()[0]:.2f}; other work will add noise")
    start = time.perf_counter()
    for w in WORKLOADS:
        if w.name not in names or (args.quick and not w.in_quick and args.only is None):
            continue
        chosen = [k for k in keys if k in w.peers_for(args.quick)]
        results["workloads"].append(run_workload(w, chosen, settings))
        gc.collect()
    if args.scaling:
        from benchmarks.scaling import PEERS, run_scaling

        results["scaling"] = run_scaling([k for k in PEERS if k in keys], quick=args.quick)
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["seconds"] = round(time.perf_counter() - start, 1)
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe, steps=args.memory_steps)))
        return 0
    if args.list:
        for w in WORKLOADS:
            print(f"{w.name:<12} {w.title}  [{', '.join(w.peers)}]")
        print(
            "peers:",
            ", ".join(
                f"{k}{'' if peer_registry.available(k) else ' (missing)'}"
                for k in peer_registry.PEERS
            ),
        )
        return 0
    if args.breakdown:
        from benchmarks.breakdown import breakdown

        w = BY_NAME[_names(args.breakdown, BY_NAME, "workloads")[0]]
        phases = breakdown(w)
        total, total_off = (sum(p[i] for p in phases) for i in (1, 2))
        unit = f"µs per op of {w.count:,}" if w.count else "µs"
        scale = 1e6 / w.count if w.count else 1e6
        print(f"gradsight, {w.title}: {fmt_time(total)} per step; phases in {unit}")
        print(f"  {'phase':<15} {'collector on':>12} {'share':>7} {'off':>10}")
        for name, t, t_off in phases:
            print(f"  {name:<15} {t * scale:12.2f} {t / total:7.1%} {t_off * scale:10.2f}")
        print(f"  {'step':<15} {total * scale:12.2f} {'':>7} {total_off * scale:10.2f}")
        return 0
    if args.profile:
        profile(_names(args.profile, BY_NAME, "workloads")[0], args.profile_peer)
        return 0
    baselines = [_read_results(path, "--baseline") for path in args.baseline]  # before measuring
    rendered = _read_results(args.render, "--render") if args.render else None
    if args.wait_idle and not args.render:
        wait_idle(args.wait_idle)
    results = rendered if rendered is not None else measure(args)
    text = report.markdown(results)
    for baseline in baselines:
        text += "\n" + report.baseline_markdown(results, baseline)
    print()
    print(text)
    if args.json:
        report.write_json(results, args.json)
    if args.markdown:
        report.update_markdown(args.markdown, text)
    if args.plot:
        report.bar_chart(results, args.plot)
    if args.scaling and results.get("scaling"):
        report.scaling_plot(results["scaling"], args.scaling)
    if "seconds" in results["meta"]:
        print(f"measured in {results['meta']['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
