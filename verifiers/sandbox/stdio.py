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
only known outside, so the harness sends its judgement of each test back over the
control pipe, and the worker runs at most one test ahead of it: a test starts only
once every test but the one before it has been judged passed, and a stop ends the
test running. This module is stdlib-only: its
source is shipped into the sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import time
from typing import Any

from sandbox_programs import run_stdio

ERR_TAIL = 600
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
# A judgement on the control pipe: job id (8 bytes), test (4), stop (4: 0 or 1).
MESSAGE = 16
# How long to wait for a judgement beyond a test's own limit (the harness may be busy).
JUDGE_WAIT_S = 30.0


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

    def __init__(self, zygote: Any, control_fd: int) -> None:
        self.zygote = zygote
        self.control_fd = control_fd
        os.set_blocking(control_fd, False)
        self.out = zygote.out
        self.err = os.memfd_create("stderr", os.MFD_CLOEXEC)
        # This job's id, whether the harness asked it to stop, and how many of its tests
        # the harness has judged passed so far.
        self._job, self._stop, self._judged = -1, False, 0

    # -- inputs ----------------------------------------------------------------
    def _problem(self, job: dict[str, Any]) -> tuple[list[int], list[int]]:
        """The problem's sealed input files and output caps (kept by the zygote per key)."""
        held: tuple[list[int], list[int]] = self.zygote.per_problem(
            job, "inputs", self._load, self._close
        )
        return held

    @staticmethod
    def _load(job: dict[str, Any]) -> tuple[list[int], list[int]]:
        given = job["inputs"]
        files = [sealed_file("in", text.encode()) for text in given["inputs"]]
        return files, [int(c) for c in given["caps"]]

    @staticmethod
    def _close(held: tuple[list[int], list[int]]) -> None:
        for fd in held[0]:
            os.close(fd)

    # -- the harness's judgements -------------------------------------------------
    def _read_control(self, wait: float = 0.0) -> None:
        """Take in the judgements waiting on the control pipe (for this job; older ones
        are stale), waiting up to ``wait`` seconds for one."""
        if not select.select([self.control_fd], [], [], wait)[0]:
            return
        try:
            data = os.read(self.control_fd, 4096)  # (whole messages: 16 divides 4096)
        except BlockingIOError:
            return
        for i in range(0, len(data) - len(data) % MESSAGE, MESSAGE):
            if int.from_bytes(data[i : i + 8], "big") != self._job:
                continue
            if data[i + 15]:
                self._stop = True
            else:
                self._judged += 1

    def _wait_judged(self, count: int, give_up: float) -> None:
        """Wait until ``count`` tests are judged passed, or a stop (or ``give_up`` s)."""
        deadline = time.monotonic() + give_up
        while self._judged < count and not self._stop:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._read_control(left)

    # -- one job ---------------------------------------------------------------
    def run(self, job: dict[str, Any], program: Any, rlimits: Any) -> dict[str, Any]:
        """Run the program on the job's tests, writing one frame per test; the final record."""
        z = self.zygote
        started = time.monotonic()
        job_id = int(job["id"])
        self._job, self._stop, self._judged = job_id, False, 0
        inputs, caps = self._problem(job)
        order = job.get("run")
        tests = range(len(inputs)) if order is None else order
        timeout = float(job["timeout"])
        wall = float(job.get("wall") or timeout)
        keep_going = bool(job.get("all"))
        ran = 0
        for k, t in enumerate(tests):
            self._read_control()
            if not keep_going and k >= 2:
                # One test ahead of the harness's judgement, never more: a sample that
                # fails its first test costs at most one more run.
                self._wait_judged(k - 1, wall + JUDGE_WAIT_S)
            if self._stop:
                break
            record, output = self._test((inputs[t], caps[t]), program, rlimits, (timeout, wall))
            if record["status"] == "done" and record["cpu_s"] > timeout:
                record["status"] = "timeout"  # (RLIMIT_CPU kills a little after the limit)
            record["id"], record["t"] = job_id, t
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
        self,
        test: tuple[int, int],
        program: Any,
        rlimits: Any,
        limits: tuple[float, float],
    ) -> tuple[dict[str, Any], bytes]:
        input_fd, cap = test
        z = self.zygote
        scratch = z.fresh_scratch()
        for fd in (self.out, self.err):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        os.lseek(input_fd, 0, os.SEEK_SET)
        stdio = (input_fd, self.out, self.err)
        pid = z.fork("candidate", scratch, rlimits, [], run_stdio, (program,), stdio=stdio)
        started = time.monotonic()
        status = self._await(pid, *limits)
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

    def _await(self, pid: int, cpu_limit: float, wall: float) -> str:
        """How the test ended: ``done``, ``timeout`` (CPU or wall clock) or ``stopped``;
        the process is killed unless ``done``.

        The process's CPU clock is read only when it has run for as long as it may use,
        so the usual test costs one wait; one that runs long is stopped at its limit,
        not at the next whole second (``RLIMIT_CPU`` stays as a backstop).
        """
        started = time.monotonic()
        clock = (~pid << 3) | 2  # clock_getcpuclockid(pid): CPUCLOCK_SCHED of the process
        pidfd = os.pidfd_open(pid)
        status, used = "done", 0.0
        try:
            while True:
                left = started + wall - time.monotonic()
                if left <= 0:
                    status = "timeout"
                    break
                wait = min(left, max(cpu_limit - used, 0.005))
                ready = select.select([pidfd, self.control_fd], [], [], wait)[0]
                if pidfd in ready:
                    break
                if ready:
                    self._read_control()
                    if self._stop:
                        status = "stopped"
                        break
                    continue
                try:
                    used = time.clock_gettime(clock)
                except OSError:
                    break  # (it has just ended)
                if used > cpu_limit:
                    status = "timeout"
                    break
        finally:
            os.close(pidfd)
        if status != "done":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return status
