"""Turning a sample into a sandbox job: what a problem's samples share, and the job of
one sample or of a batch of them.

``plan`` is made once per problem (the test mode, the calls and cases, or the driver
with its tests compiled), so ``prepare`` adds only a sample's program and a job id;
``batch_job`` runs several samples of a problem in one job, and ``split_batch`` parts its
result again. What the sandbox returns is judged in ``verifiers._unit_verdicts``.
"""

from __future__ import annotations

import ast
import itertools
import marshal
from dataclasses import dataclass, field
from typing import Any

from harness.core.codetests import case_calls
from harness.core.errors import UsageError
from harness.core.records import CodeTests, Problem, Sample
from harness.core.values import CodecError, decode, dumps_compact
from verifiers._programs import build_program, compiled, defines, extract_code

__all__ = ["build_program", "compiled", "defines", "extract_code", "plan", "prepare"]

_keys = itertools.count()


def _free_names(sources: list[str]) -> list[str]:
    names: set[str] = set()
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return sorted(names)


# What a case's expected value is when it does not decode: no answer is judged right.
UNDECODABLE = object()


@dataclass
class Plan:
    """What every sample of one problem shares: the test mode, the calls, the cases.

    Made once per problem, so a sample costs only its program and a job id.
    """

    entry: str
    mode: str
    calls: list[list[Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    case_of_call: list[int] = field(default_factory=list)
    expected: list[Any] = field(default_factory=list)
    driver: dict[str, Any] | None = None
    test_names: list[str] = field(default_factory=list)
    expected_out: bytes | None = None
    key: str = field(default_factory=lambda: f"cases#{next(_keys)}")


def _right_answer_records(cases: list[dict[str, Any]]) -> bytes | None:
    """What the candidate process writes when every case is an equality with one call
    and each call returns exactly the expected value (its own encoding of it), or None.

    (The sandbox's ``send`` writes ``dumps_compact`` lines, so the bytes are known.)
    """
    if not all(c.get("compare") == "eq" and "calls" not in c for c in cases):
        return None
    lines = [dumps_compact({"load": "ok"})]
    lines += [dumps_compact({"i": i, "ok": True, "v": c["expected"]}) for i, c in enumerate(cases)]
    lines.append(dumps_compact({"end": True}))
    return ("\n".join(lines) + "\n").encode()


def _tests_of(problem: Problem) -> CodeTests:
    if problem.tests is None:
        raise UsageError(
            f"unit_tests: problem {problem.id!r} has no unit tests (use it with code tasks "
            "such as humaneval or mbpp)"
        )
    return problem.tests


def plan(problem: Problem) -> Plan:
    """The shared part of the sandbox jobs of ``problem``.

    Raises:
        UsageError: The problem carries no unit tests.
    """
    tests = _tests_of(problem)
    entry = tests.entry_point
    cases = list(tests.cases)
    if tests.complete and cases:
        calls, owner = [], []
        for k, case in enumerate(cases):
            for call in case_calls(case):
                calls.append([call["input"], call.get("kwargs", {"dict": []})])
                owner.append(k)
        shared = Plan(entry, "cases", calls, cases, owner, [_expected(c) for c in cases])
        shared.expected_out = _right_answer_records(cases)
        return shared
    asserts = list(tests.asserts) if tests.asserts is not None else None
    test_code = "" if asserts is not None else tests.test_code
    driver: dict[str, Any] = {
        "entry_point": entry,
        "prelude": tests.prompt_code,
        "setup": tests.setup,
        "test_code": test_code,
        "asserts": asserts,
        "free_names": _free_names([test_code, *(asserts or [])]),
    }
    code = _compiled_tests(driver)
    if code is not None:
        driver["code"] = code
    names = list(asserts) if asserts is not None else ["check(candidate)"]
    return Plan(entry, "check", driver=driver, test_names=names)


def _compiled_tests(driver: dict[str, Any]) -> bytes | None:
    # The driver's sources compiled once per problem, under the names the driver uses;
    # one that does not compile is left out, so the driver meets (and reports) the error.
    sources = {
        "<prelude>": driver["prelude"],
        "<setup>": driver["setup"],
        "<tests>": driver["test_code"],
    }
    if driver["asserts"] is None:
        sources["check"] = f"check({driver['entry_point']})"
    else:
        sources.update({f"<assert {i}>": src for i, src in enumerate(driver["asserts"])})
    codes = {}
    for name, src in sources.items():
        try:
            codes[name] = compile(src, name, "exec", dont_inherit=True)
        except Exception:  # SyntaxError, ValueError (NUL bytes), RecursionError, MemoryError
            continue
    return marshal.dumps(codes) if codes else None


def _expected(case: dict[str, Any]) -> Any:
    # Decoded once per problem; comparing plain built-in values never changes them.
    if "expected" not in case:
        return None
    try:
        return decode(case["expected"])
    except CodecError:
        return UNDECODABLE


@dataclass
class Prepared:
    """A sample ready for the sandbox: the job, the driver's tests (check mode), the plan."""

    job: dict[str, Any]
    tests: dict[str, Any] | None
    plan: Plan

    def with_id(self, job_id: int) -> Prepared:
        """A copy under a new job id (for a re-run)."""
        tests = None if self.tests is None else {**self.tests, "id": job_id}
        return Prepared({**self.job, "id": job_id}, tests, self.plan)


def prepare(
    problem: Problem,
    sample: Sample,
    job_id: int,
    timeout_s: float,
    limits: dict[str, Any],
    shared: Plan | None = None,
    built: tuple[str, bytes | None] | None = None,
) -> Prepared:
    """The sandbox job for one sample of a code problem.

    Args:
        problem: The problem, with its tests.
        sample: The sample to run.
        job_id: A fresh job id.
        timeout_s: Wall-clock seconds the sample may run.
        limits: Its rlimits (``SandboxSettings.limits``).
        shared: ``plan(problem)``, when the caller keeps it for all samples of a problem.
        built: The sample's program and its compiled code (``build_program``,
            ``compiled``), when the caller has them already.

    Raises:
        UsageError: The problem carries no unit tests.
    """
    shared = shared or plan(problem)
    if built is None:
        program = build_program(_tests_of(problem), sample.text)
        built = program, compiled(program)
    program, code = built
    job: dict[str, Any] = {
        "id": job_id,
        "program": program,
        "entry_point": shared.entry,
        "limits": limits,
        "timeout": timeout_s,
        "mode": shared.mode,
    }
    if code is not None:
        job["code"] = code
    if shared.driver is None:
        # The calls go to a worker with the first sample of the problem it sees (a worker
        # keeps them per problem key; see sandbox.worker).
        job.update(key=shared.key, calls=shared.calls, _held=("calls",))
        return Prepared(job, None, shared)
    return Prepared(job, {"id": job_id, **shared.driver}, shared)


def batch_job(preps: list[Prepared], job_id: int) -> dict[str, Any]:
    """One sandbox job for several ``cases``-mode samples of a problem, run one after
    another in the worker: their compiled programs back to back (``sizes``; a program
    that does not compile travels as source, in ``sources``)."""
    first = preps[0].job
    codes = [p.job.get("code") or b"" for p in preps]
    job = {
        k: first[k] for k in ("mode", "entry_point", "limits", "timeout", "key", "calls", "_held")
    }
    job.update(
        id=job_id,
        batch=[p.job["id"] for p in preps],
        sizes=[len(c) for c in codes],
        sources={str(i): p.job["program"] for i, p in enumerate(preps) if not codes[i]},
        code=b"".join(codes),
    )
    return job


def split_batch(record: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The result of each sample of a batch job (see ``batch_job``), in order."""
    got = record.get("results")
    if record.get("status") != "done" or not isinstance(got, list) or len(got) != count:
        # The worker was lost (or answered out of shape): every sample shares the fate.
        lost = {"status": record.get("status"), "out": "", "batch_lost": True}
        return [dict(lost) for _ in range(count)]
    blob = record.get("blob") or b""
    out, pos = [], 0
    for status, code, cpu_s, elapsed_s, size in got:
        out.append(
            {
                "status": status,
                "exit": code,
                "cpu_s": cpu_s,
                "elapsed_s": elapsed_s,
                "blob": blob[pos : pos + size],
            }
        )
        pos += size
    return out
