"""What a person sees while a command works: one stage at a time, each ending in one line.

On a terminal a stage is a spinner (engine start, report) or a bar (generation,
verification, analysis) redrawn in place and replaced by its summary line when it ends.
When the output is not a terminal (CI, a pipe, a log file) nothing is redrawn: a stage
prints its state as one line every ``every_s`` seconds, then its summary line. Either
way the rate, the ETA and the fields a stage shows come from the same ``Bar``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from harness.core import interrupts, terminal
from harness.core.records import Problem, Sample, Verdict
from harness.core.verifier import Verifier

# Seconds between two state lines when the output is not a terminal.
EVERY_S = float(os.environ.get("HARNESS_PROGRESS_EVERY", "5"))


def clock(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03`` / ``-:--`` for unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-:--"
    s = round(max(seconds, 0.0))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Bar:
    """Counts of one stage, and how they are shown.

    Args:
        label: The stage ("generating", "verifying", ...).
        total: Units to do.
        unit: What is counted ("samples").
        info: Extra fields for the line (solved problems, tokens/s, ETA), from the bar.
    """

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        info: Callable[[Bar], str] | None = None,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self.start = time.monotonic()
        self.info = info or (lambda bar: "")
        self._on_change: Callable[[], None] = lambda: None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._on_change()

    def refresh(self) -> None:
        """Show the fields again (they changed without a unit being done)."""
        self._on_change()

    def state(self) -> str:
        """``12/320 samples · <info> · 0:42``: the line shown when not on a terminal."""
        parts = [f"{self.done:,}/{self.total:,} {self.unit}"]
        extra = self.info(self)
        if extra:
            parts.append(extra)
        parts.append(clock(self.elapsed))
        return f"{self.label} " + " · ".join(parts)


class Display:
    """Stages on one console: live (terminal) or as periodic lines (anything else).

    Args:
        console: Where to draw (the harness's stderr console).
        live: Redraw in place; by default when the console is a terminal.
        every_s: Seconds between state lines when not live.
    """

    def __init__(self, console: Console, live: bool | None = None, every_s: float = EVERY_S):
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.every_s = every_s

    def line(self, text: str) -> None:
        """One line of its own (a stage's summary, a note)."""
        self.console.print(text, highlight=False, soft_wrap=True)

    def _redrawn(self, *columns: Any) -> Progress:
        # Gone when done (the stage's summary line replaces it). Other writes to stdout and
        # stderr are left alone: while an engine log is open they belong in it.
        return Progress(
            *columns,
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    @contextlib.contextmanager
    def spinner(self, label: str) -> Iterator[None]:
        """A stage with no count (engine start, report): a spinner with the time so far,
        or one line now and another every ``every_s`` seconds it lasts."""
        if self.live:
            progress = self._redrawn(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
            )
            progress.add_task(label, total=None)
            with progress:
                yield
            return
        # Nothing at first (a stage that fails at once says only why); then a line every
        # ``every_s`` seconds it lasts.
        with _ticker(self.every_s, lambda t: self.line(f"{label} ... {clock(t)}")):
            yield

    @contextlib.contextmanager
    def bar(self, bar: Bar) -> Iterator[Bar]:
        """Show ``bar`` while the block runs; the caller prints the summary line after."""
        bar.start = time.monotonic()
        if self.live:
            progress = self._redrawn(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} " + bar.unit),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
            )
            task = progress.add_task(bar.label, total=bar.total, info="")

            def update() -> None:
                progress.update(task, completed=bar.done, info=_dots(bar.info(bar)))

            bar._on_change = update
            with progress:
                yield bar
            return
        last = [time.monotonic()]
        lock = threading.Lock()

        def maybe_line() -> None:
            with lock:
                if time.monotonic() - last[0] < self.every_s:
                    return
                last[0] = time.monotonic()
            self.line(bar.state())

        bar._on_change = maybe_line
        # Also between updates: a stage that goes quiet for a while still says so.
        with _ticker(self.every_s, lambda t: maybe_line()):
            yield bar


def _dots(text: str) -> str:
    return f"· {text}" if text else ""


@contextlib.contextmanager
def _ticker(every_s: float, tick: Callable[[float], Any]) -> Iterator[None]:
    """Call ``tick(elapsed)`` every ``every_s`` seconds from a thread while the block runs."""
    stop = threading.Event()
    start = time.monotonic()

    def run() -> None:
        interrupts.block_in_this_thread()
        while not stop.wait(every_s):
            tick(time.monotonic() - start)

    thread = threading.Thread(target=run, name="progress-ticker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(1.0)


def terminal_consoles() -> tuple[Console, Console]:
    """(stderr console for progress and notes, stdout console for tables): both write to
    the terminal even while an engine log holds descriptors 1 and 2."""
    err = Console(file=cast(IO[str], terminal.stderr), soft_wrap=True)
    out = Console(file=cast(IO[str], terminal.stdout), soft_wrap=True)
    return err, out


class Solved:
    """Problems with at least one right sample, judged as samples arrive where the
    verifier is cheap (``Verifier.live``), or read from verdicts."""

    def __init__(self, verifier: Verifier | None, problems: Sequence[Problem] = ()) -> None:
        self.verifier = verifier if verifier is not None and verifier.live else None
        self.problems = {p.id: p for p in problems}
        self.ids: set[str] = set()

    def samples(self, batch: Sequence[Sample]) -> None:
        if self.verifier is None or not batch or batch[0].problem_id in self.ids:
            return
        problem = self.problems.get(batch[0].problem_id)
        try:
            verdicts = self.verifier.verify(problem, batch) if problem else []
        except Exception:  # only a progress figure: never worth stopping a run for
            self.verifier = None
            return
        self.verdicts(verdicts)

    def verdicts(self, verdicts: Sequence[Verdict]) -> None:
        self.ids.update(v.problem_id for v in verdicts if v.correct)

    def text(self) -> str:
        return f"{len(self.ids):,}/{len(self.problems):,} solved" if self.problems else ""

    def sentence(self) -> str:
        return f"{len(self.ids):,} of {len(self.problems):,} problems solved"


@dataclass
class Rate:
    """Completion tokens of the samples written, for tokens/s and the ETA."""

    tokens: int = 0
    samples: int = 0
    solved: Solved = field(default_factory=lambda: Solved(None))

    def info(self, bar: Bar) -> str:
        parts = [self.solved.text()] if self.solved.verifier is not None else []
        rate = self.tokens / bar.elapsed if bar.elapsed > 0 else 0.0
        parts.append(f"{rate:,.0f} tok/s")
        eta = None
        if self.samples and rate > 0:
            # Tokens still to come (at the mean length so far) over the token rate.
            eta = (bar.total - bar.done) * (self.tokens / self.samples) / rate
        parts.append(f"ETA {clock(eta)}")
        return " · ".join(p for p in parts if p)
