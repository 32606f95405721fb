"""The ``openai`` backend reading server-sent events: each choice is written the moment it
finishes, with the server's own token count; a stream cut off mid-way is retried for the
choices still owed only, with the seeds they would have had. A scripted stdlib server
that streams as vLLM does; the real vLLM server is in ``test_openai_vllm_server.py``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.core.config import RunConfig
from harness.core.records import SamplingConfig
from harness.generate import generate


class StreamingHandler(BaseHTTPRequestHandler):
    """Streams the n choices of a request one after another, last index first; choice k
    of a request seeded s says ``seed s+k`` in k+2 chunks (one token each)."""

    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        data = json.dumps({"data": [{"id": "tiny", "owned_by": "vllm"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _event(self, payload: dict[str, Any] | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        data = f"data: {text}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        st = self.server.state
        with st["lock"]:
            st["bodies"].append(body)
            call = len(st["bodies"])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for finished, k in enumerate(reversed(range(body["n"]))):
            if call in st["cut"] and finished == 1:  # the connection drops mid-stream
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                self.close_connection = True
                return
            words = ["seed", f" {body['seed'] + k}"] + ["."] * k
            for t, word in enumerate(words, 1):
                choice = {"index": k, "text": word, "finish_reason": None}
                if t == len(words):
                    choice["finish_reason"] = "stop"
                usage = {"prompt_tokens": 7, "completion_tokens": t}
                self._event({"choices": [choice], "usage": usage})
            st["sent"].set()
            st["go"].wait(10)  # the next choice only once the test has looked
        self._event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 0}})
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Any]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StreamingHandler)
    state: dict[str, Any] = {
        "lock": threading.Lock(),
        "bodies": [],
        "cut": set(),
        "sent": threading.Event(),
        "go": threading.Event(),
    }
    state["go"].set()
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    state["go"].set()
    httpd.shutdown()
    httpd.server_close()


def _config(tmp_path: Path, url: str, n: int = 4) -> RunConfig:
    return RunConfig(
        task="arith", model="tiny", backend="openai", n=n, limit=1, out=tmp_path / "run",
        task_options={"count": "1"}, chat=False,
        sampling=SamplingConfig(temperature=0.7, seed=100, max_tokens=32),
        backend_options={"base_url": url, "concurrency": "1", "retries": "2", "backoff": "0"},
    )  # fmt: skip


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_each_choice_is_written_when_it_finishes_with_the_servers_token_count(
    tmp_path: Path, server: Any
) -> None:
    url, state = server
    cfg = _config(tmp_path, url)
    state["go"].clear()
    done = threading.Thread(target=generate, args=(cfg,), daemon=True)
    done.start()
    samples = tmp_path / "run" / "samples.jsonl"
    deadline = time.monotonic() + 30
    while not _rows(samples):  # the server is holding the other three choices back
        assert time.monotonic() < deadline, "the first choice was not written while streaming"
        time.sleep(0.01)
    first = _rows(samples)
    assert [(r["sample_index"], r["text"]) for r in first] == [(3, "seed 103...")]
    state["go"].set()
    done.join(30)
    rows = _rows(samples)
    assert sorted(r["sample_index"] for r in rows) == [0, 1, 2, 3]
    for r in rows:
        k = r["sample_index"]
        assert r["text"] == f"seed {100 + k}" + "." * k
        assert r["completion_tokens"] == k + 2 and r["prompt_tokens"] == 7
        assert r["seed"] == 100 + k and r["finish_reason"] == "stop"
    body = state["bodies"][0]
    assert body["stream"] is True and body["stream_options"]["continuous_usage_stats"] is True


def test_a_stream_cut_off_is_retried_for_the_choices_still_owed(
    tmp_path: Path, server: Any
) -> None:
    url, state = server
    state["cut"] = {1}  # the first request drops after one choice (index 3)
    generate(_config(tmp_path, url))
    rows = _rows(tmp_path / "run" / "samples.jsonl")
    assert sorted(r["sample_index"] for r in rows) == [0, 1, 2, 3]
    assert all(
        r["text"] == f"seed {100 + r['sample_index']}" + "." * r["sample_index"] for r in rows
    )
    # The retry asked for indices 0-2 only, seeded as the first request seeded them.
    assert [(b["n"], b["seed"]) for b in state["bodies"]] == [(4, 100), (3, 100)]
