"""One execution in the sandbox, standing for every sample with the same program.

A ``Run`` is made for the first sample of each group of identical programs (see
``verifiers._dedup``); ``members`` lists the samples it judges. ``submit`` queues its
job; ``finish`` waits for the result, re-runs it alone when it lost its worker or timed
out waiting rather than running (so load on the machine does not turn correct code into
failures; see ``cpu_bound``), and returns the verdict of its first sample.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future
from typing import Any, Protocol

from harness.core.records import Problem, Sample, Status, Verdict
from verifiers._dedup import ProgramInfo
from verifiers._stdio import (
    StdioOutcome,
    StdioPlan,
    compile_error_verdict,
    judge_test,
    stdio_job,
    stdio_verdict,
)
from verifiers._unit_outcomes import Plan, Prepared, batch_job, prepare, split_batch
from verifiers._unit_verdicts import judge
from verifiers.sandbox import SandboxPool

RERUN_STATUSES = ("timeout", "crashed")
# A sample whose own CPU time came to this share of its wall-clock timeout was running,
# not waiting for a core: its timeout stands without a run alone (an endless loop in a
# sampled program is common; running each one twice, alone, would stall every worker).
CPU_BOUND_SHARE = 0.9


def cpu_bound(result: dict[str, Any], timeout_s: float) -> bool:
    """Whether a timed-out sample spent its time running (see ``CPU_BOUND_SHARE``)."""
    cpu = result.get("cpu_s")
    return (
        result.get("status") == "timeout"
        and isinstance(cpu, int | float)
        and cpu >= CPU_BOUND_SHARE * timeout_s
    )


# Samples of a problem judged from returned values go to a worker this many at a time:
# one job, one result, and the worker forks for each with little work between forks.
BATCH = 16


class Host(Protocol):
    """What a run needs of its verifier."""

    timeout_s: float
    reruns: int

    @property
    def pool(self) -> SandboxPool: ...

    @property
    def limits(self) -> dict[str, Any]: ...

    def backstop(self, timeout_s: float) -> float: ...


class Run:
    """One execution (see module docstring)."""

    def __init__(self, problem: Problem, sample: Sample, host: Host) -> None:
        self.problem, self.sample, self.host = problem, sample, host
        self.members: list[Sample] = [sample]
        self.future: Future[dict[str, Any]] | None = None

    def submit(self) -> None:
        """Queue the job in the sandbox pool."""
        raise NotImplementedError

    def finish(self) -> Verdict:
        """The verdict of ``self.sample`` (waits for the job)."""
        raise NotImplementedError


class CasesBatch:
    """``cases``-mode runs of one problem in one sandbox job (see ``batch_job``)."""

    def __init__(self, runs: list[UnitRun], host: Host) -> None:
        self.runs, self.host = runs, host
        self._results: list[dict[str, Any]] | None = None

    def submit(self) -> None:
        job = batch_job([r.prep for r in self.runs], self.host.pool.new_id())
        backstop = len(self.runs) * self.host.timeout_s + self.host.backstop(0.0)
        future = self.host.pool.submit(job, None, backstop)
        for r in self.runs:
            r.future, r.batch = future, self

    def result(self, run: UnitRun) -> dict[str, Any]:
        if self._results is None:
            assert self.runs[0].future is not None
            self._results = split_batch(self.runs[0].future.result(), len(self.runs))
        return self._results[self.runs.index(run)]


class UnitRun(Run):
    """A function judged on unit tests."""

    def __init__(
        self,
        problem: Problem,
        sample: Sample,
        shared: Plan,
        built: tuple[str, bytes | None],
        host: Host,
        error: str | None = None,
    ) -> None:
        super().__init__(problem, sample, host)
        self.prep: Prepared = prepare(
            problem, sample, host.pool.new_id(), host.timeout_s, host.limits, shared, built
        )
        self.batch: CasesBatch | None = None
        # A program that does not compile is judged here, without a run.
        self.error = error if built[1] is None else None

    @property
    def batchable(self) -> bool:
        """Whether it runs in a batch (judged from returned values, no driver)."""
        return self.prep.tests is None and self.error is None

    def submit(self) -> None:
        if self.error is not None:
            return
        p = self.prep
        self.future = self.host.pool.submit(p.job, p.tests, self.host.backstop(self.host.timeout_s))

    def finish(self) -> Verdict:
        if self.error is not None:
            detail = {"mode": self.prep.job["mode"], "error": self.error}
            return Verdict(
                self.problem.id, self.sample.sample_index, False, Status.ERROR, detail=detail
            )
        assert self.future is not None
        result = self.batch.result(self) if self.batch is not None else self.future.result()
        prep = self.prep
        pool = self.host.pool
        if result.get("batch_lost") and len(self.batch.runs if self.batch else ()) > 1:
            # One sample of the batch lost the worker (or the batch outran its backstop):
            # each runs again on its own first, so only the culprit is re-run alone.
            prep = prep.with_id(pool.new_id())
            job, backstop = (
                batch_job([prep], prep.job["id"]),
                self.host.backstop(self.host.timeout_s),
            )
            (result,) = split_batch(pool.submit(job, None, backstop).result(), 1)
        if cpu_bound(result, self.host.timeout_s):
            result = {**result, "cpu_bound": True}
        elif result.get("status") in RERUN_STATUSES:
            self.host.reruns += 1
            backstop = self.host.backstop(self.host.timeout_s)
            prep = prep.with_id(pool.new_id())
            if self.batchable:
                (result,) = split_batch(
                    pool.run_alone(batch_job([prep], prep.job["id"]), None, backstop), 1
                )
            else:
                result = pool.run_alone(prep.job, prep.tests, backstop)
            result["rerun"] = True
        return judge(self.problem, self.sample, prep, result)


class StdioRun(Run):
    """A whole program judged on stdin/stdout tests."""

    def __init__(
        self, problem: Problem, sample: Sample, plan: StdioPlan, info: ProgramInfo, host: Host
    ) -> None:
        super().__init__(problem, sample, host)
        self.plan, self.info = plan, info
        self._judge = functools.partial(judge_test, plan)

    def _job(self, run: list[int] | None = None) -> dict[str, Any]:
        assert self.info.code is not None
        return stdio_job(self.plan, self.host.pool.new_id(), self.info.code, run)

    def submit(self) -> None:
        if self.info.code is None:
            return  # judged without a run: it does not compile
        backstop = self.host.backstop(self.plan.wall_s)
        self.future = self.host.pool.submit(self._job(), None, backstop, self._judge)

    def finish(self) -> Verdict:
        plan = self.plan
        if self.future is None:
            return compile_error_verdict(self.problem, self.sample, plan, str(self.info.error))
        result = self.future.result()
        outcome = StdioOutcome(["-"] * len(plan.tests))
        outcome.add(result.get("tests") or [])
        again: list[int] | None
        if result.get("status") != "done":
            outcome, again = StdioOutcome(["-"] * len(plan.tests)), None  # the worker was lost
        else:
            again = outcome.rerun(plan.all_tests)
        if result.get("status") != "done" or again is not None:
            self.host.reruns += 1
            for t in again or ():
                outcome.marks[t] = "-"
            backstop = self.host.backstop(plan.wall_s)
            result = self.host.pool.run_alone(self._job(again), None, backstop, self._judge)
            result["rerun"] = True
            outcome.add(result.get("tests") or [])
        return stdio_verdict(self.problem, self.sample, plan, outcome, result)
