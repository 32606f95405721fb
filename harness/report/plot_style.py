"""The look every report figure shares, and the steps every figure takes.

The rc settings (``STYLE``) with a colour-blind-safe palette, a distinct colour, dash and
marker for any number of lines, and the plumbing of one figure: a new figure, its legend
and log axes, and saving it as PNG and PDF with its provenance caption under the axes.
The figures themselves are in ``plots`` and ``nextrun_plots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from cycler import cycler

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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


def place_legend(ax: Any, entries: int, loc: str = "upper left") -> None:
    """Inside the axes (at ``loc``) for a few lines, beside them (in columns) for many."""
    if entries <= 8:
        ax.legend(loc=loc)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=1 + entries // 24)


def new_figure(
    rows: int = 1, heights: Sequence[float] | None = None, size: tuple[float, float] = (6.4, 4.0)
) -> tuple[Figure, Any]:
    """A figure of ``rows`` axes stacked over one shared x axis, in ``STYLE``."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows,
            1,
            figsize=size,
            sharex=rows > 1,
            gridspec_kw={"height_ratios": list(heights)} if heights else None,
        )
    return fig, axes


def save_figure(fig: Figure, path: Path, caption: str) -> Path:
    """``fig`` with ``caption`` under its axes, as ``path`` in PNG and PDF (then closed);
    returns the PNG's path."""
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


def log_k_axis(ax: Any, k_max: float) -> None:
    """The x axis as samples per problem k, log scale, from 1 to ``k_max``."""
    ax.set_xscale("log")
    ax.set_xlim(0.9, k_max * 1.15)
    ax.set_xlabel("samples per problem k")


def method_dash(i: int) -> Any:
    """The dash of the i-th method's curve: solid for the first (the reference), then
    four dashes in turn."""
    return "-" if i == 0 else ["--", "-.", ":", (0, (5, 1))][(i - 1) % 4]


def log_x_rate_y(ax: Any, xlabel: str, ylabel: str, title: str, entries: int = 0) -> None:
    """A cost axis (log x) against a rate in [0, 1], titled, legend top left (beside the
    axes when ``entries`` lines are too many for inside)."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylim(0, 1.0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    place_legend(ax, entries)
