"""The CLI's flags, grouped into typed dataclasses, and the decorator that turns groups into
one typer command.

Each command declares the groups it takes (``RunFlags``, ``VerifyFlags``, ...); the
decorator builds the command's signature from their fields, so a flag is declared once
however many commands share it, and the command's function receives one typed object per
group rather than a long list of arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.core.config import DEFAULT_BACKEND, DEFAULT_CHUNK, DEFAULT_MODEL, RunConfig
from harness.core.options import parse_pairs
from harness.core.records import SamplingConfig

F = typing.TypeVar("F", bound=Callable[..., Any])


def command(app: typer.Typer, *groups: type, name: str | None = None) -> Callable[[F], F]:
    """Register ``fn(*group_instances)`` as the typer command ``name`` whose flags are the
    fields of ``groups`` (in order; typer reads the synthesised signature)."""

    def wrap(fn: F) -> F:
        params: list[inspect.Parameter] = []
        for group in groups:
            hints = typing.get_type_hints(group, include_extras=True)
            for f in dataclasses.fields(group):
                default = f.default if f.default is not dataclasses.MISSING else inspect._empty
                params.append(
                    inspect.Parameter(
                        f.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=default,
                        annotation=hints[f.name],
                    )
                )

        def runner(**kwargs: Any) -> Any:
            built = [
                group(**{f.name: kwargs[f.name] for f in dataclasses.fields(group)})
                for group in groups
            ]
            return fn(*built)

        runner.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        runner.__annotations__ = {p.name: p.annotation for p in params}
        runner.__name__ = fn.__name__
        runner.__doc__ = fn.__doc__
        app.command(name or fn.__name__)(runner)
        return fn

    return wrap


def _opt(*names: str, help: str) -> Any:
    return typer.Option(*names, help=help)


@dataclass
class TaskData:
    """Where a task's problems come from and how the task is set."""

    data_file: Annotated[Path | None, _opt("--data-file", help="Local dataset file.")] = None
    task_opt: Annotated[
        list[str] | None, _opt("--task-opt", help="Task option KEY=VALUE (repeatable).")
    ] = None
    field: Annotated[
        list[str] | None,
        _opt("--field", help="Field mapping NAME=COLUMN for the jsonl task (repeatable)."),
    ] = None

    def task_options(self) -> dict[str, str]:
        options = parse_pairs(self.task_opt, "--task-opt")
        options.update(parse_pairs(self.field, "--field"))
        return options


@dataclass
class RunFlags:
    """What to generate: task, model, backend, sampling, sizes and where."""

    task: Annotated[str, _opt("--task", "-t", help="Task name (see `harness tasks`).")] = "arith"
    model: Annotated[str, _opt("--model", "-m", help="Model alias, HF id or local path.")] = (
        DEFAULT_MODEL
    )
    backend: Annotated[str, _opt("--backend", "-b", help="Generation backend.")] = DEFAULT_BACKEND
    samples: Annotated[int, _opt("--samples", "-n", help="Samples per problem.")] = 16
    limit: Annotated[int | None, _opt("--limit", help="Use only the first N problems.")] = None
    out: Annotated[Path | None, _opt("--out", "-o", help="Run directory.")] = None
    seed: Annotated[int, _opt("--seed", help="Seed for sampling and task generation.")] = 0
    temperature: Annotated[float, _opt("--temperature", help="Sampling temperature.")] = 0.8
    top_p: Annotated[float, _opt("--top-p", help="Nucleus sampling mass.")] = 1.0
    min_p: Annotated[float, _opt("--min-p", help="Min-p sampling threshold.")] = 0.0
    max_tokens: Annotated[int, _opt("--max-tokens", help="Max new tokens per sample.")] = 256
    stop: Annotated[list[str] | None, _opt("--stop", help="Stop string (repeatable).")] = None
    backend_opt: Annotated[
        list[str] | None, _opt("--backend-opt", help="Backend option KEY=VALUE (repeatable).")
    ] = None
    chat: Annotated[
        bool | None,
        _opt("--chat/--no-chat", help="Force the chat template on/off (default: auto)."),
    ] = None
    chunk: Annotated[int, _opt("--chunk", help="Samples per engine request.")] = DEFAULT_CHUNK

    def config(self, data: TaskData, verify: VerifyFlags | None = None) -> RunConfig:
        """The run configuration these flags (and the data and verifier flags) describe."""
        return RunConfig(
            task=self.task,
            model=self.model,
            backend=self.backend,
            n=self.samples,
            limit=self.limit,
            out=self.out,
            sampling=SamplingConfig(
                temperature=self.temperature,
                top_p=self.top_p,
                min_p=self.min_p,
                max_tokens=self.max_tokens,
                stop=tuple(self.stop or ()),
                seed=self.seed,
            ),
            data_file=data.data_file,
            task_options=data.task_options(),
            backend_options=parse_pairs(self.backend_opt, "--backend-opt"),
            chat=self.chat,
            verifier=verify.verifier if verify else None,
            verifier_options=verify.options() if verify else {},
            chunk=self.chunk,
        )


@dataclass
class VerifyFlags:
    """Which verifier judges the samples, with which options."""

    verifier: Annotated[str | None, _opt("--verifier", help="Verifier (default: task's).")] = None
    verifier_opt: Annotated[
        list[str] | None, _opt("--verifier-opt", help="Verifier option KEY=VALUE (repeatable).")
    ] = None
    sandbox: Annotated[
        str | None,
        _opt("--sandbox", help="Code sandbox: bwrap (default) or none (trusted code only)."),
    ] = None

    def options(self) -> dict[str, str]:
        options = parse_pairs(self.verifier_opt, "--verifier-opt")
        if self.sandbox is not None:
            options["sandbox"] = self.sandbox
        return options


@dataclass
class RunDirArg:
    run_dir: Annotated[Path, typer.Argument(help="Run directory.", show_default=False)]


@dataclass
class AnalyzeFlags:
    verifier: Annotated[
        str | None, _opt("--verifier", help="Whose verdicts define correctness.")
    ] = None
    bootstrap: Annotated[int, _opt("--bootstrap", help="Bootstrap resamples of the problems.")] = (
        1000
    )
    bootstrap_seed: Annotated[
        int, _opt("--bootstrap-seed", help="Seed of the bootstrap (recorded).")
    ] = 0


@dataclass
class ImportFlags:
    samples_file: Annotated[
        Path, typer.Argument(help="The file to import (JSONL or Parquet).", show_default=False)
    ]
    task: Annotated[str, _opt("--task", "-t", help="Task name (see `harness tasks`).")]
    out: Annotated[Path, _opt("--out", "-o", help="Run directory.")]
    model: Annotated[str, _opt("--model", help="Name of the model that made them.")] = "imported"
    fmt: Annotated[
        str,
        _opt(
            "--format",
            help="auto | samples (problem_id, text) | monkeys (question, samples, is_corrects;"
            " Parquet or JSONL) | verdicts (rows with problem_id, correct).",
        ),
    ] = "auto"


@dataclass
class CompareFlags:
    run_dirs: Annotated[list[Path], typer.Argument(help="Analysed run directories.")]
    out: Annotated[Path | None, _opt("--out", "-o", help="Folder for compare.html and plots/.")] = (
        None
    )
