"""The terminal the person watches, kept apart from the engines' own logs.

vLLM, torch, Ray and transformers write to file descriptors 1 and 2 from the harness's
process and from the processes they start (vLLM's engine core, Ray's workers), in C as
well as in Python. ``engine_log(path)`` points those descriptors at a log file for as long
as an engine lives: every process started meanwhile inherits the file, so whatever it
prints lands there. What the harness itself prints goes through ``stdout``/``stderr``
below, which write to the terminal as it was before (``sys.stdout``/``sys.stderr`` when
nothing is redirected, so in-process callers that capture those see it too).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# Terminal streams saved by the redirections in force, innermost last.
_saved: list[dict[str, IO[str]]] = []


class TerminalStream(io.TextIOBase):
    """Writes to the terminal: the saved stream while an engine log is in force, else the
    current ``sys.stdout``/``sys.stderr``."""

    def __init__(self, which: str) -> None:
        self.which = which

    def target(self) -> IO[str]:
        stream: IO[str] = _saved[-1][self.which] if _saved else getattr(sys, self.which)
        return stream

    def write(self, text: str) -> int:
        return self.target().write(text)

    def flush(self) -> None:
        self.target().flush()

    def isatty(self) -> bool:
        return self.target().isatty()

    def fileno(self) -> int:
        return self.target().fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target(), "encoding", None) or "utf-8"


stdout = TerminalStream("stdout")
stderr = TerminalStream("stderr")


def notice(message: str) -> None:
    """One line for the person at the terminal (never into an engine log)."""
    stderr.write(message + "\n")
    stderr.flush()


def redirected() -> bool:
    """Whether an engine log is taking descriptors 1 and 2 now."""
    return bool(_saved)


@contextlib.contextmanager
def engine_log(path: Path | None) -> Iterator[Path | None]:
    """Send descriptors 1 and 2 (this process's and its future children's) to ``path``,
    appending; ``None`` leaves everything as it is (``--verbose``)."""
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    copies = {1: os.dup(1), 2: os.dup(2)}
    saved: dict[str, IO[str]] = {
        "stdout": open(copies[1], "w", buffering=1, encoding="utf-8", errors="replace"),  # noqa: SIM115
        "stderr": open(copies[2], "w", buffering=1, encoding="utf-8", errors="replace"),  # noqa: SIM115
    }
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    _saved.append(saved)
    try:
        yield path
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        _saved.remove(saved)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            saved[name].flush()
            os.dup2(saved[name].fileno(), fd)
            saved[name].close()
