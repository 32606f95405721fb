"""Unbiased pass@k (coverage) from n samples with c correct per problem.

pass@k = 1 - C(n-c, k) / C(n, k), the probability that a random size-k subset of the n
samples holds at least one correct one (Chen et al. 2021). Computed without forming
binomials: through log-gamma for arbitrary (n, c, k) arrays, and through a running
product over k for whole curves, which is exact up to float rounding for every k <= n.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
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
    fail = (n_ - c_).astype(np.float64)[:, None]
    total = n_.astype(np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.clip((fail - steps) / (total - steps), 0.0, 1.0)
    ratio = np.cumprod(factors, axis=1)  # ratio[:, k-1] = C(n-c,k)/C(n,k)
    curve = np.asarray(1.0 - ratio[:, k_sel - 1], dtype=np.float64)
    curve[k_sel[None, :] > n_[:, None]] = np.nan
    return curve


def coverage_curve(n: ArrayLike, c: ArrayLike, ks: ArrayLike | None = None) -> FloatArray:
    """Mean pass@k over problems for each k (k up to the smallest n by default)."""
    n_ = np.atleast_1d(np.asarray(n, dtype=np.int64))
    k_sel = np.arange(1, int(n_.min()) + 1) if ks is None else np.asarray(ks, dtype=np.int64)
    result: FloatArray = pass_at_k_curve(n_, c, k_sel).mean(axis=0)
    return result
