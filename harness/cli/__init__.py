"""The ``harness`` command line: parses flags into typed configs and calls one function each.

Errors a user can cause are printed as one line and exit with code 2.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TextIO

import click
import typer

from harness.cli.flags import (
    AnalyzeFlags,
    OutputFlags,
    PartialFlag,
    RunDirArg,
    RunFlags,
    TaskData,
    VerifyFlags,
    VerifySamples,
    command,
)
from harness.cli.results_flags import CompareFlags, ImportFlags, import_epilog
from harness.core import interrupts, terminal
from harness.core.errors import UsageError

app = typer.Typer(
    name="harness",
    help="Inference-time scaling evaluation: sample many times, verify, measure coverage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@command(app, RunFlags, TaskData, VerifyFlags, OutputFlags)
def run(flags: RunFlags, data: TaskData, verify: VerifyFlags, output: OutputFlags) -> None:
    """Generate, verify, analyze and report one task in one go (resumable)."""
    from harness.commands import run_all

    run_all(flags.config(data, verify), verbose=output.verbose)


@command(app, RunFlags, TaskData, OutputFlags)
def generate(flags: RunFlags, data: TaskData, output: OutputFlags) -> None:
    """Generate the missing samples of a run (re-run to resume or top up)."""
    from harness.commands import run_generate

    run_generate(flags.config(data), verbose=output.verbose)


@command(app, ImportFlags, TaskData, name="import", epilog=import_epilog())
def import_(flags: ImportFlags, data: TaskData) -> None:
    """Bring samples made elsewhere into a run directory."""
    from harness.commands import run_import

    run_import(
        flags.samples_file,
        flags.task,
        flags.out,
        data.data_file,
        data.task_options(),
        flags.meta(),
        flags.fmt,
        flags.append,
        name_pattern=flags.name_pattern,
        analyze=flags.analyze,
    )


@command(app, RunDirArg, VerifyFlags, VerifySamples)
def verify(arg: RunDirArg, flags: VerifyFlags, n: VerifySamples) -> None:
    """Judge every sample not yet judged; writes verdicts/<verifier>.jsonl (and, for a
    model-based verifier, judgements/<verifier>.jsonl)."""
    from harness.commands import run_verify

    if n.samples is not None and n.samples < 1:
        raise UsageError(f"-n must be at least 1, got {n.samples}")
    run_verify(arg.run_dir, flags.verifier, flags.options(), limit=n.samples)


@command(app, RunDirArg, AnalyzeFlags, PartialFlag)
def analyze(arg: RunDirArg, flags: AnalyzeFlags, partial: PartialFlag) -> None:
    """Coverage (pass@k for every k), CIs, fits, selection, compute (FLOPs, eFLOPs, dollars),
    stopping rules, imperfect verifiers; writes analysis/."""
    from harness.commands import run_analyze

    run_analyze(arg.run_dir, flags.verifier, flags.settings(), partial.partial)


@command(app, RunDirArg, PartialFlag)
def report(arg: RunDirArg, partial: PartialFlag) -> None:
    """Write report.html and plots/ for a run directory."""
    from harness.commands import run_report

    run_report(arg.run_dir, partial.partial)


@command(app, CompareFlags, PartialFlag)
def compare(flags: CompareFlags, partial: PartialFlag) -> None:
    """One HTML page comparing runs: coverage vs k, FLOPs and dollars; fits; allocation."""
    from harness.commands import run_compare

    run_compare(flags.run_dirs, flags.out, partial.partial, flags.allow_mixed, flags.allocation())


@app.command()
def tasks() -> None:
    """List the tasks (built in and from installed plugins) with their options."""
    from harness.commands import list_plugins

    list_plugins("task")


@app.command()
def verifiers() -> None:
    """List the verifiers (built in and from installed plugins) with their options."""
    from harness.commands import list_plugins

    list_plugins("verifier")


@app.command()
def backends() -> None:
    """List the generation backends with their --backend-opt options."""
    from harness.commands import list_plugins

    list_plugins("backend")


@app.command()
def models() -> None:
    """List the known model aliases (any HF id or local path works too)."""
    from harness.commands import list_models

    list_models()


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """The harness's own warnings (a torn line, a duplicate) as one line on the terminal;
    other packages' warnings where their output goes (the engine log while one is open)."""
    if Path(filename).resolve().is_relative_to(_PROJECT):
        terminal.notice(f"harness: warning: {message}")
    else:
        _default_show(message, category, filename, lineno, file, line)


_PROJECT = Path(__file__).resolve().parents[2]
_default_show = warnings.showwarning


def main() -> None:
    """Console entry point: one line and exit code 2 for errors a user can cause, one
    line and exit code 130 for Ctrl-C or SIGTERM."""
    warnings.showwarning = _show_warning
    interrupts.install()
    try:
        code = app(standalone_mode=False)
    except UsageError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        sys.exit(2)
    except click.ClickException as e:  # a bad flag: click's own message
        e.show()
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, interrupts.Interrupted, click.exceptions.Abort):
        # Stopped before a command could say what it kept (while starting up).
        print("interrupted; run the same command to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
