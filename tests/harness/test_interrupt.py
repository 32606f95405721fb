"""Ctrl-C and SIGTERM at every stage of a real ``harness run`` (scripted backend, a slow
verifier plugin): one line, exit code 130, every finished sample and verdict kept whole,
nothing left running; then the same command finishes the run with exactly N per problem.

The vLLM engine's own version of this is ``test_vllm_interrupt.py`` (slow).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from interrupting import (
    NOTHING_YET,
    Running,
    install_slow_verifier,
    number,
    per_problem,
    whole_lines,
)

from harness.core.processes import descendants

PROBLEMS, N = 3, 6


def _until_lines(path: Path, count: int, run: Running, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.read_bytes().count(b"\n") < count:
        assert run.proc.poll() is None, f"exited first:\n{run.text()}"
        assert time.monotonic() < deadline, f"{path} never reached {count} lines:\n{run.text()}"
        time.sleep(0.02)


def test_interrupted_at_every_stage_then_the_same_command_finishes(tmp_path: Path) -> None:
    site = install_slow_verifier(tmp_path / "site")
    out = tmp_path / "run"
    cmd = [
        "run", "--backend", "scripted", "--backend-opt", "start_s=1", "--backend-opt",
        "sample_s=0.1", "--task-opt", f"count={PROBLEMS}", "-n", str(N), "--verifier", "slow",
        "--out", str(out),
    ]  # fmt: skip
    env = {"PYTHONPATH": str(site)}
    samples, verdicts = out / "samples.jsonl", out / "verdicts" / "slow.jsonl"
    total = PROBLEMS * N

    # 1. While the backend starts: nothing written, no directory made.
    run = Running(cmd, tmp_path, env)
    run.wait_for(r"^starting the scripted engine")
    run.send()
    assert run.finish() == 130, run.text()
    run.stopped(NOTHING_YET)
    assert not out.exists()

    # 2. While generating, by SIGTERM: every sample written so far is kept, whole.
    run = Running(cmd, tmp_path, env)
    _until_lines(samples, 2, run)
    run.send(signal.SIGTERM)
    assert run.finish() == 130, run.text()
    stop = run.stopped()
    kept = whole_lines(samples)
    assert number(stop["kept"]) == len(kept) and 2 <= len(kept) < total
    assert number(stop["total"]) == total and Path(stop["dir"]) == out
    assert not run.left_behind()

    # 3. While verifying: the run resumes, finishes generating, is stopped mid-verification.
    run = Running(cmd, tmp_path, env)
    assert run.wait_for(r"^resuming .*; \d+ to generate$") >= 0
    _until_lines(verdicts, 1, run)
    run.send()
    assert run.finish() == 130, run.text()
    stop = run.stopped()
    assert number(stop["kept"]) == len(whole_lines(samples)) == total
    judged = whole_lines(verdicts)
    assert number(stop["verdicts"]) == len(judged) and 0 < len(judged) < total

    # 4. While analysing (just after verification ended).
    run = Running(cmd, tmp_path, env)
    run.wait_for(r"^verified \d+ samples")
    run.send()
    assert run.finish() == 130, run.text()
    stop = run.stopped()
    assert number(stop["verdicts"]) == len(whole_lines(verdicts)) == total
    assert not (out / "report.html").exists()

    # 5. While writing the report.
    run = Running(cmd, tmp_path, env)
    run.wait_for(r"^coverage grows from")
    run.send()
    assert run.finish() == 130, run.text()
    run.stopped()
    assert not (out / "report.html").exists()

    # 6. The same command once more finishes the run: exactly N per problem, each once.
    run = Running(cmd, tmp_path, env)
    assert run.finish() == 0, run.text()
    assert "Traceback" not in run.text()
    assert not any(line.startswith("interrupted") for _, line, _ in run.lines)
    assert per_problem(whole_lines(samples)) == {str(p): list(range(N)) for p in range(PROBLEMS)}
    assert per_problem(whole_lines(verdicts)) == {str(p): list(range(N)) for p in range(PROBLEMS)}
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_stopped_while_the_sandbox_runs_programs_leaves_none_running(tmp_path: Path) -> None:
    """Ctrl-C while ``unit_tests`` runs samples in bubblewrap: its workers (in sessions of
    their own, so a terminal's Ctrl-C does not reach them) are stopped by the harness."""
    out = tmp_path / "run"
    cmd = ["run", "--backend", "scripted", "--task", "humaneval", "--limit", "40", "-n", "8",
           "--out", str(out)]  # fmt: skip
    verdicts = out / "verdicts" / "unit_tests.jsonl"
    run = Running(cmd, tmp_path)
    _until_lines(verdicts, 1, run, timeout=300)
    workers = descendants(run.proc.pid)
    assert any("bwrap" in _cmdline(p) for p in workers), run.text()
    run.send()
    assert run.finish() == 130, run.text()
    stop = run.stopped()
    assert number(stop["verdicts"]) == len(whole_lines(verdicts)) < 320
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "sandbox processes left running"
    finished = Running(cmd, tmp_path)
    assert finished.finish() == 0, finished.text()
    assert per_problem(whole_lines(verdicts)) == {
        k: list(range(8)) for k in per_problem(whole_lines(out / "samples.jsonl"))
    }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
