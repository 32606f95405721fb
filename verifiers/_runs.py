"""One execution in the sandbox, standing for every sample with the same program.

A ``Run`` is made for the first sample of each group of identical programs (see
``verifiers._dedup``); ``members`` lists the samples it judges. ``submit`` queues its
job; ``finish`` waits for the result, re-runs it alone when it timed out or lost its
worker (so load on the machine does not turn correct code into failures), and returns
the verdict of its first sample.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future
from typing import Any, Protocol

from harness.core.records import Problem, Sample, Verdict
from verifiers._dedup import ProgramInfo
from verifiers._stdio import (
    StdioOutcome,
    StdioPlan,
    compile_error_verdict,
    judge_test,
    stdio_job,
    stdio_verdict,
)
from verifiers._unit_outcomes import Plan, Prepared, judge, prepare
from verifiers.sandbox import SandboxPool

RERUN_STATUSES = ("timeout", "crashed")


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


class UnitRun(Run):
    """A function judged on unit tests."""

    def __init__(
        self,
        problem: Problem,
        sample: Sample,
        shared: Plan,
        built: tuple[str, bytes | None],
        host: Host,
    ) -> None:
        super().__init__(problem, sample, host)
        self.prep: Prepared = prepare(
            problem, sample, host.pool.new_id(), host.timeout_s, host.limits, shared, built
        )

    def submit(self) -> None:
        p = self.prep
        self.future = self.host.pool.submit(p.job, p.tests, self.host.backstop(self.host.timeout_s))

    def finish(self) -> Verdict:
        assert self.future is not None
        result = self.future.result()
        prep = self.prep
        if result.get("status") in RERUN_STATUSES:
            self.host.reruns += 1
            prep = prep.with_id(self.host.pool.new_id())
            backstop = self.host.backstop(self.host.timeout_s)
            result = self.host.pool.run_alone(prep.job, prep.tests, backstop)
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
