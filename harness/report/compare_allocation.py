"""The allocation section of ``harness compare``: a mix of sample counts across the runs'
configurations against the best single configuration, trained and scored apart.

``plan_allocation`` checks the options against the runs before anything is written (a
split key every problem has, positive budgets, a cost every run states); the section
then chooses, on the training problems of each split, the greedy mix refined by local
search and the best single configuration, and scores both on the test problems. A split
named by the problems' metadata (``--split-key``) is one split, with a bootstrap interval
over its test problems; otherwise the random split is repeated over ``--split-seeds``
seeds and every number is a mean and a spread, the gain with an interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from analysis.allocation import ConfigRun, IntArray, allocate_split
from analysis.allocation_splits import (
    SPLIT_LABELS,
    bootstrap_gain,
    labelled_split,
    repeated_splits,
    summarize_splits,
)
from harness.core.errors import UsageError
from harness.core.manifest import RunManifest
from harness.core.store import RunStore
from harness.report import page as h

UNITS = ("auto", "samples", "flops", "cost")
DEFAULT_SPLIT_SEEDS = 20
DEFAULT_TRAIN_FRAC = 0.5
LEVEL = 0.95


class AllocRun(Protocol):
    """What the section reads of a compared run."""

    label: str
    root: Path
    manifest: RunManifest
    per_problem: pd.DataFrame
    compute_info: dict[str, Any]


def parse_budgets(text: str | None) -> tuple[float, ...] | None:
    """``"1,2,4,300"`` -> budgets; None for None.

    Raises:
        UsageError: an entry that is not a positive finite number.
    """
    if text is None:
        return None
    budgets = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"--budgets: {part.strip()!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"--budgets must be positive, got {part.strip()}")
        budgets.append(value)
    return tuple(sorted(set(budgets)))


@dataclass(frozen=True)
class AllocationOptions:
    """How ``harness compare`` splits the problems and which budgets it allocates.

    ``train_frac`` and ``split_seeds`` apply to random splits; ``split_key`` names a
    problem-metadata field whose values (train, test, both) fix the split instead.
    """

    split_key: str | None = None
    train_frac: float | None = None
    split_seeds: int | None = None
    budgets: tuple[float, ...] | None = None
    allocate_by: str = "auto"
    bootstrap: int = 2000
    bootstrap_seed: int = 0

    def check(self) -> AllocationOptions:
        """Raises UsageError for values out of range or options that exclude each other."""
        if self.allocate_by not in UNITS:
            raise UsageError(f"--allocate-by must be one of {', '.join(UNITS)}")
        if self.train_frac is not None and not 0 < self.train_frac < 1:
            raise UsageError(f"--train-frac must be between 0 and 1, got {self.train_frac}")
        if self.split_seeds is not None and self.split_seeds < 1:
            raise UsageError(f"--split-seeds must be at least 1, got {self.split_seeds}")
        if self.split_key is not None and (self.train_frac, self.split_seeds) != (None, None):
            raise UsageError(
                "--split-key fixes the split; --train-frac and --split-seeds are for random splits"
            )
        if self.budgets is not None and not all(math.isfinite(b) and b > 0 for b in self.budgets):
            raise UsageError("--budgets must be positive")
        return self


@dataclass
class AllocationPlan:
    """The checked inputs of the section, or why there is no allocation."""

    why_not: str = ""
    configs: dict[str, ConfigRun] = field(default_factory=dict)
    unit: str = "samples per problem"
    budgets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    split: tuple[IntArray, IntArray] | None = None
    seeds: list[int] = field(default_factory=list)
    train_frac: float = DEFAULT_TRAIN_FRAC
    notes: list[str] = field(default_factory=list)
    options: AllocationOptions = field(default_factory=AllocationOptions)


def _unit(runs: Sequence[AllocRun], asked: str, notes: list[str]) -> tuple[str, list[float]]:
    """The cost unit and each run's cost of one sample (a note where stated costs go unused)."""
    stated = {r.manifest.cost_unit for r in runs if r.manifest.cost_per_sample is not None}
    all_stated = len(stated) == 1 and all(r.manifest.cost_per_sample for r in runs)
    if stated and not all_stated:
        have = sum(r.manifest.cost_per_sample is not None for r in runs)
        notes.append(
            f"{have} of {len(runs)} runs state a cost per sample (units: "
            f"{', '.join(sorted(map(str, stated)))}); costs are used only when every run "
            "states one in the same unit."
        )
    with_flops = all(r.compute_info.get("available") for r in runs)
    if asked == "cost" and not all_stated:
        raise UsageError(
            "--allocate-by cost needs every run to state a cost per sample in one unit "
            "(harness import --cost-per-sample, --cost-unit)"
        )
    if asked == "flops" and not with_flops:
        raise UsageError("--allocate-by flops needs compute accounting of every run")
    if asked == "cost" or (asked == "auto" and all_stated):
        return f"{stated.pop()} per problem", [float(r.manifest.cost_per_sample or 0) for r in runs]
    if asked == "flops" or (asked == "auto" and with_flops):
        return "FLOPs per problem", [float(r.compute_info["flops_per_sample"]) for r in runs]
    return "samples per problem", [1.0] * len(runs)


