"""``unit_tests``: run code samples against their problem's unit tests in the sandbox.

Options (``--verifier-opt KEY=VALUE``; ``--sandbox`` sets ``sandbox``):

- ``sandbox``: ``bwrap`` (default; bubblewrap isolation) or ``none`` (no isolation,
  for trusted code only).
- ``timeout``: wall-clock seconds per sample (default 5); CPU time is capped at the
  next whole second above it.
- ``workers``: sandbox workers (default: one per core the harness may use, within a
  container's CPU quota).
- ``memory_mb``: address space a sample may add to its starting size (default 1024).
- ``site_packages``: let programs import the packages installed with the harness (numpy
  and the like, read-only); default false: the standard library only.

Samples of all problems share one pool of warm workers, so every core stays busy
across problem boundaries; verdicts still come back problem by problem, in order. A
sample that times out (or loses its worker) is run once more with every other worker
idle before the timeout is recorded, so load on the machine does not turn correct
code into failures.

When the task marked each problem's first tests visible (``--task-opt visible_tests=K``),
the same run also gives ``unit_tests_visible``: each sample judged on those tests alone
(every test is judged on its own, so its marks are read off the full run), a weak
verifier whose false positives ``analysis.imperfect`` prices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.errors import UsageError
from harness.core.options import as_dict, option
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.verifier import Verifier
from verifiers._unit_outcomes import Plan, Prepared, judge, plan, prepare
from verifiers.sandbox import (
    SANDBOX_MODES,
    SandboxPool,
    SandboxSettings,
    SandboxUnavailable,
    probe,
)
from verifiers.sandbox.bwrap import privileged
from verifiers.sandbox.cpus import usable_cpus

RERUN_STATUSES = ("timeout", "crashed")
VISIBLE = "visible"
BACKSTOP_GRACE_S = 10.0


@dataclass(frozen=True)
class UnitTestOptions:
    sandbox: str = option(
        "bwrap", "bwrap (isolated) or none (trusted code only)", choices=SANDBOX_MODES
    )
    timeout: float = option(5.0, "wall-clock seconds per sample", min=0, max=3600, exclusive=True)
    workers: int = option(0, "sandbox workers (0: one per usable core)", min=0)
    memory_mb: int = option(1024, "address space a sample may add, in MB", min=16)
    site_packages: bool = option(False, "let programs import the installed packages")


class UnitTestVerifier(Verifier):
    """Unit tests in a bubblewrap sandbox with pre-forked warm workers."""

    name: ClassVar[str] = "unit_tests"
    description: ClassVar[str] = "run code against the problem's unit tests in a sandbox"

    Options: ClassVar[type] = UnitTestOptions

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        opts: UnitTestOptions = self.options
        self.settings = SandboxSettings(
            mode=opts.sandbox,  # type: ignore[arg-type]  # checked against SANDBOX_MODES
            memory_mb=opts.memory_mb,
            site_packages=opts.site_packages,
        )
        self.timeout_s = float(opts.timeout)
        self.workers = opts.workers or usable_cpus()
        self._pool: SandboxPool | None = None
        self._limits = self.settings.limits(self.timeout_s)
        self.reruns = 0

    @property
    def pool(self) -> SandboxPool:
        """The worker pool, started on first use.

        Raises:
            UsageError: The sandbox cannot run here (one line saying how to fix it).
        """
        if self._pool is None:
            try:
                probe(self.settings.mode)
                self._pool = SandboxPool(self.settings, self.workers)
            except SandboxUnavailable as exc:
                raise UsageError(str(exc)) from None
        return self._pool

    def check(self) -> None:
        """Fail now, in one line, when the sandbox cannot run here."""
        try:
            probe(self.settings.mode)
        except SandboxUnavailable as exc:
            raise UsageError(str(exc)) from None

    def _prepare(self, problem: Problem, sample: Sample, shared: Plan) -> Prepared:
        return prepare(problem, sample, self.pool.new_id(), self.timeout_s, self._limits, shared)

    def _submit(self, prep: Prepared) -> Future[dict[str, Any]]:
        return self.pool.submit(prep.job, prep.tests, self.timeout_s + BACKSTOP_GRACE_S)

    def _finish(
        self, problem: Problem, sample: Sample, prep: Prepared, future: Future[dict[str, Any]]
    ) -> Verdict:
        result = future.result()
        if result.get("status") in RERUN_STATUSES:
            self.reruns += 1
            again = prep.with_id(self.pool.new_id())
            result = self.pool.run_alone(again.job, again.tests, self.timeout_s + BACKSTOP_GRACE_S)
            result["rerun"] = True
            prep = again
        return judge(problem, sample, prep, result)

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        return next(iter(self.verify_many([(problem, samples)])))

    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        """Verdicts problem by problem, with samples of later problems already running."""
        window: deque[
            tuple[Problem, Sequence[Sample], list[Prepared], list[Future[dict[str, Any]]]]
        ]
        window = deque()
        limit = max(64, 16 * self.workers)
        in_flight = 0
        source = iter(items)
        exhausted = False
        while True:
            while not exhausted and (not window or in_flight < limit):
                try:
                    problem, samples = next(source)
                except StopIteration:
                    exhausted = True
                    break
                shared = plan(problem)
                preps = [self._prepare(problem, s, shared) for s in samples]
                window.append((problem, samples, preps, [self._submit(p) for p in preps]))
                in_flight += len(samples)
            if not window:
                return
            problem, samples, preps, futures = window.popleft()
            in_flight -= len(samples)
            wait(futures)  # one wake-up for the problem rather than one per sample
            yield [
                self._finish(problem, s, p, f)
                for s, p, f in zip(samples, preps, futures, strict=True)
            ]

    def derived_names(self, problem: Problem) -> tuple[str, ...]:
        """``visible`` for a problem whose task marked its first tests visible."""
        visible = problem.tests.visible if problem.tests is not None else None
        return (VISIBLE,) if visible is not None else ()

    def derived(self, problem: Problem, verdicts: Sequence[Verdict]) -> dict[str, list[Verdict]]:
        """The verdicts of the visible tests alone (``unit_tests_visible``), read from the
        same sandbox run: each test is judged on its own, so a sample passes the visible
        tests exactly when the first K marks of its full run are passes."""
        if not self.derived_names(problem):
            return {}
        assert problem.tests is not None and problem.tests.visible is not None
        return {VISIBLE: [visible_verdict(v, problem.tests.visible) for v in verdicts]}

    def describe_derived(self, derived: str) -> dict[str, Any]:
        return {
            "tests": "the first visible_tests tests of each problem (task option), read "
            f"from the same sandbox run as {self.name}",
            "options": as_dict(self.options),
            "sandbox": self.settings.mode,
        }

    def describe(self) -> dict[str, Any]:
        isolated = self.settings.mode == "bwrap"
        return {
            "verifier": self.name,
            "options": as_dict(self.options),
            "sandbox": self.settings.mode,
            "isolation": (
                "bubblewrap: no network, read-only system, private /tmp, pid/ipc/uts "
                "namespaces, "
                + ("unprivileged uids per worker" if privileged() else "user namespace")
                if isolated
                else "none (trusted code only)"
            ),
            "timeout_s": self.timeout_s,
            "workers": self.workers,
            "site_packages": self.settings.site_packages,
            "limits": self.settings.limits(self.timeout_s),
            "reruns_alone": self.reruns,
        }

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def visible_verdict(full: Verdict, visible: int) -> Verdict:
    """The verdict of a sample on its first ``visible`` tests, from its full-run verdict.

    Passed when those tests all passed; failed when one of them failed or raised; when
    one of them did not finish, the full run's status (timeout or error). A sample whose
    tests never ran (it did not load) or that failed outside any test keeps its status.
    """
    detail = full.detail if isinstance(full.detail, dict) else {}
    marks = detail.get("tests")
    base = {"visible": visible, "from": "unit_tests"}
    if full.status is Status.PASSED or not isinstance(marks, str) or "P" * len(marks) == marks:
        extra = {k: detail[k] for k in ("error",) if k in detail}
        return Verdict(
            full.problem_id, full.sample_index, full.correct, full.status, detail={**base, **extra}
        )
    seen = marks[:visible]
    if seen == "P" * len(seen):
        status = Status.PASSED
    elif any(m in "FE" for m in seen):
        status = Status.FAILED
    else:
        status = full.status if full.status in (Status.TIMEOUT, Status.ERROR) else Status.ERROR
    info = {**base, "tests": seen, "passed": seen.count("P"), "total": len(seen)}
    return Verdict(full.problem_id, full.sample_index, status is Status.PASSED, status, detail=info)
