"""Ctrl-C and SIGTERM as one clean stop: whatever is finished stays written, nothing is torn.

``install()`` (the CLI calls it) makes SIGINT and SIGTERM raise ``Interrupted`` in the
main thread, so every ``finally`` on the way out runs: the engine is shut down, the
sandbox workers are killed, files are closed. ``Interrupted`` is a ``BaseException`` but
not a ``KeyboardInterrupt``: libraries catch that one and carry on (vLLM does while its
engine starts), and a stop must not be swallowed. A signal that
arrives inside ``deferred()`` (a write of finished records) is raised when the write is
done, so no record is ever half written. A repeat within ``GRACE_S`` of the first is not
raised: the way out is already under way and a second Ctrl-C must not cut its cleanup
(the engine's shutdown) short; a later one is, in case something swallowed the first.

Python runs signal handlers in the main thread only, and only once that thread is back in
Python code. The kernel may hand a signal to any thread that does not block it (vLLM's,
Ray's, ours); the main thread, waiting in C (a ZeroMQ poll while an engine starts, a lock),
would not notice it for minutes. So a relay thread, woken through the signal wakeup file
descriptor, sends the signal on to the main thread itself when the handler has not run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

GRACE_S = 10.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)
_deferring = 0
_pending: int | None = None
_received: int | None = None
_first_at = 0.0
_handled_at = 0.0  # when the handler last ran
_relay: threading.Thread | None = None


class Interrupted(BaseException):
    """The run was stopped by a signal (Ctrl-C, SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending, _received, _first_at, _handled_at
    now = _handled_at = time.monotonic()
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
    global _relay
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        signal.signal(sig, _handler)
    if _relay is None:
        read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        _relay = threading.Thread(
            target=_relay_to_main,
            args=(read, threading.main_thread().ident),
            name="signal-relay",
            daemon=True,
        )
        _relay.start()


def block_in_this_thread() -> None:
    """Keep SIGINT and SIGTERM away from the calling (non-main) thread: they go to the
    main thread, where the handler runs."""
    if threading.current_thread() is not threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def _relay_to_main(read: int, main: int | None) -> None:
    """Send a signal on to the main thread when its handler has not run soon after."""
    block_in_this_thread()
    while True:
        try:
            data = os.read(read, 64)
        except OSError:
            return
        for signum in set(data):
            if signum not in SIGNALS:
                continue
            arrived = time.monotonic()
            time.sleep(0.1)  # the main thread takes it itself when it can
            if _handled_at < arrived - 0.5 and main is not None:
                with contextlib.suppress(OSError):
                    signal.pthread_kill(main, signum)


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
