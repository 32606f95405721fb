"""The sandbox's raw outputs of a unit-test job turned into a Verdict.

Kept apart from building the jobs (``verifiers._unit_outcomes``) and from the verifier's
scheduling, so the judging rules read in one place:

* ``passed``: every test ran and passed.
* ``failed``: a test returned a wrong value or raised (also: outputs too large).
* ``timeout``: the wall-clock or CPU limit hit before a failure was seen.
* ``error``: the program did not load (syntax error, exception at import, entry point
  missing), exited before the tests finished, or the sandbox lost the process.

Per-test detail is a compact string (``P`` passed, ``F`` wrong result, ``E`` raised,
``-`` not run) plus the first few failures with their asserts.
"""

from __future__ import annotations

import json
from typing import Any

from harness.core.codetests import judge_case
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.values import CodecError, decode, short_repr
from verifiers._unit_outcomes import UNDECODABLE, Prepared

MAX_FAILURES = 3


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
    if result.get("cpu_bound"):
        detail["cpu_bound"] = True  # timed out while running: not re-run (see _runs)

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
        if expected is UNDECODABLE or not judge_case(case, values[k], expected):
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
