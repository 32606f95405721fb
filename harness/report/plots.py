"""Paper-quality figures (matplotlib, Agg backend): one function per figure.

Every figure takes a caption (model, task, seed, versions) printed under the axes, so a
PNG copied out of a report still says where it came from. Each is saved as PNG (for the
HTML page) and PDF (vector, for papers). The look they share, and the steps each takes
to make and save its figure, are in ``plot_style``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from harness.core.fits import FitSummary
from harness.report.plot_style import (
    PALETTE,
    STYLE,
    line_style,
    log_k_axis,
    log_x_rate_y,
    method_dash,
    new_figure,
    place_legend,
    save_figure,
)


def coverage_figure(
    path: Path,
    ci: pd.DataFrame,
    fit: FitSummary | None,
    extrapolation: pd.DataFrame | None,
    title: str,
    caption: str,
) -> Path:
    """Coverage vs k with its bootstrap band, the power-law fit and its extrapolation.

    Args:
        path: Output path (``.png`` and ``.pdf`` are written).
        ci: Columns k, coverage, lo, hi.
        fit: The power law log c = a k^b (``fit.json``), or None.
        extrapolation: Columns k, power_law, lo, hi, beta (k beyond the data), or None.
        title: Axes title.
        caption: Provenance line under the figure.
    """
    fig, (ax, res) = new_figure(2, heights=(3.2, 1.0), size=(6.4, 4.8))
    k = ci["k"].to_numpy(dtype=float)
    k_max = float(extrapolation["k"].max()) if extrapolation is not None else float(k.max())
    with plt.rc_context(STYLE):
        ax.fill_between(
            k, ci["lo"], ci["hi"], color=PALETTE[0], alpha=0.18, lw=0, label="95% bootstrap CI"
        )
        ax.plot(k, ci["coverage"], color=PALETTE[0], label="coverage (pass@k)")
        if fit is not None:
            a, b = fit.a, fit.b
            grid = np.geomspace(1, k_max, 200)
            ax.plot(
                grid,
                np.exp(a * grid**b),
                color=PALETTE[1],
                ls="--",
                lw=1.2,
                label=rf"fit $\log c = {a:.3f}\,k^{{{b:.3f}}}$",
            )
            res.axhline(0, color="#888888", lw=0.8)
            model = np.exp(a * k**b)
            res.plot(k, ci["coverage"] - model, color=PALETTE[1], lw=1.0)
            res.set_ylabel("data − fit")
        if extrapolation is not None and len(extrapolation):
            ext = extrapolation
            ax.fill_between(
                ext["k"],
                ext["lo"],
                ext["hi"],
                color=PALETTE[1],
                alpha=0.12,
                lw=0,
                label="fit 95% CI (extrapolated)",
            )
            if "beta" in ext:
                ax.plot(
                    ext["k"],
                    ext["beta"],
                    color=PALETTE[2],
                    ls=":",
                    lw=1.4,
                    label="Beta model (extrapolated)",
                )
            ax.axvline(k.max(), color="#888888", lw=0.8, ls="-.")
            ax.annotate(
                "N",
                (k.max(), 0.02),
                textcoords="offset points",
                xytext=(3, 0),
                fontsize=7,
                color="#666666",
            )
        ax.set_ylim(0, 1.0)
        ax.set_ylabel("coverage")
        ax.set_title(title)
        ax.legend(loc="upper left")
        log_k_axis(res if fit is not None else ax, k_max)
        if fit is None:
            res.set_visible(False)
        fig.align_ylabels()
    return save_figure(fig, path, caption)


def curves_figure(
    path: Path,
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    title: str,
    caption: str,
    x: str = "k",
    xlabel: str | None = None,
    ylabel: str = "accuracy",
    bands: Mapping[str, tuple[str, str]] | None = None,
) -> Path:
    """Several curves of one frame against ``x`` (log scale): selection@k, verifier errors.

    Args:
        columns: Column -> legend label, in drawing order.
        bands: Column -> (low, high) columns of its confidence band, drawn shaded.
    """
    fig, ax = new_figure()
    with plt.rc_context(STYLE):
        for i, (col, label) in enumerate(columns.items()):
            ls = method_dash(i)
            shown = frame[[x, col]].dropna()  # a method may stop before the largest k
            (line,) = ax.plot(
                shown[x],
                shown[col],
                ls=ls,
                marker="o" if len(frame) <= 30 else None,
                ms=2.5,
                label=label,
            )
            if bands and col in bands:
                lo, hi = bands[col]
                band = frame[[x, lo, hi]].dropna()
                ax.fill_between(
                    band[x], band[lo], band[hi], color=line.get_color(), alpha=0.15, lw=0
                )
        log_k_axis(ax, float(frame[x].max()))
        if xlabel:
            ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1.0)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="upper left")
    return save_figure(fig, path, caption)


def cost_figure(
    path: Path,
    table: pd.DataFrame,
    labels: Mapping[str, str],
    title: str,
    caption: str,
    x: str = "total_flops",
    xlabel: str = "total FLOPs (generation + verification)",
) -> Path:
    """Accuracy of each method against its cost (long table: method, ``x``, accuracy)."""
    fig, ax = new_figure()
    with plt.rc_context(STYLE):
        for i, (method, label) in enumerate(labels.items()):
            rows = table[table["method"] == method].sort_values(x)
            if rows.empty:
                continue
            ls = method_dash(i)
            ax.plot(
                rows[x],
                rows["accuracy"],
                ls=ls,
                marker="o" if len(rows) <= 30 else None,
                ms=2.5,
                label=label,
            )
        log_x_rate_y(ax, xlabel, "accuracy", title)
    return save_figure(fig, path, caption)


def runs_figure(
    path: Path,
    runs: Mapping[str, pd.DataFrame],
    x: str,
    xlabel: str,
    title: str,
    caption: str,
) -> Path:
    """Coverage of several runs against a shared axis (k, FLOPs or dollars), log x."""
    fig, ax = new_figure()
    with plt.rc_context(STYLE):
        for i, (label, frame) in enumerate(runs.items()):
            ax.plot(frame[x], frame["coverage"], label=label, **line_style(i))
        log_x_rate_y(ax, xlabel, "coverage", title, len(runs))
    return save_figure(fig, path, caption)


def allocation_figure(
    path: Path,
    frame: pd.DataFrame,
    names: Sequence[str],
    highlight: str,
    unit: str,
    title: str,
    caption: str,
    highlight_note: str = "chosen on train",
) -> Path:
    """Test coverage against the budget: the mix (with its band where ``mix_lo``/``mix_hi``
    exist), the single configuration chosen on the training problems at each budget, and
    every configuration alone (``test:<name>``), ``highlight`` drawn thick.

    Args:
        frame: One row per budget: budget, mix_test, single_test, test:<name>, ...
        highlight: The configuration chosen as the best single one (most often, over
            splits) at the largest budget.
        unit: The budget's unit (the x label).
        highlight_note: What the legend says of ``highlight``.
    """
    fig, ax = new_figure(size=(7.2, 4.4))
    x = frame["budget"].to_numpy(dtype=float)
    with plt.rc_context(STYLE):
        for i, name in enumerate(names):
            style = line_style(i) | {"lw": 2.4 if name == highlight else 1.0}
            tag = f" ({highlight_note})" if name == highlight else ""
            ax.plot(x, frame[f"test:{name}"], label=f"{name}{tag}", alpha=0.9, **style)
        ax.plot(
            x,
            frame["single_test"],
            color="#444444",
            ls="--",
            lw=1.8,
            marker="s",
            ms=3.5,
            label="best single, chosen on train",
        )
        if "mix_lo" in frame:
            ax.fill_between(x, frame["mix_lo"], frame["mix_hi"], color="#000000", alpha=0.12, lw=0)
        ax.plot(x, frame["mix_test"], color="#000000", lw=2.6, marker="o", ms=4, label="mix")
        if x.size > 1 and x.max() / max(x.min(), 1e-300) > 16:
            ax.set_xscale("log")
        ax.set_xlabel(f"budget ({unit})")
        ax.set_ylabel("test coverage")
        ax.set_ylim(0, 1.0)
        ax.set_title(title)
        place_legend(ax, len(names) + 2, loc="best")
    return save_figure(fig, path, caption)


def groups_figure(
    path: Path, frame: pd.DataFrame, title: str, caption: str, max_groups: int = 8
) -> Path:
    """Coverage curves per problem subgroup (long frame: group, problems, k, coverage)."""
    fig, ax = new_figure()
    with plt.rc_context(STYLE):
        groups = list(dict.fromkeys(frame["group"]))[:max_groups]
        for g in groups:
            sub = frame[frame["group"] == g]
            ax.plot(sub["k"], sub["coverage"], label=f"{g} ({int(sub['problems'].iloc[0])})")
        log_k_axis(ax, float(frame["k"].max()))
        ax.set_ylim(0, 1.0)
        ax.set_ylabel("coverage")
        ax.set_title(title)
        ax.legend(loc="upper left", ncol=2 if len(groups) > 4 else 1)
    return save_figure(fig, path, caption)


def rates_figure(
    path: Path, rates: np.ndarray, beta: Mapping[str, float] | None, title: str, caption: str
) -> Path:
    """Histogram of per-problem success rates, with the fitted Beta density."""
    fig, ax = new_figure(size=(6.4, 3.4))
    with plt.rc_context(STYLE):
        bins = np.linspace(0, 1, 26)
        ax.hist(rates, bins=bins, color=PALETTE[0], alpha=0.75, edgecolor="white", label="problems")
        if beta is not None:
            from scipy.stats import beta as beta_dist

            grid = np.linspace(0.002, 0.998, 300)
            dens = beta_dist.pdf(grid, beta["alpha"], beta["beta"]) * len(rates) * (bins[1])
            ax.plot(
                grid,
                np.minimum(dens, len(rates)),
                color=PALETTE[1],
                label=f"Beta({beta['alpha']:.2f}, {beta['beta']:.2f})",
            )
        ax.set_xlabel("per-problem success rate c/n")
        ax.set_ylabel("problems")
        ax.set_title(title)
        ax.legend(loc="upper right")
    return save_figure(fig, path, caption)


def savings_figure(path: Path, frame: pd.DataFrame, title: str, caption: str) -> Path:
    """Samples drawn per problem: uniform k vs stop-at-first-accepted, at equal coverage."""
    fig, ax = new_figure(size=(6.4, 3.4))
    problems = frame["uniform_samples"].iloc[0] / frame["k"].iloc[0]
    with plt.rc_context(STYLE):
        ax.plot(frame["k"], frame["uniform_samples"] / problems, label="uniform: k per problem")
        ax.plot(
            frame["k"],
            frame["adaptive_samples"] / problems,
            ls="--",
            label="stop at first accepted sample",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cap k (same coverage for both)")
        ax.set_ylabel("samples drawn per problem")
        ax.set_title(title)
        ax.legend(loc="upper left")
    return save_figure(fig, path, caption)
