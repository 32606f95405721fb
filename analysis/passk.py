"""Unbiased pass@k (coverage) from n samples with c correct per problem.

pass@k = 1 - C(n-c, k) / C(n, k), the probability that a random size-k subset of the n
samples holds at least one correct one (Chen et al. 2021). Computed without forming
binomials: through log-gamma for arbitrary (n, c, k) arrays, and through a running
product over k for whole curves, which is exact up to float rounding for every k <= n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import gammaln

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def pass_at_k(n: ArrayLike, c: ArrayLike, k: ArrayLike) -> FloatArray:
    """Per-problem unbiased pass@k estimate, broadcast over ``n``, ``c`` and ``k``.

    Args:
        n: Samples per problem.
        c: Correct samples per problem (0 <= c <= n).
        k: Subset size (1 <= k <= n).

    Returns:
        The estimate for each broadcast element (a 0-d array for scalar inputs).

    Raises:
        ValueError: c outside [0, n] or k outside [1, n].
    """
    n_, c_, k_ = np.broadcast_arrays(
        np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64), np.asarray(k, dtype=np.int64)
    )
    if np.any((c_ < 0) | (c_ > n_)):
        raise ValueError("pass_at_k: need 0 <= c <= n")
    if np.any((k_ < 1) | (k_ > n_)):
        raise ValueError("pass_at_k: need 1 <= k <= n")
    fail = n_ - c_
    out = np.ones(n_.shape, dtype=np.float64)
    some = fail >= k_  # otherwise every size-k subset holds a correct sample
    f, nn, kk = fail[some], n_[some], k_[some]
    log_ratio = gammaln(f + 1) - gammaln(f - kk + 1) - gammaln(nn + 1) + gammaln(nn - kk + 1)
    out[some] = -np.expm1(log_ratio)
    return out


def pass_at_k_curve(n: ArrayLike, c: ArrayLike, ks: ArrayLike | None = None) -> FloatArray:
    """Per-problem pass@k for many k at once: a (problems, len(ks)) matrix.

    Uses C(n-c,k+1)/C(n,k+1) = C(n-c,k)/C(n,k) * (n-c-k)/(n-k), a running product over k,
    so all k <= max(ks) cost one pass. Entries with k > n for that problem are NaN.
    """
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    c_ = np.atleast_1d(np.asarray(c, dtype=np.int64))
    if n_.shape != c_.shape:
        raise ValueError("pass_at_k_curve: n and c must have the same shape")
    if np.any((c_ < 0) | (c_ > n_)):
        raise ValueError("pass_at_k_curve: need 0 <= c <= n")
    k_sel = np.arange(1, int(n_.max()) + 1) if ks is None else np.asarray(ks, dtype=np.int64)
    if k_sel.size and k_sel.min() < 1:
        raise ValueError("pass_at_k_curve: k must be >= 1")
    kmax = int(k_sel.max()) if k_sel.size else 0
    steps = np.arange(kmax, dtype=np.float64)  # j = 0..kmax-1
    # factors[:, j] = (n-c-j)/(n-j), built in place: this runs on 10^7-entry matrices.
    ratio = np.subtract((n_ - c_).astype(np.float64)[:, None], steps[None, :])
    same_n = bool(n_.size) and bool((n_ == n_[0]).all())
    denom = float(n_[0]) - steps if same_n else n_.astype(np.float64)[:, None] - steps
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(ratio, denom, out=ratio)
    np.clip(ratio, 0.0, 1.0, out=ratio)
    np.cumprod(ratio, axis=1, out=ratio)  # ratio[:, k-1] = C(n-c,k)/C(n,k)
    contiguous = k_sel.size == kmax and bool((k_sel == np.arange(1, kmax + 1)).all())
    curve = ratio if contiguous else ratio[:, k_sel - 1]
    np.subtract(1.0, curve, out=curve)
    short = np.flatnonzero(n_ < kmax)
    if short.size:
        curve[short] = np.where(k_sel[None, :] > n_[short, None], np.nan, curve[short])
    return curve


def coverage_curve(n: ArrayLike, c: ArrayLike, ks: ArrayLike | None = None) -> FloatArray:
    """Mean pass@k over problems for each k (k up to the smallest n by default)."""
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    k_sel = np.arange(1, int(n_.min()) + 1) if ks is None else np.asarray(ks, dtype=np.int64)
    result: FloatArray = pass_at_k_curve(n_, c, k_sel).mean(axis=0)
    return result


def log_spaced_ks(k_max: int, points: int = 40) -> npt.NDArray[np.int64]:
    """Distinct integers from 1 to ``k_max``, evenly spaced in log k (both ends included)."""
    if k_max < 1:
        return np.zeros(0, dtype=np.int64)
    grid = np.unique(np.rint(np.geomspace(1, k_max, max(points, 2))).astype(np.int64))
    return np.union1d(grid, [1, k_max]).astype(np.int64)


@dataclass(frozen=True)
class CoverageCI:
    """Bootstrap confidence band of a coverage curve (problems resampled with replacement).

    Attributes:
        ks: The k values.
        coverage: The point estimate (mean pass@k over the problems as they are).
        lo: Lower percentile bound at each k.
        hi: Upper percentile bound at each k.
        std: Bootstrap standard error at each k.
        level: Confidence level (0.95 for a 95% band).
        n_boot: Number of bootstrap resamples.
        seed: Seed of the resampling generator (re-running with it gives the same band).
    """

    ks: npt.NDArray[np.int64]
    coverage: FloatArray
    lo: FloatArray
    hi: FloatArray
    std: FloatArray
    level: float
    n_boot: int
    seed: int

    def frame(self) -> pd.DataFrame:
        """Columns k, coverage, lo, hi, std."""
        return pd.DataFrame(
            {"k": self.ks, "coverage": self.coverage, "lo": self.lo, "hi": self.hi, "std": self.std}
        )


def bootstrap_replicates(
    n: ArrayLike, c: ArrayLike, ks: ArrayLike, n_boot: int = 1000, seed: int = 0
) -> FloatArray:
    """Coverage curves of ``n_boot`` resamples of the problems: a (n_boot, len(ks)) matrix.

    Each resample draws as many problems as there are, uniformly with replacement, from a
    ``numpy.random.default_rng(seed)`` generator. Problems with equal (n, c) share one
    pass@k row, so the work is one (n_boot x groups) @ (groups x ks) product.
    """
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    c_ = np.atleast_1d(np.asarray(c, dtype=np.int64))
    k_sel = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    size = n_.size
    if size == 0:
        raise ValueError("bootstrap_replicates: no problems")
    pairs, group = np.unique(np.stack([n_, c_], axis=1), axis=0, return_inverse=True)
    group = group.ravel()
    rows = pass_at_k_curve(pairs[:, 0], pairs[:, 1], k_sel)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, size, size=(n_boot, size))
    flat = (np.arange(n_boot)[:, None] * len(pairs) + group[draws]).ravel()
    weights = np.bincount(flat, minlength=n_boot * len(pairs)).reshape(n_boot, len(pairs))
    del draws, flat
    reps: FloatArray = (weights.astype(np.float64) @ rows) / size
    return reps


def bootstrap_coverage(
    n: ArrayLike,
    c: ArrayLike,
    ks: ArrayLike | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> CoverageCI:
    """Percentile bootstrap band of the coverage curve, resampling problems.

    Args:
        n: Samples per problem.
        c: Correct samples per problem.
        ks: The k values (default: every k up to the smallest n).
        n_boot: Number of resamples.
        seed: Seed of the resampling generator; recorded in the result.
        level: Two-sided confidence level.

    Returns:
        The point estimate and the band at each k.
    """
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    k_sel = np.arange(1, int(n_.min()) + 1) if ks is None else np.asarray(ks, dtype=np.int64)
    if not 0 < level < 1:
        raise ValueError("bootstrap_coverage: level must be in (0, 1)")
    reps = bootstrap_replicates(n_, c, k_sel, n_boot=n_boot, seed=seed)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha], axis=0)
    return CoverageCI(
        ks=k_sel,
        coverage=coverage_curve(n_, c, k_sel),
        lo=lo,
        hi=hi,
        std=reps.std(axis=0, ddof=1) if n_boot > 1 else np.zeros(k_sel.size),
        level=level,
        n_boot=n_boot,
        seed=seed,
    )


def per_problem_rates(n: ArrayLike, c: ArrayLike, level: float = 0.95) -> pd.DataFrame:
    """Success rate c/n of each problem with a Jeffreys interval (Beta(c+1/2, n-c+1/2)).

    Returns:
        Columns n, c, rate, lo, hi, in the order of the inputs.
    """
    from scipy.stats import beta

    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    c_ = np.atleast_1d(np.asarray(c, dtype=np.int64))
    alpha = (1.0 - level) / 2.0
    lo = np.where(c_ > 0, beta.ppf(alpha, c_ + 0.5, n_ - c_ + 0.5), 0.0)
    hi = np.where(c_ < n_, beta.ppf(1.0 - alpha, c_ + 0.5, n_ - c_ + 0.5), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_ > 0, c_ / np.maximum(n_, 1), np.nan)
    return pd.DataFrame({"n": n_, "c": c_, "rate": rate, "lo": lo, "hi": hi})


def coverage_by_group(
    n: ArrayLike, c: ArrayLike, groups: Sequence[object], ks: ArrayLike
) -> pd.DataFrame:
    """Coverage curve of each subgroup of problems (e.g. MATH level or subject).

    Args:
        n: Samples per problem.
        c: Correct samples per problem.
        groups: The group label of each problem (same order as ``n``).
        ks: The k values (each must be <= the smallest n).

    Returns:
        Long format: columns group, problems, k, coverage (groups sorted by label).
    """
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    c_ = np.atleast_1d(np.asarray(c, dtype=np.int64))
    k_sel = np.asarray(ks, dtype=np.int64)
    labels = np.asarray([str(g) for g in groups], dtype=object)
    if labels.size != n_.size:
        raise ValueError("coverage_by_group: one group label per problem")
    curve = pass_at_k_curve(n_, c_, k_sel)
    frames = []
    for label in sorted(set(labels.tolist()), key=_natural_key):
        mask = labels == label
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "problems": int(mask.sum()),
                    "k": k_sel,
                    "coverage": curve[mask].mean(axis=0),
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["group", "problems", "k", "coverage"])
    )


def _natural_key(label: str) -> tuple[int, float, str]:
    """Sort numbers numerically ("Level 2" < "Level 10"), then text."""
    import re

    m = re.search(r"-?\d+(\.\d+)?", label)
    return (0, float(m.group()), label) if m else (1, 0.0, label)
