"""``openai``: samples from any OpenAI-compatible HTTP server (vLLM, SGLang, TGI, hosted APIs).

One request per ``GenRequest`` with ``n`` set, many requests in flight at once (threads),
each yielded as soon as it returns. ``/v1/chat/completions`` is used when the chat
template applies (``--chat``, or by default whenever the problem has chat messages),
``/v1/completions`` with the raw prompt otherwise. Transient failures (connection
errors, 429, 5xx) are retried with exponential backoff; anything else stops the run
(samples already written stay written, and re-running resumes).

Options (``--backend-opt KEY=VALUE``): ``base_url`` (default ``$OPENAI_BASE_URL`` or
``http://127.0.0.1:8000/v1``), ``concurrency`` (requests in flight, 8), ``timeout``
(seconds, 600), ``retries`` (5), ``backoff`` (first retry delay in seconds, 1.0) and
``max_n`` (the largest ``n`` the server takes in one request; bigger ones are split).
The API key comes from ``$OPENAI_API_KEY`` and is never written anywhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult
from harness.core.errors import UsageError
from harness.core.options import build, option

DEFAULT_URL = "http://127.0.0.1:8000/v1"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ServerError(RuntimeError):
    """The server answered a request with an error that retrying will not fix."""


@dataclass(frozen=True)
class OpenAIOptions:
    """``--backend-opt`` of the ``openai`` backend."""

    base_url: str | None = option(None, f"server URL (default $OPENAI_BASE_URL or {DEFAULT_URL})")
    concurrency: int = option(8, "requests in flight", min=1)
    timeout: float = option(600.0, "seconds per request", min=0, exclusive=True)
    retries: int = option(5, "retries of a transient failure", min=1)
    backoff: float = option(1.0, "first retry delay in seconds", min=0)
    max_n: int = option(1 << 30, "largest n the server takes in one request", min=1)


class OpenAIServerBackend:
    """Client of an OpenAI-compatible completions server."""

    name = "openai"
    Options = OpenAIOptions

    def __init__(self, config: BackendConfig) -> None:
        import httpx

        self.config = config
        opts: OpenAIOptions = build(OpenAIOptions, config.options, "backend 'openai'")
        self.base_url = str(
            opts.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_URL
        ).rstrip("/")
        self.concurrency = opts.concurrency
        self.retries = opts.retries
        self.max_n = opts.max_n
        timeout = opts.timeout
        self.backoff = opts.backoff
        headers = {}
        if key := os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)
        self.server_models = self._check_server()

    def _check_server(self) -> list[str]:
        """Fail fast, in one line, when the server is not there or lacks the model."""
        import httpx

        try:
            resp = self.client.get("/models", timeout=30)
        except httpx.HTTPError as e:
            raise UsageError(f"backend openai: cannot reach {self.base_url} ({e})") from None
        if resp.status_code != 200:
            return []  # some servers have no /models; the first request will tell
        models = [m.get("id", "") for m in resp.json().get("data", [])]
        if models and self.config.model not in models:
            raise UsageError(
                f"backend openai: {self.base_url} serves {', '.join(models)}, "
                f"not {self.config.model!r} (pass --model with one of those)"
            )
        return models

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "base_url": self.base_url,
            "server_models": ",".join(self.server_models),
            "completion_tokens": "per choice when the server reports it, else usage split "
            "by text length",
        }

    def uses_chat(self, req: GenRequest) -> bool:
        if self.config.chat is not None:
            return self.config.chat
        return req.problem.messages is not None

    def _body(self, req: GenRequest, n: int, seed_offset: int) -> tuple[str, dict[str, Any]]:
        s = req.sampling or self.config.sampling
        body: dict[str, Any] = {
            "model": self.config.model,
            "n": n,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed + seed_offset,
        }
        if s.min_p:
            body["min_p"] = s.min_p
        stop = list(s.stop)
        if self.uses_chat(req):
            messages = req.problem.messages or ({"role": "user", "content": req.problem.prompt},)
            body["messages"] = list(messages)
            path = "/chat/completions"
            if req.top_logprobs:
                body.update(logprobs=True, top_logprobs=req.top_logprobs)
        else:
            if req.top_logprobs:
                body["logprobs"] = req.top_logprobs
            stop += [x for x in self.config.completion_stop if x not in stop]
            body["prompt"] = req.problem.prompt
            path = "/completions"
        if stop:
            body["stop"] = stop
        return path, body

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                resp = self.client.post(path, json=body)
            except httpx.TransportError as e:
                if attempt == self.retries:
                    raise ServerError(f"{self.base_url}{path}: {e}") from e
            else:
                if resp.status_code == 200:
                    data: dict[str, Any] = resp.json()
                    return data
                if resp.status_code not in RETRY_STATUS or attempt == self.retries:
                    raise ServerError(
                        f"{self.base_url}{path}: HTTP {resp.status_code}: {resp.text[:300]}"
                    )
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    def _one(self, req: GenRequest) -> GenResult:
        completions: list[Completion] = []
        prompt_tokens = 0
        seed = (req.sampling or self.config.sampling).seed + req.sample_indices[0]
        for start in range(0, req.n, self.max_n):
            n = min(self.max_n, req.n - start)
            path, body = self._body(req, n, req.sample_indices[0] + start)
            data = self._post(path, body)
            choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
            if len(choices) != n:
                raise ServerError(f"server returned {len(choices)} choices for n={n}")
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            texts = [
                c["message"]["content"] or "" if "message" in c else c.get("text", "")
                for c in choices
            ]
            tokens = _split_tokens(choices, texts, int(usage.get("completion_tokens") or 0))
            completions += [
                Completion(
                    t,
                    k,
                    c.get("finish_reason") or "unknown",
                    top_logprobs=first_token_logprobs(c) if req.top_logprobs else None,
                )
                for t, k, c in zip(texts, tokens, choices, strict=True)
            ]
        return GenResult(req, completions, prompt_tokens, seed=seed)

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Keep ``concurrency`` requests in flight; yield each as soon as it returns."""
        todo = iter(requests)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai") as pool:
            running: set[Future[GenResult]] = set()
            try:
                while True:
                    while len(running) < self.concurrency:
                        req = next(todo, None)
                        if req is None:
                            break
                        running.add(pool.submit(self._one, req))
                    if not running:
                        return
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
            finally:
                for fut in running:
                    fut.cancel()

    def close(self) -> None:
        self.client.close()


def first_token_logprobs(choice: dict[str, Any]) -> dict[str, float] | None:
    """Token -> log-probability of the first token's top candidates, from a choice's
    ``logprobs`` (chat: ``content[0].top_logprobs``; completions: ``top_logprobs[0]``)."""
    lp = choice.get("logprobs") or {}
    content = lp.get("content")
    if content:
        top = content[0].get("top_logprobs") or []
        return {str(t["token"]): float(t["logprob"]) for t in top} or None
    first = (lp.get("top_logprobs") or [None])[0]
    return {str(k): float(v) for k, v in first.items()} if first else None


def _split_tokens(choices: list[dict[str, Any]], texts: list[str], total: int) -> list[int]:
    """Completion tokens per choice: the server's own count where it gives one (vLLM
    returns token ids or logprobs on request), else the usage total split by text length."""
    own = [
        c.get("completion_tokens") or len((c.get("logprobs") or {}).get("tokens") or [])
        for c in choices
    ]
    if all(own) or not total:
        return [int(x) for x in own]
    chars = [max(len(t), 1) for t in texts]
    shares = [total * c // sum(chars) for c in chars]
    shares[-1] += total - sum(shares)
    return shares
