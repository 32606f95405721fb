"""The worker pool's own safety nets: restart after a worker dies, the wall-clock backstop,
jobs queued behind a lost worker, and solo re-runs. Uses the trusted mode (no bwrap), where
a sample runs under the worker's own uid and so can kill it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.core.records import Sample
from harness.core.values import encode
from tests.verifiers.code_problems import make_code_problem
from verifiers.sandbox import SandboxPool, SandboxSettings
from verifiers.unit_tests import UnitTestVerifier

SETTINGS = SandboxSettings(mode="none")
ADD = make_code_problem("add", "def check(candidate):\n    assert candidate(1) == 2\n")


@pytest.fixture
def pool() -> Iterator[SandboxPool]:
    p = SandboxPool(SETTINGS, workers=1)
    yield p
    p.close()


def _job(pool: SandboxPool, program: str, timeout: float = 2.0) -> dict[str, Any]:
    return {
        "id": pool.new_id(),
        "mode": "cases",
        "program": program,
        "entry_point": "f",
        "calls": [[encode([1]), encode({})]],
        "limits": SETTINGS.limits(timeout),
        "timeout": timeout,
    }


GOOD = "def f(x):\n    return x + 1\n"
KILL_WORKER = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return 2\n"


def test_a_dead_worker_is_restarted_and_queued_jobs_are_sent_again(pool: SandboxPool) -> None:
    first = pool.submit(_job(pool, KILL_WORKER), None, 10)
    behind = [pool.submit(_job(pool, GOOD), None, 10) for _ in range(3)]
    assert first.result(timeout=30)["status"] == "crashed"
    for f in behind:
        result = f.result(timeout=30)
        assert result["status"] == "done" and '"v":2' in result["out"]
    assert pool.restarts >= 1


def test_backstop_kills_a_worker_that_outlives_it(pool: SandboxPool) -> None:
    slow = "import time\ntime.sleep(3)\ndef f(x):\n    return 2\n"
    start = time.monotonic()
    result = pool.submit(_job(pool, slow, timeout=10), None, 0.5).result(timeout=30)
    assert result["status"] == "timeout" and result["backstop"] is True
    assert time.monotonic() - start < 3
    assert pool.submit(_job(pool, GOOD), None, 10).result(timeout=30)["status"] == "done"


def test_run_alone_waits_for_running_jobs() -> None:
    pool = SandboxPool(SETTINGS, workers=2)
    try:
        nap = "import time\ntime.sleep(0.4)\ndef f(x):\n    return 2\n"
        running = [pool.submit(_job(pool, nap), None, 10) for _ in range(2)]
        time.sleep(0.1)
        seen: list[bool] = []

        def solo() -> None:
            pool.run_alone(_job(pool, GOOD), None, 10)
            seen.append(all(f.done() for f in running))

        t = threading.Thread(target=solo)
        t.start()
        t.join(timeout=30)
        assert seen == [True]
    finally:
        pool.close()


def test_verifier_reruns_a_lost_sample_alone_then_records_an_error() -> None:
    v = UnitTestVerifier(options={"sandbox": "none", "workers": "1", "timeout": "2"})
    try:
        verdicts = v.verify(ADD, [Sample("add", 0, KILL_WORKER), Sample("add", 1, GOOD)])
    finally:
        v.close()
    assert verdicts[0].status == "error" and verdicts[0].detail["rerun_alone"] is True
    assert "worker died" in verdicts[0].detail["error"]
    assert verdicts[1].status == "passed"
    assert v.reruns == 1
