"""One sandbox worker as the harness sees it: a process and four pipes.

Each ``SandboxWorker`` is one long-lived sandbox (bubblewrap around the warm zygote)
talking over four pipes: jobs in, results out, a tests pipe read only by the driver
processes, and a control pipe that asks a ``stdio`` job to stop (its next tests need not
run once one has failed). Jobs may be queued ahead (``send``) and answered in order
(``receive``); a ``stdio`` job answers with one frame per test, each handed to the job's
``on_test`` as it comes, then a final one. The worker keeps the inputs of the last few
problems; the harness mirrors which, and sends a problem's inputs only with the first
job of that problem the worker sees. A worker that dies, hangs past the backstop or
loses sync on the tests pipe is killed (its whole process group) and restarted; the
harness never runs untrusted code itself. (It compiles a sample's program, which runs
none of it, and sends the code object as marshal bytes after the job's JSON, so that no
forked sample spends its time in the compiler.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

from verifiers.sandbox.bwrap import (
    CACHED_PROBLEMS,
    HASH_SEED,
    WARM_MODULES,
    SandboxSettings,
    SandboxUnavailable,
    module_code,
    privileged,
    site_packages_dirs,
    user_task_count,
    worker_command,
    worker_uids,
)
from verifiers.sandbox.sysutil import rmtree

_HEADER = struct.Struct(">I")
_F_SETPIPE_SZ = 1031
MAX_RESULT = 16 << 20
START_TIMEOUT_S = 60.0
START_ATTEMPTS = 3
START_BACKOFF_S = 1.0


OnTest = Callable[[dict[str, Any]], dict[str, Any]]


def _frame(record: dict[str, Any]) -> bytes:
    # A job's compiled program ("code", marshal bytes) travels raw after the JSON, in
    # place of its source (see codec.read_frame). Keys starting with "_" stay here.
    blob = record.get("code")
    if not isinstance(blob, bytes):
        meta = {k: v for k, v in record.items() if not k.startswith("_")}
        body = json.dumps(meta, separators=(",", ":")).encode()
        return _HEADER.pack(len(body)) + body
    meta = {k: v for k, v in record.items() if k not in ("code", "program") and k[:1] != "_"}
    meta["blob"] = len(blob)
    body = json.dumps(meta, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body + blob


def _write_all(fd: int, data: bytes, deadline: float) -> bool:
    """Write ``data`` to a non-blocking fd before ``deadline``; False if it did not fit."""
    view = memoryview(data)
    while view:
        try:  # the pipe usually has room: wait only when it is full
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        select.select([], [fd], [], left)
    return True


class _Reader:
    """Reads length-prefixed frames from a non-blocking fd with a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, b""

    def _fill(self, n: int, deadline: float) -> bool | None:
        while len(self.buf) < n:
            try:  # data is often there already: wait only when there is none
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                select.select([self.fd], [], [], left)
                continue
            if not chunk:
                return None
            self.buf += chunk
        return True

    def read(self, deadline: float) -> dict[str, Any] | str:
        """A frame, or ``"timeout"`` / ``"eof"``; a frame's raw ``blob`` replaces its size."""
        got = self._fill(_HEADER.size, deadline)
        if got is not True:
            return "eof" if got is None else "timeout"
        size = _HEADER.unpack(self.buf[: _HEADER.size])[0]
        if size > MAX_RESULT:
            return "eof"
        got = self._fill(_HEADER.size + size, deadline)
        if got is not True:
            return "eof" if got is None else "timeout"
        body = self.buf[_HEADER.size : _HEADER.size + size]
        self.buf = self.buf[_HEADER.size + size :]
        try:
            record = json.loads(body)
        except ValueError:
            return "eof"  # a garbled stream: the worker is restarted
        if not isinstance(record, dict):
            return "eof"
        if "blob" in record:
            n = record["blob"]
            if type(n) is not int or not 0 <= n <= MAX_RESULT:
                return "eof"
            got = self._fill(n, deadline)
            if got is not True:
                return "eof" if got is None else "timeout"
            record["blob"], self.buf = self.buf[:n], self.buf[n:]
        return record


