"""A real vLLM OpenAI-compatible server on loopback, serving the embedded model.

Started once per test session (``embedded_server`` in conftest; a load costs 30-60 s
here) and shared by the end-to-end ``harness run`` tests, which reach it through the
``openai`` backend: each of them would otherwise load an engine of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVED_NAME = "smollm2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(model_dir: Path, log: Path, timeout_s: float = 420) -> Iterator[str]:
    """Serve ``model_dir`` until the block ends; yields the base URL (``.../v1``).

    Raises:
        RuntimeError: The server exited or did not answer within ``timeout_s`` (with
            the end of its log).
    """
    import httpx

    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", SERVED_NAME,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048", "--seed", "0",
        # vllm-cpu 0.32 fails a seeded request whose prompt is prefilled in chunks
        # ("CPU Generator does not use offset"), which many prompts at once bring about.
        "--no-enable-chunked-prefill",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM server did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def backend_args(url: str) -> list[str]:
    """``harness run`` flags that generate through the server."""
    return ["--backend", "openai", "--model", SERVED_NAME, "--backend-opt", f"base_url={url}"]
