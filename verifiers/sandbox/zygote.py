"""The warm worker that runs inside the sandbox and forks one process per sample.

Started once per worker (inside bubblewrap), it imports the usual stdlib modules,
then loops: read a job frame, fork the sample's process(es), wait with a wall-clock
deadline, kill every process the sample left behind, wipe its scratch dir, and
write a result frame. Frames travel over dedicated pipes, never stdin/stdout.

Each sample process is set up by ``processes.SampleProcesses`` (session, uid or pid
namespace, rlimits, scratch dir, file descriptors); ``stdio`` jobs run in
``stdio.StdioRunner``. The driver process of ``check`` mode reads the
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
import select
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sandbox_codec import decode, read_frame, write_frame
from sandbox_processes import SampleProcesses
from sandbox_programs import install_exit, run_candidate, run_driver, send
from sandbox_stdio import StdioRunner
from sandbox_sysutil import drain, enter_own_namespaces, not_dumpable, warm_up

OUTPUT_CAP = 4 << 20
_F_SETPIPE_SZ = 1031
_QUICK_WAIT_S = 0.05


class Zygote(SampleProcesses):
    """The per-worker loop (see module docstring)."""

    def __init__(
        self, config: dict[str, Any], job_fd: int, result_fd: int, tests_fd: int, control_fd: int
    ):
        super().__init__(config)
        self.config = config
        self.job_fd, self.result_fd, self.tests_fd = job_fd, result_fd, tests_fd
        self.control_fd = control_fd
        self._stdio: StdioRunner | None = None
        # What every job of a problem shares, per problem key (see per_problem).
        self.held: OrderedDict[str, tuple[Any, Callable[[Any], None] | None]] = OrderedDict()
        self.cached_problems = int(config.get("cached_problems") or 4)
        # A sample's output: a memory file it writes without anyone draining it.
        self.out = os.memfd_create("out", os.MFD_CLOEXEC)

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        limits = job["limits"]
        self._jobs += 1
        rlimits = self.limits(limits)
        if job["mode"] == "cases":
            return self._run_cases(job, rlimits)
        # The harness ships the program compiled (it compiles it, never runs it) or, when
        # it does not compile, as source, so the child reports the error as usual.
        blob = job.get("blob")
        program = marshal.loads(blob) if blob else job["program"]
        if job["mode"] == "stdio":
            if self._stdio is None:
                self._stdio = StdioRunner(self, self.control_fd)
            return self._stdio.run(job, program, rlimits)
        scratch = self.fresh_scratch()
        entry = job["entry_point"]
        out_r, out_w = os.pipe()
        try:  # noqa: SIM105 - a plain try costs less here, on every sample, than suppress()
            fcntl.fcntl(out_w, _F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        args: tuple[Any, ...] = (program, entry, None, rep_w, req_r)
        keep = sorted([req_r, rep_w])
        cand = self.fork("candidate", scratch, rlimits, keep, run_candidate, args)
        args = (job["id"], out_w, req_w, rep_r)
        keep = sorted([out_w, req_w, rep_r, self.tests_fd])
        main = self.fork("driver", "/", rlimits, keep, self._driver, args)
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)
        pids = [cand, main]
        os.close(out_w)
        status, data, rusage_s, exit_code = self._wait(main, out_r, float(job["timeout"]))
        os.close(out_r)
        candidate_s = self.kill_all(pids, main)
        self.wipe()
        if status == "done" and exit_code == -signal.SIGKILL and rusage_s >= limits["cpu_s"] - 0.05:
            status = "timeout"  # RLIMIT_CPU's hard limit kills with SIGKILL
        return {
            "id": job["id"],
            "status": status,
            "exit": exit_code,
            "out": data.decode("utf-8", "replace"),
            "cpu_s": round(rusage_s + candidate_s, 4),  # (the driver's and the candidate's)
            "elapsed_s": round(time.monotonic() - started, 4),
        }

    def per_problem(
        self,
        job: dict[str, Any],
        field: str,
        load: Callable[[Any], Any],
        release: Callable[[Any], None] | None = None,
    ) -> Any:
        """What the jobs of the job's problem share: made by ``load`` from the job when
        it carries ``field`` (the first job of the problem this worker sees), else kept
        from then. The last ``cached_problems`` problems are kept (``release``
        lets go of one); the harness keeps the same account of what to send."""
        key = str(job["key"])
        if field in job:
            old = self.held.pop(key, None)
            if old is not None and old[1] is not None:
                old[1](old[0])
            self.held[key] = (load(job), release)
            while len(self.held) > self.cached_problems:
                value, free = self.held.popitem(last=False)[1]
                if free is not None:
                    free(value)
        else:
            self.held.move_to_end(key)  # (a KeyError: the harness lost count, a bug)
        return self.held[key][0]

    def _run_cases(self, job: dict[str, Any], rlimits: Any) -> dict[str, Any]:
        """Samples judged from returned values: a batch of a problem's samples (see
        ``_unit_outcomes.batch_job``), or one sample (``program``/``blob``, ``calls``)."""
        if "batch" not in job:
            blob = job.get("blob")
            program = marshal.loads(blob) if blob else job["program"]
            calls = _decoded_calls(job)
            ((status, code, cpu_s, elapsed_s, _),), out = self._run_programs(
                job, calls, [program], rlimits
            )
            return {
                "id": job["id"], "status": status, "exit": code, "cpu_s": cpu_s,
                "elapsed_s": elapsed_s, "out": out.decode("utf-8", "replace"),
            }  # fmt: skip
        calls = self.per_problem(job, "calls", _decoded_calls)
        blob, sources = job.get("blob") or b"", job.get("sources") or {}
        programs, pos = [], 0
        for i, size in enumerate(job["sizes"]):
            programs.append(marshal.loads(blob[pos : pos + size]) if size else sources[str(i)])
            pos += size
        del blob
        results, outputs = self._run_programs(job, calls, programs, rlimits)
        return {"id": job["id"], "status": "done", "results": results, "blob": outputs}

    def _run_programs(
        self, job: dict[str, Any], calls: Any, programs: list[Any], rlimits: Any
    ) -> tuple[list[tuple[Any, ...]], bytes]:
        """Each program, one after another, on the problem's calls; per program (status,
        exit code, CPU s, elapsed s, output size), and the outputs back to back.

        Everything a sample needs is made before the first fork (the calls decoded, the
        programs unmarshalled): between forks this process then does little, because
        every page it writes after a fork is copied (or, once the child is gone,
        write-faulted) again. Each child writes its records to a memory file, read when
        it has ended.
        """
        entry, decoded = calls
        timeout, cpu_limit = float(job["timeout"]), float(job["limits"]["cpu_s"])
        out, fork, wait_exit = self.out, self.fork, self._wait_exit
        results, outputs = [], []
        for program in programs:
            started = time.monotonic()
            os.ftruncate(out, 0)
            os.lseek(out, 0, os.SEEK_SET)
            args = (program, entry, decoded, out, None)
            pid = fork("candidate", self.fresh_scratch(), rlimits, [out], run_candidate, args)
            status, cpu_s, code = wait_exit(pid, timeout)
            self.kill_all([pid], pid)
            self.wipe()
            if status == "done" and code == -signal.SIGKILL and cpu_s >= cpu_limit - 0.05:
                status = "timeout"  # RLIMIT_CPU's hard limit kills with SIGKILL
            size = os.fstat(out).st_size
            if size > OUTPUT_CAP:
                status, size = "overflow", OUTPUT_CAP
            outputs.append(os.pread(out, size, 0) if size else b"")
            elapsed = round(time.monotonic() - started, 4)
            results.append((status, code, round(cpu_s, 4), elapsed, size))
        return results, b"".join(outputs)

    @staticmethod
    def _wait_exit(pid: int, timeout: float) -> tuple[str, float, int]:
        pidfd = os.pidfd_open(pid)
        try:
            status = "done" if select.select([pidfd], [], [], timeout)[0] else "timeout"
        finally:
            os.close(pidfd)
        return (status, *_reap(pid, status))

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
        cpu_s, code = _reap(main, status)
        return status, b"".join(chunks), cpu_s, code

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

    def serve(self) -> None:
        """Answer jobs until the job pipe closes."""
        write_frame(self.result_fd, {"ready": True, "pid": os.getpid()})
        while (job := read_frame(self.job_fd)) is not None:
            try:
                result = self.run_job(job)
            except Exception as exc:  # a bug here must not look like a verdict
                result = {"id": job.get("id"), "status": "internal", "out": repr(exc)[:500]}
            self.send_result(result, result.pop("blob", None))

    def send_result(self, record: dict[str, Any], blob: bytes | None = None) -> None:
        """Write one result frame (a test's outcome, with its output as ``blob``)."""
        write_frame(self.result_fd, record, blob)


def _reap(pid: int, status: str) -> tuple[float, int]:
    """Kill ``pid`` unless it ended (``status`` done), wait for it: its CPU seconds and
    exit code."""
    if status != "done":
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, wstatus, rusage = os.wait4(pid, 0)
    return rusage.ru_utime + rusage.ru_stime, os.waitstatus_to_exitcode(wstatus)


def _decoded_calls(job: dict[str, Any]) -> tuple[str, list[tuple[Any, Any]]]:
    return job["entry_point"], [(decode(a), decode(k)) for a, k in job["calls"]]


def main(
    config: dict[str, Any], job_fd: int, result_fd: int, tests_fd: int, control_fd: int
) -> None:
    """Entry point inside the sandbox: warm up, then serve jobs.

    Without root (no uid of its own per sample), each sample process gets a pid namespace
    of its own instead: it cannot see or signal the worker, the driver of its tests or
    anything else, and when it ends the kernel ends every process it left. For that the
    worker first moves into a user namespace of its own (same uid) and becomes pid 1 of
    a new pid namespace; the process that started it stays behind, waiting.
    """
    if config.get("sample_ns"):
        config["own_ns"] = enter_own_namespaces()
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
    install_exit()
    zygote = Zygote(config, job_fd, result_fd, tests_fd, control_fd)
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
