"""Measuring: correctness check, interleaved timing, peak memory per subprocess.

For each workload every selected peer gets its own fresh copy of the seeded
data (workloads.make_data) and builds a Runner. Then:

1. check: two steps per peer; the losses of both steps and the gradients of
   the second must agree with the NumPy-by-hand peer (the second loss depends
   on the first step's gradients and update). A peer that disagrees or raises
   is reported with the error and not timed.
2. time: a warm-up, then ``repeats`` rounds; in each round every peer takes
   one sample (``inner`` steps timed together, divided by ``inner``; ``inner``
   is calibrated so a sample lasts ~``sample_s``). The peer order rotates each
   round, so drift in the machine hits all peers alike and ratios come from one
   run; each sample's round is kept, so two peers' samples can be paired
   (report.ratio_interval). Before each sample the harness collects garbage,
   pauses ``settle_s`` and runs one untimed step (see ``_settle``). A peer whose samples add up past
   ``time_cap_s`` stops early (at least ``min_samples``). The garbage
   collector stays on during samples, as in real use, but everything alive
   before the rounds (all frameworks' modules, the built models) is moved out
   of its reach with ``gc.freeze()``: with torch, MyGrad and autograd imported
   the process holds ~220,000 tracked objects against ~25,000 for gradsight
   alone, and every full collection triggered by a peer that builds its graph
   from Python objects would traverse all of them. Frozen, each peer pays for
   collecting its own objects only.
3. memory: for each (workload, peer), a fresh ``python -m benchmarks
   --memory-probe`` process imports the framework, notes its RSS, builds the
   workload, runs 3 steps and reports peak RSS (VmHWM) minus that RSS.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import peers as peer_registry
from benchmarks.workloads import BY_NAME, Workload, make_data

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Settings:
    """How hard to measure; ``for_mode(quick=True)`` fits a run in under a minute."""

    quick: bool = False
    sample_s: float = 0.02
    warmup_s: float = 0.1
    time_cap_s: float = 12.0
    min_samples: int = 3
    settle_s: float = 0.1
    memory: bool = True
    memory_steps: int = 3
    memory_peers: tuple = ()  # () = every peer

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(
                quick=True,
                sample_s=0.005,
                warmup_s=0.02,
                time_cap_s=2.0,
                min_samples=2,
                settle_s=0.1,
                memory_peers=("numpy", "gradsight", "gradsight_traced"),
            )
        return cls()


@dataclass
class PeerResult:
    """One peer on one workload. Times are seconds per step."""

    peer: str
    times: list = field(default_factory=list)
    inner: int = 0
    losses: list = field(default_factory=list)
    error: str | None = None
    memory_mib: float | None = None
    memory_error: str | None = None
    trace_s: float | None = None  # gs.trace peer: the first (tracing) call
    rounds: list = field(default_factory=list)  # the round of each sample in ``times``

    @property
    def median(self) -> float | None:
        return float(np.median(self.times)) if self.times else None

    def to_json(self) -> dict:
        t = self.times
        return {
            "median_s": self.median,
            "min_s": min(t) if t else None,
            "max_s": max(t) if t else None,
            "samples": len(t),
            "inner": self.inner,
            "times_s": t,
            "losses": self.losses,
            "error": self.error,
            "memory_mib": self.memory_mib,
            "memory_error": self.memory_error,
            "trace_s": self.trace_s,
            "rounds": self.rounds,
        }


# ---------------------------------------------------------------- check
def tolerance(w: Workload) -> float:
    """Relative tolerance between peers: rounding only (sums in other orders).

    Gradients are compared relative to the largest entry of the reference's.
    Observed differences are below 1e-11 (float64) and 1e-6 (float32).
    """
    return 1e-9 if w.dtype == "float64" else 1e-5


def _describe(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= 160 else text[:157] + "..."


def compare(w: Workload, losses, grads, ref_losses, ref_grads) -> str | None:
    """Why (losses, grads) differ from the reference beyond tolerance, or None."""
    rtol = tolerance(w)
    for i, (a, b) in enumerate(zip(losses, ref_losses)):
        if not abs(a - b) <= rtol * max(abs(b), 1e-12):
            return f"mismatch: loss of step {i + 1} is {a!r}, the reference's {b!r}"
    if len(grads) != len(ref_grads):
        return f"mismatch: {len(grads)} gradients, the reference has {len(ref_grads)}"
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        g = np.asarray(g, dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if g.shape != r.shape:
            return f"mismatch: gradient {i} has shape {g.shape}, the reference's {r.shape}"
        scale = max(float(np.max(np.abs(r))), 1e-12) if r.size else 1.0
        err = float(np.max(np.abs(g - r))) if r.size else 0.0
        if err > rtol * scale:
            return f"mismatch: gradient {i} differs by {err:.3g} (scale {scale:.3g})"
    return None


def build_and_check(w: Workload, keys, steps: int = 2) -> tuple[dict, dict]:
    """Build every peer, run ``steps`` steps, compare with NumPy by hand (or,
    when it is not among ``keys``, with the first peer that ran).

    Returns (runners, results): runners only for peers that passed.
    """
    runners, results, grads = {}, {}, {}
    for key in keys:
        res = results[key] = PeerResult(key)
        try:
            runner = peer_registry.load(key).build(w, make_data(w))
            res.losses = [float(runner.step()) for _ in range(steps)]
            grads[key] = runner.grads()
            runners[key] = runner
            res.trace_s = (runner.info or {}).get("trace_s")
        except Exception as err:  # a peer's failure (RecursionError too) is a result
            res.error = _describe(err)
    ref = "numpy" if "numpy" in runners else next(iter(runners), None)
    for key in list(runners):
        why = compare(w, results[key].losses, grads[key], results[ref].losses, grads[ref])
        if why is not None:
            results[key].error = f"{why} ({ref} is the reference)"
            del runners[key]
    return runners, results


# ---------------------------------------------------------------- timing
def _sample(step, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        step()
    return (time.perf_counter() - t0) / inner


def _settle(seconds: float) -> None:
    """Collect garbage, then idle so the previous peer's worker threads go to sleep.

    BLAS and OpenMP pools spin for a while after each call; on a 2-core
    machine a spinning pool of one library slows the next library's threads,
    so peers would measure each other. After the pause the caller runs one
    untimed step (the first step after an idle pause is slow for every peer:
    PyTorch's mlp_784 step takes 2-6 ms instead of 1 ms), so each sample sees
    one framework running steadily, as in a program that uses only it.
    """
    gc.collect()
    if seconds > 0:
        time.sleep(seconds)


def _warm_up(step, seconds: float) -> float:
    """Run ``step`` for about ``seconds`` (at least once); return its fastest time."""
    times = [_sample(step, 1)]
    while sum(times) < seconds:
        times.append(_sample(step, 1))
    return min(times)


def time_peers(w: Workload, runners: dict, results: dict, s: Settings, log=print) -> None:
    """Interleaved timing of the checked runners; fills ``results[key].times``."""
    repeats = w.quick_repeats if s.quick else w.repeats
    keys = list(runners)
    for key in keys:
        t1 = _warm_up(runners[key].step, s.warmup_s)
        results[key].inner = max(1, min(10_000, round(s.sample_s / t1)))
    spent = dict.fromkeys(keys, 0.0)
    gc.collect()
    gc.freeze()  # see the module docstring: no peer pays for traversing another's heap
    try:
        _rounds(runners, results, repeats, spent, s)
    finally:
        gc.unfreeze()
    for key in keys:
        res = results[key]
        log(f"  {key:<10} {fmt_time(res.median)} median of {len(res.times)} x {res.inner}")


def _rounds(runners: dict, results: dict, repeats: int, spent: dict, s: Settings) -> None:
    """``repeats`` rounds, one sample per peer each, the order rotating by one."""
    keys = list(runners)
    for r in range(repeats):
        order = keys[r % len(keys) :] + keys[: r % len(keys)] if keys else []
        for key in order:
            res = results[key]
            if spent[key] > s.time_cap_s and len(res.times) >= s.min_samples:
                continue
            _settle(s.settle_s)
            runners[key].step()  # untimed: wakes this peer's threads and caches after the pause
            t = _sample(runners[key].step, res.inner)
            res.times.append(t)
            res.rounds.append(r)
            spent[key] += t * res.inner


def fmt_time(seconds: float | None) -> str:
    """48.1 µs, 2.140 ms, 1.18 s: three significant digits, unit by magnitude."""
    if seconds is None:
        return "-"
    unit, scale = next(
        (u, s) for u, s in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)) if seconds >= s or u == "µs"
    )
    value = seconds / scale
    digits = 3 if value < 10 else (1 if value < 100 else 0)
    return f"{value:.{digits}f} {unit}"


# ---------------------------------------------------------------- memory
def rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far.

    Linux: VmHWM of /proc/self/status, the high-water mark of this program's
    own memory. Not getrusage's ru_maxrss: Linux carries that across exec, so
    a child started by a big parent would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def memory_probe(name: str, key: str, steps: int = 3) -> dict:
    """In this (fresh) process: peak RSS of building and running ``steps`` steps,
    minus the RSS right after importing the framework. Returns MiB figures.

    The seeded data generator runs once at toy size before the baseline, so
    NumPy's lazily imported ``numpy.random`` (about 6 MiB) is not charged to
    the peers that would otherwise be the first to touch it.
    """
    w = BY_NAME[name]
    module = peer_registry.load(key)
    make_data(w.tiny())
    gc.collect()
    base = rss_bytes()
    runner = module.build(w, make_data(w))
    for _ in range(steps):
        runner.step()
    peak = peak_rss_bytes()
    return {"base_mib": base / 2**20, "peak_mib": peak / 2**20, "growth_mib": (peak - base) / 2**20}


def measure_memory(name: str, key: str, s: Settings, timeout: float = 300.0) -> dict:
    """Run ``memory_probe`` in a fresh interpreter; {"growth_mib": ...} or {"error": ...}."""
    env = dict(os.environ)
    paths = [str(REPO), str(REPO / "src"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    cmd = [sys.executable, "-m", "benchmarks", "--memory-probe", name, key]
    cmd += ["--memory-steps", str(s.memory_steps)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:160]}
    return json.loads(lines[-1])


# ---------------------------------------------------------------- one workload
def run_workload(w: Workload, keys, s: Settings, log=print) -> dict:
    """Check, time and (optionally) measure memory of ``w`` for the peers ``keys``."""
    log(f"{w.name}: {w.title}")
    runners, results = build_and_check(w, keys)
    for key, res in results.items():
        if res.error:
            log(f"  {key:<10} not timed: {res.error}")
    time_peers(w, runners, results, s, log)
    del runners
    gc.collect()
    do_memory = s.memory and (w.quick_memory if s.quick else w.memory)
    if do_memory:
        for key, res in results.items():
            if res.error or (s.memory_peers and key not in s.memory_peers):
                continue
            m = measure_memory(w.name, key, s)
            res.memory_mib = m.get("growth_mib")
            res.memory_error = m.get("error")
            shown = f"{res.memory_mib:.1f} MiB" if res.memory_mib is not None else res.memory_error
            log(f"  {key:<10} memory growth {shown}")
    return {
        "name": w.name,
        "title": w.title,
        "kind": w.kind,
        "dtype": w.dtype,
        "n_ops": w.count,
        "peers": {key: res.to_json() for key, res in results.items()},
    }
