"""Ctrl-C and SIGTERM as one clean stop: whatever is finished stays written, nothing is torn.

``install()`` (the CLI calls it) makes SIGINT and SIGTERM raise ``Interrupted`` (a
``KeyboardInterrupt``) in the main thread, so every ``finally`` on the way out runs: the
engine is shut down, the sandbox workers are killed, files are closed. A signal that
arrives inside ``deferred()`` (a write of finished records) is raised when the write is
done, so no record is ever half written. A repeat within ``GRACE_S`` of the first is not
raised: the way out is already under way and a second Ctrl-C must not cut its cleanup
(the engine's shutdown) short; a later one is, in case something swallowed the first.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

GRACE_S = 10.0
_deferring = 0
_pending: int | None = None
_received: int | None = None
_first_at = 0.0


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (Ctrl-C, SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending, _received, _first_at
    now = time.monotonic()
    if _received is not None and now - _first_at < GRACE_S:
        return  # already stopping: let the cleanup finish
    if _deferring:
        _pending = signum
        return
    if _received is None:
        _received, _first_at = signum, now
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT and SIGTERM to ``Interrupted`` (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def received() -> int | None:
    """The signal that stopped the run, if one did."""
    return _received


def reset() -> None:
    """Forget a received signal (tests that run several commands in one process)."""
    global _pending, _received
    _pending = _received = None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a signal that arrives inside the block until the block is done."""
    global _deferring, _pending, _received, _first_at
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            if _received is None:
                _received, _first_at = signum, time.monotonic()
            raise Interrupted(signum)
