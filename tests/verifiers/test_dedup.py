"""Identical programs judged once: what counts as identical, what is never shared, and the
sandboxed run counts (1,000 samples of 10 programs are 10 runs, with the same verdicts)."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from harness.core.records import CodeTests, Problem, Sample
from tests.verifiers.code_problems import make_code_problem
from verifiers._dedup import inspect_program, nondeterminism, shareable_tests
from verifiers.sandbox.bwrap import HASH_SEED
from verifiers.unit_tests import UnitTestVerifier

ADD = make_code_problem(
    "add", "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n"
)


def key(program: str) -> bytes:
    return inspect_program(program).key


def why(program: str) -> str | None:
    return inspect_program(program).why_not


def test_same_program_after_comments_and_layout_different_otherwise() -> None:
    base = "def f(x):\n    return x + 1\n"
    assert key(base) == key("# a comment\ndef f( x ):\n\n    return (x +\n            1)  # one\n")
    assert key(base) == key("def f(x):\n  return x+1")
    assert key(base) != key("def f(y):\n    return y + 1\n")  # names matter
    assert key(base) != key("def f(x):\n    return x + 2\n")
    assert key("s = 'a'") == key('s = "a"')
    assert key('def f(x):\n    """Doc."""\n    return x') != key("def f(x):\n    return x")
    broken = inspect_program("def f(:\n")
    assert broken.code is None and "SyntaxError" in str(broken.error) and broken.shared
    assert key("def f(:\n") != key("def f(:  \n")  # (keyed by its text)
    assert inspect_program(base).code is not None


@pytest.mark.parametrize(
    "program",
    [
        "import random\nprint(random.random())",
        "from random import randint",
        "import time\nprint(time.time())",
        "import datetime",
        "import os\nprint(os.environ['HOME'])",
        "import os\nprint(os.getpid())",
        "from os import urandom",
        "import os as o\nf = getattr(o, 'urand' + 'om')",
        "import sys\nprint(sys.argv)",
        "from os import *",
        "import numpy as np\nprint(np.random.rand())",
        "import threading",
        "print(id(object()))",
        "print(hash('x'))",
        "print(open('/dev/urandom', 'rb').read(4))",
        "x = __import__('random')",
        "eval('1')",
        "import os\nprint(os.fstat(0).st_mtime)",
    ],
)
def test_programs_that_may_vary_between_runs_are_not_shared(program: str) -> None:
    info = inspect_program(program)
    assert not info.shared and info.why_not, program


@pytest.mark.parametrize(
    "program",
    [
        "import sys\ninput = sys.stdin.readline\nprint(int(input()) + 1)",
        "import sys\nsys.setrecursionlimit(10**6)\ndata = sys.stdin.buffer.read().split()",
        "import os, io\ndata = io.BytesIO(os.read(0, os.fstat(0).st_size)).readline",
        "from collections import Counter, deque\nfrom math import gcd\nimport heapq, bisect",
        "print(sum(map(int, open(0).read().split())))",
        "from sys import stdin, stdout\nstdout.write(stdin.read())",
        "s = {'b', 'a'}\nprint(*s)",  # (the workers fix the string hash seed)
        "import os.path\nprint(os.path.join('a', 'b'))",
    ],
)
def test_ordinary_programs_are_shared(program: str) -> None:
    assert inspect_program(program).shared, nondeterminism(__import__("ast").parse(program))


def test_problems_whose_tests_draw_random_inputs_share_nothing() -> None:
    assert shareable_tests("def check(candidate):\n    assert candidate(1) == 2\n")
    assert not shareable_tests("import random\ndef check(c):\n    assert c(random.random())\n")


PROGRAMS = [
    "def f(x):\n    return x + 1\n",
    "def f(x):\n    return 1 + x\n",
    "def f(x):\n    return x - 1\n",
    "def f(x):\n    return x\n",
    "def f(x):\n    raise ValueError(x)\n",
    "def f(x):\n    return [x + 1][0]\n",
    "def f(x):\n    return x * 2\n",
    "def f(x):\n    return sum([x, 1])\n",
    "def f(x):\n    return str(x + 1)\n",
    "def g(x):\n    return x + 1\n",
]


def _variant(program: str, rng: random.Random) -> str:
    # The same program as a model writes it in many ways: comments, blank lines, spaces.
    lines = program.splitlines()
    out = []
    for line in lines:
        if rng.random() < 0.3:
            out.append("# " + rng.choice(["note", "add one", "TODO"]))
        out.append(line.replace("(x)", rng.choice(["(x)", "( x )", "(x )"])))
        if rng.random() < 0.3:
            out.append("")
    return "\n".join(out) + rng.choice(["", "\n", "\n\n"])


def _outcome(verdicts: list) -> list[tuple[int, str, bool, object]]:
    return [(v.sample_index, v.status.value, v.correct, v.detail.get("tests")) for v in verdicts]


@pytest.mark.slow
def test_1000_samples_of_10_programs_are_10_runs_with_the_same_verdicts(bwrap_ok: None) -> None:
    rng = random.Random(0)
    samples = [
        Sample("add", i, _variant(PROGRAMS[rng.randrange(len(PROGRAMS))], rng)) for i in range(1000)
    ]
    assert len({s.text for s in samples}) > 100  # many texts, ten programs
    shared = UnitTestVerifier(options={"workers": "2"})
    alone = UnitTestVerifier(options={"workers": "2", "dedup": "false"})
    try:
        with_dedup = shared.verify(ADD, samples)
        runs = sum(w.jobs for w in shared.pool.workers)
        without = alone.verify(ADD, samples)
        runs_without = sum(w.jobs for w in alone.pool.workers)
    finally:
        shared.close()
        alone.close()
    assert runs == 10 and shared.describe()["dedup"] == {
        "enabled": True, "samples": 1000, "executions": 10
    }  # fmt: skip
    assert runs_without == 1000
    assert _outcome(with_dedup) == _outcome(without)
    assert {v.status.value for v in with_dedup} == {"passed", "failed", "error"}
    # Each verdict says whose run judged it: the first sample with that program.
    first: dict[bytes, int] = {}
    for s, v in zip(samples, with_dedup, strict=True):
        assert v.judged_with == first.setdefault(key(s.text), s.sample_index)
    assert all(v.judged_with is None for v in without)


@pytest.mark.slow
def test_a_program_using_random_gets_a_run_per_sample(bwrap_ok: None) -> None:
    tests = CodeTests("stdio", "", io_tests=({"input": "1\n", "output": "2\n", "set": "public"},))
    problem = Problem("inc", "add one", tests=tests)
    lucky = "import random\nprint(int(input()) + 1 if random.random() < 2 else 0)\n"
    plain = "print(int(input()) + 1)\n"
    samples = [Sample("inc", i, lucky if i % 2 else plain) for i in range(20)]
    verifier = UnitTestVerifier(options={"workers": "2"})
    try:
        verdicts = verifier.verify(problem, samples)
        runs = sum(w.jobs for w in verifier.pool.workers)
    finally:
        verifier.close()
    assert all(v.correct for v in verdicts)
    assert runs == 1 + 10  # the plain program once, the random one every time
    assert [v.judged_with for v in verdicts] == [0 if i % 2 == 0 else i for i in range(20)]


@pytest.mark.slow
def test_every_worker_iterates_a_set_of_strings_in_the_same_order(bwrap_ok: None) -> None:
    program = "print(*{'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'})\n"
    order = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, "PYTHONHASHSEED": HASH_SEED},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tests = CodeTests("stdio", "", io_tests=({"input": "", "output": order, "set": "public"},))
    problem = Problem("set", "print the set", tests=tests)
    samples = [Sample("set", i, program + "#" * i) for i in range(12)]
    verifier = UnitTestVerifier(
        options={"workers": "2", "dedup": "false", "case_sensitive": "true"}
    )
    try:
        verdicts = verifier.verify(problem, samples)
        jobs = [w.jobs for w in verifier.pool.workers]
    finally:
        verifier.close()
    assert all(v.correct for v in verdicts), [v.detail for v in verdicts if not v.correct]
    assert min(jobs) > 0  # both workers ran it
