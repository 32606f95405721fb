"""What ``harness analyze`` is told (settings) and what it hands back (result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.fits import FitSummary


@dataclass(frozen=True)
class AnalysisSettings:
    """Knobs of the analysis, recorded in ``summary.json`` and ``fit.json``."""

    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    fit_points: int = 40
    shared_prefix: bool = True


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
    selectors: dict[str, Any] = field(default_factory=dict)
