"""``analysis/fit.json``: the scaling-law fit of a run, as one typed record.

``harness analyze`` writes it with ``write_fit``; the report, ``harness compare`` and the
CLI read it with ``read_fit``. Nothing else parses the file.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.records import check_fields
from harness.core.store import write_json

# A Beta-model curve is shown only where it stays this close to the observed coverage.
BETA_MAX_ERROR = 0.05
# Bootstrap intervals over fewer problems than this are marked unreliable, not printed.
RELIABLE_MIN_PROBLEMS = 10


@dataclass(frozen=True, slots=True)
class BacktestRecord:
    """Both models fitted on the first ``head_samples`` of each problem, predicting
    coverage at ``target_k`` (the full run), against the coverage observed there."""

    head_samples: int
    target_k: int
    observed: float
    power_law_prediction: float
    power_law_error: float
    power_law_a: float
    power_law_b: float
    beta_prediction: float
    beta_error: float
    beta_alpha: float
    beta_beta: float
    better: str


@dataclass(frozen=True, slots=True)
class Prediction:
    """Coverage predicted at ``k`` by the power law (with its band) and the Beta model."""

    k: int
    power_law: float
    beta: float
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True, slots=True)
class FitSummary:
    """The power law ``log c(k) = a * k^b`` fitted to a coverage curve, and the rest.

    Attributes:
        a_ci, b_ci: Percentile bootstrap intervals over problems.
        rmse_log_coverage: RMS residual of the fit in log coverage.
        backtest: Fit on the first N/10 samples, predict c(N); None when N < 40.
        beta_model: The Beta-binomial model of per-problem success rates.
        beta_max_error: Largest gap between the Beta model's curve and the observed
            coverage for k <= N (the Beta model is shown only where this is small).
        predictions: Both models at N, 10 N and 100 N.
        bootstrap: How the intervals were made (resamples, seed, level).
        problems: Problems in the fit; N: samples per problem.
    """

    model: str
    a: float
    b: float
    a_se: float
    b_se: float
    a_ci: tuple[float, float]
    b_ci: tuple[float, float]
    rmse_log_coverage: float
    fit_k: tuple[int, ...]
    residuals: tuple[float, ...]
    backtest: BacktestRecord | None
    beta_model: dict[str, float]
    predictions: tuple[Prediction, ...]
    bootstrap: dict[str, Any]
    problems: int
    N: int
    beta_max_error: float | None = None

    @property
    def beta_fits(self) -> bool:
        """Whether the Beta model follows the observed curve within ``BETA_MAX_ERROR``."""
        return self.beta_max_error is not None and self.beta_max_error <= BETA_MAX_ERROR

    def beta_note(self) -> str | None:
        """Why the Beta model is not shown, or None when it is."""
        if self.beta_fits:
            return None
        if self.beta_max_error is None:
            return "Beta model not shown: this fit did not record how well it follows the data"
        return (
            f"Beta model not shown: it misses the observed coverage by up to "
            f"{self.beta_max_error:.3f} for k <= N (it is shown within {BETA_MAX_ERROR})"
        )

    @property
    def backtest_error(self) -> float | None:
        return self.backtest.power_law_error if self.backtest else None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        # Kept at the top level for readers of earlier fit.json files.
        d["backtest_error"] = self.backtest_error
        d["better_extrapolator"] = self.backtest.better if self.backtest else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitSummary:
        d = check_fields(cls, data)
        d["a_ci"] = tuple(d["a_ci"])
        d["b_ci"] = tuple(d["b_ci"])
        d["fit_k"] = tuple(d["fit_k"])
        d["residuals"] = tuple(d["residuals"])
        bt = d.get("backtest")
        d["backtest"] = BacktestRecord(**check_fields(BacktestRecord, bt)) if bt else None
        d["predictions"] = tuple(
            Prediction(**check_fields(Prediction, p)) for p in d["predictions"]
        )
        return cls(**d)


def write_fit(path: Path, fit: FitSummary) -> Path:
    """Write ``fit.json`` (non-finite numbers become null)."""
    return write_json(path, fit.to_dict())


def read_fit(path: Path) -> FitSummary | None:
    """The fit of an analysed run, or None when the analysis made no fit."""
    if not path.exists():
        return None
    return FitSummary.from_dict(json.loads(path.read_text()))
