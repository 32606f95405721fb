"""What a command prints when a stage is done: the coverage table, the fit in one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from harness.core import terminal
from harness.core.fits import FitSummary

if TYPE_CHECKING:
    from harness.analyze.settings import AnalyzeResult


def fit_line(fit: FitSummary) -> str:
    """The power-law fit with its CI and the backtest error, as one printed line."""
    a_lo, a_hi = fit.a_ci
    b_lo, b_hi = fit.b_ci
    line = (
        f"fit log c(k) = a*k^b: a = {fit.a:.4f} [{a_lo:.4f}, {a_hi:.4f}], "
        f"b = {fit.b:.4f} [{b_lo:.4f}, {b_hi:.4f}]"
    )
    bt = fit.backtest
    if bt:
        line += (
            f"; backtest (fit k<={bt.head_samples}, predict c({bt.target_k}) = "
            f"{bt.observed:.4f}): power law {bt.power_law_error:+.4f}, "
            f"Beta {bt.beta_error:+.4f} -> {bt.better} extrapolates better"
        )
    else:
        line += "; backtest: not enough samples (needs N >= 40)"
    return line


def print_table(out: Console, run_dir: Path, coverage: Any, partial: str | None = None) -> None:
    """Coverage (and majority@k) at k = 1, 2, 4, ... N, titled with task, model and seed."""
    import pandas as pd

    from harness.analyze import summary_rows
    from harness.core.store import RunStore

    store = RunStore(run_dir)
    manifest = store.read_manifest()
    extra: dict[str, dict[int, float]] = {}
    for name, column in (("majority", "majority"),):
        path = store.analysis_dir / f"{name}.csv"
        if path.exists():
            df = pd.read_csv(path)
            extra[name] = dict(zip(df["k"], df[column], strict=True))
    selection = store.analysis_dir / "selection.csv"
    if selection.exists():  # every selector's methods: <method>:<verifier>
        df = pd.read_csv(selection)
        for col in df.columns:
            if col.count(":") == 1:
                extra[col] = dict(zip(df["k"], df[col], strict=True))
    title = f"{manifest.task} · {manifest.model} · seed {manifest.sampling.seed}"
    if partial:
        title += f"\n{partial}"
    table = Table(title=title)
    table.add_column("k", justify="right")
    table.add_column("coverage", justify="right")
    for name in extra:
        table.add_column(f"{name}@k" if name == "majority" else name, justify="right")
    for k, cov in summary_rows(coverage):
        cells = [
            f"{extra[name][k]:.3f}" if k in extra[name] and extra[name][k] == extra[name][k] else ""
            for name in extra
        ]
        table.add_row(str(k), f"{cov:.3f}", *cells)
    out.print(table)


def path_line(label: str, path: Path) -> None:
    """``label: /absolute/path``, whole on one line (never wrapped), so it can be copied."""
    terminal.stdout.write(f"{label}: {path.resolve()}\n")
    terminal.stdout.flush()


def reading(coverage: Any, fit: FitSummary | None) -> str:
    """The curve in one line: coverage at k=1 and at N, and where the fit goes beyond N
    when a backtest says how far off it was (an unchecked extrapolation is no headline)."""
    first = float(coverage["coverage"].iloc[0])
    last_k = int(coverage["k"].iloc[-1])
    last = float(coverage["coverage"].iloc[-1])
    line = f"coverage grows from {first:.2f} at k=1 to {last:.2f} at k={last_k}"
    if fit is None:
        return line
    bt = fit.backtest
    if bt is None:
        from harness.analyze.fit import BACKTEST_MIN_N

        if fit.N < BACKTEST_MIN_N:
            return line + f" (no extrapolation: its backtest needs N >= {BACKTEST_MIN_N})"
        return line + " (no extrapolation: its backtest could not be fitted)"
    # The backtest checks a 10x extrapolation (k <= N/10 predicting N): show 10 N.
    pred = next((p for p in fit.predictions if p.k == 10 * fit.N), fit.predictions[-1])
    band = f" [{pred.lo:.2f}, {pred.hi:.2f}]" if pred.lo is not None and pred.hi is not None else ""
    return line + (
        f"; the power law predicts {pred.power_law:.2f}{band} at k={pred.k:,} "
        f"(backtest: fitted on k<={bt.head_samples}, it missed c({bt.target_k}) by "
        f"{bt.power_law_error:+.2f})"
    )


def print_details(out: Console, result: AnalyzeResult) -> None:
    """What ``harness analyze`` prints below the table: who judged how much, truncation,
    how verdicts ended, shared runs, the fit and what it means for the next run."""
    for name, got in result.summary["judged"].items():
        out.print(
            f"judged by {name}: {got['samples']:,} of {got['of_samples']:,} samples "
            f"({got['problems']:,} of {got['of_problems']:,} problems)"
        )
    for name, got in (result.summary.get("selectors") or {}).items():
        unparsed = got["statuses"].get("unparsed", 0)
        out.print(
            f"selector {name} ({', '.join(got['methods'])}): {got['samples']:,} samples scored"
            f", {unparsed:,} unparsed; {got['judgements']:,} calls ({got['unparsed_judgements']:,}"
            f" unparsed), {got['prompt_tokens'] + got['completion_tokens']:,} tokens"
        )
    cut = result.summary.get("truncated")
    if cut and cut["count"]:
        out.print(
            f"samples that hit --max-tokens (finish_reason=length): {cut['count']:,} of "
            f"{cut['of']:,} ({cut['share']:.1%})"
        )
    if result.statuses:
        total = sum(result.statuses.values())
        out.print(
            f"verdicts ({result.verifier}): "
            + ", ".join(f"{k} {v:,} ({v / total:.1%})" for k, v in result.statuses.items())
        )
    dup = result.summary.get("duplicates")
    if dup:
        out.print(
            f"duplicates ({result.verifier}): {dup['shared']:,} of {dup['samples']:,} "
            f"verdicts ({dup['rate']:.1%}) reused an identical program's run "
            f"({dup['runs']:,} runs)"
        )
    if result.fit is not None:
        out.print(fit_line(result.fit))
    for line in result.advice:
        out.print(f"next run: {line}")
