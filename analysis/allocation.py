"""Where compute should go: across models, across sampling configurations, across problems.

* Across models at equal FLOPs: the coverage each run buys for the same budget (a small
  model sampled many times against a big one sampled a few times).
* Across sampling configurations (OSCA, Zhang et al. 2024): a mix of sample counts over
  several configurations of one task, chosen greedily by marginal coverage per unit cost
  on a training split of the problems and scored on the held-out split, against the best
  single configuration chosen on the same split.
* Across problems: stop sampling a problem once the verifier accepts a sample. Coverage
  at a cap of k samples is unchanged; the expected samples drawn are
  P * (1 + sum_{t<k} (1 - c(t))), exact from the coverage curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# -- across models ------------------------------------------------------------------


def coverage_at_budget(flops: npt.ArrayLike, coverage: npt.ArrayLike, budget: float) -> float:
    """Coverage a run reaches with ``budget`` FLOPs (linear in k between measured k).

    NaN outside the range the run measured (less than one sample, more than N).
    """
    f = np.asarray(flops, dtype=np.float64)
    c = np.asarray(coverage, dtype=np.float64)
    if f.size == 0 or budget < f[0] or budget > f[-1]:
        return float("nan")
    return float(np.interp(budget, f, c))


def equal_budget_table(
    runs: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]], points: int = 12, column: str = "flops"
) -> pd.DataFrame:
    """Coverage of each run at log-spaced equal budgets.

    Args:
        runs: Run label -> (cost at k = 1..N, coverage at k = 1..N), costs increasing.
        points: Number of budgets between the smallest and largest cost of any run.
        column: Name of the budget column (``flops`` or ``dollars``).

    Returns:
        Columns <column>, one per run (NaN where the run does not reach / exceeds the
        budget), and ``best`` (the run with the highest coverage there; empty where no run
        reaches the budget with coverage above 0).
    """
    costs = {name: np.asarray(v[0], dtype=np.float64) for name, v in runs.items()}
    lo = min(float(c[0]) for c in costs.values() if c.size)
    hi = max(float(c[-1]) for c in costs.values() if c.size)
    budgets = np.geomspace(lo, hi, points) if hi > lo > 0 else np.asarray([hi])
    table = pd.DataFrame({column: budgets})
    for name, (cost, cov) in runs.items():
        table[name] = [coverage_at_budget(cost, cov, b) for b in budgets]
    values = table[list(runs)].to_numpy()
    best = [
        list(runs)[int(np.nanargmax(row))] if np.isfinite(row).any() and np.nanmax(row) > 0 else ""
        for row in values
    ]
    table["best"] = best
    return table


# -- across sampling configurations (OSCA) ----------------------------------------------


def log_fail_table(n: npt.ArrayLike, c: npt.ArrayLike) -> FloatArray:
    """L[p, k] = log(C(n-c, k) / C(n, k)) for k = 0..min(n): log P(k draws all wrong).

    Entries past a problem's own n are -inf-free copies of its last value (never used).
    """
    n_ = np.asarray(n, dtype=np.int64)
    c_ = np.asarray(c, dtype=np.int64)
    kmax = int(n_.min())
    t = np.arange(kmax, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.log(np.clip((n_[:, None] - c_[:, None] - t) / (n_[:, None] - t), 0.0, 1.0))
    table = np.zeros((n_.size, kmax + 1))
    np.cumsum(step, axis=1, out=table[:, 1:])
    return table


def expected_coverage(tables: list[FloatArray], ks: npt.ArrayLike) -> float:
    """Mean over problems of 1 - prod_j P(all k_j samples of configuration j fail)."""
    k = np.asarray(ks, dtype=np.int64)
    total = np.zeros(tables[0].shape[0])
    for table, kj in zip(tables, k, strict=True):
        total += table[:, kj]
    return float(np.mean(-np.expm1(total)))


def _step(table: FloatArray, k: int, step: int) -> FloatArray:
    """Change of log P(all fail) from k to k + step samples (0 once already -inf)."""
    now = table[:, k]
    out: FloatArray = np.where(
        np.isneginf(now), 0.0, table[:, k + step] - np.where(np.isneginf(now), 0.0, now)
    )
    return out


def greedy_mix(tables: list[FloatArray], cost: npt.ArrayLike, budget: float) -> IntArray:
    """Sample counts per configuration maximising expected coverage within ``budget``.

    Greedy on marginal coverage per unit cost, in steps of 1/8 of the current count so
    the path has O(log N) steps per configuration.
    """
    cost_ = np.asarray(cost, dtype=np.float64)
    k = np.zeros(len(tables), dtype=np.int64)
    caps = np.asarray([t.shape[1] - 1 for t in tables], dtype=np.int64)
    log_fail = np.zeros(tables[0].shape[0])
    spent = 0.0
    while True:
        best, best_rate, best_step = -1, -np.inf, 0
        base = -np.expm1(log_fail).mean()
        for j, table in enumerate(tables):
            step = int(min(max(1, k[j] // 8), caps[j] - k[j]))
            if step <= 0 or spent + step * cost_[j] > budget * (1 + 1e-12):
                continue
            gain = -np.expm1(log_fail + _step(table, k[j], step)).mean() - base
            rate = gain / (step * cost_[j])
            if rate > best_rate:
                best, best_rate, best_step = j, rate, step
        if best < 0:
            return k
        log_fail += _step(tables[best], k[best], best_step)
        k[best] += best_step
        spent += best_step * cost_[best]


@dataclass(frozen=True)
class ConfigRun:
    """One sampling configuration: per-problem counts on the shared problems, cost per sample."""

    n: IntArray
    c: IntArray
    cost: float


def osca_table(
    configs: Mapping[str, ConfigRun], budgets: npt.ArrayLike, seed: int = 0, train: float = 0.5
) -> pd.DataFrame:
    """Mixed allocation against the best single configuration, trained and scored apart.

    Args:
        configs: Name -> counts on the same problems (same order) and cost per sample.
        budgets: Budgets in the cost unit (samples or FLOPs per problem).
        seed: Seed of the train/test split of the problems (recorded in the table).
        train: Fraction of problems used to choose the allocation.

    Returns:
        One row per budget: the mix (``name ×k`` terms joined by " + "), its train and
        test coverage, the best single configuration (chosen on train), its test coverage,
        and the gain.
    """
    names = list(configs)
    size = configs[names[0]].n.size
    rng = np.random.default_rng(seed)
    order = rng.permutation(size)
    cut = max(1, min(size - 1, round(size * train)))
    tr, te = order[:cut], order[cut:]
    full = [log_fail_table(configs[m].n, configs[m].c) for m in names]
    cost = np.asarray([configs[m].cost for m in names])
    rows = []
    for budget in np.asarray(budgets, dtype=np.float64):
        mix = greedy_mix([t[tr] for t in full], cost, float(budget))
        singles = []
        for j in range(len(names)):
            kj = np.zeros(len(names), dtype=np.int64)
            kj[j] = min(int(budget // cost[j]), full[j].shape[1] - 1)
            singles.append((expected_coverage([t[tr] for t in full], kj), j, kj))
        best_train, best_j, best_k = max(singles, key=lambda s: s[0])
        mix_test = expected_coverage([t[te] for t in full], mix)
        single_test = expected_coverage([t[te] for t in full], best_k)
        rows.append(
            {
                "budget": float(budget),
                "mix": " + ".join(f"{m} ×{int(x)}" for m, x in zip(names, mix, strict=True) if x),
                "mix_train": expected_coverage([t[tr] for t in full], mix),
                "mix_test": mix_test,
                "best_single": f"{names[best_j]} ×{int(best_k[best_j])}",
                "single_train": best_train,
                "single_test": single_test,
                "gain_test": mix_test - single_test,
                "split_seed": seed,
                "train_problems": int(tr.size),
                "test_problems": int(te.size),
            }
        )
    return pd.DataFrame(rows)


# -- across problems -----------------------------------------------------------------


def early_stopping_table(
    ks: npt.ArrayLike, coverage_all_k: npt.ArrayLike, problems: int
) -> pd.DataFrame:
    """Samples saved by stopping each problem at its first accepted sample.

    Args:
        ks: The caps k to report (each <= len(coverage_all_k)).
        coverage_all_k: Coverage at k = 1, 2, ..., N (every k).
        problems: Number of problems P.

    Returns:
        Columns k, coverage (same for both policies), uniform_samples (P*k),
        adaptive_samples (expected), saved (fraction of uniform).
    """
    cov = np.asarray(coverage_all_k, dtype=np.float64)
    k = np.asarray(ks, dtype=np.int64)
    # E[min(T, k)] summed over problems = P * sum_{t=0}^{k-1} (1 - c(t)), with c(0) = 0.
    miss = np.concatenate([[1.0], 1.0 - cov])
    expected = problems * np.cumsum(miss)[k - 1]
    uniform = problems * k.astype(np.float64)
    return pd.DataFrame(
        {
            "k": k,
            "coverage": cov[k - 1],
            "uniform_samples": uniform,
            "adaptive_samples": expected,
            "saved": 1.0 - expected / uniform,
        }
    )
