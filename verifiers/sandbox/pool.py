"""A pool of sandbox workers that keeps them all busy.

``SandboxPool`` runs one worker per core, each fed by its own thread that keeps a few
jobs queued in the worker's pipe, plus ``run_alone`` for re-running a job with every
other worker idle.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from verifiers.sandbox.bwrap import SandboxSettings
from verifiers.sandbox.cpus import usable_cpus
from verifiers.sandbox.worker import OnTest, SandboxWorker


class _Gate:
    """Many jobs at once, or one job alone (writer-preferring shared/exclusive count)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    def enter(self, block: bool) -> bool:
        """Count one more running job; without ``block``, False while a solo run waits."""
        with self._cond:
            ready = lambda: not self._exclusive and not self._waiting  # noqa: E731
            if not ready():
                if not block:
                    return False
                self._cond.wait_for(ready)
            self._shared += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._shared -= 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Any:
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


Job = tuple[dict[str, Any], dict[str, Any] | None, float, OnTest | None]
PIPELINE = 4


@dataclass
class _Pending:
    job: dict[str, Any]
    tests: dict[str, Any] | None
    backstop: float
    future: Future[dict[str, Any]]
    on_test: OnTest | None = None
    lost: bool = False


class SandboxPool:
    """One warm sandbox worker per core, each fed by its own thread."""

    def __init__(self, settings: SandboxSettings, workers: int | None = None) -> None:
        count = workers or usable_cpus()
        self.settings = settings
        self.workers = [SandboxWorker(settings, i) for i in range(count)]
        self._queue: queue.Queue[tuple[Job, Future[dict[str, Any]]] | None] = queue.Queue()
        self._gate = _Gate()
        self._alone_lock = threading.Lock()
        self._next_id = 0
        self._id_lock = threading.Lock()
        try:
            for w in self.workers:
                w.start()
        except BaseException:
            self.close()
            raise
        self._threads = [
            threading.Thread(target=self._loop, args=(w,), daemon=True, name=f"sandbox-{w.index}")
            for w in self.workers
        ]
        for t in self._threads:
            t.start()

    def new_id(self) -> int:
        """A fresh job id (ids pair tests frames with jobs)."""
        with self._id_lock:
            self._next_id += 1
            return self._next_id

    def _loop(self, worker: SandboxWorker) -> None:
        # Keeps up to PIPELINE jobs in the worker's pipe, so it starts the next sample as
        # soon as it has answered one instead of waiting for this thread to wake up; but
        # only while the queue holds more than one job per worker: the last few are left
        # to whichever worker is free, rather than waiting behind a slow job in this pipe.
        pending: deque[_Pending] = deque()
        stopping = False
        ahead = len(self.workers)
        while True:
            while not stopping and len(pending) < PIPELINE:
                if pending and self._queue.qsize() <= ahead:
                    break
                try:
                    item = self._queue.get(block=not pending)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                (job, tests, backstop, on_test), future = item
                if not self._gate.enter(block=not pending):
                    self._queue.put(item)  # a solo run is waiting: let the pipe drain
                    break
                if not future.set_running_or_notify_cancel():
                    self._gate.leave()
                    continue
                pending.append(_Pending(job, tests, backstop, future, on_test))
                if not worker.send(job, tests, time.monotonic() + backstop):
                    self._resend(worker, pending)
            if not pending:
                if stopping:
                    return
                continue
            head = pending.popleft()
            try:
                if head.lost:
                    result: dict[str, Any] = {"id": head.job["id"], "status": "crashed", "out": ""}
                else:
                    result, restarted = worker.receive(
                        head.job, head.tests is not None, head.backstop, head.on_test
                    )
                    if restarted:
                        self._resend(worker, pending)
            except BaseException as exc:
                head.future.set_exception(exc)
            else:
                head.future.set_result(result)
            finally:
                self._gate.leave()

    @staticmethod
    def _resend(worker: SandboxWorker, pending: deque[_Pending]) -> None:
        # The worker lost (or could not take) the jobs in its pipe: restart it and send
        # them again, in order; a job that cannot be sent twice is answered as crashed.
        worker.start()
        for p in pending:
            if not worker.send(p.job, p.tests, time.monotonic() + p.backstop):
                worker.start()
                p.lost = True

    def submit(
        self,
        job: dict[str, Any],
        tests: dict[str, Any] | None,
        backstop_s: float,
        on_test: OnTest | None = None,
    ) -> Future[dict[str, Any]]:
        """Queue a job for the next free worker (``on_test``: see ``SandboxWorker.receive``)."""
        future: Future[dict[str, Any]] = Future()
        self._queue.put(((job, tests, backstop_s, on_test), future))
        return future

    def run_alone(
        self,
        job: dict[str, Any],
        tests: dict[str, Any] | None,
        backstop_s: float,
        on_test: OnTest | None = None,
    ) -> dict[str, Any]:
        """Run a job while no other job runs (waits for the running ones to finish)."""
        with self._alone_lock, self._gate.exclusive():
            return self.workers[0].run(job, tests, backstop_s, on_test)

    @property
    def restarts(self) -> int:
        """How many times workers were restarted (crash, hang, desync)."""
        return sum(max(0, w.restarts) for w in self.workers)

    def close(self) -> None:
        """Cancel queued jobs, stop the threads and kill every worker."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[1].cancel()
        for _ in getattr(self, "_threads", []):
            self._queue.put(None)
        for t in getattr(self, "_threads", []):
            t.join(timeout=30)
        for w in self.workers:
            w.stop()
