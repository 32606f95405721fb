"""The ``openai`` backend over real HTTP: a scripted stdlib server here (unit level), the
real vLLM OpenAI server in ``test_openai_vllm_server.py`` (slow)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.analyze import analyze
from harness.core.config import RunConfig
from harness.core.errors import UsageError
from harness.core.records import SamplingConfig
from harness.generate import generate
from harness.verify import verify


class Handler(BaseHTTPRequestHandler):
    """Answers like an OpenAI server: choice i of a request says 'The answer is <ref or 0>'."""

    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "tiny"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        st = self.server.state
        with st["lock"]:
            st["bodies"].append((self.path, body))
            st["calls"] += 1
            fail = st["calls"] in st["fail_on"]
        if fail:
            self._send(503, {"error": "busy"})
            return
        chat = self.path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        choices = []
        for i in range(body["n"]):
            text = f"The answer is {i % 3}." if "Q:" in prompt or chat else "?"
            choice: dict[str, Any] = {"index": i, "finish_reason": "stop"}
            choice.update({"message": {"content": text}} if chat else {"text": text})
            choices.append(choice)
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": 5 * body["n"]}
        self._send(200, {"choices": list(reversed(choices)), "usage": usage})


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Any]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state: dict[str, Any] = {"lock": threading.Lock(), "bodies": [], "calls": 0, "fail_on": set()}
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    httpd.shutdown()
    httpd.server_close()


def config(tmp_path: Path, url: str, **kw: Any) -> RunConfig:
    base = RunConfig(
        task="arith",
        model="tiny",
        backend="openai",
        n=6,
        limit=3,
        out=tmp_path / "run",
        chunk=4,
        task_options={"count": "3", "level": "1"},
        sampling=SamplingConfig(temperature=0.7, seed=5, max_tokens=32),
        backend_options={"base_url": url, "concurrency": "3", "retries": "2", "backoff": "0.01"},
    )
    return replace(base, **kw)


def test_samples_flow_through_the_pipeline(tmp_path: Path, server: Any) -> None:
    url, state = server
    c = config(tmp_path, url, chat=False)
    store = generate(c)
    samples = list(store.iter_samples())
    assert sorted((s.problem_id, s.sample_index) for s in samples) == [
        (str(p), i) for p in range(3) for i in range(6)
    ]
    # The server returned choices out of order: they are put back in index order.
    by_key = {(s.problem_id, s.sample_index): s for s in samples}
    assert by_key[("0", 0)].text == "The answer is 0." and by_key[("0", 5)].text.endswith("1.")
    paths = {p for p, _ in state["bodies"]}
    assert paths == {"/v1/completions"}
    bodies = [b for _, b in state["bodies"]]
    assert sorted(b["n"] for b in bodies) == [2, 2, 2, 4, 4, 4]
    assert all(b["stop"] == ["\n\nQ:", "\nQ:"] and b["temperature"] == 0.7 for b in bodies)
    assert all(s.completion_tokens == 5 and s.prompt_tokens > 0 for s in samples)
    verify(c.out)
    assert analyze(c.out).coverage["coverage"].iloc[-1] >= 0


def test_chat_endpoint_and_retry_on_503(tmp_path: Path, server: Any) -> None:
    url, state = server
    state["fail_on"] = {1, 2}
    store = generate(config(tmp_path, url, n=2, limit=1))
    assert {p for p, _ in state["bodies"]} == {"/v1/chat/completions"}
    assert len(list(store.iter_samples())) == 2
    assert state["calls"] == 3


def test_unknown_model_and_unreachable_server_are_one_line_errors(
    tmp_path: Path, server: Any
) -> None:
    url, _ = server
    with pytest.raises(UsageError, match="serves tiny"):
        generate(config(tmp_path, url, model="other"))
    with pytest.raises(UsageError, match="cannot reach"):
        generate(config(tmp_path, "http://127.0.0.1:9/v1"))
    assert not (tmp_path / "run").exists()


def test_persistent_server_error_keeps_what_was_written(tmp_path: Path, server: Any) -> None:
    url, state = server
    state["fail_on"] = set(range(4, 100))
    c = config(tmp_path, url, backend_options={"base_url": url, "concurrency": "1", "retries": "1"})
    with pytest.raises(RuntimeError, match="HTTP 503"):
        generate(c)
    written = (c.out / "samples.jsonl").read_text().splitlines()
    # One request at a time: calls 1-3 (n = 4, 2, 4) landed before the server broke.
    assert len(written) == 10
    state["fail_on"] = set()
    generate(c)
    keys = [
        (json.loads(x)["problem_id"], json.loads(x)["sample_index"])
        for x in (c.out / "samples.jsonl").read_text().splitlines()
    ]
    assert len(keys) == len(set(keys)) == 18
