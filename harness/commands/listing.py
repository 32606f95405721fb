"""The commands that list what is registered, import samples and compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from harness.commands.progress import terminal_consoles
from harness.commands.summary import path_line
from harness.ingest.meta import ImportMeta

if TYPE_CHECKING:
    from harness.report.compare_allocation import AllocationOptions

console, out = terminal_consoles()


def run_import(
    samples_file: Path,
    task: str,
    out_dir: Path,
    data_file: Path | None,
    options: dict[str, str],
    meta: ImportMeta,
    fmt: str,
    append: bool = False,
    name_pattern: str | None = None,
    analyze: bool = True,
) -> None:
    """Import a file; a counts import is analysed at once (``analyze``), one line per run."""
    from harness.ingest import import_file

    done = import_file(
        samples_file, out_dir, task, fmt, data_file, options, meta, append, name_pattern
    )
    if done.correct is None:
        new = "new " if done.skipped else ""
        line = f"imported {done.samples} {new}samples of {done.problems} problems into {out_dir}"
        if done.skipped:
            line += f" ({done.skipped} already there, skipped)"
        console.print(line)
        return
    where = f"{len(done.runs)} runs under {out_dir}" if len(done.runs) > 1 else str(out_dir)
    console.print(
        f"imported {done.samples:,} judged samples ({done.correct:,} correct) of "
        f"{done.problems:,} problems ({done.format} format) into {where}"
    )
    if done.format != "counts" or not analyze:
        each = " (each run in it)" if len(done.runs) > 1 else ""
        console.print(f"next: harness analyze {out_dir}{each}")
        return
    from harness.analyze import analyze as analyze_run

    for root in done.runs:
        result = analyze_run(root)
        cov = result.coverage["coverage"]
        out.print(
            f"{root}: {result.summary['problems']} problems, N={result.summary['N']}, "
            f"coverage@1 {cov.iloc[0]:.3f}, coverage@N {cov.iloc[-1]:.3f}"
        )
    if len(done.runs) > 1:
        console.print(f"analysed; next: harness compare {out_dir} (or harness report RUN)")
    else:
        console.print(f"analysed; next: harness report {out_dir}")


def run_compare(
    run_dirs: list[Path],
    out_dir: Path | None,
    partial: bool = False,
    allow_mixed: bool = False,
    allocation: AllocationOptions | None = None,
) -> Path:
    from harness.report.compare import compare

    path = compare(run_dirs, out_dir, partial, allow_mixed, allocation)
    path_line("comparison", path)
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
