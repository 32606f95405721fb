"""What each CLI command does, with rich progress and tables (the CLI only parses flags)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from harness.core.config import RunConfig
from harness.core.fits import FitSummary
from harness.core.verifier import Verifier

console = Console(stderr=True, soft_wrap=True)  # lines (paths) are never broken
out = Console(soft_wrap=True)


class _Tokens:
    """Tracks completion tokens per second for the progress bar."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.tokens = 0

    def rate(self) -> float:
        return self.tokens / max(time.monotonic() - self.start, 1e-9)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def run_generate(cfg: RunConfig) -> Path:
    """Generate the missing samples; prints what was done."""
    from harness.generate import Plan, generate

    tokens = _Tokens()
    bar = _progress()
    task_id = bar.add_task("samples", total=None, rate="")

    def on_plan(plan: Plan) -> None:
        root = plan.store.root
        if plan.resumed:
            present = plan.total - plan.missing
            console.print(
                f"resuming {root}: {present} of {plan.total} samples present", soft_wrap=True
            )
        else:
            console.print(
                f"new run {root}: {len(plan.problems)} problems x {plan.manifest.n} samples",
                soft_wrap=True,
            )
        if plan.missing:
            bar.update(task_id, total=plan.missing)
            bar.start()
        tokens.start = time.monotonic()

    def progress(samples: int, toks: int) -> None:
        tokens.tokens += toks
        bar.update(task_id, advance=samples, rate=f"{tokens.rate():,.0f} tok/s")

    try:
        store = generate(cfg, progress=progress, on_plan=on_plan)
    finally:
        bar.stop()
    console.print(f"samples: {store.samples_path}")
    return store.root


def run_verify(
    run_dir: Path,
    verifier: str | None,
    options: dict[str, Any],
    impl: Verifier | None = None,
    limit: int | None = None,
) -> str:
    from harness.verify import verify

    bar = _progress()
    task_id = bar.add_task("verdicts", total=None, rate="")
    calls = _Tokens()  # counts judge calls instead of tokens
    calls_id: list[Any] = []

    def on_start(total: int) -> None:
        if total:
            bar.update(task_id, total=total)
            bar.start()

    def on_judgements(count: int) -> None:
        # A judge's calls: their number is known only as tournaments and tie-breaks unfold.
        if not calls_id:
            calls_id.append(bar.add_task("judge calls", total=None, rate=""))
            calls.start = time.monotonic()
        calls.tokens += count
        bar.update(calls_id[0], advance=count, rate=f"{calls.rate():,.1f} calls/s")

    try:
        result = verify(
            run_dir,
            verifier,
            options,
            on_start=on_start,
            progress=lambda k: bar.update(task_id, advance=k),
            impl=impl,
            limit=limit,
            on_judgements=on_judgements,
        )
    finally:
        bar.stop()
    console.print(f"verdicts ({result.verifier}): {result.path} (+{result.new_verdicts})")
    if calls.tokens:
        console.print(
            f"judgements ({result.verifier}): {Path(run_dir) / 'judgements'}/"
            f"{result.verifier}.jsonl (+{calls.tokens})"
        )
    return result.verifier


def run_analyze(
    run_dir: Path,
    verifier: str | None,
    bootstrap: int = 1000,
    bootstrap_seed: int = 0,
    partial: bool = False,
) -> None:
    from harness.analyze import AnalysisSettings, analyze
    from harness.core.errors import UsageError

    if bootstrap < 2:
        raise UsageError(f"--bootstrap must be at least 2, got {bootstrap}")
    settings = AnalysisSettings(n_boot=bootstrap, seed=bootstrap_seed)
    result = analyze(run_dir, verifier, settings, partial=partial)
    _print_summary(Path(run_dir), result.coverage, result.partial)
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
    if result.fit is not None:
        out.print(_fit_line(result.fit))
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    names = ", ".join(dict.fromkeys(f.name for f in result.files))
    console.print(f"wrote {Path(run_dir) / 'analysis'}/: {names}")


def _fit_line(fit: FitSummary) -> str:
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


def _print_summary(run_dir: Path, coverage: Any, partial: str | None = None) -> None:
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


