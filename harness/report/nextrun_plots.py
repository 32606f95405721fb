"""Figures for where the next sample should go: U(k) against an imperfect verifier, and
adaptive stopping rules against a fixed number of samples (the style of ``plot_style``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from harness.report.plot_style import PALETTE, STYLE, log_k_axis, new_figure, save_figure


def utility_figure(
    path: Path,
    frame: pd.DataFrame,
    columns: Mapping[str, float],
    k_star: Mapping[float, int],
    title: str,
    caption: str,
) -> Path:
    """U(k) for each cost ratio, acc(k), and the coverage the weak verifier claims, with
    k* marked on each U(k) curve.

    Args:
        frame: ``imperfect_verifier.csv`` (k, accuracy, utility_c<c>, weak_coverage...).
        columns: U(k) column -> its cost ratio c.
        k_star: Cost ratio -> k* (0: no k pays).
    """
    fig, ax = new_figure()
    k = frame["k"].to_numpy(dtype=float)
    low = 0.0
    with plt.rc_context(STYLE):
        ax.plot(k, frame["strong_coverage"], color="#999999", lw=1.0, ls=":", label="coverage")
        ax.plot(
            k,
            frame["weak_coverage"],
            color="#999999",
            lw=1.0,
            ls="--",
            label="claimed by the weak verifier",
        )
        for i, (col, c) in enumerate(columns.items()):
            color = PALETTE[i % len(PALETTE)]
            u = frame[col].to_numpy(dtype=float)
            low = min(low, float(np.nanmin(u)))
            label = "acc(k) = U(k) at c = 0" if c == 0 else f"U(k) at c = {c:g}"
            ax.plot(k, u, color=color, label=label)
            star = k_star.get(c, 0)
            if star:
                at = float(u[k == star][0])
                ax.plot([star], [at], "o", color=color, ms=5)
                ax.annotate(
                    f"k*={star}",
                    (star, at),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=color,
                )
        ax.axhline(0, color="#888888", lw=0.7)
        log_k_axis(ax, float(k.max()))
        ax.set_ylim(min(-0.05, low * 1.1), 1.0)
        ax.set_ylabel("expected utility per problem (false positive = -c)")
        ax.set_title(title)
        ax.legend(loc="best", fontsize=7)
    return save_figure(fig, path, caption)


def stopping_figure(path: Path, table: pd.DataFrame, title: str, caption: str) -> Path:
    """Accuracy against mean samples per problem: the fixed-k baselines as lines and each
    stopping rule's settings as connected points."""
    fig, ax = new_figure()
    fixed = table[table["rule"] == "fixed"]
    rules = table[table["rule"] != "fixed"]
    with plt.rc_context(STYLE):
        for i, (base, group) in enumerate(fixed.groupby("baseline", sort=False)):
            label = (
                "coverage (oracle verifier), fixed k" if base == "coverage" else f"{base}, fixed k"
            )
            ax.plot(
                group["expected_samples"],
                group["accuracy"],
                color=["#444444", "#999999"][i % 2],
                lw=1.2,
                label=label.replace("best_of_k:", "best-of-k by "),
            )
        markers = ["o", "s", "^", "D", "v", "P", "X"]
        for i, (rule, group) in enumerate(rules.groupby("rule", sort=False)):
            order = group.sort_values("expected_samples")
            ax.plot(
                order["expected_samples"],
                order["accuracy"],
                ls=":",
                marker=markers[i % len(markers)],
                ms=4,
                color=PALETTE[i % len(PALETTE)],
                label=str(rule).replace("_", " ").replace("confidence:", "confidence by "),
            )
        log_k_axis(ax, float(table["expected_samples"].max()))
        ax.set_xlabel("samples drawn per problem (mean)")
        ax.set_ylim(0, 1.0)
        ax.set_ylabel("accuracy")
        ax.set_title(title)
        ax.legend(loc="best", fontsize=7)
    return save_figure(fig, path, caption)
