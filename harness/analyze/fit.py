"""The fit part of ``harness analyze``: the power law and the Beta model, their
extrapolation and the backtest, written as ``fit.json`` and ``extrapolation.csv``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.passk import bootstrap_replicates, coverage_curve, log_spaced_ks
from analysis.scaling import backtest, bootstrap_fit, fit_beta_binomial, fit_scaling_law
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.coltypes import VerdictColumns
from harness.core.fits import BacktestRecord, FitSummary, Prediction, write_fit
from harness.core.store import RunStore

EXTRAPOLATE_TO = 100  # extrapolate to 100 x N
BACKTEST_MIN_N = 40  # the backtest fits on N/10 samples and needs at least 4


def fit_section(
    store: RunStore,
    cols: VerdictColumns,
    n: np.ndarray,
    c: np.ndarray,
    k_max: int,
    s: AnalysisSettings,
    out: AnalyzeResult,
) -> None:
    """Fit, extrapolate and backtest the coverage curve of ``cols`` (k up to ``k_max``)."""
    fit_ks = log_spaced_ks(k_max, s.fit_points)
    if fit_ks.size < 3:
        out.notes.append(f"no fit: need at least 3 distinct k, have N={k_max}")
        return
    curve = coverage_curve(n, c, fit_ks)
    if not (curve > 0).any():
        out.notes.append("no fit: coverage is 0 at every k")
        return
    fit = fit_scaling_law(fit_ks, curve, points=None)
    reps = bootstrap_replicates(n, c, fit_ks, n_boot=s.n_boot, seed=s.seed)
    interval = bootstrap_fit(reps, fit_ks, level=s.level)
    beta = fit_beta_binomial(n, c)
    ext_k = np.unique(np.rint(np.geomspace(k_max, k_max * EXTRAPOLATE_TO, 60)).astype(np.int64))
    lo, hi = interval.band(ext_k)
    ext = pd.DataFrame(
        {
            "k": ext_k,
            "power_law": fit.predict(ext_k),
            "lo": lo,
            "hi": hi,
            "beta": beta.predict(ext_k),
        }
    )
    out.files.append(store.analysis_dir / "extrapolation.csv")
    ext.to_csv(out.files[-1], index=False)
    head = k_max // 10
    bt: BacktestRecord | None = None
    if k_max >= BACKTEST_MIN_N:
        n_head, c_head = cols.counts(max_index=head)
        try:
            result = backtest(
                n_head, c_head, k_max, float(coverage_curve(n, c, [k_max])[0]), points=s.fit_points
            )
            bt = BacktestRecord(**result.to_dict())
        except ValueError as e:
            out.notes.append(f"no backtest: {e}")
    else:
        out.notes.append(
            f"no backtest: N/10 = {head} samples is too few to fit (need N >= {BACKTEST_MIN_N})"
        )
    at = np.array([k_max, 10 * k_max, EXTRAPOLATE_TO * k_max])
    at_lo, at_hi = interval.band(at)
    summary = FitSummary(
        model="log c(k) = a * k^b",
        a=fit.a,
        b=fit.b,
        a_se=fit.a_se,
        b_se=fit.b_se,
        a_ci=interval.a_ci,
        b_ci=interval.b_ci,
        rmse_log_coverage=fit.rmse,
        fit_k=tuple(int(k) for k in fit.ks),
        residuals=tuple(float(r) for r in fit.residuals),
        backtest=bt,
        beta_model={"alpha": beta.alpha, "beta": beta.beta, "loglik": beta.loglik},
        beta_max_error=float(np.max(np.abs(beta.predict(fit_ks) - curve))),
        predictions=tuple(
            Prediction(
                int(k), float(fit.predict(k)), float(beta.predict(k)), float(lo_), float(hi_)
            )
            for k, lo_, hi_ in zip(at, at_lo, at_hi, strict=True)
        ),
        bootstrap={
            "resamples": s.n_boot,
            "seed": s.seed,
            "level": s.level,
            "over": "problems, with replacement",
        },
        problems=int(n.size),
        N=k_max,
    )
    out.fit = summary
    out.files.append(write_fit(store.analysis_dir / "fit.json", summary))
