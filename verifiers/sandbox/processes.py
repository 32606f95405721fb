"""A sample's processes inside the sandbox worker: how they start, end and are cleaned up.

``SampleProcesses`` is the part of the worker (``zygote.Zygote``) that forks a sample's
process and makes it the sample's: a new session, its own uid (when the worker may
switch uids) or, without root, a pid namespace of its own with no capability left;
rlimits on CPU time, address space (relative to its size at fork), file size, open
files and processes; a fresh scratch dir as cwd and HOME; /dev/null (or, for ``stdio``
jobs, the test's input, output and error files) as fds 0-2, and no other file
descriptor but those it is given. Afterwards every process the sample left is killed
and its scratch dir removed.

This module is stdlib-only: its source is shipped into the sandbox.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
from typing import Any

from sandbox_sysutil import (
    after_fork,
    before_fork,
    drop_capabilities,
    not_dumpable,
    other_pids,
    reap,
    rmtree,
    vm_size_kb,
)

_FD_CEILING = 1 << 16
_RESOURCES = (
    resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE,
    resource.RLIMIT_NPROC, resource.RLIMIT_CORE,
)  # fmt: skip
Rlimits = list[tuple[int, tuple[int, int]]]


class SampleProcesses:
    """Forking, limiting and cleaning up after a sample's processes (see module docstring)."""

    def __init__(self, config: dict[str, Any]) -> None:
        # Without root: a pid namespace per sample process (see zygote.main); ours.
        self.own_ns: int | None = config.get("own_ns")
        self.pidns = bool(config.get("pidns"))
        self.uids: dict[str, int] | None = config.get("uids")
        # One scratch path, emptied and made afresh for every sample, so that HOME and
        # TMPDIR are set once (in main) rather than in each child.
        self.scratch_root = str(config.get("scratch_root") or "/tmp")
        self.scratch = os.path.join(self.scratch_root, "s")
        self.nproc_base = int(config.get("nproc_base", 0))
        self.null = os.open(os.devnull, os.O_RDWR)
        self._jobs = 0
        self._vm = 0
        self._rlimits: dict[tuple[int, ...], Rlimits] = {}

    # -- child setup ---------------------------------------------------------
    def _enter_child(
        self,
        role: str,
        cwd: str,
        rlimits: Rlimits,
        keep: list[int],
        stdio: tuple[int, int, int] | None,
    ) -> None:
        os.setsid()
        if self.own_ns is not None:
            drop_capabilities()  # (held in the worker's own user namespace)
        if self.uids is not None:
            uid = self.uids[role]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # also makes the process non-dumpable
        else:
            not_dumpable()
        for res, value in rlimits:
            resource.setrlimit(res, value)
        os.chdir(cwd)
        null = self.null
        if stdio is None:
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(null, 2)
        else:
            os.dup2(stdio[0], 0)
            os.dup2(stdio[1], 1)
            os.dup2(stdio[2], 2)
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, _FD_CEILING)
        # sys.stdin/stdout/stderr wrap fds 0-2, now /dev/null or the test's files; this
        # process never used them, so no buffered data of its own can leak into them.

    def limits(self, limits: dict[str, Any]) -> Rlimits:
        """The (resource, (soft, hard)) pairs of a job, made once per distinct value."""
        if self._jobs % 64 == 1:
            # A child starts with this process's address space: its limit is relative to it.
            self._vm = vm_size_kb() * 1024
        key = (
            int(limits["cpu_s"]),
            self._vm + int(limits["memory_mb"]) * (1 << 20),
            int(limits["fsize_mb"]) << 20,
            int(limits["nofile"]),
            int(limits["nproc"]) + self.nproc_base,
            0,
        )
        pairs = self._rlimits.get(key)
        if pairs is None:
            if len(self._rlimits) > 16:  # the address-space size moves now and then
                self._rlimits.clear()
            pairs = self._rlimits[key] = [(r, (v, v)) for r, v in zip(_RESOURCES, key, strict=True)]
        return pairs

    # -- one sample ----------------------------------------------------------
    def fresh_scratch(self) -> str:
        """The sample's scratch dir, made empty (and owned by the candidate's uid)."""
        scratch = self.scratch
        try:
            os.mkdir(scratch, 0o700)  # wipe() removed it after the previous sample
        except FileExistsError:  # left by a job that failed half-way
            self.wipe()
            os.mkdir(scratch, 0o700)
        if self.uids is not None:
            os.chown(scratch, self.uids["candidate"], self.uids["candidate"])
        return scratch

    def fork(
        self,
        role: str,
        cwd: str,
        rlimits: Rlimits,
        keep: list[int],
        fn: Any,
        args: tuple[Any, ...],
        stdio: tuple[int, int, int] | None = None,
    ) -> int:
        """A child that enters the sample's limits and runs ``fn(*args)`` (its exit code)."""
        if self.own_ns is not None:
            before_fork()
        pid = os.fork()
        if pid and self.own_ns is not None:
            after_fork(self.own_ns)
        if pid == 0:
            code = 0
            try:
                self._enter_child(role, cwd, rlimits, keep, stdio)
                code = fn(*args) or 0
            except BaseException:
                code = 70
            os._exit(code)
        return pid

    def kill_all(self, pids: list[int], reaped: int) -> float:
        """Kill every process the sample left (``reaped``: its main one, already waited
        for); the CPU seconds of the others in ``pids``."""
        if self.pidns:
            # Everything in this pid namespace except init and this process belongs to
            # the sample that just ran.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass  # nothing left to signal (the usual case)
            else:
                if self.own_ns is None:
                    # (In a namespace of its own, a sample's processes are all gone once
                    # its first one has been waited for: the kernel ends the rest first.)
                    _sweep()
        else:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        cpu_s = 0.0
        for pid in pids:
            if pid != reaped:
                with contextlib.suppress(ChildProcessError):
                    usage = os.wait4(pid, 0)[2]
                    cpu_s += usage.ru_utime + usage.ru_stime
        return cpu_s

    def wipe(self) -> None:
        """Remove the sample's scratch dir (and, sharing its uid, all it could write)."""
        scratch = self.scratch
        try:
            os.rmdir(scratch)  # the usual case: the sample left its scratch dir empty
        except FileNotFoundError:
            pass
        except OSError:
            rmtree(scratch)
            if os.path.lexists(scratch):  # could not be emptied: set it aside
                os.rename(scratch, os.path.join(self.scratch_root, f"trash{self._jobs}"))
        if self.pidns and self.uids is None:
            # Samples share this process's uid, so they could write anywhere in the
            # worker's private tmpfs mounts: clear them. (Under their own uids they can
            # write only in their scratch dir.)
            for root in (self.scratch_root, "/dev/shm"):
                try:
                    names = os.listdir(root)
                except OSError:
                    continue
                for name in names:
                    rmtree(os.path.join(root, name))


def _sweep() -> None:
    # Kill until nothing is left alive (a fork bomb may race), then give init a moment
    # to reap the dead, so that no process of the sample remains when its result goes.
    for _ in range(1000):
        reap()
        if not other_pids(live_only=True):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        time.sleep(0.001)
    for _ in range(1000):
        reap()
        if not other_pids(live_only=False):
            break
        time.sleep(0.001)
