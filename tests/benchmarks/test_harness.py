"""The benchmark harness: every workload computes the same thing in every peer.

Correctness only (no timings): each workload runs at toy size for gradsight
and hand-written NumPy (and the other peers when installed), and the first
two losses and the gradients must agree. The second loss depends on the
first step's gradients and SGD update, so it checks backward and the update.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest` (not `python -m pytest`) leaves the root off
    sys.path.insert(0, str(REPO))

from benchmarks.peers import Runner  # noqa: E402
from benchmarks.workloads import WORKLOADS, chain_op, make_data  # noqa: E402

from benchmarks import harness, report  # noqa: E402
from benchmarks import peers as peer_registry  # noqa: E402

TINY = [w.tiny() for w in WORKLOADS]
NUMPY_PEER = peer_registry.load("numpy")
IDS = [w.name for w in WORKLOADS]


def _run(key, w, steps=2):
    runner = peer_registry.load(key).build(w, make_data(w))
    losses = [runner.step() for _ in range(steps)]
    return losses, runner.grads()


@pytest.mark.parametrize("w", TINY, ids=IDS)
def test_gradsight_matches_numpy(w):
    losses, grads = _run("gradsight", w)
    ref_losses, ref_grads = _run("numpy", w)
    assert all(np.isfinite(losses))
    np.testing.assert_allclose(losses[0], ref_losses[0], rtol=harness.tolerance(w))
    assert harness.compare(w, losses, grads, ref_losses, ref_grads) is None
    if w.kind == "mlp":  # the SGD step changed the weights, so the loss moved
        assert losses[1] != losses[0]


@pytest.mark.parametrize("key", ["gradsight_traced", "torch", "mygrad", "autograd", "micrograd"])
@pytest.mark.parametrize("w", TINY, ids=IDS)
def test_other_peers_match_numpy(key, w):
    if key not in w.peers:
        pytest.skip(f"{key} does not run {w.name}")
    pytest.importorskip(key.removesuffix("_traced"))
    if key == "micrograd" and w.kind == "mlp" and w.loss == "ce":
        pytest.skip("micrograd only runs the MSE rows")
    losses, grads = _run(key, w)
    ref_losses, ref_grads = _run("numpy", w)
    assert harness.compare(w, losses, grads, ref_losses, ref_grads) is None


def test_make_data_is_seeded_and_fresh():
    w = TINY[2]
    a, b = make_data(w), make_data(w)
    for x, y in zip(a["params"] + [a["x"], a["y"]], b["params"] + [b["x"], b["y"]]):
        np.testing.assert_array_equal(x, y)
        assert not np.shares_memory(x, y)  # each peer owns (and may update) its copy
    assert a["x"].dtype == np.float32 and a["y"].dtype.kind == "i"


def test_chain_cycles_mul_add_tanh():
    assert [chain_op(i) for i in range(7)] == ["mul", "add", "tanh"] * 2 + ["mul"]


def test_compare_catches_wrong_loss_and_gradient():
    w = TINY[1]
    losses, grads = _run("numpy", w)
    assert harness.compare(w, losses, grads, losses, grads) is None
    bad = [g.copy() for g in grads]
    bad[2][0, 0] += 1e-3 * np.abs(bad[2]).max()
    assert "gradient 2" in harness.compare(w, losses, bad, losses, grads)
    assert "loss of step 2" in harness.compare(
        w, [losses[0], losses[1] * 1.001], grads, losses, grads
    )


class _FakePeer:
    """A peer whose loss is off by ``factor``, logging each step into ``calls``."""

    def __init__(self, name, calls, factor=1.0):
        self.name, self.calls, self.factor = name, calls, factor

    def build(self, w, data):
        real = NUMPY_PEER.build(w, data)

        def step():
            self.calls.append(self.name)
            return real.step() * self.factor

        return Runner(step, real.grads)


def test_wrong_peer_is_reported_and_not_timed(monkeypatch):
    calls = []
    fakes = {"numpy": _FakePeer("numpy", calls), "gradsight": _FakePeer("gs", calls, 1.01)}
    monkeypatch.setattr(peer_registry, "load", fakes.__getitem__)
    runners, results = harness.build_and_check(TINY[0], ["numpy", "gradsight"])
    assert list(runners) == ["numpy"]
    assert results["gradsight"].error.startswith("mismatch: loss of step 1")
    assert results["numpy"].error is None


def test_without_numpy_the_first_peer_is_the_reference(monkeypatch):
    fakes = {"gradsight": _FakePeer("gs", []), "torch": _FakePeer("torch", [], 0.99)}
    monkeypatch.setattr(peer_registry, "load", fakes.__getitem__)
    runners, results = harness.build_and_check(TINY[1], ["gradsight", "torch"])
    assert list(runners) == ["gradsight"]
    assert results["torch"].error.endswith("(gradsight is the reference)")


def test_peer_exception_is_a_result(monkeypatch):
    class Broken:
        def build(self, w, data):
            raise RecursionError("maximum recursion depth exceeded")

    fakes = {"numpy": _FakePeer("numpy", []), "micrograd": Broken()}
    monkeypatch.setattr(peer_registry, "load", fakes.__getitem__)
    runners, results = harness.build_and_check(TINY[4], ["numpy", "micrograd"])
    assert "micrograd" not in runners
    assert results["micrograd"].error.startswith("RecursionError")


def test_peers_are_interleaved_round_robin(monkeypatch):
    calls = []
    fakes = {k: _FakePeer(k, calls) for k in ("numpy", "gradsight", "torch")}
    monkeypatch.setattr(peer_registry, "load", fakes.__getitem__)
    w = TINY[0]
    runners, results = harness.build_and_check(w, list(fakes))
    settings = harness.Settings(quick=True, sample_s=0.0, warmup_s=0.0, settle_s=0.0)
    calls.clear()
    harness.time_peers(w, runners, results, settings, log=lambda *a: None)
    after_warm_up = calls[3:]  # one warm-up step each, then rounds
    untimed, timed = after_warm_up[0::2], after_warm_up[1::2]
    assert untimed == timed  # each sample follows one untimed step of the same peer
    rounds = [timed[i : i + 3] for i in range(0, len(timed), 3)]
    assert len(rounds) == w.quick_repeats
    assert [r[0] for r in rounds[:3]] == ["numpy", "gradsight", "torch"]  # order rotates
    assert all(sorted(r) == sorted(fakes) for r in rounds)
    assert all(len(res.times) == w.quick_repeats for res in results.values())
    assert all(res.rounds == list(range(w.quick_repeats)) for res in results.values())
    assert all(res.to_json()["rounds"] == res.rounds for res in results.values())


def test_memory_probe_runs_in_a_fresh_process():
    m = harness.measure_memory("xor", "numpy", harness.Settings())
    assert "error" not in m, m
    assert m["peak_mib"] >= m["base_mib"] > 0
    assert m["growth_mib"] == pytest.approx(m["peak_mib"] - m["base_mib"])


def _fake_results():
    def peer(median, mem=None, error=None):
        return {
            "median_s": median,
            "min_s": median,
            "max_s": median,
            "samples": 3,
            "inner": 1,
            "times_s": [median] * 3,
            "losses": [1.0],
            "error": error,
            "memory_mib": mem,
            "memory_error": None,
        }

    def row(name, n_ops, **peers):
        return {
            "name": name,
            "title": name.upper(),
            "kind": "mlp",
            "dtype": "float64",
            "n_ops": n_ops,
            "peers": peers,
        }

    meta = {
        "date": "2000-01-01",
        "cpu": "CPU",
        "cpus_usable": 2,
        "platform": "linux",
        "python": "3",
        "versions": {"numpy": "2"},
        "env": {},
        "numpy_blas": "openblas",
        "threadpools": [],
        "quick": True,
    }
    workloads = [
        row("xor", 0, numpy=peer(1e-5), gradsight=peer(2e-5), torch=peer(1e-4)),
        row("mlp_1024", 0, numpy=peer(1.0, mem=40.0), gradsight=peer(1.2, mem=60.0)),
        row(
            "chain_3k",
            3000,
            numpy=peer(3e-3),
            gradsight=peer(3e-2),
            micrograd=peer(None, error="RecursionError: too deep"),
        ),
        row("chain_20k", 20000, numpy=peer(2e-2), gradsight=peer(0.2)),
    ]
    return {"meta": meta, "workloads": workloads, "scaling": None}


def test_targets_verdicts_follow_the_ratios():
    verdicts = {r[0]: (r[1], r[3]) for r in report.evaluate_targets(_fake_results())}
    assert verdicts["xor: gradsight / PyTorch (time)"] == ("0.20×", "met")
    assert verdicts["xor: gradsight / NumPy by hand (time)"] == ("2.00×", "met")
    assert verdicts["mlp_1024: gradsight / NumPy by hand (time)"] == ("1.20×", "**missed**")
    assert verdicts["mlp_1024: gradsight / NumPy by hand (memory)"] == ("1.50×", "**missed**")
    assert verdicts["chain_3k: gradsight / NumPy by hand (time)"][1] == "**missed**"
    assert verdicts["mlp_small: gradsight / PyTorch (time)"] == ("–", "not measured")
    linear = verdicts["chains: gradsight time per op constant (linear growth)"]
    assert linear[1] == "met" and "max/min 1.00" in linear[0]


def test_markdown_tables_and_doc_update(tmp_path):
    text = report.markdown(_fake_results())
    assert "| XOR | 10.0 µs | 20.0 µs | 100 µs | – |" in text
    assert "30.0 ms (10.0 µs/op)" in text and "RecursionError" in text
    doc = tmp_path / "perf.md"
    doc.write_text(f"# Intro\n\n{report.BEGIN}\nold table\n{report.END}\n\n## Analysis\n")
    report.update_markdown(doc, text)
    new = doc.read_text()
    assert new.startswith("# Intro\n") and new.rstrip().endswith("## Analysis")
    assert "old table" not in new and text in new


def test_baseline_table_shows_speedup():
    before, after = _fake_results(), _fake_results()
    before["meta"]["label"] = "old engine"
    after["workloads"][0]["peers"]["gradsight"]["median_s"] = 1e-5  # twice as fast
    text = report.baseline_markdown(after, before)
    assert "(old engine → " in text
    assert "| XOR | 20.0 µs | 10.0 µs | 2.00× | 2.00× → 1.00× | 0.20× → 0.10× |" in text
    assert "traced before" not in text  # no traced peer in either run: no traced table


def test_baseline_traced_table_compares_ratios_and_tracing_cost():
    before, after = _fake_results(), _fake_results()
    for res, median, cost in ((before, 1.5e-5, 0.008), (after, 1.1e-5, 0.004)):
        traced = dict(res["workloads"][0]["peers"]["gradsight"], median_s=median, trace_s=cost)
        res["workloads"][0]["peers"]["gradsight_traced"] = traced
    text = report.baseline_markdown(after, before)
    assert "### gradsight traced before → after" in text
    assert "| XOR | 15.0 µs | 11.0 µs | 1.50× → 1.10× | 8.000 ms → 4.000 ms |" in text


def test_render_with_two_baselines_adds_two_before_after_tables(tmp_path, capsys):
    import json

    from benchmarks.__main__ import main

    after, old, older = _fake_results(), _fake_results(), _fake_results()
    old["meta"]["label"], older["meta"]["label"] = "old engine", "skeleton"
    paths = []
    for name, data in (("after", after), ("old", old), ("older", older)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(data))
    argv = ["--render", str(paths[0]), "--baseline", str(paths[2]), "--baseline", str(paths[1])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.index("(skeleton → ") < out.index("(old engine → ")


@pytest.mark.parametrize(
    "content, why",
    [(None, "cannot read it"), ("{not json", "not JSON"), ('{"a": 1}', "not a benchmark run")],
)
def test_bad_baseline_or_render_file_is_named_before_anything_is_measured(tmp_path, content, why):
    import json

    from benchmarks.__main__ import main

    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_fake_results()))
    for argv, flag in (
        (["--render", str(good), "--baseline", str(bad)], "--baseline"),
        (["--render", str(bad)], "--render"),
        # a real measurement would take minutes: the bad baseline must stop it first
        (["--only", "xor", "--peers", "numpy", "--baseline", str(bad)], "--baseline"),
    ):
        with pytest.raises(SystemExit) as err:
            main(argv)
        assert str(err.value).startswith(f"{flag} {bad}: {why}")


@pytest.mark.parametrize("name", ["xor", "chain_3k"])
def test_breakdown_reports_every_phase_with_the_collector_on_and_off(name, monkeypatch):
    import gc

    from benchmarks import breakdown

    monkeypatch.setattr(breakdown, "SECONDS_PER_PHASE", 0.01)
    w = next(w for w in TINY if w.name == name)
    was_enabled = gc.isenabled()
    phases = breakdown.breakdown(w)
    expected = (
        ["forward", "backward"]
        if w.kind == "chain"
        else ["zero_grad", "forward", "loss", "backward", "optimizer step"]
    )
    assert [p[0] for p in phases] == expected
    assert all(on >= 0 and off >= 0 for _, on, off in phases)
    assert sum(p[1] for p in phases) > 0 and sum(p[2] for p in phases) > 0
    assert gc.isenabled() == was_enabled and not gc.get_freeze_count()


def test_traced_section_and_targets():
    results = _fake_results()
    results["workloads"][0]["peers"]["gradsight_traced"] = dict(
        results["workloads"][0]["peers"]["numpy"], median_s=1.1e-5, trace_s=0.004
    )
    text = report.markdown(results)
    assert "### gs.trace: eager → traced" in text
    assert "| XOR | 2.00× | 1.10× | 1.82× | 4.000 ms |" in text
    verdicts = {r[0]: (r[1], r[3]) for r in report.evaluate_targets(results)}
    assert verdicts["xor: gradsight traced / NumPy by hand (time)"] == ("1.10×", "met")
    assert verdicts["chain_3k: gradsight traced / NumPy by hand (time)"][1] == "not measured"


# ---------------------------------------------------------------- noise intervals
def _timed_row(**peers):
    """A workload whose peers have the given per-round times: {key: (times, rounds)}."""
    out = {}
    for key, (times, rounds) in peers.items():
        out[key] = {"median_s": float(np.median(times)), "times_s": list(times), "rounds": rounds}
    return {"name": "mlp_784", "peers": out}


def test_interval_resamples_rounds_in_pairs():
    # Load drifts tenfold across rounds, and gradsight is exactly 2x NumPy in every
    # round: resampling rounds in pairs gives exactly 2; resampling each peer's
    # samples on its own would spread over most of 0.2-20.
    drift = np.geomspace(1e-3, 1e-2, 21)
    w = _timed_row(gradsight=(2 * drift, list(range(21))), numpy=(drift, list(range(21))))
    lo, hi = report.ratio_interval(w, "gradsight", "numpy")
    assert lo == pytest.approx(2.0) and hi == pytest.approx(2.0)


def test_interval_pairs_samples_by_round_not_position():
    # A capped peer skipped rounds 1, 3 and 5: its samples pair with NumPy's
    # samples of the same rounds (3x each), not with NumPy's first samples.
    numpy_t = [1e-3 * (r + 1) for r in range(12)]
    kept = [0, 2, 4, 6, 7, 8, 9, 10, 11]
    w = _timed_row(
        gradsight=([3 * numpy_t[r] for r in kept], kept), numpy=(numpy_t, list(range(12)))
    )
    assert report.ratio_interval(w, "gradsight", "numpy") == pytest.approx((3.0, 3.0))
    a, b = report.paired_times(w, "gradsight", "numpy")
    assert list(a / b) == pytest.approx([3.0] * len(kept))


def test_interval_of_noisy_equal_peers_contains_one_and_marks_the_limit():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(0, 0.2, 21) * 1e-3, rng.lognormal(0, 0.2, 21) * 1e-3
    w = _timed_row(gradsight=(a, list(range(21))), numpy=(b, list(range(21))))
    lo, hi = report.ratio_interval(w, "gradsight", "numpy")
    assert lo < np.median(a) / np.median(b) < hi and lo < 1.0 < hi and hi - lo > 0.05
    assert report.verdict(1.0, 1.0, (lo, hi)) == report.UNDECIDED
    assert report.verdict(1.0, hi + 0.1, (lo, hi)) == "met"
    assert report.verdict(1.0, lo - 0.1, (lo, hi)) == "**missed**"
    assert report.verdict(None, 1.0, (lo, hi)) == "not measured"


def _loaded_784_run(gradsight_times):
    """A quick run's mlp_784 row: NumPy steady at 2 ms, gradsight's seven rounds given."""
    results = _fake_results()
    rounds = list(range(len(gradsight_times)))
    row = _timed_row(
        gradsight=(np.asarray(gradsight_times), rounds), numpy=([2e-3] * len(rounds), rounds)
    )
    results["workloads"].append({**row, "title": "784", "n_ops": 0})
    return {r[0]: r for r in report.evaluate_targets(results)}


def test_a_loaded_run_whose_interval_holds_the_limit_cannot_decide():
    # Rounds from 0.03x to 15x NumPy (other work stealing the cores): the median
    # ratio is small, but the interval spans the 1.15x limit, so neither "met"
    # nor "missed" is true of this run.
    noisy = [6e-5, 1e-4, 2e-4, 2.2e-3, 9e-3, 2e-2, 3e-2]
    row = _loaded_784_run(noisy)["mlp_784: gradsight / NumPy by hand (time)"]
    lo, hi = (float(x) for x in row[4].split("–"))
    assert lo < 1.15 < hi
    assert row[3] == report.UNDECIDED
    # The same median with quiet rounds decides.
    quiet = [2.2e-3 * f for f in (0.98, 0.99, 1.0, 1.0, 1.01, 1.02, 1.03)]
    assert _loaded_784_run(quiet)["mlp_784: gradsight / NumPy by hand (time)"][3] == "met"


def test_interval_needs_five_shared_rounds_and_reads_old_json():
    few = _timed_row(gradsight=([1.0] * 4, [0, 1, 2, 3]), numpy=([1.0] * 9, list(range(9))))
    assert report.ratio_interval(few, "gradsight", "numpy") is None
    old = _timed_row(gradsight=([2.0, 4.0, 6.0, 8.0, 10.0], None), numpy=([1, 2, 3, 4, 5], None))
    assert report.ratio_interval(old, "gradsight", "numpy") == pytest.approx((2.0, 2.0))


def test_targets_table_has_the_interval_column():
    results = _fake_results()
    text = report.markdown(results)
    assert "| target | measured | limit | verdict | 95% interval (rounds resampled) |" in text
    rows = report.evaluate_targets(results)
    assert all(len(r) == 5 for r in rows)
    assert all(r[4] == "–" for r in rows)  # 3 samples per peer: too few for an interval
