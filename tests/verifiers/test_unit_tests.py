"""The ``unit_tests`` verifier: options, refusal without bubblewrap, and the trusted mode."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.records import Problem, Sample
from harness.core.verifier import VERIFIERS
from tests.verifiers.code_problems import make_code_problem
from verifiers import unit_tests
from verifiers.sandbox import bwrap
from verifiers.unit_tests import UnitTestVerifier

ADD = make_code_problem(
    "add", "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n"
)
LOOP = make_code_problem(
    "loop", "def check(candidate):\n    for i in range(4):\n        assert candidate(i) == i + 1\n"
)


def test_registered_and_options_validated() -> None:
    assert VERIFIERS.get("unit_tests") is UnitTestVerifier
    v = UnitTestVerifier(options={"timeout": "2.5", "workers": "1", "sandbox": "none"})
    assert (v.timeout_s, v.workers) == (2.5, 1)
    described = v.describe()
    assert described["sandbox"] == "none" and "trusted" in described["isolation"]
    assert described["timeout_s"] == 2.5
    for bad, match in [
        ({"sandbox": "docker"}, "sandbox must be one of bwrap, none"),
        ({"timeout": "soon"}, "not a valid float"),
        ({"timeout": "0"}, "timeout must be"),
        ({"colour": "red"}, "no option"),
    ]:
        with pytest.raises(UsageError, match=match):
            UnitTestVerifier(options=bad)


def test_refuses_in_one_line_when_bwrap_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
    v = UnitTestVerifier()
    with pytest.raises(UsageError) as info:
        v.verify(ADD, [Sample("add", 0, "def f(x):\n    return x + 1\n")])
    message = str(info.value)
    assert "\n" not in message
    assert "apt-get install bubblewrap" in message and "--sandbox none" in message


def test_refuses_when_bwrap_cannot_create_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: "/usr/bin/bwrap")
    failed = subprocess.CompletedProcess(
        [], 1, "", "bwrap: No permissions to creating new namespace\n"
    )
    monkeypatch.setattr(bwrap.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(UsageError, match=r"cannot create a sandbox \(bwrap: No permissions") as e:
        _ = UnitTestVerifier().pool
    assert "user namespaces" in str(e.value) and "--sandbox none" in str(e.value)


def test_trusted_mode_judges_without_isolation(
    unit_verifier: Callable[..., UnitTestVerifier],
) -> None:
    v = unit_verifier(sandbox="none", timeout=2, workers=2)
    texts = [
        "def f(x):\n    return x + 1\n",
        "def f(x):\n    return x\n",
        "def f(x):\n    return 1 / 0\n",
        "def f(x:\n",
        "def g(x):\n    return x + 1\n",
        "```python\ndef f(x):\n    return x + 1\n```",
    ]
    verdicts = [v.verify(p, [Sample(p.id, i, t) for i, t in enumerate(texts)]) for p in (ADD, LOOP)]
    for judged in verdicts:
        assert [x.status for x in judged] == [
            "passed",
            "failed",
            "failed",
            "error",
            "error",
            "passed",
        ]
        assert [x.correct for x in judged] == [True, False, False, False, False, True]
    assert verdicts[0][1].detail["failures"][0]["got"] == "1"
    assert "entry point 'f' is not defined" in verdicts[1][4].detail["error"]


def test_verify_many_keeps_problem_order(
    unit_verifier: Callable[..., UnitTestVerifier], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unit_tests, "BACKSTOP_GRACE_S", 5.0)
    v = unit_verifier(sandbox="none", timeout=2, workers=2)
    good = "def f(x):\n    return x + 1\n"
    items = [(p, [Sample(p.id, i, good) for i in range(5)]) for p in (ADD, LOOP, ADD)]
    out = list(v.verify_many(items))
    assert [batch[0].problem_id for batch in out] == ["add", "loop", "add"]
    assert all(x.correct for batch in out for x in batch)


def test_a_problems_few_samples_run_on_every_worker(
    unit_verifier: Callable[..., UnitTestVerifier],
) -> None:
    # Six samples of one problem, 0.3 s each: two batches, one per worker, at once; not
    # one batch of six, nor both batches queued in one worker's pipe.
    v = unit_verifier(sandbox="none", timeout=5, workers=2, dedup="false")
    slow = "def f(x):\n    import time\n    time.sleep(0.3)\n    return x + 1\n"
    judged = v.verify(ADD, [Sample("add", i, slow) for i in range(6)])
    assert all(x.correct for x in judged)
    assert [w.jobs for w in v.pool.workers] == [3, 3]


RANDOM = make_code_problem(
    "rnd",
    "import random\ndef check(candidate):\n    for _ in range(3):\n"
    "        assert candidate(random.randint(0, 9)) > 0\n",
)  # (random inputs: judged by a driver process, "check" mode)


@pytest.mark.parametrize("problem", [ADD, RANDOM], ids=["cases", "check"])
def test_a_timeout_is_re_run_alone_only_when_it_was_not_running(
    unit_verifier: Callable[..., UnitTestVerifier], problem: Problem
) -> None:
    v = unit_verifier(sandbox="none", timeout=1, workers=2, dedup="false")
    spin = "def f(x):\n    while True:\n        pass\n"
    sleep = "def f(x):\n    import time\n    time.sleep(30)\n"
    spun, slept = v.verify(problem, [Sample(problem.id, 0, spin), Sample(problem.id, 1, sleep)])
    assert spun.status == slept.status == "timeout"
    # The endless loop used its second running: certain, not run again.
    assert spun.detail["cpu_bound"] is True and "rerun_alone" not in spun.detail
    assert spun.detail["cpu_s"] >= 0.9
    # The sleeper used no CPU: it may have been waiting for a core, so it ran again alone.
    assert slept.detail["rerun_alone"] is True and "cpu_bound" not in slept.detail
    assert v.reruns == 1


NUMPY = "import numpy as np\ndef f(x):\n    return int(np.add(x, 1))\n"


def test_site_packages_only_on_request(unit_verifier: Callable[..., UnitTestVerifier]) -> None:
    plain = unit_verifier(sandbox="none", timeout=5)
    v = plain.verify(ADD, [Sample("add", 0, NUMPY)])[0]
    assert v.status == "error" and "No module named 'numpy'" in v.detail["error"]
    with_packages = unit_verifier(sandbox="none", timeout=5, site_packages="true")
    assert with_packages.describe()["site_packages"] is True
    assert with_packages.verify(ADD, [Sample("add", 0, NUMPY)])[0].status == "passed"
    with pytest.raises(UsageError, match="site_packages"):
        UnitTestVerifier(options={"site_packages": "maybe"})


@pytest.mark.slow
def test_site_packages_in_bwrap_keep_the_harness_source_hidden(
    bwrap_ok: None, unit_verifier: Callable[..., UnitTestVerifier]
) -> None:
    source = Path(unit_tests.__file__).resolve()
    peek = (
        "import numpy as np\ndef f(x):\n    try:\n"
        f"        open({str(source)!r}).read()\n        return int(np.add(x, 1))\n"
        "    except OSError:\n        return -1\n"
    )
    v = unit_verifier(timeout=5, site_packages="true")
    judged = v.verify(ADD, [Sample("add", 0, NUMPY), Sample("add", 1, peek)])
    assert [x.status for x in judged] == ["passed", "failed"]