def _path_line(label: str, path: Path) -> None:
    # Printed whole on one line (never wrapped), so it can be copied from any terminal.
    print(f"{label}: {path.resolve()}", flush=True)


def run_report(run_dir: Path, partial: bool = False) -> Path:
    from harness.report import report

    path = report(run_dir, partial=partial)
    _path_line("report", path)
    return path


def run_all(cfg: RunConfig) -> None:
    """generate -> verify -> analyze -> report; every flag is checked before generating."""
    from harness.core.task import get_task
    from harness.verify import load_verifier

    cfg.validate()
    task = get_task(cfg.task, cfg.data_file, cfg.sampling.seed, cfg.task_options)
    # The verifier (its options, the sandbox) is checked before any sample is made.
    impl = load_verifier(cfg.verifier or task.default_verifier, cfg.verifier_options)
    try:
        run_dir = run_generate(cfg)
    except BaseException:
        impl.close()
        raise
    name = cfg.verifier or task.default_verifier  # plugin@label keeps its label
    if impl.selector():
        # A selector claims nothing about correctness: the task's own verifier is the
        # truth its selection curves are scored against.
        truth = run_verify(run_dir, task.default_verifier, {})
        run_verify(run_dir, name, cfg.verifier_options, impl=impl)
        run_analyze(run_dir, truth)
    else:
        run_analyze(run_dir, run_verify(run_dir, name, cfg.verifier_options, impl=impl))
    run_report(run_dir)


def run_import(
    samples_file: Path,
    task: str,
    out_dir: Path,
    data_file: Path | None,
    options: dict[str, str],
    model: str,
    fmt: str,
    append: bool = False,
) -> None:
    from harness.ingest import import_file

    done = import_file(samples_file, out_dir, task, fmt, data_file, options, model, append)
    if done.correct is None:
        new = "new " if done.skipped else ""
        line = f"imported {done.samples} {new}samples of {done.problems} problems into {out_dir}"
        if done.skipped:
            line += f" ({done.skipped} already there, skipped)"
        console.print(line)
        return
    console.print(
        f"imported {done.samples:,} judged samples ({done.correct:,} correct) of "
        f"{done.problems:,} problems ({done.format} format) into {out_dir}; "
        f"next: harness analyze {out_dir}"
    )


def run_compare(
    run_dirs: list[Path], out_dir: Path | None, partial: bool = False, allow_mixed: bool = False
) -> Path:
    from harness.report.compare import compare

    path = compare(run_dirs, out_dir, partial=partial, allow_mixed=allow_mixed)
    _path_line("comparison", path)
    return path


def list_plugins(kind: str) -> None:
    """A table of the tasks, verifiers or backends, with their options and help."""
    from harness.core.backend import BACKENDS
    from harness.core.options import NoOptions, describe
    from harness.core.registry import Registry
    from harness.core.task import TASKS
    from harness.core.verifier import VERIFIERS

    registries: dict[str, Registry[Any]] = {
        "task": TASKS,
        "verifier": VERIFIERS,
        "backend": BACKENDS,
    }
    registry = registries[kind]
    table = Table(title=f"{kind}s")
    columns = ["name", "default verifier", "options", "description"]
    if kind != "task":
        columns.remove("default verifier")
    for col in columns:
        table.add_column(col)
    for name in registry.names():
        cls = registry.get(name)
        opts = "\n".join(
            f"{o.name}={'' if o.default is None else o.default} ({o.type}) {o.help}".rstrip()
            for o in describe(getattr(cls, "Options", NoOptions))
        )
        doc = getattr(cls, "description", "") or (cls.__doc__ or "").strip().splitlines()[0]
        row = [name, opts, doc]
        if kind == "task":
            row.insert(1, cls.default_verifier)
        table.add_row(*row)
    out.print(table)


def list_models() -> None:
    from harness.models import list_models as rows

    table = Table(title="models (any Hugging Face id or local path works too)")
    data = rows()
    if not data:
        return
    for col in data[0]:
        # Names are never cut short: they fold onto a second line in a narrow terminal.
        full = col in ("model", "hf_id")
        table.add_column(
            col, overflow="fold" if full else "ellipsis", min_width=12 if full else None
        )
    for row in data:
        table.add_row(*(str(v) for v in row.values()))
    out.print(table)
