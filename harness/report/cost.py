"""The report's compute section: coverage against FLOPs, memory-aware eFLOPs and dollars,
with the model's size, the accelerator behind eFLOPs and the prices behind dollars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report import page as h


def _read(a: Path) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    info = json.loads((a / "compute.json").read_text()) if (a / "compute.json").exists() else None
    frame = pd.read_csv(a / "compute.csv") if (a / "compute.csv").exists() else None
    return info, frame


def priced(frame: pd.DataFrame | None) -> bool:
    """Whether a compute table has dollar figures (a price was known)."""
    return frame is not None and "dollars" in frame and bool(np.isfinite(frame["dollars"]).any())


def compute_section(a: Path, plots: Path, title: str, cap: str, label: str) -> str:
    """The section (empty when the analysis has no compute accounting file)."""
    from harness.report.plots import runs_figure

    info, frame = _read(a)
    if info is None:
        return ""
    if frame is None or not info.get("available"):
        return "<h2>Compute</h2>" + h.notes([f"No compute accounting: {info.get('reason')}."])
    prices = info.get("prices", "not recorded (analysed by an older version; analyse again)")
    figures = []
    runs_figure(plots / "coverage_flops", {label: frame}, "flops", "inference FLOPs", title, cap)
    figures.append(
        h.figure(
            "plots/coverage_flops.png",
            "coverage vs FLOPs",
            f"Coverage against FLOPs, {info['formula']}; prompt counted "
            f"{'once per problem' if info['shared_prefix'] else 'per sample'}.",
            cap,
        )
    )
    if "eflops" in frame and info.get("eflops"):
        runs_figure(
            plots / "coverage_eflops", {label: frame}, "eflops", "eFLOPs (memory-aware)", title, cap
        )
        figures.append(
            h.figure(
                "plots/coverage_eflops.png",
                "coverage vs eFLOPs",
                f"Coverage against Kinetics eFLOPs: {info['eflops_formula']}; "
                f"{info['accelerator']}.",
                cap,
            )
        )
    if priced(frame):
        runs_figure(
            plots / "coverage_dollars", {label: frame}, "dollars", "cost (US dollars)", title, cap
        )
        figures.append(
            h.figure(
                "plots/coverage_dollars.png",
                "coverage vs dollars",
                f"Coverage against dollars, priced at {prices}.",
                cap,
            )
        )
    body = '<div class="grid2">' + "".join(figures) + "</div>"
    facts = [
        (
            "model size",
            f"{info['params']:,} parameters, {info['layers']} layers, d_model {info['d_model']}"
            + (
                f", {info['n_heads']} heads, {info['n_kv_heads']} key/value heads of "
                f"{info['head_dim']}"
                if info.get("n_kv_heads")
                else ""
            )
            + f" (from {info['facts_from']})",
        ),
        (
            "tokens",
            f"{info['mean_prompt_tokens']:.1f} prompt, "
            f"{info['mean_completion_tokens']:.1f} generated per sample (mean)",
        ),
        (
            "FLOPs",
            f"{info['flops_per_prompt']:.3g} per prompt, {info['flops_per_sample']:.3g} per sample",
        ),
        ("prices used", prices),
    ]
    if info.get("eflops"):
        facts.append(("eFLOPs", info["accelerator"]))
    body += h.meta_list(facts)
    if info.get("eflops"):
        body += f"<p>{h.esc(info['advice'])}</p>" if info.get("advice") else ""
    else:
        body += h.notes([f"No eFLOPs: {info.get('eflops_reason', 'KV-cache shape unknown')}."])
    if not priced(frame):
        line = prices if "no known price" in prices else f"no dollar figures ({prices})"
        body += h.notes([f"{line[0].upper()}{line[1:]}."])
    return "<h2>Compute</h2>" + body
