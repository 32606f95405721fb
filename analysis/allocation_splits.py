"""How far an allocation's gain can be trusted: the same OSCA comparison over many splits.

One random train/test split of a hundred problems can show a mixed allocation gaining
0.19 over the best single configuration where twenty splits give 0.05 ± 0.04. So the
comparison is repeated over split seeds (``repeated_splits``) and reported as the mean and
the spread of every number, with an interval for the gain (``summarize_splits``); a split
the data names (a release's own train/test lists) is one split, whose gain gets a
bootstrap interval over its test problems (``bootstrap_gain``).

The interval over random splits is the corrected resampled t interval of Nadeau and
Bengio (2003): the splits share problems, so their gains are correlated and the plain
standard error of the mean would be too narrow; the variance is inflated by
``n_test / n_train``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from analysis.allocation import (
    ConfigRun,
    IntArray,
    allocate_split,
    log_fail_table,
    mix_text,
    problem_coverage,
    random_split,
)

SPLIT_LABELS = ("train", "test", "both")


def labelled_split(labels: Sequence[str]) -> tuple[IntArray, IntArray]:
    """Train and test indices from per-problem labels ``train``, ``test`` or ``both``
    (a problem in both lists of a release: its test score is then not held out).

    Raises:
        ValueError: a label that is none of these, or a side with no problem.
    """
    low = [str(v).strip().lower() for v in labels]
    bad = sorted({v for v in low if v not in SPLIT_LABELS})
    if bad:
        raise ValueError(f"split values must be train, test or both; found {', '.join(bad)}")
    train = np.asarray([i for i, v in enumerate(low) if v in ("train", "both")], np.int64)
    test = np.asarray([i for i, v in enumerate(low) if v in ("test", "both")], np.int64)
    if not train.size or not test.size:
        raise ValueError(
            f"the split has {train.size} training and {test.size} test problems; it needs both"
        )
    return train, test


def repeated_splits(
    configs: Mapping[str, ConfigRun],
    budgets: npt.ArrayLike,
    seeds: Sequence[int],
    train: float = 0.5,
) -> pd.DataFrame:
    """``allocate_split`` on the random split of every seed (``random_split``), stacked,
    with a ``split_seed`` column."""
    size = next(iter(configs.values())).n.size
    frames = []
    for seed in seeds:
        tr, te = random_split(size, seed, train)
        frame = allocate_split(configs, budgets, tr, te)
        frame.insert(0, "split_seed", seed)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def corrected_interval(
    values: npt.ArrayLike, train: int, test: int, level: float = 0.95
) -> tuple[float, float]:
    """Nadeau-Bengio corrected resampled t interval of the mean of per-split values.

    NaN bounds with fewer than two splits.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float("nan"), float("nan")
    var = (1.0 / v.size + test / train) * v.var(ddof=1)
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * np.sqrt(var))
    return float(v.mean() - half), float(v.mean() + half)


def summarize_splits(
    per_split: pd.DataFrame, names: Sequence[str], level: float = 0.95
) -> pd.DataFrame:
    """Mean and spread over splits of every number of ``repeated_splits``, per budget.

    Returns:
        One row per budget: splits; the mix (mean samples of each configuration); mean and
        sample standard deviation (ddof=1) over splits of the mix's and the best single
        configuration's test coverage and of the gain; the gain's corrected interval
        (``gain_lo``, ``gain_hi``); the share of splits where the mix gained; and the
        configuration chosen as best single most often (how often).
    """
    rows = []
    for budget in sorted(set(per_split["budget"].astype(float))):
        group = per_split[per_split["budget"] == budget]
        counts = [group[f"k:{m}"].mean() for m in names]
        chosen = Counter(str(names[int(i)]) for i in group["best_index"])
        top, times = chosen.most_common(1)[0]
        lo, hi = corrected_interval(
            group["gain_test"],
            int(group["train_problems"].iloc[0]),
            int(group["test_problems"].iloc[0]),
            level,
        )
        row: dict[str, object] = {
            "budget": float(budget),
            "splits": len(group),
            "mix (mean samples)": mix_text(list(names), np.round(counts, 1)),
            "mix_test": group["mix_test"].mean(),
            "mix_test_std": group["mix_test"].std(ddof=1),
            "single_test": group["single_test"].mean(),
            "single_test_std": group["single_test"].std(ddof=1),
            "gain": group["gain_test"].mean(),
            "gain_std": group["gain_test"].std(ddof=1),
            "gain_lo": lo,
            "gain_hi": hi,
            "gain_positive": float((group["gain_test"] > 0).mean()),
            "best_single_most_often": f"{top} ({times} of {len(group)})",
        }
        row |= {f"test:{m}": group[f"test:{m}"].mean() for m in names}
        rows.append(row)
    return pd.DataFrame(rows)


def bootstrap_gain(
    configs: Mapping[str, ConfigRun],
    table: pd.DataFrame,
    test: IntArray,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Percentile bootstrap interval, over the test problems, of the gain in each row of
    one split's ``allocate_split`` table (columns ``gain_lo``, ``gain_hi`` added)."""
    names = list(configs)
    tables = [log_fail_table(configs[m].n, configs[m].c)[test] for m in names]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, test.size, size=(resamples, test.size))
    lo, hi = [], []
    for _, row in table.iterrows():
        mix = [int(row[f"k:{m}"]) for m in names]
        single = np.zeros(len(names), dtype=np.int64)
        single[int(row["best_index"])] = int(row["best_k"])
        per_problem = problem_coverage(tables, mix) - problem_coverage(tables, single)
        means = per_problem[draws].mean(axis=1)
        tail = (1 - level) / 2
        lo.append(float(np.quantile(means, tail)))
        hi.append(float(np.quantile(means, 1 - tail)))
    out = table.copy()
    out["gain_lo"], out["gain_hi"] = lo, hi
    return out
