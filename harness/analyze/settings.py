"""What ``harness analyze`` is told (settings) and what it hands back (result)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.errors import UsageError
from harness.core.fits import FitSummary

DEFAULT_COST_RATIOS = (0.0, 1.0, 2.0, 4.0)


def parse_cost_ratios(values: list[str] | None) -> tuple[float, ...]:
    """``--cost-ratio`` values (comma-separated and/or repeated) as numbers >= 0.

    Raises:
        UsageError: a value that is not a number >= 0.
    """
    out: list[float] = []
    for value in values or []:
        for part in str(value).split(","):
            if not part.strip():
                continue
            try:
                number = float(part)
            except ValueError:
                number = float("nan")
            if not math.isfinite(number) or number < 0:
                raise UsageError(
                    f"--cost-ratio takes numbers >= 0 (the cost of a false positive in right "
                    f"answers), got {part.strip()!r}"
                )
            out.append(number)
    return tuple(dict.fromkeys(out)) or DEFAULT_COST_RATIOS


@dataclass(frozen=True)
class AnalysisSettings:
    """Knobs of the analysis, recorded in ``summary.json`` and ``fit.json``.

    Attributes:
        cost_ratios: Costs of a false positive, in right answers, for U(k).
        weak_verifier: The weak verifier of the imperfect-verifier analysis (default: the
            one whose verdicts say they are the weak side of the analysed verifier).
        intensity: Accelerator name or FLOPs per memory element for eFLOPs (None: the
            default accelerator, and no error when the model's KV shape is unknown).
        model_size: Architecture numbers given by hand (``--model-size``), over the
            model's config.json or the alias table.
        stop_cap: Most samples per problem the stopping rules may draw.
        stop_orders: Random orders per problem for the stopping rules (None: automatic).
    """

    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    fit_points: int = 40
    shared_prefix: bool = True
    cost_ratios: tuple[float, ...] = DEFAULT_COST_RATIOS
    weak_verifier: str | None = None
    intensity: str | None = None
    model_size: dict[str, float] = field(default_factory=dict)
    stop_cap: int = 40
    stop_orders: int | None = None


@dataclass
class AnalyzeResult:
    """What one analyze call produced (the frames are also on disk)."""

    verifier: str
    coverage: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    fit: FitSummary | None = None
    notes: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    partial: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    selectors: dict[str, Any] = field(default_factory=dict)
