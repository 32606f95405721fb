"""``harness report``: an HTML page and PNG plots for one run directory."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from harness.errors import UsageError
from harness.store import RunStore


def _coverage_plot(coverage: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(coverage["k"], coverage["coverage"], marker="o", markersize=3)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("coverage (pass@k)")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report(run_dir: Path | str) -> Path:
    """Write ``plots/coverage.png`` and ``report.html``; returns the HTML path."""
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    cov_path = store.analysis_dir / "coverage.csv"
    if not cov_path.exists():
        raise UsageError(f"{store.root} has no analysis/coverage.csv; run harness analyze first")
    coverage = pd.read_csv(cov_path)
    plots = store.root / "plots"
    plots.mkdir(exist_ok=True)
    title = f"{manifest.task} · {manifest.model} · T={manifest.sampling.temperature}"
    _coverage_plot(coverage, title, plots / "coverage.png")
    meta = json.dumps(manifest.to_dict(), indent=2)
    table = coverage.to_html(index=False, float_format=lambda x: f"{x:.4f}")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>{html.escape(title)}</h1>
<img src="plots/coverage.png" alt="coverage curve">
<h2>Coverage</h2>{table}
<h2>Run</h2><pre>{html.escape(meta)}</pre></body></html>
"""
    out = store.root / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
