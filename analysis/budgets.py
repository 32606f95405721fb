"""Which model a budget should go to, in FLOPs, memory-aware eFLOPs and dollars, and
whether the answer depends on the unit.

Budgets in different units are made comparable through a real workload: "what run R
spends on k samples per problem", costed in each unit. At that budget each unit picks
the run with the highest coverage; where FLOPs, eFLOPs and dollars pick different runs,
the unit of account changes the answer (Kinetics: FLOPs favour small models sampled
often, memory traffic does not).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.allocation import coverage_at_budget
from analysis.passk import log_spaced_ks

Curve = tuple[npt.ArrayLike, npt.ArrayLike]  # cost at k = 1..N, coverage at k = 1..N


def choices_by_unit(curves: Mapping[str, Mapping[str, Curve]], points: int = 6) -> pd.DataFrame:
    """The best run at the cost of k samples of each run, in every unit.

    Args:
        curves: Unit (``flops``, ``eflops``, ``dollars``) -> run label -> (cost at k =
            1..N, coverage at k = 1..N). A run missing from a unit has no cost in it.
        points: Reference k per run (log-spaced from 1 to its N).

    Returns:
        One row per (reference run, k): reference, k, and per unit ``best_<unit>`` (the
        run with the most coverage for that budget; empty when no run reaches it with
        coverage above 0) and ``coverage_<unit>``; ``agree`` says whether every unit
        with an answer picked the same run.
    """
    units = list(curves)
    runs = list(dict.fromkeys(r for unit in curves.values() for r in unit))
    rows = []
    for ref in runs:
        sizes = [np.asarray(c[ref][1]).size for c in curves.values() if ref in c]
        if not sizes:
            continue
        for k in log_spaced_ks(min(sizes), points):
            row: dict[str, object] = {"reference": ref, "k": int(k)}
            picks = set()
            for unit in units:
                if ref not in curves[unit]:
                    row[f"best_{unit}"], row[f"coverage_{unit}"] = "", float("nan")
                    continue
                budget = float(np.asarray(curves[unit][ref][0], dtype=np.float64)[k - 1])
                got = {
                    run: coverage_at_budget(cost, cov, budget)
                    for run, (cost, cov) in curves[unit].items()
                }
                got = {run: v for run, v in got.items() if np.isfinite(v) and v > 0}
                best = max(got, key=lambda run: got[run]) if got else ""
                row[f"best_{unit}"] = best
                row[f"coverage_{unit}"] = got.get(best, float("nan"))
                if best:
                    picks.add(best)
            row["agree"] = len(picks) <= 1
            rows.append(row)
    return pd.DataFrame(rows)


def change_sentence(table: pd.DataFrame, units: list[str]) -> str:
    """One sentence: whether the unit of account changes which run to sample from."""
    names = {"flops": "FLOPs", "eflops": "eFLOPs", "dollars": "dollars"}
    if table.empty:
        return "No budget could be compared across units."
    changed = table[~table["agree"]]
    if changed.empty:
        picked = sorted({b for u in units for b in table[f"best_{u}"] if b})
        return (
            f"{', '.join(names.get(u, u) for u in units)} agree at every budget compared: "
            f"put the next samples into {' / '.join(picked) or 'any run'} whichever unit "
            "you pay in."
        )
    row = changed.iloc[0]
    parts = [
        f"{names.get(u, u)} favour {row[f'best_{u}']} (coverage {row[f'coverage_{u}']:.3f})"
        for u in units
        if row[f"best_{u}"]
    ]
    return (
        f"The unit changes the answer: at the cost of {int(row['k'])} samples per problem of "
        f"{row['reference']}, {'; '.join(parts)}. Decide by the unit you actually pay in "
        f"({len(changed)} of {len(table)} budgets compared disagree)."
    )
