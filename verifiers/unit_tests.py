"""``unit_tests``: run code samples against their problem's tests in the sandbox.

Two kinds of problems: functions judged on unit tests (HumanEval, MBPP; see
``verifiers._unit_outcomes`` and ``verifiers._unit_verdicts``) and whole programs judged on
standard input/output tests (CodeContests, APPS, LiveCodeBench; see ``verifiers._stdio``).

Options (``--verifier-opt KEY=VALUE``; ``--sandbox`` sets ``sandbox``):

- ``sandbox``: ``bwrap`` (default; bubblewrap isolation) or ``none`` (no isolation,
  for trusted code only).
- ``timeout``: wall-clock seconds per sample (default 5); CPU time is capped at the next
  whole second above. For stdio problems that state no time limit: CPU seconds per test.
- ``time_scale``: stdio problems' time limits are multiplied by this (default 1).
- ``all_tests``: run every stdio test even after one failed (default: stop there).
- ``float_tol``, ``case_sensitive``: how stdio outputs are compared (``_stdio``).
- ``dedup``: run each distinct program of a problem once (default true; see
  ``verifiers._dedup`` for what counts as the same and which programs always run alone).
- ``workers``: sandbox workers (default: one per core the harness may use, within a
  container's CPU quota).
- ``memory_mb``: address space a sample may add to its starting size (default 1024).
- ``site_packages``: let programs import the packages installed with the harness (numpy
  and the like, read-only); default false: the standard library only.

Samples of all problems share one pool of warm workers, so every core stays busy
across problem boundaries; verdicts still come back problem by problem, in order. A
sample that loses its worker, or times out while its own CPU time stayed under 90% of
the timeout (it was waiting for a core, or for something else), is run once more with
every other worker idle before the timeout is recorded, so load on the machine does not
turn correct code into failures; one that timed out running (an endless loop) is not
(``cpu_bound`` in its verdict).

When the task marked each problem's first tests visible (``--task-opt visible_tests=K``),
the same run also gives ``unit_tests_visible``: each sample judged on those tests alone
(every test is judged on its own, so its marks are read off the full run), a weak
verifier whose false positives ``analysis.imperfect`` prices.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.errors import UsageError
from harness.core.options import as_dict, option
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.verifier import Verifier
from verifiers._dedup import ProgramInfo, inspect_program, shareable_tests
from verifiers._runs import BATCH, CasesBatch, Run, StdioRun, UnitRun
from verifiers._stdio import StdioPlan, extract_program, stdio_plan
from verifiers._unit_outcomes import Plan, build_program, plan
from verifiers.sandbox import (
    SANDBOX_MODES,
    SandboxPool,
    SandboxSettings,
    SandboxUnavailable,
    probe,
)
from verifiers.sandbox.bwrap import privileged
from verifiers.sandbox.cpus import usable_cpus

VISIBLE = "visible"
BACKSTOP_GRACE_S = 10.0
WINDOW = 256


@dataclass(frozen=True)
class UnitTestOptions:
    sandbox: str = option(
        "bwrap", "bwrap (isolated) or none (trusted code only)", choices=SANDBOX_MODES
    )
    timeout: float = option(
        5.0,
        "wall-clock seconds per sample (stdio: CPU seconds per test where a problem states none)",
        min=0,
        max=3600,
        exclusive=True,
    )
    time_scale: float = option(
        1.0, "stdio: multiply each problem's time limit by this", min=0, max=100, exclusive=True
    )
    all_tests: bool = option(False, "stdio: run every test even after one failed")
    float_tol: float = option(
        1e-5, "stdio: numbers match within this absolute or relative error (0: as text)", min=0
    )
    case_sensitive: bool = option(False, "stdio: compare letters with their case")
    dedup: bool = option(True, "run each distinct program of a problem once")
    workers: int = option(0, "sandbox workers (0: one per usable core)", min=0)
    memory_mb: int = option(1024, "address space a sample may add, in MB", min=16)
    site_packages: bool = option(False, "let programs import the installed packages")


@functools.lru_cache(maxsize=4096)
def _inspect(program: str, keyed: bool) -> ProgramInfo:
    # Identical texts are common in repeated sampling: each is parsed and compiled once.
    return inspect_program(program, keyed=keyed)


@dataclass
class _Problem:
    """One problem in flight: its samples, their runs, and which run judges each sample."""

    problem: Problem
    samples: Sequence[Sample]
    runs: list[Run]
    run_of: list[int]


class UnitTestVerifier(Verifier):
    """Unit tests and stdin/stdout tests in a bubblewrap sandbox with warm workers."""

    name: ClassVar[str] = "unit_tests"
    description: ClassVar[str] = (
        "run code against the problem's unit tests or stdin/stdout tests in a sandbox"
    )

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
        self.limits = self.settings.limits(self.timeout_s)
        self.reruns = 0
        self.samples_judged = 0
        self.executions = 0

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

    # -- one problem -----------------------------------------------------------------
    def _start(self, problem: Problem, samples: Sequence[Sample]) -> _Problem:
        """Group a problem's samples by program and submit one run per group."""
        tests = problem.tests
        shared: Plan | StdioPlan
        if tests is not None and tests.format == "stdio":
            shared = stdio_plan(problem, tests, self.settings, self.timeout_s, self.options)
            shareable = True
        else:
            shared = plan(problem)  # (a UsageError when the problem has no tests)
            assert tests is not None
            shareable = shared.mode == "cases" or shareable_tests(
                tests.prompt_code, tests.setup, tests.test_code, *(tests.asserts or ())
            )
        runs: list[Run] = []
        run_of: list[int] = []
        groups: dict[bytes, int] = {}
        for sample in samples:
            if isinstance(shared, StdioPlan):
                program = extract_program(sample.text)
            else:
                program = build_program(tests, sample.text)
            info = _inspect(program, bool(self.options.dedup))
            if self.options.dedup and shareable and info.shared and info.key in groups:
                run_of.append(groups[info.key])
                runs[groups[info.key]].members.append(sample)
                continue
            groups.setdefault(info.key, len(runs))
            run_of.append(len(runs))
            if isinstance(shared, StdioPlan):
                run: Run = StdioRun(problem, sample, shared, info, self)
            else:
                run = UnitRun(problem, sample, shared, (program, info.code), self, info.error)
            runs.append(run)
            if not (isinstance(run, UnitRun) and run.batchable):
                run.submit()
        batchable = [r for r in runs if isinstance(r, UnitRun) and r.batchable]
        # Batches of at most BATCH, and at least one per worker: a slow problem's
        # samples then run on every worker at once rather than one after another on one.
        size = max(1, min(BATCH, -(-len(batchable) // self.workers)))
        for i in range(0, len(batchable), size):
            CasesBatch(batchable[i : i + size], self).submit()
        return _Problem(problem, samples, runs, run_of)

    def _verdicts(self, item: _Problem) -> list[Verdict]:
        wait([r.future for r in item.runs if r.future is not None])  # one wake-up per problem
        judged = [r.finish() for r in item.runs]
        out = []
        for sample, k in zip(item.samples, item.run_of, strict=True):
            verdict, rep = judged[k], item.runs[k].sample.sample_index
            if self.options.dedup:
                verdict = dataclasses.replace(
                    verdict, sample_index=sample.sample_index, judged_with=rep
                )
            out.append(verdict)
        self.samples_judged += len(out)
        self.executions += len(item.runs)
        return out

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        return next(iter(self.verify_many([(problem, samples)])))

    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        """Verdicts problem by problem, with samples of later problems already running."""
        window: deque[_Problem] = deque()
        # Samples queued ahead: while the oldest problem's last runs finish (one slow
        # sample can take a second), the other workers keep busy with later problems.
        limit = max(WINDOW, 64 * self.workers)
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
                window.append(self._start(problem, samples))
                in_flight += len(window[-1].runs)
            if not window:
                return
            item = window.popleft()
            in_flight -= len(item.runs)
            yield self._verdicts(item)

    def backstop(self, timeout_s: float) -> float:
        """Seconds without an answer after which a worker counts as stuck."""
        return timeout_s + BACKSTOP_GRACE_S

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
            "dedup": {
                "enabled": bool(self.options.dedup),
                "samples": self.samples_judged,
                "executions": self.executions,
            },
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
