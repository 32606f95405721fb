"""Ctrl-C at every stage of a real ``harness run`` on vllm-cpu, as a terminal sends it
(to the whole process group, engine processes included): one line, exit code 130, every
finished sample kept whole, no engine process left, a quiet terminal; a SIGKILL in the
middle of generating, with half a record left at the end of the file; then the same
command finishes the run with exactly N samples per problem.

Six runs of one command, three engine loads: stopped while the engine starts, by Ctrl-C
and by a SIGTERM to the harness alone (the engine's processes then get no signal but
ours); stopped while generating; resumed and killed outright (SIGKILL to the process
group) while generating, then half a record appended, as a kill inside a write leaves
it; resumed again, which drops the torn line, generates only what is missing, and is
stopped while analysing; finished (nothing left to generate, so no engine). The
scripted backend's version, which also stops verification and the report, is
``test_interrupt.py``.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from interrupting import (
    NOTHING_YET,
    Running,
    number,
    per_problem,
    session_processes,
    whole_lines,
)

pytestmark = pytest.mark.slow
PROBLEMS, N = 3, 8
NOISE = re.compile(r"WARNING|Warning|warn|leaked|Traceback|INFO|DEBUG|Loading safetensors")


def _quiet(run: Running) -> None:
    """Nothing of vLLM, torch or Python's shutdown on the terminal (the harness's own
    one-line warnings, such as a dropped torn line, are for the user)."""
    noisy = [
        x for _, x, _ in run.lines if NOISE.search(x) and not x.startswith("harness: warning: ")
    ]
    assert not noisy, run.text()


def test_stopped_at_every_stage_then_the_same_command_finishes(tmp_path: Path) -> None:
    pytest.importorskip("vllm", reason="needs vllm (the cpu or gpu extra)")
    out = tmp_path / "run"
    cmd = ["run", "--task", "arith", "--limit", str(PROBLEMS), "-n", str(N), "--out", str(out)]
    env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    samples, total = out / "samples.jsonl", PROBLEMS * N

    # 1. While the engine starts (its core process is up): nothing written, nothing left.
    for sig, group in ((signal.SIGINT, True), (signal.SIGTERM, False)):
        run = Running(cmd, tmp_path, env)
        run.wait_for(r"^starting the vllm engine")
        deadline = time.monotonic() + 240
        while not any("VLLM" in p for p in session_processes(run.proc.pid)):
            assert run.proc.poll() is None and time.monotonic() < deadline, run.text()
            time.sleep(0.05)
        run.send(sig, group)
        assert run.finish(120) == 130, run.text()
        run.stopped(NOTHING_YET)
        assert not run.left_behind(), run.text()
        assert not out.exists()
        _quiet(run)

    # 2. While generating: every sample written is kept, whole; the engine is gone.
    run = Running(cmd, tmp_path, env)
    ready = run.wait_for(r"^vllm ready in \d+ s \(engine log: .*engine\.log\)$")
    deadline = time.monotonic() + 240
    while not samples.exists() or samples.read_bytes().count(b"\n") < 2:
        assert run.proc.poll() is None and time.monotonic() < deadline, run.text()
        time.sleep(0.02)
    first = time.monotonic() - run.started - ready
    run.send()
    assert run.finish(120) == 130, run.text()
    stop = run.stopped()
    kept = whole_lines(samples)
    assert number(stop["kept"]) == len(kept) and 2 <= len(kept) < total, run.text()
    assert number(stop["total"]) == total and Path(stop["dir"]) == out
    assert not run.left_behind(), run.text()
    _quiet(run)
    print(f"two samples on disk {first:.1f} s after the engine was ready; kept {len(kept)}")

    # 3. Resumed, and killed outright once a new sample is on disk: what was written stays.
    run = Running(cmd, tmp_path, env)
    run.wait_for(rf"^resuming .*: {len(kept)} of {total} samples present; ")
    deadline = time.monotonic() + 240
    while samples.read_bytes().count(b"\n") <= len(kept):
        assert run.proc.poll() is None and time.monotonic() < deadline, run.text()
        time.sleep(0.02)
    run.send(signal.SIGKILL)
    assert run.finish(120) == -signal.SIGKILL, run.text()
    assert not run.left_behind(), run.text()
    before = samples.read_bytes()
    written = before[: before.rfind(b"\n") + 1]
    n_written = written.count(b"\n")
    assert len(kept) < n_written < total, f"the kill did not land mid-run:\n{run.text()}"
    with samples.open("ab") as f:  # half a record, as a kill inside a write leaves it
        f.write(b'{"problem_id": "0", "sample_index": 7, "text": "The ans')

    # 4. Resumed again: drops the torn line, generates only the rest, verifies, and is
    #    stopped while analysing.
    run = Running(cmd, tmp_path, env)
    todo = run.wait_for(rf"^resuming .*: {n_written} of {total} samples present; ")
    assert todo >= 0 and f"{total - n_written} to generate" in run.text()
    assert "torn" in run.text().lower()  # the half record was reported and dropped
    run.wait_for(r"^verified \d+ samples with exact", timeout=400)
    run.send()
    assert run.finish(120) == 130, run.text()
    stop = run.stopped()
    assert number(stop["kept"]) == len(whole_lines(samples)) == total
    assert samples.read_bytes().startswith(written)  # what the killed run wrote is untouched
    assert number(stop["verdicts"]) == total
    assert not run.left_behind(), run.text()
    _quiet(run)
    assert (out / "logs" / "engine.log").stat().st_size > 0  # what vLLM said went there

    # 5. Finished by the same command: nothing to generate, so no engine.
    run = Running(cmd, tmp_path, env)
    assert run.finish(300) == 0, run.text()
    _quiet(run)
    assert "nothing to generate" in run.text() and "vllm ready" not in run.text()
    rows = whole_lines(samples)
    assert per_problem(rows) == {str(p): list(range(N)) for p in range(PROBLEMS)}
    assert all(r["finish_reason"] in {"stop", "length"} for r in rows)
    assert run.lines[-1][1].startswith("report: ") and (out / "report.html").exists()
