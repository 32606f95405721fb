"""Whole programs judged on standard input/output tests (``CodeTests`` format ``stdio``).

The program of a sample is the first fenced code block of its text, or the whole text
when it has none (a reply that is only code). The sandbox runs it once per test with the
test's input on stdin (``verifiers.sandbox.stdio``); each test's output is judged here,
outside the sandbox, the moment it arrives:

* outputs are compared token by token, tokens split on whitespace (so line breaks,
  trailing spaces and a missing final newline do not matter), letters compared without
  case by default; when both tokens are numbers and either is not an integer, they match
  within ``float_tol`` absolute or relative error (as DeepMind's CodeContests tester
  does, with its 1e-5 by default; 0 compares text only);
* a test ends as ``P`` (passed), ``W`` (wrong answer), ``R`` (runtime error: non-zero
  exit status or a signal), ``T`` (time limit: more CPU time than the problem's limit
  times ``time_scale``, or more than twice that plus a second of wall-clock time),
  ``O`` (output over its cap) or ``-`` (not run);
* the first test that is not ``P`` ends the sample (the worker is told to stop) unless
  ``all_tests`` is set.

The verdict: ``passed`` when every test passed; ``timeout`` when the first failure is
the time limit; ``failed`` for a wrong answer, runtime error or output overflow;
``error`` when the program does not compile (judged here, without a run) or the
sandbox lost it. Its detail: the per-test marks, tests passed of total, the judge's
status (``accepted``, ``wrong_answer``, ...) and the first failing test with what was
expected and what came out.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from harness.core.records import CodeTests, Problem, Sample, Status, Verdict
from harness.core.values import short_repr

JUDGE = {
    "P": "accepted",
    "W": "wrong_answer",
    "R": "runtime_error",
    "T": "time_limit_exceeded",
    "O": "output_limit_exceeded",
}
MIN_CAP = 1 << 16
# The time limit is on CPU time; a program gets this much wall-clock time per test before
# it is stopped anyway (it sleeps, blocks, or the machine is very busy).
WALL_FACTOR, WALL_EXTRA_S = 2.0, 1.0
_FIRST_FENCE = re.compile(r"```([^\n`]*)\n?(.*?)(?:```|\Z)", re.DOTALL)
_LANGUAGE_TAG = re.compile(r"[A-Za-z0-9_+#.-]*")
_keys = itertools.count()


def extract_program(text: str) -> str:
    """The program of a reply: its first fenced code block, else the whole text."""
    found = _FIRST_FENCE.search(text)
    if found is None:
        return text
    tag, body = found.group(1), found.group(2)
    if _LANGUAGE_TAG.fullmatch(tag.strip()):
        return str(body)  # ```python\n...```
    return f"{tag}\n{body}" if "\n" in found.group(0) else tag  # ```code on the fence line


def _number(token: bytes) -> float | int | None:
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def tokens_match(got: bytes, want: bytes, tol: float) -> bool:
    """Whether two tokens match: same text, or numbers within ``tol`` (see module docstring)."""
    if got == want:
        return True
    if tol <= 0:
        return False
    a, b = _number(got), _number(want)
    if a is None or b is None or (type(a) is int and type(b) is int):
        return False
    diff = abs(a - b)
    return diff <= tol or diff <= tol * abs(b)


def same_output(got: bytes, want: list[bytes], tol: float, case_sensitive: bool) -> bool:
    """Whether program output ``got`` matches the expected tokens ``want``."""
    tokens = got.split() if case_sensitive else got.lower().split()
    if tokens == want:
        return True
    if len(tokens) != len(want):
        return False
    return all(tokens_match(a, b, tol) for a, b in zip(tokens, want, strict=True))


@dataclass
class StdioPlan:
    """What every sample of one problem shares: the tests, their expected tokens, limits."""

    key: str
    tests: list[dict[str, Any]]
    want: list[list[bytes]]
    payload: dict[str, Any]
    timeout_s: float
    wall_s: float
    limits: dict[str, Any]
    tol: float
    case_sensitive: bool
    all_tests: bool


def stdio_plan(
    problem: Problem,
    tests: CodeTests,
    settings: Any,
    default_timeout_s: float,
    options: Any,
) -> StdioPlan:
    """The shared part of the jobs of a ``stdio`` problem.

    Args:
        problem: The problem.
        tests: Its tests (format ``stdio``).
        settings: The sandbox settings (``SandboxSettings``), for the rlimits.
        default_timeout_s: Per-test limit of problems that state none.
        options: The verifier options (``time_scale``, ``float_tol``, ``case_sensitive``,
            ``all_tests``).
    """
    timeout = (tests.time_limit_s or default_timeout_s) * float(options.time_scale)
    case = bool(options.case_sensitive)
    cases = list(tests.io_tests)
    fsize = int(settings.fsize_mb) << 20
    outputs = [str(t["output"]).encode() for t in cases]
    return StdioPlan(
        key=f"{problem.id}#{next(_keys)}",
        tests=cases,
        want=[(o if case else o.lower()).split() for o in outputs],
        payload={
            "inputs": [str(t["input"]) for t in cases],
            "caps": [min(fsize, max(MIN_CAP, 4 * len(o) + 4096)) for o in outputs],
        },
        timeout_s=timeout,
        wall_s=WALL_FACTOR * timeout + WALL_EXTRA_S,
        limits=settings.limits(timeout),
        tol=float(options.float_tol),
        case_sensitive=case,
        all_tests=bool(options.all_tests),
    )


def stdio_job(
    plan: StdioPlan, job_id: int, code: bytes, run: list[int] | None = None
) -> dict[str, Any]:
    """The sandbox job of one sample: its compiled program on the plan's tests (or ``run``)."""
    job: dict[str, Any] = {
        "id": job_id,
        "mode": "stdio",
        "key": plan.key,
        "inputs": plan.payload,
        "_held": ("inputs",),
        "limits": plan.limits,
        "timeout": plan.timeout_s,
        "wall": plan.wall_s,
        "all": plan.all_tests,
        "code": code,
    }
    if run is not None:
        job["run"] = run
    return job


