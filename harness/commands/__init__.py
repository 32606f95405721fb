"""What each CLI command does and prints (the CLI only parses flags).

A command runs its stages one after the other, each shown by ``progress.Display`` and
ended by one summary line. A Ctrl-C or SIGTERM anywhere stops the stage in progress (its
``finally`` blocks shut the engine down and close the files), then prints one line
saying what was kept and exits with code 130 (``_stoppable``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands.listing import list_models, list_plugins, run_compare, run_import
from harness.commands.progress import Bar, Display, Rate, Solved, clock, terminal_consoles
from harness.commands.summary import path_line, print_details, print_table, reading
from harness.core import interrupts
from harness.core.config import RunConfig
from harness.core.records import Sample, Status, Verdict
from harness.core.verifier import Verifier

if TYPE_CHECKING:
    from harness.analyze.settings import AnalysisSettings

__all__ = [
    "list_models",
    "list_plugins",
    "run_all",
    "run_analyze",
    "run_compare",
    "run_generate",
    "run_import",
    "run_report",
    "run_verify",
]

console, out = terminal_consoles()


@dataclass
class _Watch:
    """What a command has reached: shown while it runs, and said when it is interrupted."""

    display: Display
    root: Path | None = None  # the run directory, once chosen
    total: int = 0  # samples the run holds when complete
    verifier: str | None = None  # set once verification starts

    def stopped_line(self) -> str:
        from harness.core.store import RunStore

        if self.root is None:
            return "interrupted: nothing written yet; run the same command to start"
        store = RunStore(self.root)
        if not store.exists():
            return (
                f"interrupted: nothing written yet ({self.root} not made); "
                "run the same command to start"
            )
        kept = f"{store.sample_count():,} of {self.total:,} samples"
        if self.verifier is not None:
            kept += f" and {len(store.verdict_keys(self.verifier)):,} verdicts"
        return f"interrupted: {kept} kept in {self.root}; run the same command to resume"


@contextlib.contextmanager
def _stoppable(watch: _Watch) -> Iterator[None]:
    """Turn Ctrl-C / SIGTERM into one line and exit code 130, once cleanup has run.

    An error raised while a signal is being handled (an engine process that got the
    terminal's Ctrl-C too and died first) counts as the interruption it is.
    """
    try:
        yield
    except (KeyboardInterrupt, interrupts.Interrupted, Exception) as e:
        stopped = isinstance(e, KeyboardInterrupt | interrupts.Interrupted)
        if not stopped and interrupts.received() is None:
            raise
        watch.display.line(watch.stopped_line())
        raise SystemExit(130) from None


def run_generate(
    cfg: RunConfig,
    verbose: bool = False,
    verifier: Verifier | None = None,
    watch: _Watch | None = None,
) -> Path:
    """Generate the missing samples; prints what was done.

    Args:
        cfg: The run.
        verbose: Leave the engines' logs on the terminal (else ``DIR/logs/engine.log``).
        verifier: Judges samples as they arrive when it is cheap, for the solved count
            (by default the run's verifier, where it is cheap).
        watch: The command this is part of (``harness run``).
    """
    watch = watch or _Watch(Display(console))
    with _stoppable(watch):
        own = verifier is None
        if own:
            verifier = _cheap_verifier(cfg)
        try:
            return _generate(cfg, verbose, verifier, watch)
        finally:
            if own and verifier is not None:
                verifier.close()


def _cheap_verifier(cfg: RunConfig) -> Verifier | None:
    """The run's verifier when it can judge samples as they arrive (else None)."""
    from harness.core.task import TASKS
    from harness.core.verifier import VERIFIERS

    try:
        name = cfg.verifier or TASKS.get(cfg.task).default_verifier
        if not getattr(VERIFIERS.get(name), "live", False):
            return None
        return VERIFIERS.create(name, options=cfg.verifier_options)
    except Exception:  # no solved count then; the stages report real problems
        return None


def _generate(cfg: RunConfig, verbose: bool, verifier: Verifier | None, watch: _Watch) -> Path:
    from harness.generate import Plan, generate

    d = watch.display
    rate = Rate()
    stage = contextlib.ExitStack()  # the spinner or bar on screen now
    bar: Bar | None = None
    started = [0.0]
    missing = [0]

    def on_plan(plan: Plan) -> None:
        first = watch.root is None
        watch.root, watch.total, missing[0] = plan.store.root, plan.total, plan.missing
        rate.solved = Solved(verifier, plan.problems)
        if plan.resumed:
            rate.solved.verdicts(_known_verdicts(plan.store.root, verifier))
        if not first:
            if bar is not None:
                bar.total = plan.missing
            return
        if plan.resumed:
            d.line(
                f"resuming {plan.store.root}: {plan.present:,} of {plan.total:,} "
                f"samples present; {plan.missing:,} to generate"
            )
        else:
            d.line(
                f"new run {plan.store.root}: {len(plan.problems):,} problems x "
                f"{plan.manifest.n:,} samples"
            )

    def on_engine(event: str, log: Path | None) -> None:
        nonlocal bar
        if event == "starting":
            started[0] = time.monotonic()
            stage.enter_context(d.spinner(f"starting the {cfg.backend} engine ({cfg.model})"))
            return
        stage.close()
        line = f"{cfg.backend} ready in {time.monotonic() - started[0]:.0f} s"
        d.line(line + (f" (engine log: {log})" if log is not None else ""))
        bar = Bar("generating", missing[0], "samples", rate.info)
        stage.enter_context(d.bar(bar))

    def progress(batch: Sequence[Sample]) -> None:
        rate.samples += len(batch)
        rate.tokens += sum(s.completion_tokens for s in batch)
        rate.solved.samples(batch)
        if bar is not None:
            bar.advance(len(batch))

    with stage:
        store = generate(
            cfg, progress=progress, on_plan=on_plan, on_engine=on_engine, quiet=not verbose
        )
    if bar is not None:
        took = bar.elapsed
        tok_s = rate.tokens / took if took > 0 else 0.0
        line = (
            f"generated {rate.samples:,} samples in {clock(took)} "
            f"({rate.tokens:,} tokens, {tok_s:,.0f} tok/s)"
        )
        if rate.solved.verifier is not None:
            line += f"; {rate.solved.sentence()} so far"
        d.line(line)
    else:
        d.line(f"all {watch.total:,} samples present: nothing to generate")
    return store.root


def _known_verdicts(root: Path, verifier: Verifier | None) -> list[Verdict]:
    from harness.core.store import RunStore

    if verifier is None:
        return []
    store = RunStore(root)
    return [v for v in store.iter_verdicts(verifier.name) if v.correct]


def run_verify(
    run_dir: Path,
    verifier: str | None,
    options: dict[str, Any],
    impl: Verifier | None = None,
    watch: _Watch | None = None,
    limit: int | None = None,
) -> str:
    """Judge every sample not judged yet (the first ``limit`` of each problem), with a
    bar that counts a judge's calls too; returns the verifier's name."""
    from harness.core.store import RunStore
    from harness.verify import run_verifier, verify

    store = RunStore(run_dir)
    watch = watch or _Watch(Display(console), root=Path(run_dir))
    with _stoppable(watch):
        if watch.root is not None and store.exists():
            manifest = store.read_manifest()
            watch.total = manifest.n * manifest.num_problems
        name = verifier or (impl.name if impl is not None else run_verifier(store))
        watch.verifier = name
        solved = Solved(None, store.read_problems())
        solved.verdicts([v for v in store.iter_verdicts(name) if v.correct])
        calls = [0]  # a judge's calls: known only as tournaments and tie-breaks unfold

        scored = [0]  # a selector's verdicts: scores, no claim of correctness

        def info(b: Bar) -> str:
            text = f"{scored[0]:,} scored" if scored[0] else solved.text()
            return text + (f" · {calls[0]:,} judge calls" if calls[0] else "")

        def on_judgements(count: int) -> None:
            calls[0] += count
            bar.advance(0)

        bar = Bar("verifying", 0, "samples", info)
        screen = contextlib.ExitStack()

        def on_start(total: int) -> None:
            bar.total = total
            if total:
                screen.enter_context(watch.display.bar(bar))

        def progress(verdicts: Sequence[Verdict]) -> None:
            solved.verdicts(verdicts)
            scored[0] += sum(v.status in (Status.SCORED, Status.UNPARSED) for v in verdicts)
            bar.advance(len(verdicts))

        with screen:
            result = verify(
                run_dir,
                name,
                options,
                on_start=on_start,
                progress=progress,
                impl=impl,
                limit=limit,
                on_judgements=on_judgements,
            )
        if result.new_verdicts:
            done = f"verified {result.new_verdicts:,} samples with {result.verifier} in "
            done += clock(bar.elapsed)
        else:
            done = f"every sample already verified by {result.verifier}"
        what = f"{scored[0]:,} samples scored" if scored[0] else solved.sentence()
        watch.display.line(f"{done}: {what}; verdicts: {result.path}")
        if calls[0]:
            log = Path(run_dir) / "judgements" / f"{result.verifier}.jsonl"
            watch.display.line(f"judgements ({result.verifier}): {log} (+{calls[0]:,} calls)")
        if result.runs:
            watch.display.line(
                f"duplicates: {result.shared:,} of {result.new_verdicts:,} samples "
                f"({result.duplicate_rate:.1%}) were judged with an identical program's run "
                f"({result.runs:,} runs)"
            )
    return result.verifier


def run_analyze(
    run_dir: Path,
    verifier: str | None,
    settings: AnalysisSettings | None = None,
    partial: bool = False,
    watch: _Watch | None = None,
) -> None:
    """Write the analysis and print its summary (in full unless part of ``harness run``)."""
    from harness.analyze import STEPS, analyze

    brief = watch is not None
    watch = watch or _Watch(Display(console), root=Path(run_dir))
    with _stoppable(watch):
        bar = Bar("analyzing", len(STEPS), "parts", lambda b: "")
        with watch.display.bar(bar):
            result = analyze(
                run_dir, verifier, settings, partial=partial, on_step=lambda _: bar.advance()
            )
        names = ", ".join(dict.fromkeys(f.name for f in result.files))
        if brief:
            watch.display.line(
                f"analysis: {Path(run_dir) / 'analysis'}/ ({len(set(result.files))} files)"
            )
        for note in result.notes:
            watch.display.line(f"[yellow]note:[/yellow] {note}")
        print_table(out, Path(run_dir), result.coverage, result.partial)
        if brief:
            out.print(reading(result.coverage, result.fit), highlight=False)
            return
        print_details(out, result)
        out.print(reading(result.coverage, result.fit), highlight=False)
        console.print(f"wrote {Path(run_dir) / 'analysis'}/: {names}")


def run_report(run_dir: Path, partial: bool = False, watch: _Watch | None = None) -> Path:
    """Write the HTML report (a spinner meanwhile) and print its path."""
    from harness.report import report

    watch = watch or _Watch(Display(console), root=Path(run_dir))
    with _stoppable(watch):
        with watch.display.spinner("writing the report"):
            path = report(run_dir, partial=partial)
        path_line("report", path)
    return path


def run_all(cfg: RunConfig, verbose: bool = False) -> None:
    """generate -> verify -> analyze -> report; every flag is checked before generating."""
    from harness.core.task import get_task
    from harness.verify import load_verifier

    watch = _Watch(Display(console))
    with _stoppable(watch):
        cfg.validate()
        task = get_task(cfg.task, cfg.data_file, cfg.sampling.seed, cfg.task_options)
        # The verifier (its options, the sandbox) is checked before any sample is made.
        impl = load_verifier(cfg.verifier or task.default_verifier, cfg.verifier_options)
        try:
            run_dir = run_generate(cfg, verbose, verifier=impl, watch=watch)
        except BaseException:
            impl.close()
            raise
        name = cfg.verifier or task.default_verifier  # plugin@label keeps its label
        if impl.selector():
            # A selector claims nothing about correctness: the task's own verifier is the
            # truth its selection curves are scored against.
            truth = run_verify(run_dir, task.default_verifier, {}, watch=watch)
            run_verify(run_dir, name, cfg.verifier_options, impl=impl, watch=watch)
        else:
            truth = run_verify(run_dir, name, cfg.verifier_options, impl=impl, watch=watch)
        run_analyze(run_dir, truth, watch=watch)
        run_report(run_dir, watch=watch)
