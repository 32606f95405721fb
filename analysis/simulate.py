"""Synthetic per-problem success probabilities with a known coverage curve.

Used to check that fits recover what they should, and to make benchmark data. The
probabilities are drawn from a discrete mixture found by non-negative least squares so
that the population coverage 1 - E[(1-p)^k] equals exp(a * k^b) for every k up to
``k_max`` (to about 1e-7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import nnls

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PowerLawMixture:
    """A distribution of success probabilities whose coverage curve is exp(a * k^b).

    Attributes:
        a: Power-law scale (negative).
        b: Power-law exponent (negative).
        support: The probabilities the mixture puts mass on.
        weights: Their probabilities (sum to 1).
        max_log_error: Largest |log c_mixture(k) - a k^b| over the matched k.
    """

    a: float
    b: float
    support: FloatArray
    weights: FloatArray
    max_log_error: float

    def coverage(self, ks: npt.ArrayLike) -> FloatArray:
        """Population coverage 1 - E[(1-p)^k] of the mixture."""
        k = np.asarray(ks, dtype=np.float64)
        fail = (1.0 - self.support[None, :]) ** k[..., None]
        out: FloatArray = 1.0 - fail @ self.weights
        return out

    def draw(self, num_problems: int, seed: int = 0, stratified: bool = True) -> FloatArray:
        """Success probabilities of ``num_problems`` problems drawn from the mixture.

        Args:
            num_problems: How many to draw.
            seed: Seed of the generator.
            stratified: Systematic sampling (one uniform offset, then evenly spaced
                quantiles), so the drawn set follows the mixture closely even when small;
                otherwise independent draws.
        """
        rng = np.random.default_rng(seed)
        if not stratified:
            return rng.choice(self.support, size=num_problems, p=self.weights)
        quantiles = (np.arange(num_problems) + rng.random()) / num_problems
        idx = np.searchsorted(np.cumsum(self.weights), quantiles, side="right")
        out: FloatArray = self.support[np.minimum(idx, self.support.size - 1)]
        return rng.permutation(out)


def power_law_mixture(a: float, b: float, k_max: int, grid: int = 400) -> PowerLawMixture:
    """The mixture matching log c(k) = a * k^b for 1 <= k <= ``k_max``.

    Args:
        a: Scale, a < 0 (coverage at k = 1 is exp(a)).
        b: Exponent, b < 0 (coverage tends to 1 as k grows).
        k_max: Largest k the curve must match.
        grid: Number of candidate probabilities (log-spaced in [1e-9, 1]).
    """
    if a >= 0 or b >= 0:
        raise ValueError("power_law_mixture: need a < 0 and b < 0")
    ks = np.unique(np.rint(np.geomspace(1, max(k_max, 2), 200)))
    target = np.exp(a * ks**b)
    support = np.geomspace(1e-9, 1.0, grid)
    design = 1.0 - (1.0 - support[None, :]) ** ks[:, None]
    # A heavily weighted last row pins the weights to sum to one.
    design = np.vstack([design, np.full(grid, 100.0)])
    weights, _ = nnls(design, np.append(target, 100.0), maxiter=20 * grid)
    weights = weights / weights.sum()
    keep = weights > 0
    mix = PowerLawMixture(a, b, support[keep], weights[keep], 0.0)
    err = float(np.max(np.abs(np.log(mix.coverage(ks)) - a * ks**b)))
    return PowerLawMixture(a, b, mix.support, mix.weights, err)


def simulate_counts(
    probabilities: FloatArray, n: int, seed: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``n`` samples per problem: (n, c) with c ~ Binomial(n, p) for each problem."""
    rng = np.random.default_rng(seed)
    c = rng.binomial(n, probabilities).astype(np.int64)
    return np.full(c.shape, n, dtype=np.int64), c


def simulate_verdicts(probabilities: FloatArray, n: int, seed: int = 0) -> npt.NDArray[np.bool_]:
    """A (problems, n) matrix of Bernoulli(p) correctness draws, one row per problem."""
    rng = np.random.default_rng(seed)
    out: npt.NDArray[np.bool_] = rng.random((probabilities.size, n)) < probabilities[:, None]
    return out
