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

This module is stdlib-only: its source is shipped into the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import os
import resource
import select
import shutil
import signal
import sys
import time
from typing import Any

from sandbox_codec import read_frame, write_frame
from sandbox_programs import run_candidate, run_driver

# Imported once here so samples need not import them; kept to what most programs use,
# because every page of this process costs something at each fork and exit.
WARM_MODULES = [
    "math", "re", "string", "itertools", "functools", "collections", "heapq", "bisect",
    "operator", "copy", "hashlib", "json", "typing",
]  # fmt: skip
OUTPUT_CAP = 4 << 20
_PR_SET_DUMPABLE = 4
_FD_CEILING = 1 << 16
_F_SETPIPE_SZ = 1031
_QUICK_WAIT_S = 0.05


_prctl: Any = None


def _not_dumpable() -> None:
    # Keeps same-uid processes from reading this process's memory or fds via /proc.
    global _prctl
    with contextlib.suppress(Exception):
        if _prctl is None:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        _prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


class Zygote:
    """The per-worker loop (see module docstring)."""

    def __init__(self, config: dict[str, Any], job_fd: int, result_fd: int, tests_fd: int):
        self.config = config
        self.job_fd, self.result_fd, self.tests_fd = job_fd, result_fd, tests_fd
        self.pidns = bool(config.get("pidns"))
        self.uids: dict[str, int] | None = config.get("uids")
        self.scratch_root = str(config.get("scratch_root") or "/tmp")
        self.nproc_base = int(config.get("nproc_base", 0))
        self._jobs = 0
        self._vm = 0

    # -- child setup ---------------------------------------------------------
    def _enter_child(
        self, role: str, scratch: str, limits: dict[str, Any], keep: list[int], vm_bytes: int
    ) -> None:
        os.setsid()
        if self.uids is not None:
            uid = self.uids[role]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # also makes the process non-dumpable
        else:
            _not_dumpable()
        self._set_limits(limits, vm_bytes)
        os.chdir(scratch)
        # The environment was reduced to a few variables at start-up.
        os.environ["HOME"] = os.environ["TMPDIR"] = scratch
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        low = 3
        for fd in sorted(set(keep)):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, _FD_CEILING)
        # sys.stdin/stdout/stderr wrap fds 0-2, now /dev/null; this process never wrote
        # to them, so no buffered data of its own can leak into a sample's output.

    def _set_limits(self, limits: dict[str, Any], vm_bytes: int) -> None:
        cpu = int(limits["cpu_s"])
        memory = vm_bytes + int(limits["memory_mb"]) * (1 << 20)
        nproc = int(limits["nproc"]) + self.nproc_base
        for res, value in (
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_AS, memory),
            (resource.RLIMIT_FSIZE, int(limits["fsize_mb"]) << 20),
            (resource.RLIMIT_NOFILE, int(limits["nofile"])),
            (resource.RLIMIT_NPROC, nproc),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(res, (value, value))

    # -- one sample ----------------------------------------------------------
    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        limits, mode = job["limits"], job["mode"]
        self._jobs += 1
        scratch = os.path.join(self.scratch_root, f"s{self._jobs}")
        shutil.rmtree(scratch, ignore_errors=True)
        os.mkdir(scratch, 0o700)
        if self.uids is not None:
            os.chown(scratch, self.uids["candidate"], self.uids["candidate"])
        out_r, out_w = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(out_w, _F_SETPIPE_SZ, 1 << 20)
        # A child starts with this process's address space: its limit is relative to it.
        if self._jobs % 64 == 1:
            self._vm = _vm_size_kb() * 1024
        vm = self._vm
        pids: list[int] = []
        if mode == "cases":
            cand = self._fork(
                "candidate", scratch, limits, vm, [out_w], run_candidate, job, out_w, None
            )
            pids, main = [cand], cand
        else:
            req_r, req_w = os.pipe()
            rep_r, rep_w = os.pipe()
            cand = self._fork(
                "candidate", scratch, limits, vm, [rep_w, req_r], run_candidate, job, rep_w, req_r
            )
            driver = self._fork_driver(limits, vm, job["id"], out_w, req_w, rep_r)
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            pids, main = [cand, driver], driver
        os.close(out_w)
        status, data, rusage_s, exit_code = self._wait(main, out_r, float(job["timeout"]))
        os.close(out_r)
        self._kill_all(pids)
        self._wipe(scratch)
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
        self,
        role: str,
        scratch: str,
        limits: dict[str, Any],
        vm: int,
        keep: list[int],
        fn: Any,
        *args: Any,
    ) -> int:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                self._enter_child(role, scratch, limits, keep, vm)
                fn(*args)
            except BaseException:
                code = 70
            os._exit(code)
        return pid

    def _fork_driver(
        self, limits: dict[str, Any], vm: int, job_id: int, out_w: int, req_w: int, rep_r: int
    ) -> int:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                keep = [out_w, req_w, rep_r, self.tests_fd]
                self._enter_child("driver", "/", limits, keep, vm)
                tests = self._read_tests(job_id, out_w)
                os.close(self.tests_fd)
                run_driver(tests, out_w, req_w, rep_r)
            except BaseException:
                code = 70
            os._exit(code)
        return pid

    def _read_tests(self, job_id: int, out_w: int) -> dict[str, Any]:
        while True:
            frame = read_frame(self.tests_fd)
            if frame is None:
                raise EOFError("tests pipe closed")
            if frame.get("id") == job_id:
                from sandbox_programs import send

                send(out_w, {"tests_read": job_id})
                return frame

    def _wait(self, main: int, out_r: int, timeout: float) -> tuple[str, bytes, float, int | None]:
        deadline = time.monotonic() + timeout
        pidfd = os.pidfd_open(main)
        chunks: list[bytes] = []
        size, status = 0, "done"
        try:
            # Most samples end within milliseconds. Sleep on the process alone first: while
            # it lives, every page this process writes is copied (fork's copy-on-write),
            # and its result pipe holds a megabyte, so it rarely blocks meanwhile.
            if select.select([pidfd], [], [], min(timeout, _QUICK_WAIT_S))[0]:
                return self._reap_main(main, status, _drain(out_r, OUTPUT_CAP), pidfd)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    status = "timeout"
                    break
                ready, _, _ = select.select([out_r, pidfd], [], [], left)
                if out_r in ready:
                    chunk = os.read(out_r, 1 << 16)
                    if chunk:
                        size += len(chunk)
                        if size > OUTPUT_CAP:
                            status = "overflow"
                            break
                        chunks.append(chunk)
                        continue
                    if pidfd not in ready:
                        # Result pipe closed but the process lives on: wait for it.
                        ready, _, _ = select.select([pidfd], [], [], max(0.0, left))
                        if not ready:
                            status = "timeout"
                            break
                if pidfd in ready:
                    chunks.extend(_drain(out_r, OUTPUT_CAP - size))
                    break
        except BaseException:
            os.close(pidfd)
            raise
        return self._reap_main(main, status, chunks, pidfd)

    def _reap_main(
        self, main: int, status: str, chunks: list[bytes], pidfd: int
    ) -> tuple[str, bytes, float, int | None]:
        os.close(pidfd)
        if status != "done":
            with contextlib.suppress(ProcessLookupError):
                os.kill(main, signal.SIGKILL)
        _, wstatus, rusage = os.wait4(main, 0)
        code = os.waitstatus_to_exitcode(wstatus)
        return status, b"".join(chunks), rusage.ru_utime + rusage.ru_stime, code

    def _kill_all(self, pids: list[int]) -> None:
        if self.pidns:
            # Everything in this pid namespace except init and this process belongs to
            # the sample that just ran: kill until none is left (a fork bomb may race).
            for _ in range(1000):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break  # nothing left to signal (the usual case)
                _reap()
                if not _other_live_pids():
                    break
                time.sleep(0.001)
        else:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _wipe(self, scratch: str) -> None:
        try:
            os.rmdir(scratch)  # the usual case: the sample left its scratch dir empty
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
        if self.pidns and self.uids is None:
            # Samples share this process's uid, so they could write anywhere in the
            # worker's private tmpfs mounts: clear them. (Under their own uids they can
            # write only in their scratch dir.)
            for root in (self.scratch_root, "/dev/shm"):
                with contextlib.suppress(OSError):
                    for name in os.listdir(root):
                        path = os.path.join(root, name)
                        if os.path.isdir(path) and not os.path.islink(path):
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            with contextlib.suppress(OSError):
                                os.unlink(path)

    def serve(self) -> None:
        """Answer jobs until the job pipe closes."""
        write_frame(self.result_fd, {"ready": True, "pid": os.getpid()})
        while (job := read_frame(self.job_fd)) is not None:
            try:
                result = self.run_job(job)
            except Exception as exc:  # a bug here must not look like a verdict
                result = {"id": job.get("id"), "status": "internal", "out": repr(exc)[:500]}
            write_frame(self.result_fd, result)


def _drain(fd: int, budget: int) -> list[bytes]:
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while budget > 0:
            chunk = os.read(fd, min(1 << 16, budget))
            if not chunk:
                break
            budget -= len(chunk)
            chunks.append(chunk)
    return chunks


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _other_live_pids() -> list[int]:
    me, live = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            live.append(int(name))
    return live


def _vm_size_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    return 0


def main(config: dict[str, Any], job_fd: int, result_fd: int, tests_fd: int) -> None:
    """Entry point inside the sandbox: warm up, then serve jobs."""
    _not_dumpable()
    sys.path.extend(config.get("sys_path") or [])
    for name in WARM_MODULES:
        with contextlib.suppress(ImportError):
            __import__(name)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    os.environ.clear()
    # One thread per numeric library: a sample has a small process/thread budget.
    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **single})
    # Objects that exist now are never collected: a collection in a forked child would
    # otherwise touch (and copy) every page of the inherited heap.
    gc.collect()
    gc.freeze()
    Zygote(config, job_fd, result_fd, tests_fd).serve()
