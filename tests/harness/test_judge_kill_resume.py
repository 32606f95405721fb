"""Crash safety of judging end to end: SIGKILL a real ``harness verify --verifier judge``
mid-run, then resume it.

The judge model sits behind a real HTTP server (OpenAI chat completions with top
log-probabilities, answering deterministically from the prompt and seed, a little slowly)
reached through the harness's own ``openai`` backend. After the kill a torn line is
appended to the judgement log. The resumed run must ask exactly the judgements not on
disk (none twice, none lost) and end with the same verdicts, judgements and picks as an
uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.core.backend import GenRequest
from harness.core.judgements import judgements_path, read_selections
from harness.core.records import Problem
from tests.verifiers.judge_runs import ScriptedJudge, make_math_run

ROOT = Path(__file__).resolve().parents[2]
JUDGE = ScriptedJudge(p=0.8)


class Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"data": [{"id": "judge-model"}]})

    def do_POST(self) -> None:
        with self.server.lock:
            self.server.active += 1
        try:
            self._answer()
        finally:
            with self.server.lock:
                self.server.active -= 1

    def _answer(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.server.delay)
        content = body["messages"][-1]["content"]
        with self.server.lock:
            self.server.asked += body["n"]
        choices = []
        for i in range(body["n"]):
            req = GenRequest(Problem("x", content, messages=(body["messages"][-1],)), (i,))
            said = JUDGE(req, body["seed"] + i)
            top = [{"token": t, "logprob": lp} for t, lp in (said.top_logprobs or {}).items()]
            logprobs = {"content": [{"token": said.text, "logprob": -0.1, "top_logprobs": top}]}
            choices.append(
                {
                    "index": i,
                    "finish_reason": "stop",
                    "logprobs": logprobs,
                    "message": {"content": said.text},
                }
            )
        usage = {"prompt_tokens": len(content.split()), "completion_tokens": body["n"]}
        self._send({"choices": choices, "usage": usage})


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.delay = 0.04  # type: ignore[attr-defined]
    httpd.lock = threading.Lock()  # type: ignore[attr-defined]
    httpd.asked = 0  # type: ignore[attr-defined]
    httpd.active = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def keys(path: Path) -> list[tuple[Any, ...]]:
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    return [(r["problem_id"], r["a"], r["b"], r["order"], r["draw"]) for r in rows]


@pytest.mark.slow
def test_sigkill_while_judging_then_resume_asks_only_what_is_missing(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    base = make_math_run(tmp_path / "base", problems=12, n=6, rate=0.3)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    shutil.copytree(base.root, whole)
    shutil.copytree(base.root, cut)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    def command(run: Path) -> list[str]:
        opts = [
            "backend=openai",
            "model=judge-model",
            "mode=logprob",
            "subsets=3",
            "batch=2",
            f"backend_opt=base_url={url},concurrency=2",
        ]
        return [
            sys.executable,
            "-m",
            "harness",
            "verify",
            str(run),
            "--verifier",
            "judge",
            *[x for o in opts for x in ("--verifier-opt", o)],
        ]

    env = {**os.environ, "OPENAI_API_KEY": ""}
    done = subprocess.run(
        command(whole), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    total = len(keys(judgements_path(whole, "judge")))
    assert server.asked == total  # type: ignore[attr-defined]

    # 1. The same command on a copy, killed once some judgements are on disk.
    log_path = judgements_path(cut, "judge")
    proc = subprocess.Popen(
        command(cut),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while not log_path.exists() or log_path.read_bytes().count(b"\n") < 12:
            assert proc.poll() is None, "the verify ended before it could be killed"
            assert time.monotonic() < deadline, "no judgement written within 120 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    before = log_path.read_bytes()
    kept = before[: before.rfind(b"\n") + 1]
    on_disk = kept.count(b"\n")
    assert 0 < on_disk < total, "the kill did not land mid-run"
    with log_path.open("ab") as f:  # what a kill inside a write leaves
        f.write(b'{"problem_id": "7", "a": 2, "b": null, "ord')

    # 2. Resume: only the missing judgements are asked. Requests the killed process sent
    # may still be in the server (it answers a little slowly): they count for that run.
    time.sleep(0.2)  # a connection accepted just before the kill reaches its handler
    deadline = time.monotonic() + 30
    while server.active:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the server never finished the killed run's calls"
        time.sleep(0.01)
    server.asked = 0  # type: ignore[attr-defined]
    again = subprocess.run(
        command(cut), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "torn" in again.stderr.lower()
    assert server.asked == total - on_disk  # type: ignore[attr-defined]
    after = log_path.read_bytes()
    assert after.startswith(kept)  # what was written before the kill is untouched
    got = keys(log_path)
    assert len(got) == len(set(got)) == total  # none twice, none lost
    assert set(got) == set(keys(judgements_path(whole, "judge")))

    # 3. The same selections as the uninterrupted run.
    def verdicts(run: Path) -> list[str]:
        return sorted((run / "verdicts" / "judge.jsonl").read_text().splitlines())

    assert verdicts(cut) == verdicts(whole)
    order = ["problem_id", "method", "k", "draw"]
    pd.testing.assert_frame_equal(
        read_selections(cut, "judge").sort_values(order).reset_index(drop=True),
        read_selections(whole, "judge").sort_values(order).reset_index(drop=True),
    )
    outcome = {tuple(k): o for k, o in zip(keys(log_path), _outcomes(log_path), strict=True)}
    want = dict(
        zip(
            keys(judgements_path(whole, "judge")),
            _outcomes(judgements_path(whole, "judge")),
            strict=True,
        )
    )
    assert outcome == want
    assert all(math.isfinite(s) for s in _scores(log_path))


def _outcomes(path: Path) -> list[str]:
    return [json.loads(x)["outcome"] for x in path.read_text().splitlines()]


def _scores(path: Path) -> list[float]:
    return [json.loads(x)["score"] for x in path.read_text().splitlines()]
