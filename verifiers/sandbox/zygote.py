"""The warm worker that runs inside the sandbox and forks one process per sample.

Started once per worker (inside bubblewrap), it imports the usual stdlib modules,
then loops: read a job frame, fork the sample's process(es), wait with a wall-clock
deadline, kill every process the sample left behind, wipe its scratch dir, and
write a result frame. Frames travel over dedicated pipes, never stdin/stdout.

Each sample process: a new session, its own uid (when the worker may switch uids),
rlimits on CPU time, address space (relative to its size at fork), file size, open
files and processes, a fresh scratch dir as cwd and HOME, /dev/null as stdio, and no
file descriptor but its result pipe. The driver process of ``check`` mode reads the
test code from a separate pipe that this worker never reads, so no candidate
process, forked from here, can find test code in its memory.

Per sample, the cost is the fork: page-table copies, and a page copy for every page
the child or this process writes while they share it. So the child's start-up is
system calls on values made before the fork, and this process does as little as it
can between forks.

This module is stdlib-only: its source is shipped into the sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import marshal
import os
import resource
import select
import signal
import sys
import time
from typing import Any

from sandbox_codec import decode, read_frame, write_frame
from sandbox_programs import run_candidate, run_driver, send
from sandbox_sysutil import (
    drain,
    not_dumpable,
    other_pids,
    reap,
    rmtree,
    vm_size_kb,
    warm_up,
)

OUTPUT_CAP = 4 << 20
_FD_CEILING = 1 << 16
_F_SETPIPE_SZ = 1031
_QUICK_WAIT_S = 0.05
_RESOURCES = (
    resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE,
    resource.RLIMIT_NPROC, resource.RLIMIT_CORE,
)  # fmt: skip
Rlimits = list[tuple[int, tuple[int, int]]]


class Zygote:
    """The per-worker loop (see module docstring)."""

    def __init__(self, config: dict[str, Any], job_fd: int, result_fd: int, tests_fd: int):
        self.config = config
        self.job_fd, self.result_fd, self.tests_fd = job_fd, result_fd, tests_fd
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
    def _enter_child(self, role: str, cwd: str, rlimits: Rlimits, keep: list[int]) -> None:
        os.setsid()
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
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(null, 2)
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, _FD_CEILING)
        # sys.stdin/stdout/stderr wrap fds 0-2, now /dev/null; this process never wrote
        # to them, so no buffered data of its own can leak into a sample's output.

    def _limits(self, limits: dict[str, Any]) -> Rlimits:
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
    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        limits = job["limits"]
        self._jobs += 1
        scratch = self.scratch
        try:
            os.mkdir(scratch, 0o700)  # _wipe removed it after the previous sample
        except FileExistsError:  # left by a job that failed half-way
            self._wipe()
            os.mkdir(scratch, 0o700)
        if self.uids is not None:
            os.chown(scratch, self.uids["candidate"], self.uids["candidate"])
        rlimits = self._limits(limits)
        # The harness ships the program compiled (it compiles it, never runs it) or, when
        # it does not compile, as source, so the child reports the error as usual.
        blob = job.get("blob")
        program = marshal.loads(blob) if blob else job["program"]
        entry = job["entry_point"]
        out_r, out_w = os.pipe()
        try:  # noqa: SIM105 - a plain try costs less here, on every sample, than suppress()
            fcntl.fcntl(out_w, _F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        args: tuple[Any, ...]
        if job["mode"] == "cases":
            # Inputs are decoded here, before the fork, so the child only runs the program.
            calls = [(decode(a), decode(k)) for a, k in job["calls"]]
            args = (program, entry, calls, out_w, None)
            main = self._fork("candidate", scratch, rlimits, [out_w], run_candidate, args)
            pids = [main]
        else:
            req_r, req_w = os.pipe()
            rep_r, rep_w = os.pipe()
            args = (program, entry, None, rep_w, req_r)
            keep = sorted([req_r, rep_w])
            cand = self._fork("candidate", scratch, rlimits, keep, run_candidate, args)
            args = (job["id"], out_w, req_w, rep_r)
            keep = sorted([out_w, req_w, rep_r, self.tests_fd])
            main = self._fork("driver", "/", rlimits, keep, self._driver, args)
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            pids = [cand, main]
        os.close(out_w)
        status, data, rusage_s, exit_code = self._wait(main, out_r, float(job["timeout"]))
        os.close(out_r)
        self._kill_all(pids, main)
        self._wipe()
        if status == "done" and exit_code == -signal.SIGKILL and rusage_s >= limits["cpu_s"] - 0.05:
            status = "timeout"  # RLIMIT_CPU's hard limit kills with SIGKILL
        return {
            "id": job["id"],
            "status": status,
            "exit": exit_code,
            "out": data.decode("utf-8", "replace"),
            "cpu_s": round(rusage_s, 4),
            "elapsed_s": round(time.monotonic() - started, 4),
        }

    def _fork(
        self, role: str, cwd: str, rlimits: Rlimits, keep: list[int], fn: Any, args: tuple[Any, ...]
    ) -> int:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                self._enter_child(role, cwd, rlimits, keep)
                fn(*args)
            except BaseException:
                code = 70
            os._exit(code)
        return pid

    def _driver(self, job_id: int, out_w: int, req_w: int, rep_r: int) -> None:
        while True:
            tests = read_frame(self.tests_fd)
            if tests is None:
                raise EOFError("tests pipe closed")
            if tests.get("id") == job_id:
                break
        send(out_w, {"tests_read": job_id})
        os.close(self.tests_fd)
        run_driver(tests, out_w, req_w, rep_r)

    def _wait(self, main: int, out_r: int, timeout: float) -> tuple[str, bytes, float, int | None]:
        deadline = time.monotonic() + timeout
        pidfd = os.pidfd_open(main)
        try:
            # Most samples end within milliseconds. Sleep on the process alone first: while
            # it lives, every page this process writes is copied (fork's copy-on-write),
            # and its result pipe holds a megabyte, so it rarely blocks meanwhile.
            if select.select([pidfd], [], [], min(timeout, _QUICK_WAIT_S))[0]:
                status, chunks = "done", drain(out_r, OUTPUT_CAP)
            else:
                status, chunks = self._read_until_exit(pidfd, out_r, deadline)
        finally:
            os.close(pidfd)
        if status != "done":
            with contextlib.suppress(ProcessLookupError):
                os.kill(main, signal.SIGKILL)
        _, wstatus, rusage = os.wait4(main, 0)
        code = os.waitstatus_to_exitcode(wstatus)
        return status, b"".join(chunks), rusage.ru_utime + rusage.ru_stime, code

    @staticmethod
    def _read_until_exit(pidfd: int, out_r: int, deadline: float) -> tuple[str, list[bytes]]:
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", chunks
            ready, _, _ = select.select([out_r, pidfd], [], [], left)
            if out_r in ready:
                chunk = os.read(out_r, 1 << 16)
                if chunk:
                    size += len(chunk)
                    if size > OUTPUT_CAP:
                        return "overflow", chunks
                    chunks.append(chunk)
                    continue
                # Result pipe closed but the process lives on: wait for it.
                if pidfd not in ready and not select.select([pidfd], [], [], max(0.0, left))[0]:
                    return "timeout", chunks
            if pidfd in ready:
                chunks.extend(drain(out_r, OUTPUT_CAP - size))
                return "done", chunks

    def _kill_all(self, pids: list[int], reaped: int) -> None:
        if self.pidns:
            # Everything in this pid namespace except init and this process belongs to
            # the sample that just ran.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass  # nothing left to signal (the usual case)
            else:
                _sweep()
        else:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        for pid in pids:
            if pid != reaped:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def _wipe(self) -> None:
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

    def serve(self) -> None:
        """Answer jobs until the job pipe closes."""
        write_frame(self.result_fd, {"ready": True, "pid": os.getpid()})
        while (job := read_frame(self.job_fd)) is not None:
            try:
                result = self.run_job(job)
            except Exception as exc:  # a bug here must not look like a verdict
                result = {"id": job.get("id"), "status": "internal", "out": repr(exc)[:500]}
            write_frame(self.result_fd, result)


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


def main(config: dict[str, Any], job_fd: int, result_fd: int, tests_fd: int) -> None:
    """Entry point inside the sandbox: warm up, then serve jobs."""
    if config.get("uids") is None:
        not_dumpable()  # (samples under uids of their own cannot reach this process)
    sys.path.extend(config.get("sys_path") or [])
    # Imported once here (config["warm_modules"]) so samples need not import them.
    for name in config.get("warm_modules") or []:
        with contextlib.suppress(ImportError):
            __import__(name)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if config.get("cpu") is not None:  # (see worker.SandboxWorker._cpu)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(config["cpu"])})
    zygote = Zygote(config, job_fd, result_fd, tests_fd)
    os.environ.clear()
    # One thread per numeric library: a sample has a small process/thread budget.
    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **single})
    os.environ.update({"HOME": zygote.scratch, "TMPDIR": zygote.scratch})
    warm_up()
    # Objects that exist now are never collected: a collection in a forked child would
    # otherwise touch (and copy) every page of the inherited heap.
    gc.collect()
    gc.freeze()
    zygote.serve()
