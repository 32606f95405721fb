"""Process and file helpers of the sandbox worker (see ``zygote``).

This module is stdlib-only: its source is shipped into the sandbox as
``sandbox_sysutil`` (the harness uses ``rmtree`` too). It imports nothing beyond what
the worker already holds, because every module loaded into the worker makes each fork
and exit a little dearer.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

_PR_SET_DUMPABLE = 4
_prctl: Any = None


def not_dumpable() -> None:
    """Keep same-uid processes from reading this process's memory or fds via /proc.

    Needed only where samples share the worker's uid, so ctypes is loaded only then.
    """
    global _prctl
    with contextlib.suppress(Exception):
        if _prctl is None:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        _prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def rmtree(path: str) -> None:
    """Delete ``path`` and everything under it, never following a symlink.

    No recursion and no open directory per level, so a tree of any depth goes: each
    pass deletes what it can at the top and moves the entries of the directories left
    up one level. Errors are ignored (what cannot be deleted stays).
    """
    if os.path.islink(path):  # (the sample may have swapped its dir for a link)
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    moved = 0
    while True:
        try:
            names = os.listdir(path)
        except NotADirectoryError:
            with contextlib.suppress(OSError):
                os.unlink(path)
            return
        except OSError:
            return
        progress = False
        for name in names:
            entry = os.path.join(path, name)
            try:
                if not os.path.isdir(entry) or os.path.islink(entry):
                    os.unlink(entry)
                    progress = True
                    continue
                os.rmdir(entry)
                progress = True
                continue
            except OSError:
                pass
            with contextlib.suppress(OSError):
                for child in os.listdir(entry):
                    moved += 1
                    with contextlib.suppress(OSError):
                        os.rename(os.path.join(entry, child), os.path.join(path, f"~{moved}"))
                        progress = True
        if not names or not progress:
            break
    with contextlib.suppress(OSError):
        os.rmdir(path)


def drain(fd: int, budget: int) -> list[bytes]:
    """What can be read from ``fd`` now, up to ``budget`` bytes (sets it non-blocking)."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while budget > 0:
            chunk = os.read(fd, min(1 << 16, budget))
            if not chunk:
                break
            budget -= len(chunk)
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return chunks


def reap() -> None:
    """Collect every child that has exited (no waiting)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def other_pids(live_only: bool) -> list[int]:
    """Pids in this pid namespace other than init and this process (only the live ones,
    or the dead not yet reaped too)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if not live_only or state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def vm_size_kb() -> int:
    """This process's address-space size (VmSize) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    return 0


_WARM_PROGRAM = """
from typing import List

def f(x, *rest, **kw):
    if x == "raise":
        raise ValueError(x)
    return x
"""
_WARM_VALUES: list[Any] = [
    1, -2, 2**70, 1.5, float("inf"), True, None, "text", "\u00fc", [1, [2.5]], [],
    (1, "a"), {"k": 1, 2: [3]}, {1, 2}, frozenset("a"), 1 + 2j, "raise",
]  # fmt: skip


def warm_up() -> None:
    """Run the candidate's code path on a trusted dummy job, in this process.

    CPython then has done its lazy set-up (codec and encoder objects, specialised
    bytecode of the codec and reply code) once here, before the fork, instead of
    again in every sample.
    """
    from sandbox_programs import run_candidate

    r, w = os.pipe()
    calls = [([v], {"k": v}) for v in _WARM_VALUES]
    try:
        for _ in range(16):
            run_candidate(_WARM_PROGRAM, "f", calls, w, None)
            drain(r, 1 << 20)
    finally:
        os.close(r)
        os.close(w)
