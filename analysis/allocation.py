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


# exp(-1000) is 0 in double precision: a configuration certain to solve a problem keeps a
# finite log so that moves can subtract it (-inf - -inf is NaN).
_LOG_FLOOR = -1000.0


def problem_coverage(tables: list[FloatArray], ks: npt.ArrayLike) -> FloatArray:
    """Per-problem probability that at least one of the mix's samples is correct."""
    k = np.asarray(ks, dtype=np.int64)
    total = np.zeros(tables[0].shape[0])
    for table, kj in zip(tables, k, strict=True):
        total += table[:, kj]
    out: FloatArray = -np.expm1(total)
    return out


def _column(
    tables: list[FloatArray], k: IntArray, shift: int, ok: npt.NDArray[np.bool_]
) -> FloatArray:
    """Column ``k_j + shift`` of every table where ``ok``, as a problems x configurations array."""
    out = np.zeros((tables[0].shape[0], len(tables)))
    for j in np.flatnonzero(ok):
        out[:, j] = tables[j][:, k[j] + shift]
    return out


def local_search(
    tables: list[FloatArray],
    cost: npt.ArrayLike,
    budget: float,
    start: npt.ArrayLike,
    max_moves: int = 100_000,
) -> IntArray:
    """Improve a mix by moving samples between configurations while coverage rises.

    Two kinds of move, for ``d`` = 2^m, ..., 2, 1: add ``d`` samples to a configuration
    where the budget allows; or take ``d`` samples from one configuration and give
    another as many as the budget then allows (``d`` for equal costs: a swap). The move
    with the largest gain in expected coverage over the problems of ``tables`` is made
    while some move gains more than 1e-12, so the result is never worse than ``start``
    and no single-sample swap improves it.

    Args:
        tables: ``log_fail_table`` of each configuration on the training problems.
        cost: Cost of one sample of each configuration.
        budget: The most the mix may cost per problem.
        start: The mix to improve (e.g. ``greedy_mix``'s); must fit the budget.
    """
    logs = [np.maximum(t, _LOG_FLOOR) for t in tables]
    cost_ = np.asarray(cost, dtype=np.float64)
    caps = np.asarray([t.shape[1] - 1 for t in logs], dtype=np.int64)
    k = np.array(start, dtype=np.int64)
    width = len(logs)
    limit = budget * (1 + 1e-12)
    others = ~np.eye(width, dtype=bool)
    sizes = [1 << m for m in range(int(max(caps.max(), 1)).bit_length() - 1, -1, -1)]
    for _ in range(max_moves):
        now = _column(logs, k, 0, np.ones(width, dtype=bool))
        total = now.sum(axis=1)
        current = float(np.mean(-np.expm1(total)))
        spent = float(k @ cost_)
        best_gain, move = 1e-12, (-1, -1, 0, 0)
        for d in sizes:
            can_up, can_down = k + d <= caps, k >= d
            if can_up.any():
                up = _column(logs, k, d, can_up)
                add = np.mean(-np.expm1(total[:, None] - now + up), axis=0) - current
                add[~(can_up & (spent + d * cost_ <= limit))] = -np.inf
                if add.max() > best_gain:
                    j = int(np.argmax(add))
                    best_gain, move = float(add[j]), (-1, j, 0, d)
            if not can_down.any():
                continue
            # Giving back d samples of i pays for `fill[i, j]` samples of j.
            room = (limit - spent + d * cost_)[:, None] / cost_[None, :]
            fill = np.minimum(np.floor(room + 1e-9).astype(np.int64), (caps - k)[None, :])
            ok = can_down[:, None] & others & (fill >= 1)
            if not ok.any():
                continue
            gets = np.stack(
                [logs[j][:, k[j] + np.where(ok[:, j], fill[:, j], 0)] for j in range(width)],
                axis=2,
            )
            swap = total[:, None, None] - now[:, :, None] - now[:, None, :] + gets
            swap += _column(logs, k, -d, can_down)[:, :, None]
            # Entries of moves that are not allowed may exceed 0; they are masked below.
            gain = np.mean(-np.expm1(np.minimum(swap, 0.0)), axis=0) - current
            gain[~ok] = -np.inf
            if gain.max() > best_gain:
                giver, taker = (int(x) for x in np.unravel_index(int(np.argmax(gain)), gain.shape))
                best_gain = float(gain[giver, taker])
                move = (giver, taker, d, int(fill[giver, taker]))
        giver, taker, give, take = move
        if taker < 0:
            break
        if giver >= 0:
            k[giver] -= give
        k[taker] += take
    return k


@dataclass(frozen=True)
class ConfigRun:
    """One sampling configuration: per-problem counts on the shared problems, cost per sample."""

    n: IntArray
    c: IntArray
    cost: float


