"""The ``openai`` backend against a real vLLM OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("vllm", reason="needs vllm (the cpu or gpu extra)")
    import httpx

    from harness.models import ensure_embedded_model

    model_dir = ensure_embedded_model()
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", "smollm2",
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048", "--seed", "0",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail(f"vLLM server did not come up:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("chat", ["--chat", "--no-chat"])
def test_generate_against_real_server(vllm_server: str, tmp_path: Path, chat: str) -> None:
    run = tmp_path / "run"
    args = [
        "run", "--backend", "openai", "--model", "smollm2", "--backend-opt",
        f"base_url={vllm_server}", "--task", "arith", "--task-opt", "count=3",
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
    assert manifest["versions"]["backend.base_url"] == vllm_server
    assert manifest["versions"]["backend.stream"] == "True"  # vLLM streams token counts
