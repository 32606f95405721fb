"""Scaling laws of coverage: the exponentiated power law and a per-problem Beta model.

Large Language Monkeys (Brown et al. 2024) model coverage as log c(k) = a * k^b, fitted
on log-spaced k. The alternative here treats each problem's success rate p as drawn from
a Beta(alpha, beta), fitted by maximum likelihood on the per-problem counts; its coverage
is 1 - E[(1-p)^k] = 1 - B(alpha, beta + k) / B(alpha, beta). Both are judged by a
backtest: fit on the first N/10 samples of every problem, predict c(N), compare.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeWarning, curve_fit, minimize
from scipy.special import betaln

from analysis.passk import coverage_curve, log_spaced_ks

FloatArray = npt.NDArray[np.float64]
DEFAULT_POINTS = 40


def _model(k: FloatArray, a: float, b: float) -> FloatArray:
    out: FloatArray = a * np.power(k, b)
    return out


def _log_spaced_subset(k: FloatArray, points: int) -> npt.NDArray[np.intp]:
    """Indices of about ``points`` entries of sorted ``k`` spread evenly in log k."""
    if k.size <= points:
        return np.arange(k.size)
    targets = np.geomspace(k[0], k[-1], points)
    idx = np.searchsorted(k, targets).clip(0, k.size - 1)
    return np.unique(np.concatenate([idx, [0, k.size - 1]]))


def _initial_guess(k: FloatArray, y: FloatArray) -> tuple[float, float]:
    """(a, b) from a line through log(-log c) against log k (points with 0 < c < 1)."""
    inner = y < 0
    if inner.sum() >= 2 and np.ptp(k[inner]) > 0:
        slope, intercept = np.polyfit(np.log(k[inner]), np.log(-y[inner]), 1)
        return -float(np.exp(intercept)), float(slope)
    return (float(y[inner][0]) if inner.any() else -1e-6), -0.5


@dataclass(frozen=True)
class PowerLawFit:
    """log c(k) = a * k^b fitted to a coverage curve.

    Attributes:
        a: Scale (log coverage at k = 1).
        b: Exponent.
        a_se: Asymptotic standard error of ``a`` (least-squares covariance).
        b_se: Asymptotic standard error of ``b``.
        ks: The k values fitted (log-spaced).
        coverage: Observed coverage at ``ks``.
        residuals: log c observed - a * k^b at ``ks``.
        rmse: Root mean square of ``residuals``.
    """

    a: float
    b: float
    a_se: float
    b_se: float
    ks: FloatArray
    coverage: FloatArray
    residuals: FloatArray
    rmse: float

    def predict(self, k: npt.ArrayLike) -> FloatArray:
        """Coverage exp(a * k^b) at ``k``."""
        out: FloatArray = np.exp(_model(np.asarray(k, dtype=np.float64), self.a, self.b))
        return out


def fit_scaling_law(
    k: npt.ArrayLike,
    coverage: npt.ArrayLike,
    points: int | None = DEFAULT_POINTS,
    p0: tuple[float, float] | None = None,
) -> PowerLawFit:
    """Fit log c(k) = a * k^b by least squares in log coverage.

    Args:
        k: The k values (>= 1).
        coverage: Coverage at each k; points with coverage 0 (log undefined) are dropped.
        points: When more k are given, fit a log-spaced subset of about this many so each
            decade of k weighs the same (None: fit every point given).
        p0: Starting (a, b); default from a straight line through log(-log c).

    Raises:
        ValueError: fewer than two usable points.
    """
    k_ = np.asarray(k, dtype=np.float64)
    c_ = np.asarray(coverage, dtype=np.float64)
    order = np.argsort(k_)
    k_, c_ = k_[order], c_[order]
    ok = np.isfinite(c_) & (c_ > 0) & (k_ >= 1)
    k_, c_ = k_[ok], np.minimum(c_[ok], 1.0)
    if points is not None:
        sel = _log_spaced_subset(k_, points)
        k_, c_ = k_[sel], c_[sel]
    if k_.size < 2:
        raise ValueError("fit_scaling_law: need at least two k with coverage > 0")
    y = np.log(c_)
    start = p0 if p0 is not None else _initial_guess(k_, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            params, cov = curve_fit(_model, k_, y, p0=start, maxfev=20000)
        except RuntimeError:
            params, cov = np.asarray(start), np.full((2, 2), np.inf)
    a, b = float(params[0]), float(params[1])
    resid = y - _model(k_, a, b)
    se = np.sqrt(np.abs(np.diag(cov))) if np.all(np.isfinite(cov)) else np.full(2, np.nan)
    return PowerLawFit(
        a=a,
        b=b,
        a_se=float(se[0]),
        b_se=float(se[1]),
        ks=k_,
        coverage=c_,
        residuals=resid,
        rmse=float(np.sqrt(np.mean(resid**2))),
    )


def fit_power_law(k: npt.ArrayLike, coverage: npt.ArrayLike) -> tuple[float, float]:
    """(a, b) of log c(k) = a * k^b, fitted on log-spaced k (see :func:`fit_scaling_law`)."""
    fit = fit_scaling_law(k, coverage)
    return fit.a, fit.b


@dataclass(frozen=True)
class FitInterval:
    """Bootstrap spread of a power-law fit (one fit per resample of the problems).

    Attributes:
        a: Fitted ``a`` of every resample.
        b: Fitted ``b`` of every resample.
        level: Confidence level of the intervals.
    """

    a: FloatArray
    b: FloatArray
    level: float

    def _bounds(self, values: FloatArray) -> tuple[float, float]:
        alpha = (1.0 - self.level) / 2.0
        lo, hi = np.nanquantile(values, [alpha, 1.0 - alpha])
        return float(lo), float(hi)

    @property
    def a_ci(self) -> tuple[float, float]:
        return self._bounds(self.a)

    @property
    def b_ci(self) -> tuple[float, float]:
        return self._bounds(self.b)

    def band(self, k: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Percentile band of the predicted coverage exp(a k^b) at each ``k``."""
        k_ = np.asarray(k, dtype=np.float64)
        preds = np.exp(self.a[:, None] * np.power(k_[None, :], self.b[:, None]))
        alpha = (1.0 - self.level) / 2.0
        lo, hi = np.nanquantile(preds, [alpha, 1.0 - alpha], axis=0)
        return lo, hi


