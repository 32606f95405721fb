"""The processes this one started, and stopping those an aborted engine start left behind.

An engine that fails or is interrupted while it starts (vLLM's engine core, its workers)
may have started processes that nothing will shut down: its Python object was never
returned. The generate stage notes this process's descendants before the engine starts
and stops any new one that is still alive when the start did not finish. Linux ``/proc``;
elsewhere nothing is found and nothing is stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

# Python's resource tracker unlinks leaked shared memory at exit: left to do that.
SPARED = ("resource_tracker",)


def descendants(pid: int | None = None) -> set[int]:
    """Every live process below ``pid`` (default: this one)."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _spared(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True  # gone already
    return any(name in cmd for name in SPARED)


def stop(pids: set[int], grace_s: float = 3.0) -> None:
    """SIGTERM ``pids`` (but the resource tracker), SIGKILL what is left after ``grace_s``."""
    targets = {p for p in pids if not _spared(p)}
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 1.0)):
        for pid in targets:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            targets = _alive(targets)
            if not targets:
                return
            time.sleep(0.05)


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            if (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z":
                alive.add(pid)
    return alive