def _split_labels(runs: Sequence[AllocRun], key: str, order: list[str]) -> list[str]:
    """Each shared problem's value of ``key``, the same in every run.

    Raises:
        UsageError: a problem without the key, or runs that disagree on a problem.
    """
    labels: dict[str, str] = {}
    for r in runs:
        meta = {p.id: p.metadata for p in RunStore(r.root).read_problems()}
        for pid in order:
            if key not in meta.get(pid, {}):
                have = sum(key in meta.get(q, {}) for q in order)
                raise UsageError(
                    f"--split-key {key}: problem {pid!r} of {r.label} has no {key!r} "
                    f"({have} of {len(order)} problems have it)"
                )
            value = str(meta[pid][key])
            if labels.setdefault(pid, value) != value:
                raise UsageError(
                    f"--split-key {key}: the runs disagree on problem {pid!r} "
                    f"({labels[pid]!r} and {value!r})"
                )
    return [labels[pid] for pid in order]


def _split_hint(runs: Sequence[AllocRun], order: list[str]) -> str | None:
    """A metadata field that names train or test for every shared problem, if any."""
    meta = {p.id: p.metadata for p in RunStore(runs[0].root).read_problems()}
    keys = set(meta.get(order[0], {}))
    for pid in order:
        keys = {k for k in keys if str(meta.get(pid, {}).get(k)).lower() in SPLIT_LABELS}
    return min(keys) if keys else None


def _default_budgets(costs: np.ndarray, caps: np.ndarray, by_samples: bool) -> np.ndarray:
    top = float((costs * caps).max())
    if by_samples:
        powers = [2.0**i for i in range(int(math.log2(top)) + 1)]
        return np.asarray(sorted(set(powers) | {top}))
    return np.geomspace(costs.min(), top, 8)


