"""Competitive-programming problems judged right, 20 times over, with both workers busy.

The four problems of ``contest_problems`` go through the real ``codecontests`` loader
(a JSONL file in CodeContests' columns), then every program of each (correct ones
written three ways, and wrong ones: wrong answer, too slow, runtime error, wrong output
format, reads too little input) is judged 20 times in one pass of the ``unit_tests``
verifier with two workers and no sharing of runs, so every run really happens while
the other worker is busy too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.core.records import Sample
from tasks.codecontests import CodeContestsTask
from tests.verifiers.contest_problems import PROBLEMS, TIME_LIMIT_S, expected
from verifiers.unit_tests import UnitTestVerifier

pytestmark = pytest.mark.slow
RUNS = 20
TIME_SCALE = 0.25  # (the correct programs need a fifth of that at most; the slow ones far more)


def write_rows(path: Path) -> Path:
    """The problems as a CodeContests JSONL file."""
    with path.open("w") as f:
        for problem in PROBLEMS:
            f.write(json.dumps(problem.row()) + "\n")
    return path


def test_contest_programs_are_judged_right_every_time(bwrap_ok: None, tmp_path: Path) -> None:
    problems = {p.id: p for p in CodeContestsTask(write_rows(tmp_path / "cc.jsonl")).load()}
    assert sorted(problems) == sorted(p.name for p in PROBLEMS)
    options = {"workers": "2", "dedup": "false", "time_scale": str(TIME_SCALE)}
    verifier = UnitTestVerifier(options=options)
    items, kinds = [], {}
    for cp in PROBLEMS:
        samples = []
        for kind, program in cp.programs.items():
            for _ in range(RUNS):
                kinds[(cp.name, len(samples))] = kind
                samples.append(Sample(cp.name, len(samples), program))
        items.append((problems[cp.name], samples))
    try:
        results = list(verifier.verify_many(items))
        jobs = [w.jobs for w in verifier.pool.workers]
    finally:
        verifier.close()

    wrong: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for verdicts in results:
        for v in verdicts:
            kind = kinds[(v.problem_id, v.sample_index)]
            seen[kind] += 1
            got = (v.status.value, v.detail.get("judge"))
            if got != expected(kind):
                wrong[f"{v.problem_id}/{kind}: {got} {v.detail}"] += 1
            elif got[0] != "passed":
                assert v.detail["first_failure"]["test"] >= 0
            else:
                assert set(v.detail["tests"]) == {"P"}
            if kind == "too_slow":  # over the CPU limit, or out of wall-clock time after it
                assert v.detail["time_limit_s"] == pytest.approx(TIME_LIMIT_S * TIME_SCALE)
    assert not wrong, "\n".join(wrong)
    assert sum(seen.values()) == sum(len(p.programs) for p in PROBLEMS) * RUNS
    assert {"wrong_answer", "too_slow", "runtime_error", "wrong_format", "reads_too_little"} < set(
        seen
    )
    assert min(jobs) > RUNS, jobs  # both workers took their share