def _show(data: bytes, limit: int = 200) -> str:
    return short_repr(data.decode("utf-8", "replace"), limit)


def judge_test(plan: StdioPlan, frame: dict[str, Any]) -> dict[str, Any]:
    """One test's outcome from the worker's frame (called as each test ends)."""
    t = int(frame["t"])
    status = frame.get("status")
    got = frame.get("blob") or b""
    record: dict[str, Any] = {"t": t, "cpu_s": frame.get("cpu_s"), "wall_s": frame.get("wall_s")}
    if status == "stopped":
        record["mark"] = "-"
    elif status == "timeout":
        record["mark"] = "T"
        # Over the CPU limit is over it however busy the machine was: no re-run needed.
        record["cpu_bound"] = float(frame.get("cpu_s") or 0.0) > plan.timeout_s
    elif status == "overflow":
        record["mark"] = "O"
    elif frame.get("exit") != 0:
        record["mark"] = "R"
        code = frame.get("exit")
        lines = str(frame.get("err") or "").strip().splitlines()
        where = (
            f"killed by signal {-code}"
            if isinstance(code, int) and code < 0
            else f"exit code {code}"
        )
        record["error"] = f"{lines[-1][:300]} ({where})" if lines else where
    elif same_output(got, plan.want[t], plan.tol, plan.case_sensitive):
        record["mark"] = "P"
    else:
        record["mark"] = "W"
        record["expected"] = _show(str(plan.tests[t]["output"]).encode())
        record["got"] = _show(got)
    record["stop"] = record["mark"] != "P" and not plan.all_tests
    return record


@dataclass
class StdioOutcome:
    """The per-test marks of a sample, merged over its runs (a re-run replaces marks)."""

    marks: list[str]
    records: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            t = int(r["t"])
            if 0 <= t < len(self.marks):
                self.marks[t] = r["mark"]
                self.records[t] = r

    def first_failure(self) -> int | None:
        return next((t for t, m in enumerate(self.marks) if m not in "P-"), None)

    def _wall_bound(self, t: int) -> bool:
        return self.marks[t] == "T" and not self.records[t].get("cpu_bound")

    def rerun(self, all_tests: bool) -> list[int] | None:
        """Tests to run again alone: those that ran out of wall-clock time within their
        CPU limit (a busy machine, or a program that waits) and, stopping at the first
        failure, every test after the first of them; None when there is none."""
        first = self.first_failure()
        if first is None:
            return None
        if all_tests:
            again = [t for t in range(len(self.marks)) if self._wall_bound(t)]
            return again or None
        return list(range(first, len(self.marks))) if self._wall_bound(first) else None


def stdio_verdict(
    problem: Problem, sample: Sample, plan: StdioPlan, outcome: StdioOutcome, result: dict[str, Any]
) -> Verdict:
    """The verdict of a sample from its merged test marks and the last run's result."""
    marks = outcome.marks
    detail: dict[str, Any] = {
        "mode": "stdio",
        "tests": "".join(marks),
        "passed": marks.count("P"),
        "total": len(marks),
        "time_limit_s": round(plan.timeout_s, 4),
        "elapsed_s": result.get("elapsed_s"),
    }
    cpu = [r["cpu_s"] for r in outcome.records.values() if isinstance(r.get("cpu_s"), float)]
    if cpu:
        detail["max_cpu_s"] = max(cpu)
    if result.get("rerun"):
        detail["rerun_alone"] = True
    first = outcome.first_failure()
    if first is not None:
        mark = marks[first]
        info = {k: v for k, v in outcome.records[first].items() if k not in ("t", "mark", "stop")}
        detail["judge"] = JUDGE[mark]
        detail["first_failure"] = {"test": first, "set": plan.tests[first].get("set"), **info}
        status = Status.TIMEOUT if mark == "T" else Status.FAILED
    elif "-" in marks or result.get("status") != "done":
        why = {"crashed": "the sandbox worker died", "internal": "sandbox error"}.get(
            str(result.get("status")), "the program stopped before every test ran"
        )
        if result.get("status") == "timeout":
            why = f"the sandbox gave no result within {plan.timeout_s:.3g} s of a test"
        detail.update(judge="error", error=why)
        status = Status.ERROR
    else:
        detail["judge"] = "accepted"
        status = Status.PASSED
    return Verdict(problem.id, sample.sample_index, status is Status.PASSED, status, detail=detail)


def compile_error_verdict(problem: Problem, sample: Sample, plan: StdioPlan, error: str) -> Verdict:
    """The verdict of a program that does not compile (no run needed)."""
    detail = {
        "mode": "stdio",
        "tests": "-" * len(plan.tests),
        "passed": 0,
        "total": len(plan.tests),
        "judge": "compile_error",
        "error": error,
    }
    return Verdict(problem.id, sample.sample_index, False, Status.ERROR, detail=detail)
