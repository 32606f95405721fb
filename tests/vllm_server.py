"""A real vLLM OpenAI-compatible server on loopback, serving the embedded model.

Started once per test session (``embedded_server`` in conftest; a load costs 30-90 s
here), as soon as collection shows a test that needs it, so that it loads while other
tests run; shared by the end-to-end ``harness run`` tests, which reach it through the
``openai`` backend: each of them would otherwise load an engine of its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

SERVED_NAME = "smollm2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A vLLM server process serving ``model_dir`` on a free loopback port, its output in
    ``log``. Starting returns at once (the load goes on in the background); ``wait``
    blocks until it answers."""

    def __init__(self, model_dir: Path, log: Path) -> None:
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
        self.log, self.url = log, f"http://127.0.0.1:{port}/v1"
        with log.open("w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.ready = False

    def wait(self, timeout_s: float = 420) -> str:
        """The base URL (``.../v1``) once the server answers.

        Raises:
            RuntimeError: The server exited or did not answer within ``timeout_s`` (with
                the end of its log).
        """
        import httpx

        deadline = time.monotonic() + timeout_s
        while not self.ready:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited early:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                self.ready = httpx.get(f"{self.url}/models", timeout=2).status_code == 200
            if not self.ready:
                if time.monotonic() > deadline:
                    tail = self.log.read_text()[-3000:]
                    raise RuntimeError(f"vLLM server did not come up:\n{tail}")
                time.sleep(1)
        return self.url

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def backend_args(url: str) -> list[str]:
    """``harness run`` flags that generate through the server."""
    return ["--backend", "openai", "--model", SERVED_NAME, "--backend-opt", f"base_url={url}"]
