"""The ``openai`` backend against a real vLLM OpenAI-compatible server on loopback (the
session's ``embedded_server``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vllm_server import backend_args

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("chat", ["--chat", "--no-chat"])
def test_generate_against_real_server(embedded_server: str, tmp_path: Path, chat: str) -> None:
    run = tmp_path / "run"
    args = [
        "run", *backend_args(embedded_server), "--task", "arith", "--task-opt", "count=3",
        "--task-opt", "level=1", "-n", "4", "--max-tokens", "48", "--out", str(run), chat,
    ]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12
    assert len({(s["problem_id"], s["sample_index"]) for s in samples}) == 12
    assert all(s["text"] and s["completion_tokens"] > 0 for s in samples)
    assert all(s["finish_reason"] in {"stop", "length"} for s in samples)
    # Read from the event stream with vLLM's own per-choice token counts.
    assert all(s["completion_tokens"] == 48 for s in samples if s["finish_reason"] == "length")
    assert all(s["completion_tokens"] <= 48 for s in samples)
    assert len({s["text"] for s in samples}) > 1  # sampled, not one greedy answer repeated
    verdicts = (run / "verdicts" / "exact.jsonl").read_text().splitlines()
    assert len(verdicts) == 12
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["backend"] == "openai"
    assert manifest["versions"]["backend.base_url"] == embedded_server
    assert manifest["versions"]["backend.stream"] == "True"  # vLLM streams token counts
