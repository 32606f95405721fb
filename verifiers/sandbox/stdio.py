"""Whole programs on standard input/output, inside the sandbox worker (``stdio`` jobs).

The program runs once per test, each time in a fresh process forked from the warm
worker (``Zygote.fork``): standard input is the test's input, standard output and
standard error are files of the worker, and nothing else is open. The worker sends each
test's output back as it ends (a result frame with the raw bytes after it); judging it
is the harness's job, outside the sandbox.

Files, not pipes: each problem's inputs are written once per worker into sealed memory
files (kept for the last few problems, so a sample costs no copy of its inputs and the
worker's heap, which every fork copies the page tables of, does not hold them); a
program's output goes to a memory file that no one needs to drain while it runs, and
its size is bounded by the file-size rlimit and the test's cap (an ``overflow``).

The time limit is on CPU time (``timeout``): on a machine shared with other work, wall
time would count its waits too. A wall-clock limit (``wall``, longer) ends programs
that sleep or block. A run stops at the first test that exits abnormally (non-zero
status, signal, time limit, overflow) unless the job says ``all``; a wrong answer is
only known outside, so the harness asks for the stop over the control pipe, which the
worker watches while a test runs and between tests. This module is stdlib-only: its
source is shipped into the sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import time
from collections import OrderedDict
from typing import Any

from sandbox_programs import run_stdio

ERR_TAIL = 600
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
_ID = 8  # bytes of a job id on the control pipe


def sealed_file(name: str, data: bytes) -> int:
    """A read-only (sealed) memory file holding ``data``."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    return fd


class StdioRunner:
    """Runs ``stdio`` jobs for one worker (see module docstring)."""

    def __init__(self, zygote: Any, control_fd: int, cached_problems: int) -> None:
        self.zygote = zygote
        self.cached_problems = cached_problems
        self.control_fd = control_fd
        os.set_blocking(control_fd, False)
        self.out = os.memfd_create("stdout", os.MFD_CLOEXEC)
        self.err = os.memfd_create("stderr", os.MFD_CLOEXEC)
        # problem key -> (sealed input files, output caps); mirrored by the harness, which
        # sends a problem's inputs only when this worker does not hold them.
        self.inputs: OrderedDict[str, tuple[list[int], list[int]]] = OrderedDict()
        self._stops: set[int] = set()

    # -- inputs ----------------------------------------------------------------
    def _problem(self, job: dict[str, Any]) -> tuple[list[int], list[int]]:
        key = str(job["key"])
        given = job.get("inputs")
        if given is not None:
            old = self.inputs.pop(key, None)
            if old is not None:
                self._close(old[0])
            files = [sealed_file("in", text.encode()) for text in given["inputs"]]
            self.inputs[key] = (files, [int(c) for c in given["caps"]])
            while len(self.inputs) > self.cached_problems:
                self._close(self.inputs.popitem(last=False)[1][0])
        else:
            self.inputs.move_to_end(key)  # (a KeyError means the harness lost track: a bug)
        return self.inputs[key]

    @staticmethod
    def _close(fds: list[int]) -> None:
        for fd in fds:
            os.close(fd)

    # -- stop requests -----------------------------------------------------------
    def _stop_asked(self, job_id: int, wait: float = 0.0) -> bool:
        if not select.select([self.control_fd], [], [], wait)[0]:
            return False
        try:
            data = os.read(self.control_fd, 4096 - 4096 % _ID)
        except BlockingIOError:
            return False
        for i in range(0, len(data) - len(data) % _ID, _ID):
            self._stops.add(int.from_bytes(data[i : i + _ID], "big"))
        return job_id in self._stops

    # -- one job ---------------------------------------------------------------
    def run(self, job: dict[str, Any], program: Any, rlimits: Any) -> dict[str, Any]:
        """Run the program on the job's tests, writing one frame per test; the final record."""
        z = self.zygote
        started = time.monotonic()
        job_id = int(job["id"])
        self._stops.clear()  # any stop read so far was for an earlier job
        inputs, caps = self._problem(job)
        order = job.get("run")
        tests = range(len(inputs)) if order is None else order
        timeout = float(job["timeout"])
        wall = float(job.get("wall") or timeout)
        keep_going = bool(job.get("all"))
        ran = 0
        for t in tests:
            if self._stop_asked(job_id):
                break
            record, output = self._test(job_id, inputs[t], caps[t], program, rlimits, wall)
            if record["status"] == "done" and record["cpu_s"] > timeout:
                record["status"] = "timeout"  # (RLIMIT_CPU kills a little after the limit)
            record["t"] = t
            ran += 1
            z.send_result(record, output)
            if record["status"] == "stopped":
                break
            if not keep_going and (record["status"] != "done" or record["exit"] != 0):
                break  # (abnormal ends are failures whatever the output says)
        return {
            "id": job_id,
            "status": "done",
            "ran": ran,
            "elapsed_s": round(time.monotonic() - started, 4),
        }

    def _test(
        self, job_id: int, input_fd: int, cap: int, program: Any, rlimits: Any, timeout: float
    ) -> tuple[dict[str, Any], bytes]:
        z = self.zygote
        scratch = z.fresh_scratch()
        for fd in (self.out, self.err):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        os.lseek(input_fd, 0, os.SEEK_SET)
        stdio = (input_fd, self.out, self.err)
        pid = z.fork("candidate", scratch, rlimits, [], run_stdio, (program,), stdio=stdio)
        started = time.monotonic()
        status = self._await(job_id, pid, timeout)
        _, wstatus, rusage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        z.kill_all([pid], pid)
        z.wipe()
        cpu = rusage.ru_utime + rusage.ru_stime
        code = os.waitstatus_to_exitcode(wstatus)
        size = os.fstat(self.out).st_size
        if size > cap:
            status, size = "overflow", cap
        output = os.pread(self.out, size, 0) if size else b""
        record: dict[str, Any] = {
            "id": job_id,
            "status": status,
            "exit": code,
            "cpu_s": round(cpu, 4),
            "wall_s": round(wall, 4),
        }
        if code != 0:
            err_size = os.fstat(self.err).st_size
            tail = os.pread(self.err, ERR_TAIL, max(0, err_size - ERR_TAIL))
            record["err"] = tail.decode("utf-8", "replace")
        return record, output

    def _await(self, job_id: int, pid: int, timeout: float) -> str:
        """How the test ended: ``done``, ``timeout`` or ``stopped`` (the latter two killed)."""
        deadline = time.monotonic() + timeout
        pidfd = os.pidfd_open(pid)
        status = "done"
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    status = "timeout"
                    break
                ready = select.select([pidfd, self.control_fd], [], [], left)[0]
                if pidfd in ready:
                    break
                if ready and self._stop_asked(job_id):
                    status = "stopped"
                    break
        finally:
            os.close(pidfd)
        if status != "done":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return status
