"""Paper-quality figures (matplotlib, Agg backend): one function per figure.

Every figure takes a caption (model, task, seed, versions) printed under the axes, so a
PNG copied out of a report still says where it came from. Each is saved as PNG (for the
HTML page) and PDF (vector, for papers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from cycler import cycler

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.core.fits import FitSummary

# Okabe-Ito: distinguishable by colour-blind readers and in greyscale print.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
STYLE: Any = {  # typed Any: matplotlib stubs want literal rc keys
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "axes.prop_cycle": cycler(color=PALETTE),
    "lines.linewidth": 1.6,
    "legend.frameon": False,
    "savefig.bbox": "tight",
    "figure.dpi": 100,
}


# Black stays free for the lines a figure emphasises (the mix of an allocation).
LINE_COLOURS = PALETTE[:-1]
LINE_STYLES: list[Any] = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def line_style(i: int) -> dict[str, Any]:
    """Colour, dash and marker of the i-th of any number of lines: the colour cycles
    fastest, the dash with each round of colours, the marker with each round of both, so
    no two of the first 7 x 5 x 8 lines look alike (in greyscale the dash and marker
    still tell them apart)."""
    colours, dashes = len(LINE_COLOURS), len(LINE_STYLES)
    return {
        "color": LINE_COLOURS[i % colours],
        "ls": LINE_STYLES[(i // colours) % dashes],
        "marker": MARKERS[(i // (colours * dashes)) % len(MARKERS)] if i >= colours else None,
        "ms": 3,
        "markevery": 0.1,
    }


def _legend(ax: Any, entries: int, loc: str = "upper left") -> None:
    """Inside the axes (at ``loc``) for a few lines, beside them (in columns) for many."""
    if entries <= 8:
        ax.legend(loc=loc)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=1 + entries // 24)


def _figure(
    rows: int = 1, heights: Sequence[float] | None = None, size: tuple[float, float] = (6.4, 4.0)
) -> tuple[Figure, Any]:
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows,
            1,
            figsize=size,
            sharex=rows > 1,
            gridspec_kw={"height_ratios": list(heights)} if heights else None,
        )
    return fig, axes


def _save(fig: Figure, path: Path, caption: str) -> Path:
    with plt.rc_context(STYLE):
        if caption:
            fig.text(
                0.01, -0.01, caption, ha="left", va="top", fontsize=6.5, color="#555555", wrap=True
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path.with_suffix(".png"), dpi=200)
        fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path.with_suffix(".png")


def _log_k_axis(ax: Any, k_max: float) -> None:
    ax.set_xscale("log")
    ax.set_xlim(0.9, k_max * 1.15)
    ax.set_xlabel("samples per problem k")


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
    fig, (ax, res) = _figure(2, heights=(3.2, 1.0), size=(6.4, 4.8))
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
        _log_k_axis(res if fit is not None else ax, k_max)
        if fit is None:
            res.set_visible(False)
        fig.align_ylabels()
    return _save(fig, path, caption)


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
    fig, ax = _figure()
    with plt.rc_context(STYLE):
        for i, (col, label) in enumerate(columns.items()):
            ls = _method_dash(i)
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
        _log_k_axis(ax, float(frame[x].max()))
        if xlabel:
            ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1.0)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="upper left")
    return _save(fig, path, caption)


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
    fig, ax = _figure()
    with plt.rc_context(STYLE):
        for i, (method, label) in enumerate(labels.items()):
            rows = table[table["method"] == method].sort_values(x)
            if rows.empty:
                continue
            ls = _method_dash(i)
            ax.plot(
                rows[x],
                rows["accuracy"],
                ls=ls,
                marker="o" if len(rows) <= 30 else None,
                ms=2.5,
                label=label,
            )
        _log_x_rate_y(ax, xlabel, "accuracy", title)
    return _save(fig, path, caption)


def _method_dash(i: int) -> Any:
    """The dash of the i-th method's curve: solid for the first (the reference), then
    four dashes in turn."""
    return "-" if i == 0 else ["--", "-.", ":", (0, (5, 1))][(i - 1) % 4]


def _log_x_rate_y(ax: Any, xlabel: str, ylabel: str, title: str, entries: int = 0) -> None:
    """A cost axis (log x) against a rate in [0, 1], titled, legend top left (beside the
    axes when ``entries`` lines are too many for inside)."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylim(0, 1.0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend(ax, entries)


def runs_figure(
    path: Path,
    runs: Mapping[str, pd.DataFrame],
    x: str,
    xlabel: str,
    title: str,
    caption: str,
) -> Path:
    """Coverage of several runs against a shared axis (k, FLOPs or dollars), log x."""
    fig, ax = _figure()
    with plt.rc_context(STYLE):
        for i, (label, frame) in enumerate(runs.items()):
            ax.plot(frame[x], frame["coverage"], label=label, **line_style(i))
        _log_x_rate_y(ax, xlabel, "coverage", title, len(runs))
    return _save(fig, path, caption)


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
    fig, ax = _figure(size=(7.2, 4.4))
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
        _legend(ax, len(names) + 2, loc="best")
    return _save(fig, path, caption)


def groups_figure(
    path: Path, frame: pd.DataFrame, title: str, caption: str, max_groups: int = 8
) -> Path:
    """Coverage curves per problem subgroup (long frame: group, problems, k, coverage)."""
    fig, ax = _figure()
    with plt.rc_context(STYLE):
        groups = list(dict.fromkeys(frame["group"]))[:max_groups]
        for g in groups:
            sub = frame[frame["group"] == g]
            ax.plot(sub["k"], sub["coverage"], label=f"{g} ({int(sub['problems'].iloc[0])})")
        _log_k_axis(ax, float(frame["k"].max()))
        ax.set_ylim(0, 1.0)
        ax.set_ylabel("coverage")
        ax.set_title(title)
        ax.legend(loc="upper left", ncol=2 if len(groups) > 4 else 1)
    return _save(fig, path, caption)


def rates_figure(
    path: Path, rates: np.ndarray, beta: Mapping[str, float] | None, title: str, caption: str
) -> Path:
    """Histogram of per-problem success rates, with the fitted Beta density."""
    fig, ax = _figure(size=(6.4, 3.4))
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
    return _save(fig, path, caption)


def savings_figure(path: Path, frame: pd.DataFrame, title: str, caption: str) -> Path:
    """Samples drawn per problem: uniform k vs stop-at-first-accepted, at equal coverage."""
    fig, ax = _figure(size=(6.4, 3.4))
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
    return _save(fig, path, caption)