class SandboxWorker:
    """One sandboxed warm worker (see module docstring)."""

    def __init__(self, settings: SandboxSettings, index: int) -> None:
        self.settings, self.index = settings, index
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = -1
        self.jobs = 0
        self._scratch: str | None = None
        self._stderr: IO[bytes] | None = None
        self._held: OrderedDict[str, None] = OrderedDict()  # problems whose inputs it holds

    def _config(self) -> dict[str, Any]:
        isolated = self.settings.mode == "bwrap"
        if not isolated:
            self._scratch = tempfile.mkdtemp(prefix="sandbox-none-")
        uids = worker_uids(self.index) if isolated and privileged() else None
        return {
            "pidns": isolated,
            "sample_ns": isolated and uids is None,
            "uids": uids,
            "scratch_root": "/tmp" if isolated else self._scratch,
            "sys_path": site_packages_dirs() if self.settings.site_packages else [],
            "warm_modules": list(WARM_MODULES),
            "cached_problems": CACHED_PROBLEMS,
            "cpu": self._cpu(),
            # In a user namespace RLIMIT_NPROC counts every task of the real uid.
            "nproc_base": 0 if uids is not None or privileged() else user_task_count(),
        }

    def _cpu(self) -> int | None:
        # Each worker keeps to one CPU of those the harness may use (worker i to the
        # i-th, round robin): a sample's processes and the worker then hand over to
        # each other on one core, without cross-CPU wake-ups, which are dear in a VM.
        cpus = sorted(os.sched_getaffinity(0))
        return cpus[self.index % len(cpus)] if len(cpus) > 1 else None

    def start(self) -> None:
        """Start (or restart) the worker and wait until it is warm.

        A worker that does not come up (a busy machine can make it miss its deadline) is
        tried again after a pause, ``START_ATTEMPTS`` times in all.

        Raises:
            SandboxUnavailable: The worker did not come up; the message says why.
        """
        self.restarts += 1
        for attempt in range(START_ATTEMPTS):
            try:
                self._start_once()
                return
            except SandboxUnavailable as e:
                if attempt + 1 == START_ATTEMPTS:
                    raise SandboxUnavailable(f"{e} (tried {START_ATTEMPTS} times)") from None
                time.sleep(START_BACKOFF_S * 2**attempt)

    def _start_once(self) -> None:
        self.stop()
        job_r, self._job_w = os.pipe()
        self._res_r, res_w = os.pipe()
        tests_r, self._tests_w = os.pipe()
        control_r, self._control_w = os.pipe()
        for fd in (self._job_w, self._tests_w, self._res_r):
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
        self._held.clear()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        fds = (job_r, res_w, tests_r, control_r)
        self.proc = subprocess.Popen(
            worker_command(self.settings, fds),
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "PYTHONHASHSEED": HASH_SEED,
            },
        )
        for fd in fds:
            os.close(fd)
        for fd in (self._job_w, self._tests_w, self._res_r, self._control_w):
            os.set_blocking(fd, False)
        self._reader = _Reader(self._res_r)
        boot = {"config": self._config(), "code": module_code()}
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = (
            self._reader.read(deadline)
            if _write_all(self._job_w, _frame(boot), deadline)
            else "eof"
        )
        if not isinstance(ready, dict) or not ready.get("ready"):
            reason = self._stderr_line() or f"worker answered {ready!r}"
            self.stop()
            raise SandboxUnavailable(f"sandbox worker failed to start: {reason}")

    def _stderr_line(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0)
            lines = self._stderr.read(4096).decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else ""
        return ""

    def alive(self) -> bool:
        """Whether the worker process is running."""
        return self.proc is not None and self.proc.poll() is None

    def send(self, job: dict[str, Any], tests: dict[str, Any] | None, deadline: float) -> bool:
        """Queue a job (and its driver's tests) in the worker's pipes; False if it is stuck."""
        if not self.alive():
            return False
        self.jobs += len(job.get("batch") or ()) or 1  # (samples, as a batch runs several)
        if "key" in job:
            job = self._held_fields(job)
        if not _write_all(self._job_w, _frame(job), deadline):
            return False
        return tests is None or _write_all(self._tests_w, _frame(tests), deadline)

    def _held_fields(self, job: dict[str, Any]) -> dict[str, Any]:
        # The zygote keeps what every job of a problem shares (the fields named in the
        # job's "_held": inputs, calls) for the CACHED_PROBLEMS problems it saw last
        # (least recently used out first): the same bookkeeping here says when to send it.
        key = job["key"]
        if key in self._held:
            self._held.move_to_end(key)
            return {k: v for k, v in job.items() if k not in job["_held"]}
        self._held[key] = None
        while len(self._held) > CACHED_PROBLEMS:
            self._held.popitem(last=False)
        return job

    def receive(
        self,
        job: dict[str, Any],
        checked: bool,
        backstop_s: float,
        on_test: OnTest | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The result of the oldest job sent, and whether the worker had to be restarted.

        A worker that dies, stays silent for ``backstop_s``, answers out of order or whose
        driver left its tests unread (the tests pipe may hold a stale frame) is restarted.
        The job then gets ``status`` ``crashed``, or ``timeout`` with ``backstop`` set. A
        ``stdio`` job's per-test frames go through ``on_test``; what it returns is listed
        in the result's ``tests`` and told back to the worker (one with ``stop`` set ends
        the job).
        """
        tests: list[dict[str, Any]] = []
        while True:
            deadline = time.monotonic() + backstop_s
            result: dict[str, Any] | str = self._reader.read(deadline) if self.alive() else "eof"
            if not isinstance(result, dict) or result.get("id") != job["id"]:
                break
            if "t" in result:
                judged = on_test(result) if on_test is not None else result
                tests.append(judged)
                if not job.get("all"):
                    self._tell(job["id"], int(result["t"]), bool(judged.get("stop")))
                continue
            if tests:
                result["tests"] = tests
            if checked and f'"tests_read":{job["id"]}' not in result.get("out", ""):
                self.start()
                return result, True
            return result, False
        self.start()
        lost: dict[str, Any] = {"id": job["id"], "status": "crashed", "out": "", "tests": tests}
        if result == "timeout":
            lost.update(status="timeout", backstop=True)
        return lost, True

    def _tell(self, job_id: int, test: int, stop: bool) -> None:
        # The judgement of one test of a stdio job: the worker waits for it before running
        # the test after next (see sandbox.stdio).
        message = job_id.to_bytes(8, "big") + test.to_bytes(4, "big") + int(stop).to_bytes(4, "big")
        with contextlib.suppress(OSError):  # (a full pipe: the worker is stuck anyway)
            os.write(self._control_w, message)

    def run(
        self,
        job: dict[str, Any],
        tests: dict[str, Any] | None,
        backstop_s: float,
        on_test: OnTest | None = None,
    ) -> dict[str, Any]:
        """Run one job alone on this worker (restarting it first if needed)."""
        if not self.alive():
            self.start()
        if not self.send(job, tests, time.monotonic() + backstop_s):
            self.start()
            return {"id": job["id"], "status": "crashed", "out": ""}
        return self.receive(job, tests is not None, backstop_s, on_test)[0]

    def stop(self) -> None:
        """Kill the worker's whole process group and release its pipes."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
            for fd in (self._job_w, self._res_r, self._tests_w, self._control_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._scratch is not None:
            rmtree(self._scratch)  # (a sample may have left a tree too deep for shutil)
            self._scratch = None