def profile_fit(
    ks: npt.ArrayLike, curves: npt.ArrayLike, lo: float = -4.0, hi: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """Least-squares (a, b) of log c = a k^b for many curves at once (one per row).

    For a fixed b the best a is linear: a(b) = sum(y k^b) / sum(k^2b), so each row is a
    one-dimensional search over b: a grid over [lo, hi], then golden-section refinement,
    vectorised over rows. Points with coverage 0 are left out of their row.

    Args:
        ks: The k of each column.
        curves: (rows, len(ks)) coverage values.
        lo: Smallest exponent searched.
        hi: Largest exponent searched.

    Returns:
        Arrays a and b, one entry per row (NaN for rows with fewer than two usable points).
    """
    k = np.asarray(ks, dtype=np.float64)
    c = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    w = (np.isfinite(c) & (c > 0)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(w > 0, np.log(np.minimum(c, 1.0)), 0.0)
    logk = np.log(k)

    def loss(b: FloatArray) -> tuple[FloatArray, FloatArray]:
        kb = np.exp(b[..., None] * logk)  # (..., K)
        sxy = np.sum(w * y * kb, axis=-1)
        sxx = np.sum(w * kb * kb, axis=-1)
        a = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
        return np.sum(w * (y - a[..., None] * kb) ** 2, axis=-1), a

    grid = np.linspace(lo, hi, 101)
    losses = np.stack([loss(np.full(c.shape[0], g))[0] for g in grid], axis=1)
    best = np.argmin(losses, axis=1)
    step = grid[1] - grid[0]
    left, right = grid[best] - step, grid[best] + step
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(48):  # shrinks the bracket by 0.618^48 ~ 1e-10
        m1 = right - ratio * (right - left)
        m2 = left + ratio * (right - left)
        worse_right = loss(m1)[0] < loss(m2)[0]
        right = np.where(worse_right, m2, right)
        left = np.where(worse_right, left, m1)
    b = (left + right) / 2.0
    a = loss(b)[1]
    usable = w.sum(axis=1) >= 2
    return np.where(usable, a, np.nan), np.where(usable, b, np.nan)


def bootstrap_fit(replicates: npt.ArrayLike, ks: npt.ArrayLike, level: float = 0.95) -> FitInterval:
    """Refit the power law to each bootstrap replicate curve (see :func:`profile_fit`).

    Args:
        replicates: (resamples, len(ks)) coverage curves, e.g. from
            :func:`analysis.passk.bootstrap_replicates` on log-spaced ``ks``.
        ks: The k of each column.
        level: Confidence level of the intervals.
    """
    a, b = profile_fit(ks, replicates)
    return FitInterval(a=a, b=b, level=level)


@dataclass(frozen=True)
class BetaFit:
    """Per-problem success rates p ~ Beta(alpha, beta), fitted by beta-binomial likelihood."""

    alpha: float
    beta: float
    loglik: float

    def predict(self, k: npt.ArrayLike) -> FloatArray:
        """Expected coverage 1 - B(alpha, beta + k) / B(alpha, beta) at ``k``."""
        k_ = np.asarray(k, dtype=np.float64)
        out: FloatArray = -np.expm1(
            betaln(self.alpha, self.beta + k_) - betaln(self.alpha, self.beta)
        )
        return out


def fit_beta_binomial(n: npt.ArrayLike, c: npt.ArrayLike) -> BetaFit:
    """Maximum-likelihood Beta(alpha, beta) of per-problem success rates from counts.

    Args:
        n: Samples per problem.
        c: Correct samples per problem.
    """
    n_ = np.asarray(n, dtype=np.int64).ravel()
    c_ = np.asarray(c, dtype=np.int64).ravel()
    pairs, weight = np.unique(np.stack([n_, c_], axis=1), axis=0, return_counts=True)
    nn, cc = pairs[:, 0].astype(np.float64), pairs[:, 1].astype(np.float64)
    w = weight.astype(np.float64)

    def nll(theta: FloatArray) -> float:
        al, be = np.exp(theta)
        return -float(np.sum(w * (betaln(cc + al, nn - cc + be) - betaln(al, be))))

    rate = np.clip(c_ / np.maximum(n_, 1), 1e-6, 1 - 1e-6)
    mean, var = float(rate.mean()), float(rate.var()) + 1e-9
    common = max(mean * (1 - mean) / var - 1, 1e-2)
    start = np.log([max(mean * common, 1e-3), max((1 - mean) * common, 1e-3)])
    best = minimize(nll, start, method="L-BFGS-B", bounds=[(-12.0, 12.0), (-12.0, 16.0)])
    al, be = np.exp(best.x)
    return BetaFit(alpha=float(al), beta=float(be), loglik=-float(best.fun))


@dataclass(frozen=True)
class Backtest:
    """Fit on the first ``head`` samples of each problem, predict coverage at ``target_k``.

    Attributes:
        head: Samples per problem the fits saw (N/10).
        target_k: The k predicted (N, the full run).
        observed: Coverage at ``target_k`` measured on all samples.
        power_law: The power law's prediction.
        beta: The Beta model's prediction.
        fit: The power law fitted on the head (a, b).
        beta_fit: The Beta model fitted on the head.
    """

    head: int
    target_k: int
    observed: float
    power_law: float
    beta: float
    fit: PowerLawFit = field(repr=False)
    beta_fit: BetaFit = field(repr=False)

    @property
    def power_law_error(self) -> float:
        return self.power_law - self.observed

    @property
    def beta_error(self) -> float:
        return self.beta - self.observed

    @property
    def better(self) -> str:
        """ "power_law" or "beta": whichever missed the observed coverage by less."""
        return "power_law" if abs(self.power_law_error) <= abs(self.beta_error) else "beta"

    def to_dict(self) -> dict[str, Any]:
        return {
            "head_samples": self.head,
            "target_k": self.target_k,
            "observed": self.observed,
            "power_law_prediction": self.power_law,
            "power_law_error": self.power_law_error,
            "power_law_a": self.fit.a,
            "power_law_b": self.fit.b,
            "beta_prediction": self.beta,
            "beta_error": self.beta_error,
            "beta_alpha": self.beta_fit.alpha,
            "beta_beta": self.beta_fit.beta,
            "better": self.better,
        }


def backtest(
    n_head: npt.ArrayLike,
    c_head: npt.ArrayLike,
    target_k: int,
    observed: float,
    points: int = DEFAULT_POINTS,
) -> Backtest:
    """Predict coverage at ``target_k`` from the counts of the first samples only.

    Args:
        n_head: Samples per problem in the head (e.g. the first N/10).
        c_head: Correct samples per problem among them.
        target_k: The k to predict (e.g. N).
        observed: The coverage actually measured at ``target_k``.
        points: Log-spaced k points of the power-law fit.

    Raises:
        ValueError: the head is too short to fit (fewer than 4 samples per problem).
    """
    n_ = np.asarray(n_head, dtype=np.int64)
    head = int(n_.min())
    if head < 4:
        raise ValueError("backtest: need at least 4 samples per problem in the head")
    ks = log_spaced_ks(head, points)
    fit = fit_scaling_law(ks, coverage_curve(n_, c_head, ks), points=None)
    beta = fit_beta_binomial(n_, c_head)
    return Backtest(
        head=head,
        target_k=int(target_k),
        observed=float(observed),
        power_law=float(fit.predict(target_k)),
        beta=float(beta.predict(target_k)),
        fit=fit,
        beta_fit=beta,
    )
