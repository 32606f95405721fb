"""The ``harness`` command line: parses flags into a config and calls one function each.

Errors a user can cause are printed as one line and exit with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.config import DEFAULT_BACKEND, DEFAULT_CHUNK, DEFAULT_MODEL, RunConfig, parse_options
from harness.errors import UsageError
from harness.records import SamplingConfig

app = typer.Typer(
    name="harness",
    help="Inference-time scaling evaluation: sample many times, verify, measure coverage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Task = Annotated[str, typer.Option("--task", "-t", help="Task name (see `harness tasks`).")]
Model = Annotated[str, typer.Option("--model", "-m", help="Model alias, HF id or local path.")]
Backend = Annotated[str, typer.Option("--backend", "-b", help="Generation backend.")]
Samples = Annotated[int, typer.Option("--samples", "-n", help="Samples per problem.")]
Limit = Annotated[int | None, typer.Option("--limit", help="Use only the first N problems.")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for sampling and task generation.")]
Temp = Annotated[float, typer.Option("--temperature", help="Sampling temperature.")]
TopP = Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.")]
MinP = Annotated[float, typer.Option("--min-p", help="Min-p sampling threshold.")]
MaxTok = Annotated[int, typer.Option("--max-tokens", help="Max new tokens per sample.")]
Stop = Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")]
DataFile = Annotated[Path | None, typer.Option("--data-file", help="Local dataset file.")]
TaskOpt = Annotated[
    list[str] | None, typer.Option("--task-opt", help="Task option KEY=VALUE (repeatable).")
]
Field = Annotated[
    list[str] | None,
    typer.Option("--field", help="Field mapping NAME=COLUMN for the jsonl task (repeatable)."),
]
BackendOpt = Annotated[
    list[str] | None, typer.Option("--backend-opt", help="Backend option KEY=VALUE (repeatable).")
]
Chat = Annotated[
    bool | None,
    typer.Option("--chat/--no-chat", help="Force the chat template on/off (default: auto)."),
]
Verifier = Annotated[str | None, typer.Option("--verifier", help="Verifier (default: task's).")]
VerifierOpt = Annotated[
    list[str] | None,
    typer.Option("--verifier-opt", help="Verifier option KEY=VALUE (repeatable)."),
]
Sandbox = Annotated[
    str | None,
    typer.Option("--sandbox", help="Code sandbox: bwrap (default) or none (trusted code only)."),
]
Chunk = Annotated[int, typer.Option("--chunk", help="Samples per engine request.")]
RunDir = Annotated[Path, typer.Argument(help="Run directory.", show_default=False)]


def _verifier_options(opts: list[str] | None, sandbox: str | None) -> dict[str, str]:
    options = parse_options(opts, "--verifier-opt")
    if sandbox is not None:
        options["sandbox"] = sandbox
    return options


def _config(
    task: str,
    model: str,
    backend: str,
    samples: int,
    limit: int | None,
    out: Path | None,
    seed: int,
    temperature: float,
    top_p: float,
    min_p: float,
    max_tokens: int,
    stop: list[str] | None,
    data_file: Path | None,
    task_opt: list[str] | None,
    field: list[str] | None,
    backend_opt: list[str] | None,
    chat: bool | None,
    verifier: str | None,
    verifier_opt: list[str] | None,
    sandbox: str | None,
    chunk: int,
) -> RunConfig:
    task_options = parse_options(task_opt, "--task-opt")
    task_options.update(parse_options(field, "--field"))
    return RunConfig(
        task=task,
        model=model,
        backend=backend,
        n=samples,
        limit=limit,
        out=out,
        sampling=SamplingConfig(
            temperature=temperature,
            top_p=top_p,
            min_p=min_p,
            max_tokens=max_tokens,
            stop=tuple(stop or ()),
            seed=seed,
        ),
        data_file=data_file,
        task_options=task_options,
        backend_options=parse_options(backend_opt, "--backend-opt"),
        chat=chat,
        verifier=verifier,
        verifier_options=_verifier_options(verifier_opt, sandbox),
        chunk=chunk,
    )


@app.command()
def run(
    task: Task = "arith",
    model: Model = DEFAULT_MODEL,
    backend: Backend = DEFAULT_BACKEND,
    samples: Samples = 16,
    limit: Limit = None,
    out: Out = None,
    seed: Seed = 0,
    temperature: Temp = 0.8,
    top_p: TopP = 1.0,
    min_p: MinP = 0.0,
    max_tokens: MaxTok = 256,
    stop: Stop = None,
    data_file: DataFile = None,
    task_opt: TaskOpt = None,
    field: Field = None,
    backend_opt: BackendOpt = None,
    chat: Chat = None,
    verifier: Verifier = None,
    verifier_opt: VerifierOpt = None,
    sandbox: Sandbox = None,
    chunk: Chunk = DEFAULT_CHUNK,
) -> None:
    """Generate, verify, analyze and report one task in one go (resumable)."""
    from harness.commands import run_all

    run_all(
        _config(
            task,
            model,
            backend,
            samples,
            limit,
            out,
            seed,
            temperature,
            top_p,
            min_p,
            max_tokens,
            stop,
            data_file,
            task_opt,
            field,
            backend_opt,
            chat,
            verifier,
            verifier_opt,
            sandbox,
            chunk,
        )
    )


@app.command()
def generate(
    task: Task = "arith",
    model: Model = DEFAULT_MODEL,
    backend: Backend = DEFAULT_BACKEND,
    samples: Samples = 16,
    limit: Limit = None,
    out: Out = None,
    seed: Seed = 0,
    temperature: Temp = 0.8,
    top_p: TopP = 1.0,
    min_p: MinP = 0.0,
    max_tokens: MaxTok = 256,
    stop: Stop = None,
    data_file: DataFile = None,
    task_opt: TaskOpt = None,
    field: Field = None,
    backend_opt: BackendOpt = None,
    chat: Chat = None,
    chunk: Chunk = DEFAULT_CHUNK,
) -> None:
    """Generate the missing samples of a run (re-run to resume or top up)."""
    from harness.commands import run_generate

    run_generate(
        _config(
            task,
            model,
            backend,
            samples,
            limit,
            out,
            seed,
            temperature,
            top_p,
            min_p,
            max_tokens,
            stop,
            data_file,
            task_opt,
            field,
            backend_opt,
            chat,
            None,
            None,
            None,
            chunk,
        )
    )


@app.command("import")
def import_(
    samples_file: Annotated[Path, typer.Argument(help="JSONL: problem_id, text[, sample_index].")],
    task: Task,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory.")],
    data_file: DataFile = None,
    task_opt: TaskOpt = None,
    field: Field = None,
    model: Annotated[
        str, typer.Option("--model", help="Name of the model that made them.")
    ] = "imported",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto | samples (problem_id, text) | monkeys (question, samples, is_corrects;"
            " Parquet or JSONL) | verdicts (rows with problem_id, correct).",
        ),
    ] = "auto",
) -> None:
    """Bring samples made elsewhere into a run directory."""
    from harness.commands import run_import

    options = parse_options(task_opt, "--task-opt")
    options.update(parse_options(field, "--field"))
    run_import(samples_file, task, out, data_file, options, model, fmt)


@app.command()
def verify(
    run_dir: RunDir,
    verifier: Verifier = None,
    verifier_opt: VerifierOpt = None,
    sandbox: Sandbox = None,
) -> None:
    """Judge every sample not yet judged; writes verdicts/<verifier>.jsonl."""
    from harness.commands import run_verify

    run_verify(run_dir, verifier, _verifier_options(verifier_opt, sandbox))


@app.command()
def analyze(
    run_dir: RunDir,
    verifier: Verifier = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples of the problems.")
    ] = 1000,
    bootstrap_seed: Annotated[
        int, typer.Option("--bootstrap-seed", help="Seed of the bootstrap (recorded).")
    ] = 0,
) -> None:
    """Coverage (pass@k for every k), CIs, fits, selection, compute; writes analysis/."""
    from harness.commands import run_analyze

    run_analyze(run_dir, verifier, bootstrap, bootstrap_seed)


@app.command()
def report(run_dir: RunDir) -> None:
    """Write report.html and plots/ for a run directory."""
    from harness.commands import run_report

    run_report(run_dir)


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Analysed run directories.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for compare.html and plots/.")
    ] = None,
) -> None:
    """One HTML page comparing runs: coverage vs k, FLOPs and dollars; fits; allocation."""
    from harness.commands import run_compare

    run_compare(run_dirs, out)


@app.command()
def tasks() -> None:
    """List the registered tasks."""
    from harness.commands import list_tasks

    list_tasks()


@app.command()
def models() -> None:
    """List the known model aliases (any HF id or local path works too)."""
    from harness.commands import list_models

    list_models()


def main() -> None:
    """Console entry point: one line and exit code 2 for errors a user can cause."""
    try:
        app()
    except UsageError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("harness: interrupted; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