def plan_allocation(runs: Sequence[AllocRun], opts: AllocationOptions) -> AllocationPlan:
    """Check the options against the runs (before anything is written).

    Raises:
        UsageError: a split key some problem lacks or with values other than train, test,
            both; budgets that are not whole samples when allocating samples; a cost unit
            some run lacks.
    """
    opts = opts.check()
    plan = AllocationPlan(options=opts)
    shared = set(runs[0].per_problem["problem_id"])
    for r in runs[1:]:
        shared &= set(r.per_problem["problem_id"])
    order = sorted(shared)
    if len(runs) < 2 or len({r.manifest.task for r in runs}) != 1:
        if opts.split_key is not None:  # still checked: a typo should not pass silently
            _split_labels(runs, opts.split_key, order)
        plan.why_not = "needs at least two runs of the same task"
        return plan
    if len(order) < 4:
        plan.why_not = "the runs share fewer than 4 problems"
        return plan
    if len(order) < len(set().union(*(set(r.per_problem["problem_id"]) for r in runs))):
        plan.notes.append(f"Allocated on the {len(order)} problems every run has.")
    plan.unit, costs = _unit(runs, opts.allocate_by, plan.notes)
    for r, cost in zip(runs, costs, strict=True):
        pp = r.per_problem.set_index("problem_id").loc[order]
        plan.configs[r.label] = ConfigRun(
            pp["n"].to_numpy(np.int64), pp["c"].to_numpy(np.int64), cost
        )
    caps = np.asarray([int(c.n.min()) for c in plan.configs.values()])
    by_samples = plan.unit == "samples per problem"
    if opts.budgets is not None:
        if by_samples and any(b != int(b) for b in opts.budgets):
            raise UsageError("--budgets in samples per problem must be whole numbers")
        plan.budgets = np.asarray(opts.budgets, dtype=np.float64)
    else:
        plan.budgets = _default_budgets(np.asarray(costs), caps, by_samples)
    over = plan.budgets > (np.asarray(costs) * caps).min() * (1 + 1e-12)
    if over.any():
        plan.notes.append(
            f"At budgets above {(np.asarray(costs) * caps).min():g} some configuration has "
            "fewer samples per problem than the budget buys: alone it is capped at what it "
            "has, while the mix can draw on several."
        )
    if opts.split_key is not None:
        labels = _split_labels(runs, opts.split_key, order)
        try:
            plan.split = labelled_split(labels)
        except ValueError as e:
            raise UsageError(f"--split-key {opts.split_key}: {e}") from None
        both = sum(v.lower() == "both" for v in labels)
        if both:
            plan.notes.append(
                f"{both} of {len(order)} problems are in both the training and the test "
                "list: their test scores are not held out."
            )
    else:
        plan.seeds = list(range(opts.split_seeds or DEFAULT_SPLIT_SEEDS))
        plan.train_frac = opts.train_frac or DEFAULT_TRAIN_FRAC
        hint = _split_hint(runs, order)
        if hint:
            plan.notes.append(
                f"The problems carry {hint!r} (train/test); --split-key {hint} uses that "
                "split instead of random ones."
            )
    return plan


# Table cells keep a number and its spread on one line (no-break spaces).
def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f}" if not np.isfinite(std) else f"{mean:.3f}\u00a0±\u00a0{std:.3f}"


def _interval(lo: float, hi: float) -> str:
    return "–" if not np.isfinite(lo) else f"[{lo:+.3f},\u00a0{hi:+.3f}]"


def _budget(b: float) -> str:
    return f"{b:g}" if b >= 1e-3 and b < 1e6 else f"{b:.3g}"


@dataclass
class _Shown:
    """What the section shows of one way of splitting: the table, the curves to plot, the
    configuration to highlight, and how the numbers were made."""

    table: pd.DataFrame
    curves: pd.DataFrame
    highlight: str
    how: str


def _fixed_split(plan: AllocationPlan, out: Path) -> _Shown:
    """One split named by the problems, with a bootstrap interval over its test problems."""
    assert plan.split is not None
    tr, te = plan.split
    names, opts = list(plan.configs), plan.options
    table = allocate_split(plan.configs, plan.budgets, tr, te)
    table = bootstrap_gain(plan.configs, table, te, opts.bootstrap, opts.bootstrap_seed, LEVEL)
    table.insert(1, "unit", plan.unit)
    table["split"] = f"metadata {opts.split_key!r}"
    table.to_csv(out / "osca.csv", index=False)
    table.to_csv(out / "allocation.csv", index=False)
    how = (
        f"Split: the problems' {opts.split_key!r} ({tr.size} training, {te.size} test "
        f"problems). Gain interval: {LEVEL:.0%} percentile bootstrap over the test problems "
        f"({opts.bootstrap} resamples, seed {opts.bootstrap_seed}); one split, so it says "
        "nothing of how the choice varies with the split."
    )
    shown = pd.DataFrame(
        {
            f"budget ({plan.unit})": [_budget(b) for b in table["budget"]],
            "mix (chosen on train)": table["mix"],
            "mix train": table["mix_train"],
            "mix test": table["mix_test"],
            "best single (chosen on train)": table["best_single"],
            "single test": table["single_test"],
            "gain (test)": table["gain_test"],
            f"gain {LEVEL:.0%} interval": [
                _interval(a, b) for a, b in zip(table["gain_lo"], table["gain_hi"], strict=True)
            ],
        }
    )
    return _Shown(shown, table, names[int(table["best_index"].iloc[-1])], how)


