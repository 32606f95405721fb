"""The CLI's flags, grouped into typed dataclasses, and the decorator that turns groups into
one typer command.

Each command declares the groups it takes (``RunFlags``, ``VerifyFlags``, ...); the
decorator builds the command's signature from their fields, so a flag is declared once
however many commands share it, and the command's function receives one typed object per
group rather than a long list of arguments.
"""

import dataclasses
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.core.config import (
    DEFAULT_BACKEND,
    DEFAULT_CHUNK,
    DEFAULT_MODEL,
    RunConfig,
    config_of,
)
from harness.core.errors import UsageError
from harness.core.options import parse_pairs
from harness.core.records import SamplingConfig

if TYPE_CHECKING:
    from harness.analyze.settings import AnalysisSettings

F = typing.TypeVar("F", bound=Callable[..., Any])


def command(
    app: typer.Typer, *groups: type, name: str | None = None, epilog: str | None = None
) -> Callable[[F], F]:
    """Register ``fn(*group_instances)`` as the typer command ``name`` whose flags are the
    fields of ``groups`` (in order; typer reads the synthesised signature); ``epilog`` is
    printed after the flags in its help."""

    def wrap(fn: F) -> F:
        params: list[inspect.Parameter] = []
        for group in groups:
            # This module evaluates its annotations at class creation (no postponed
            # annotations here), so they are read as they are: no evaluation per command.
            hints = group.__annotations__
            for f in dataclasses.fields(group):
                missing = f.default is dataclasses.MISSING
                default = inspect.Parameter.empty if missing else f.default
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
        app.command(name or fn.__name__, epilog=epilog)(runner)
        return fn

    return wrap


def _opt(*names: str, help: str, default: str | None = None) -> Any:
    """A typer option; ``default`` is what the help shows for a flag left unset (None)."""
    return typer.Option(*names, help=help, show_default=default or True)


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


# Defaults of the flags below: a flag left unset takes the value of the run being resumed
# (``--out DIR`` of an existing run), else this.
DEFAULTS = RunConfig(task="arith", n=16, sampling=SamplingConfig(max_tokens=256))


@dataclass
class RunFlags:
    """What to generate: task, model, backend, sampling, sizes and where.

    Every flag defaults to None (unset): ``config`` fills it from the run at ``--out`` when
    there is one, so ``harness generate --out DIR -n 64`` tops up DIR as it was made.
    """

    task: Annotated[
        str | None, _opt("--task", "-t", help="Task name (see `harness tasks`).", default="arith")
    ] = None
    model: Annotated[
        str | None,
        _opt("--model", "-m", help="Model alias, HF id or local path.", default=DEFAULT_MODEL),
    ] = None
    backend: Annotated[
        str | None, _opt("--backend", "-b", help="Generation backend.", default=DEFAULT_BACKEND)
    ] = None
    samples: Annotated[
        int | None, _opt("--samples", "-n", help="Samples per problem.", default="16")
    ] = None
    limit: Annotated[
        int | None, _opt("--limit", help="Use only the first N problems.", default="all")
    ] = None
    out: Annotated[
        Path | None,
        _opt(
            "--out",
            "-o",
            help="Run directory (default: resume the latest run of the same configuration "
            "under results/, else a new one there).",
        ),
    ] = None
    new: Annotated[
        bool, _opt("--new", help="Start a new run directory even if one could be resumed.")
    ] = False
    seed: Annotated[
        int | None, _opt("--seed", help="Seed for sampling and task generation.", default="0")
    ] = None
    temperature: Annotated[
        float | None, _opt("--temperature", help="Sampling temperature.", default="0.8")
    ] = None
    top_p: Annotated[
        float | None, _opt("--top-p", help="Nucleus sampling mass.", default="1.0")
    ] = None
    min_p: Annotated[
        float | None, _opt("--min-p", help="Min-p sampling threshold.", default="0.0")
    ] = None
    max_tokens: Annotated[
        int | None,
        _opt(
            "--max-tokens",
            help="Max new tokens per sample.",
            default="256, or the task's (arith: 96)",
        ),
    ] = None
    stop: Annotated[list[str] | None, _opt("--stop", help="Stop string (repeatable).")] = None
    backend_opt: Annotated[
        list[str] | None, _opt("--backend-opt", help="Backend option KEY=VALUE (repeatable).")
    ] = None
    chat: Annotated[
        bool | None,
        _opt("--chat/--no-chat", help="Force the chat template on/off.", default="auto"),
    ] = None
    chunk: Annotated[int, _opt("--chunk", help="Samples per engine request.")] = DEFAULT_CHUNK

    def _defines_a_run(self, data: TaskData) -> bool:
        """Whether any flag says what to generate (beyond sizes): then --out may be new."""
        own: list[Any] = [self.task, self.model, self.backend, self.seed, self.temperature]
        own += [self.top_p, self.min_p, self.max_tokens, self.stop, self.backend_opt, self.chat]
        given = any(v is not None for v in own)
        return given or bool(data.task_opt or data.field or data.data_file)

    def _base(self, data: TaskData) -> RunConfig:
        """The run at ``--out`` as it was made, or the defaults for a new run."""
        if self.out is None:
            return DEFAULTS
        from harness.core.store import RunStore

        store = RunStore(self.out)
        if store.exists():
            return config_of(store.read_manifest(), self.out)
        if not self._defines_a_run(data):
            # `--out DIR` alone continues a run: a mistyped path must not start a new one.
            raise UsageError(
                f"--out {self.out} holds no run (no manifest.json): check the path, or pass "
                "--task to start a new run there"
            )
        # A directory holding only the engine log of a start that failed counts as empty.
        if self.out.exists() and (
            not self.out.is_dir() or any(p.name != "logs" for p in self.out.iterdir())
        ):
            raise UsageError(
                f"--out {self.out} exists and is not a run directory (no manifest.json); "
                "name a new or empty directory"
            )
        return DEFAULTS

    def config(self, data: TaskData, verify: "VerifyFlags | None" = None) -> RunConfig:
        """The run configuration these flags (and the data and verifier flags) describe."""
        base = self._base(data)
        s = base.sampling

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        given_task = data.task_options()
        task = pick(self.task, base.task)
        max_tokens = self.max_tokens
        if max_tokens is None and base is DEFAULTS:  # a new run: the task may know better
            max_tokens = _task_max_tokens(task)
        return RunConfig(
            task=task,
            model=pick(self.model, base.model),
            backend=pick(self.backend, base.backend),
            n=pick(self.samples, base.n),
            limit=pick(self.limit, base.limit),
            out=self.out,
            sampling=SamplingConfig(
                temperature=pick(self.temperature, s.temperature),
                top_p=pick(self.top_p, s.top_p),
                min_p=pick(self.min_p, s.min_p),
                max_tokens=pick(max_tokens, s.max_tokens),
                stop=tuple(self.stop) if self.stop else s.stop,
                seed=pick(self.seed, s.seed),
            ),
            data_file=pick(data.data_file, base.data_file),
            # A run's own task options hold only for that task.
            task_options=given_task or (base.task_options if task == base.task else {}),
            backend_options=parse_pairs(self.backend_opt, "--backend-opt") or base.backend_options,
            chat=pick(self.chat, base.chat),
            verifier=(verify.verifier if verify else None) or base.verifier,
            verifier_options=verify.options() if verify else {},
            chunk=self.chunk,
            new=self.new,
        )


