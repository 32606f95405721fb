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


# -- a pid namespace per sample (workers without root; see zygote) ---------------------
_CLONE_NEWUSER, _CLONE_NEWPID = 0x10000000, 0x20000000
_PR_SET_NO_NEW_PRIVS = 38
_SYS_CAPSET = 126  # (x86-64; the number differs by architecture)
_CAPSET_NUMBERS = {"x86_64": 126, "aarch64": 91, "arm64": 91}
_libc: Any = None
_cap_args: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_own_namespaces() -> int:
    """Become pid 1 of a new pid namespace, in a new user namespace owned by this uid.

    The calling process forks: the child returns (as pid 1 of the new namespace, with
    every capability inside the new user namespace, where it keeps its own uid), the
    parent waits for it and exits with its status. Returns a descriptor of the new pid
    namespace, which ``after_fork`` needs.
    """
    global _cap_args
    uid, gid = os.getuid(), os.getgid()
    _cap_args = _capset_args()
    _check(_lib().unshare(_CLONE_NEWUSER | _CLONE_NEWPID), "unshare")
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    pid = os.fork()
    if pid:
        os.closerange(3, 1 << 16)
        _, status = os.waitpid(pid, 0)
        os._exit(max(0, os.waitstatus_to_exitcode(status)))
    return os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)


def before_fork() -> None:
    """Let the next child start a pid namespace of its own (see ``enter_own_namespaces``)."""
    _check(_lib().unshare(_CLONE_NEWPID), "unshare(CLONE_NEWPID)")


def after_fork(own_pid_ns: int) -> None:
    """Later children go back to this process's pid namespace."""
    _check(_lib().setns(own_pid_ns, _CLONE_NEWPID), "setns")


def drop_capabilities() -> None:
    """Give up every capability (a child of a worker that holds them in its namespace) and
    any way to regain them through exec. Uses arguments made by ``enter_own_namespaces``."""
    number, header, data = _cap_args
    libc = _libc
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(libc.syscall(number, header, data), "capset")


def _capset_args() -> Any:
    import ctypes

    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x 2 words): none
    return _CAPSET_NUMBERS.get(os.uname().machine, _SYS_CAPSET), header, data


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