def mix_text(names: list[str], ks: npt.ArrayLike) -> str:
    """``a ×3 + b ×1``: the configurations a mix draws from, with their sample counts."""
    return " + ".join(f"{m} ×{x:g}" for m, x in zip(names, np.asarray(ks), strict=True) if x)


def allocate_split(
    configs: Mapping[str, ConfigRun],
    budgets: npt.ArrayLike,
    train: IntArray,
    test: IntArray,
) -> pd.DataFrame:
    """The mix and the best single configuration at each budget, chosen on ``train``.

    The best single configuration is the one with the highest training coverage when
    the whole budget goes to it (capped at the samples it has). The mix is the better on
    the training problems of ``local_search`` from ``greedy_mix`` and from that single
    configuration, so it never trains below either. Both are scored on ``test`` with the
    exact without-replacement coverage of each problem's own counts.

    Returns:
        One row per budget: budget, mix, greedy_train, mix_train, mix_test, best_single,
        single_train, single_test, gain_test, train_problems, test_problems, then
        ``k:<name>`` (samples of each configuration in the mix), ``test:<name>`` (test
        coverage of each configuration alone at the budget), and ``best_index`` and
        ``best_k`` (the best single configuration's position and samples).
    """
    names = list(configs)
    full = [log_fail_table(configs[m].n, configs[m].c) for m in names]
    tr_tables, te_tables = [t[train] for t in full], [t[test] for t in full]
    cost = np.asarray([configs[m].cost for m in names], dtype=np.float64)
    caps = np.asarray([t.shape[1] - 1 for t in full], dtype=np.int64)
    rows = []
    for budget in np.asarray(budgets, dtype=np.float64):
        singles = []
        for j in range(len(names)):
            kj = np.zeros(len(names), dtype=np.int64)
            kj[j] = min(int(budget // cost[j] + 1e-9), caps[j])
            singles.append((expected_coverage(tr_tables, kj), expected_coverage(te_tables, kj)))
        best = max(range(len(names)), key=lambda j: singles[j][0])
        best_k = min(int(budget // cost[best] + 1e-9), int(caps[best]))
        greedy = greedy_mix(tr_tables, cost, float(budget))
        # Searched from the greedy mix and from the best single configuration (with
        # unequal costs the greedy can stop where no swap reaches the single one).
        alone = np.zeros(len(names), dtype=np.int64)
        alone[best] = best_k
        mix = max(
            (local_search(tr_tables, cost, float(budget), start) for start in (greedy, alone)),
            key=lambda ks: expected_coverage(tr_tables, ks),
        )
        mix_test = expected_coverage(te_tables, mix)
        row: dict[str, object] = {
            "budget": float(budget),
            "mix": mix_text(names, mix),
            "greedy_train": expected_coverage(tr_tables, greedy),
            "mix_train": expected_coverage(tr_tables, mix),
            "mix_test": mix_test,
            "best_single": f"{names[best]} ×{best_k}",
            "single_train": singles[best][0],
            "single_test": singles[best][1],
            "gain_test": mix_test - singles[best][1],
            "train_problems": int(train.size),
            "test_problems": int(test.size),
        }
        row |= {f"k:{m}": int(x) for m, x in zip(names, mix, strict=True)}
        row |= {f"test:{m}": singles[j][1] for j, m in enumerate(names)}
        row |= {"best_index": best, "best_k": best_k}
        rows.append(row)
    return pd.DataFrame(rows)


def random_split(size: int, seed: int, train: float = 0.5) -> tuple[IntArray, IntArray]:
    """Train and test problem indices: the first ``round(size * train)`` of a permutation
    drawn with ``numpy.random.default_rng(seed)``, and the rest (each at least one)."""
    order = np.random.default_rng(seed).permutation(size).astype(np.int64)
    cut = max(1, min(size - 1, round(size * train)))
    return order[:cut], order[cut:]


def osca_table(
    configs: Mapping[str, ConfigRun], budgets: npt.ArrayLike, seed: int = 0, train: float = 0.5
) -> pd.DataFrame:
    """Mixed allocation against the best single configuration, on one random split.

    Args:
        configs: Name -> counts on the same problems (same order) and cost per sample.
        budgets: Budgets in the cost unit (samples or FLOPs per problem).
        seed: Seed of the train/test split of the problems (recorded in the table).
        train: Fraction of problems used to choose the allocation.

    Returns:
        ``allocate_split``'s table with a ``split_seed`` column.
    """
    size = next(iter(configs.values())).n.size
    tr, te = random_split(size, seed, train)
    table = allocate_split(configs, budgets, tr, te)
    table["split_seed"] = seed
    return table


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