def _random_splits(plan: AllocationPlan, out: Path) -> _Shown:
    """Repeated random splits: the mean and spread of every number, the gain's interval."""
    names = list(plan.configs)
    per_split = repeated_splits(plan.configs, plan.budgets, plan.seeds, plan.train_frac)
    per_split.insert(1, "unit", plan.unit)
    per_split.to_csv(out / "osca.csv", index=False)
    summary = summarize_splits(per_split, names, LEVEL)
    summary.insert(1, "unit", plan.unit)
    summary.to_csv(out / "allocation.csv", index=False)
    first = per_split.iloc[0]
    how = (
        f"Splits: {len(plan.seeds)} random splits of the problems (seeds {plan.seeds[0]}–"
        f"{plan.seeds[-1]}, {plan.train_frac:.0%} for training: "
        f"{int(first['train_problems'])} training, {int(first['test_problems'])} test "
        "problems). Every number is the mean ± the standard deviation over splits; the "
        f"gain's {LEVEL:.0%} interval is the corrected resampled t interval (Nadeau and "
        "Bengio 2003), which allows for the splits sharing problems."
    )

    def spread(mean: str, std: str) -> list[str]:
        return [_pm(m, s) for m, s in zip(summary[mean], summary[std], strict=True)]

    shown = pd.DataFrame(
        {
            f"budget ({plan.unit})": [_budget(b) for b in summary["budget"]],
            "mix (mean samples)": summary["mix (mean samples)"],
            "mix test": spread("mix_test", "mix_test_std"),
            "best single test": spread("single_test", "single_test_std"),
            "gain": spread("gain", "gain_std"),
            f"gain {LEVEL:.0%} interval": [
                _interval(a, b) for a, b in zip(summary["gain_lo"], summary["gain_hi"], strict=True)
            ],
            "splits with a gain": [f"{v:.0%}" for v in summary["gain_positive"]],
            "best single (most often)": summary["best_single_most_often"],
        }
    )
    curves = summary.copy()
    curves["mix_lo"] = summary["mix_test"] - summary["mix_test_std"].fillna(0)
    curves["mix_hi"] = summary["mix_test"] + summary["mix_test_std"].fillna(0)
    top = per_split[per_split["budget"] == per_split["budget"].max()]
    return _Shown(shown, curves, names[int(top["best_index"].mode().iloc[0])], how)


def allocation_section(plan: AllocationPlan, out: Path, plots: Path, title: str, cap: str) -> str:
    """The section's HTML; writes ``allocation.csv`` (the table), ``osca.csv`` (every
    split's rows) and ``plots/allocation.png``."""
    from harness.report.plots import allocation_figure

    body = "<h2>Allocation across sampling configurations</h2>"
    if plan.why_not:
        return body + h.notes([f"No allocation: {plan.why_not}."])
    method = (
        "The mix is chosen on the training problems: greedy by marginal coverage per unit "
        "cost, then a local search that moves samples between configurations while the "
        "training coverage rises (from the greedy mix and from the best single "
        "configuration); coverage is exact (each problem's own n and c, samples drawn "
        "without replacement). The best single configuration is the one with the highest "
        "training coverage at the budget. Both are scored on the test problems."
    )
    fixed = plan.split is not None
    shown = _fixed_split(plan, out) if fixed else _random_splits(plan, out)
    note = "chosen on train" if fixed else "most often chosen on train"
    names = list(plan.configs)
    allocation_figure(plots / "allocation", shown.curves, names, shown.highlight, plan.unit,
                      title, cap, note)  # fmt: skip
    band = "" if fixed else " The band: ± one standard deviation over splits."
    return (
        body
        + f"<p>{h.esc(method)}</p><p>{h.esc(shown.how)}</p>"
        + h.notes(plan.notes)
        + h.table(shown.table)
        + h.figure(
            "plots/allocation.png",
            "allocation vs budget",
            "Test coverage against the budget: the mix, every single configuration, and the "
            "single configuration chosen on the training problems at each budget (dashed; "
            f"the configuration chosen at the largest budget drawn thick).{band}",
        )
    )