def _task_max_tokens(task: str) -> int | None:
    """The task's own default for --max-tokens (None: unknown task, or it has none)."""
    from harness.core.task import TASKS

    try:
        value = getattr(TASKS.get(task), "max_tokens", None)
    except UsageError:  # an unknown task is reported, with the known ones, by the stage
        return None
    return value if isinstance(value, int) else None


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
class OutputFlags:
    """How much the terminal shows."""

    verbose: Annotated[
        bool,
        _opt(
            "--verbose",
            "-v",
            help="Show the engines' own output (vLLM, torch, Ray, transformers) here instead "
            "of in DIR/logs/engine.log.",
        ),
    ] = False


@dataclass
class VerifySamples:
    """How many of each problem's samples ``harness verify`` judges."""

    samples: Annotated[
        int | None,
        _opt(
            "--samples",
            "-n",
            help="Judge only the first N samples of each problem (a judge is costly).",
            default="all",
        ),
    ] = None


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
    cost_ratio: Annotated[
        list[str] | None,
        _opt(
            "--cost-ratio",
            help="What a false positive costs, in right answers, for U(k) and k* against a "
            "weak verifier (comma-separated or repeated).",
            default="0,1,2,4",
        ),
    ] = None
    weak_verifier: Annotated[
        str | None,
        _opt(
            "--weak-verifier",
            help="The weak verifier to judge by the analysed one (default: the one whose "
            "verdicts say so, e.g. unit_tests_visible, evalplus_base).",
        ),
    ] = None
    intensity: Annotated[
        str | None,
        _opt(
            "--intensity",
            help="Accelerator for eFLOPs (a100, h100, h200, b200, l40s, a10, mi300x) or its "
            "FLOPs per memory element; given, the model's KV-cache shape must be known.",
            default="h100",
        ),
    ] = None
    model_size: Annotated[
        str | None,
        _opt(
            "--model-size",
            help="Architecture when the model has no config.json: params=8e9,layers=32,"
            "n_heads=32,n_kv_heads=8,head_dim=128 (any subset; over the model's own).",
        ),
    ] = None
    stop_cap: Annotated[
        int, _opt("--stop-cap", help="Most samples per problem the stopping rules may draw.")
    ] = 40

    def settings(self) -> "AnalysisSettings":
        """The analysis settings these flags ask for (a bad value: one line, exit 2)."""
        from harness.analyze.compute import parse_model_size
        from harness.analyze.settings import AnalysisSettings, parse_cost_ratios

        if self.bootstrap < 2:
            raise UsageError(f"--bootstrap must be at least 2, got {self.bootstrap}")
        if self.stop_cap < 1:
            raise UsageError(f"--stop-cap must be at least 1, got {self.stop_cap}")
        return AnalysisSettings(
            n_boot=self.bootstrap,
            seed=self.bootstrap_seed,
            cost_ratios=parse_cost_ratios(self.cost_ratio),
            weak_verifier=self.weak_verifier,
            intensity=self.intensity,
            model_size=parse_model_size(self.model_size),
            stop_cap=self.stop_cap,
        )


@dataclass
class PartialFlag:
    partial: Annotated[
        bool,
        _opt(
            "--partial",
            help="Go on when the verdicts cover only part of the run's samples "
            "(every table and page then says 'partial: X of Y').",
        ),
    ] = False
