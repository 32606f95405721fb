"""Turning a sample into a sandbox job, and the sandbox's raw outputs into a Verdict.

Kept apart from the verifier's scheduling so the judging rules read in one place:

* ``passed``: every test ran and passed.
* ``failed``: a test returned a wrong value or raised (also: outputs too large).
* ``timeout``: the wall-clock or CPU limit hit before a failure was seen.
* ``error``: the program did not load (syntax error, exception at import, entry point
  missing), exited before the tests finished, or the sandbox lost the process.

Per-test detail is a compact string (``P`` passed, ``F`` wrong result, ``E`` raised,
``-`` not run) plus the first few failures with their asserts.
"""

from __future__ import annotations

import ast
import itertools
import json
import marshal
from dataclasses import dataclass, field
from typing import Any

from harness.core.codetests import case_calls, judge_case
from harness.core.errors import UsageError
from harness.core.records import CodeTests, Problem, Sample, Status, Verdict
from harness.core.values import CodecError, decode, dumps_compact, short_repr
from verifiers._programs import build_program, compiled, defines, extract_code

__all__ = ["build_program", "compiled", "defines", "extract_code", "judge", "plan", "prepare"]

MAX_FAILURES = 3
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


_UNDECODABLE = object()


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
        return _UNDECODABLE


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


def _records(out: str) -> list[dict[str, Any]]:
    lines = out.splitlines()
    try:  # the usual case: every line is a record written by the sandbox's own code
        parsed = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        pass
    else:
        if len(parsed) == len(lines):
            return [r for r in parsed if isinstance(r, dict)]
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _exit_text(code: Any) -> str:
    if isinstance(code, int) and code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def judge(problem: Problem, sample: Sample, prep: Prepared, result: dict[str, Any]) -> Verdict:
    """The verdict for one sample from the sandbox's result record.

    Its outputs are the records the program's process wrote: ``blob`` (bytes, from a
    memory file) or ``out`` (text, from a pipe).
    """
    blob = result.get("blob")
    sandbox_status = str(result.get("status"))
    detail: dict[str, Any] = {
        "mode": prep.job["mode"],
        "elapsed_s": result.get("elapsed_s"),
        "cpu_s": result.get("cpu_s"),
    }
    if result.get("rerun"):
        detail["rerun_alone"] = True

    def verdict(status: Status, **extra: Any) -> Verdict:
        detail.update(extra)
        return Verdict(
            problem.id, sample.sample_index, status is Status.PASSED, status, detail=detail
        )

    expected = prep.plan.expected_out
    if expected is not None and blob == expected and sandbox_status == "done":
        # The exact records a right answer to every case writes: nothing to parse.
        n = len(prep.plan.cases)
        return verdict(Status.PASSED, tests="P" * n, passed=n, total=n)
    out = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else str(result.get("out", ""))
    records = _records(out)
    load = next((r for r in records if "load" in r), None)
    if load is not None and load.get("load") != "ok":
        return verdict(Status.ERROR, error=str(load.get("e", ""))[:300])
    fatal = next((r for r in records if "fatal" in r), None)
    if fatal is not None:
        return verdict(Status.ERROR, error=str(fatal["fatal"])[:300])
    if prep.job["mode"] == "cases":
        marks, failures = _judge_cases(prep, records)
        names = [str(c.get("assert", "")) for c in prep.plan.cases]
    else:
        marks, failures = _judge_checks(prep, records)
        names = prep.plan.test_names
    detail.update(tests="".join(marks), passed=marks.count("P"), total=len(marks))
    if failures:
        detail["failures"] = [
            {"test": i, "assert": names[i][:300], **info} for i, info in failures[:MAX_FAILURES]
        ]
    if failures:
        return verdict(Status.FAILED)
    if sandbox_status == "timeout":
        return verdict(Status.TIMEOUT, error=f"no result within {prep.job['timeout']} s")
    if sandbox_status == "overflow":
        return verdict(Status.FAILED, error="output over the size limit")
    if "-" in marks or load is None:
        why = {"crashed": "the sandbox worker died", "internal": "sandbox error"}.get(
            sandbox_status,
            f"the program stopped before its tests finished ({_exit_text(result.get('exit'))})",
        )
        return verdict(Status.ERROR, error=why)
    return verdict(Status.PASSED)


def _judge_cases(
    prep: Prepared, records: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    # The first record for each call index counts; anything else the program wrote is ignored.
    shared = prep.plan
    by_call: dict[int, dict[str, Any]] = {}
    for r in records:
        i = r.get("i")
        if type(i) is int and 0 <= i < len(shared.case_of_call) and i not in by_call:
            by_call[i] = r
    values: list[list[Any]] = [[] for _ in shared.cases]
    marks = ["P"] * len(shared.cases)
    info: dict[int, dict[str, Any]] = {}
    for i, owner in enumerate(shared.case_of_call):
        got = by_call.get(i)
        if marks[owner] != "P":
            continue
        if got is None:
            marks[owner] = "-"
        elif not got.get("ok"):
            marks[owner] = "E"
            info[owner] = {"error": str(got.get("e", ""))[:300]}
        else:
            try:
                values[owner].append(decode(got.get("v")))
            except CodecError as exc:
                marks[owner] = "F"
                info[owner] = {"error": f"bad value: {exc}"}
    for k, case in enumerate(shared.cases):
        if marks[k] != "P":
            continue
        expected = shared.expected[k]
        if expected is _UNDECODABLE or not judge_case(case, values[k], expected):
            marks[k] = "F"
            info[k] = {"got": short_repr(values[k][0] if len(values[k]) == 1 else values[k])}
    failures = [(k, info[k]) for k in range(len(marks)) if marks[k] in "FE"]
    return marks, failures


def _judge_checks(
    prep: Prepared, records: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    marks = ["-"] * len(prep.plan.test_names)
    failures = []
    for r in records:
        i = r.get("i")
        if not isinstance(i, int) or not 0 <= i < len(marks) or marks[i] != "-":
            continue
        if r.get("ok") is True:
            marks[i] = "P"
        else:
            marks[i] = "F"
            failures.append((i, {"error": str(r.get("e", ""))[:300]}))
    return marks, failures
