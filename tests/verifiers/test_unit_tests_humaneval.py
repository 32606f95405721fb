"""HumanEval through the sandboxed ``unit_tests`` verifier (needs bubblewrap: slow)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from harness.core.records import Problem, Sample, Verdict
from tasks.humaneval import HumanEvalTask
from verifiers.unit_tests import UnitTestVerifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return HumanEvalTask().load()


@pytest.fixture(scope="module")
def verifier(bwrap_ok: None) -> Iterator[UnitTestVerifier]:
    # Every sample really runs (these tests repeat the same programs on purpose).
    v = UnitTestVerifier(options={"workers": "2", "dedup": "false"})
    yield v
    v.close()


def _judge(v: UnitTestVerifier, items: list[tuple[Problem, list[Sample]]]) -> list[Verdict]:
    return [x for batch in v.verify_many(items) for x in batch]


def test_canonical_solutions_pass(verifier: UnitTestVerifier, problems: list[Problem]) -> None:
    verdicts = _judge(verifier, [(p, [Sample(p.id, 0, p.reference or "")]) for p in problems])
    assert len(verdicts) == 164
    failed = [(v.problem_id, v.status, v.detail) for v in verdicts if not v.correct]
    assert not failed
    modes = Counter(v.detail["mode"] for v in verdicts)
    assert modes["cases"] > 140 and modes["check"] > 0  # both judging paths exercised


def test_another_problems_solution_fails(
    verifier: UnitTestVerifier, problems: list[Problem]
) -> None:
    n = len(problems)
    items = [
        (p, [Sample(p.id, 0, problems[(i + 1) % n].reference or "")])
        for i, p in enumerate(problems)
    ]
    verdicts = _judge(verifier, items)
    passed = [v.problem_id for v in verdicts if v.correct]
    assert not passed
    assert {v.status for v in verdicts} <= {"failed", "error", "timeout"}


def test_full_programs_and_chat_replies_pass(
    verifier: UnitTestVerifier, problems: list[Problem]
) -> None:
    items = []
    for p in problems:
        full = p.prompt + (p.reference or "")
        chat = f"Sure! Here is the function:\n\n```python\n{full}```\n\nIt works because..."
        items.append((p, [Sample(p.id, 0, full), Sample(p.id, 1, chat)]))
    verdicts = _judge(verifier, items)
    assert [v.problem_id for v in verdicts if not v.correct] == []


def test_canonical_solutions_20_times_with_both_workers_busy(
    verifier: UnitTestVerifier, problems: list[Problem]
) -> None:
    before = [w.jobs for w in verifier.pool.workers]
    items = [(p, [Sample(p.id, i, p.reference or "") for i in range(20)]) for p in problems]
    verdicts = _judge(verifier, items)
    assert len(verdicts) == 164 * 20
    assert Counter(v.status for v in verdicts) == {"passed": 164 * 20}
    done = [w.jobs - b for w, b in zip(verifier.pool.workers, before, strict=True)]
    assert len(done) == 2 and sum(done) >= 164 * 20
    assert min(done) > 0.25 * sum(done), done  # the work was shared, not serialised
    assert verifier.pool.restarts == 0
