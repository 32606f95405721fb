"""``openai``: samples from any OpenAI-compatible HTTP server (vLLM, SGLang, TGI, hosted APIs).

One request per ``GenRequest`` with ``n`` set, many requests in flight at once (threads).
Where the server streams per-choice token counts (vLLM: ``stream_options`` with
``continuous_usage_stats``; ``stream=auto`` detects it from ``/models``), each choice is
read from the server-sent event stream and yielded the moment it finishes; otherwise the
request is read whole and its choices yielded together. ``/v1/chat/completions`` is used
when the chat template applies (``--chat``, or by default whenever the problem has chat messages),
``/v1/completions`` with the raw prompt otherwise. Transient failures (connection
errors, 429, 5xx) are retried with exponential backoff; anything else stops the run
(samples already written stay written, and re-running resumes).

Options (``--backend-opt KEY=VALUE``): ``base_url`` (default ``$OPENAI_BASE_URL`` or
``http://127.0.0.1:8000/v1``), ``concurrency`` (requests in flight, 8), ``timeout``
(seconds, 600), ``retries`` (5), ``backoff`` (first retry delay in seconds, 1.0) and
``max_n`` (the largest ``n`` the server takes in one request; bigger ones are split) and
``stream`` (auto, true or false: read each choice as it finishes; with ``true`` on a
server that does not count tokens per choice, a choice's tokens are its streamed chunks).
The API key comes from ``$OPENAI_API_KEY`` and is never written anywhere.
"""

from __future__ import annotations

import json
import os
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult, gather
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
    stream: str = option(
        "auto",
        "read each choice as it finishes (auto: where the server counts its tokens)",
        choices=("auto", "true", "false"),
    )


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
        self.server_models, owners = self._check_server()
        # vLLM counts each streamed choice's tokens (continuous usage stats).
        self.per_choice_usage = "vllm" in owners
        self.stream_choices = opts.stream == "true" or (
            opts.stream == "auto" and self.per_choice_usage
        )

    def _check_server(self) -> tuple[list[str], set[str]]:
        """Fail fast, in one line, when the server is not there or lacks the model."""
        import httpx

        try:
            resp = self.client.get("/models", timeout=30)
        except httpx.HTTPError as e:
            raise UsageError(f"backend openai: cannot reach {self.base_url} ({e})") from None
        if resp.status_code != 200:
            return [], set()  # some servers have no /models; the first request will tell
        data = resp.json().get("data", [])
        models = [m.get("id", "") for m in data]
        if models and self.config.model not in models:
            raise UsageError(
                f"backend openai: {self.base_url} serves {', '.join(models)}, "
                f"not {self.config.model!r} (pass --model with one of those)"
            )
        return models, {str(m.get("owned_by", "")) for m in data}

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "base_url": self.base_url,
            "server_models": ",".join(self.server_models),
            "completion_tokens": "per choice when the server reports it, else usage split "
            "by text length",
            "stream": self.stream_choices,
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
        # A judge's call reads the first token's top log-probabilities from the whole reply.
        if self.stream_choices and not req.top_logprobs:
            body["stream"] = True
            usage: dict[str, bool] = {"include_usage": True}
            if self.per_choice_usage:
                usage["continuous_usage_stats"] = True
            body["stream_options"] = usage
        return path, body

    def _choices(self, path: str, body: dict[str, Any]) -> Iterator[tuple[int, Completion, int]]:
        """(choice index, completion, prompt tokens) of one request, each as soon as it is
        finished. Raises ``_Transient`` for what a retry may fix."""
        import httpx

        try:
            with self.client.stream("POST", path, json=body) as resp:
                if resp.status_code != 200:
                    resp.read()
                    error = f"{self.base_url}{path}: HTTP {resp.status_code}: {resp.text[:300]}"
                    if resp.status_code in RETRY_STATUS:
                        raise _Transient(error)
                    raise ServerError(error)
                if resp.headers.get("content-type", "").startswith("text/event-stream"):
                    yield from _read_events(resp.iter_lines(), body["n"])
                    return
                resp.read()
                yield from _read_whole(resp.json(), body["n"], "logprobs" in body)
        except httpx.TransportError as e:
            raise _Transient(f"{self.base_url}{path}: {e}") from e

    def _one(self, req: GenRequest, emit: Callable[[GenResult], None]) -> None:
        """Every sample of ``req``, each passed to ``emit`` as soon as it is finished.

        A transient failure is retried with backoff, for the samples not yet emitted
        only: the server seeds choice k of a request ``seed + k``, so each retried run of
        consecutive indices asks with the seed of its first index and gets the same ones.
        """
        seed = (req.sampling or self.config.sampling).seed
        todo = list(req.sample_indices)
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                for run in _runs(todo, self.max_n):
                    path, body = self._body(req, len(run), run[0])
                    for k, completion, prompt_tokens in self._choices(path, body):
                        idx = run[k]
                        todo.remove(idx)
                        emit(GenResult(req.part([idx]), [completion], prompt_tokens, seed + idx))
                return
            except _Transient as e:
                if attempt == self.retries:
                    raise ServerError(str(e)) from e
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    def stream(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Keep ``concurrency`` requests in flight; yield each sample as soon as it is done."""
        todo = (r for r in requests if r.n)
        # (a sample, None), (None, None) when a request is done, (None, error) if it failed.
        arrived: queue.SimpleQueue[tuple[GenResult | None, BaseException | None]]
        arrived = queue.SimpleQueue()

        def work(req: GenRequest) -> None:
            try:
                self._one(req, lambda result: arrived.put((result, None)))
            except BaseException as e:
                arrived.put((None, e))
            else:
                arrived.put((None, None))

        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        running = 0
        try:
            while True:
                while running < self.concurrency and (req := next(todo, None)) is not None:
                    pool.submit(work, req)
                    running += 1
                if not running:
                    return
                result, error = arrived.get()
                if result is not None:
                    yield result
                    continue
                running -= 1
                if error is not None:  # a request that failed for good stops the run
                    raise error
        finally:
            # Stopped early (an error, Ctrl-C): drop what has not started and do not wait
            # for the requests in flight (closing the client cuts them off).
            pool.shutdown(wait=False, cancel_futures=True)

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Keep ``concurrency`` requests in flight; yield each request when it is done."""
        return gather(self.stream, requests)

    def close(self) -> None:
        self.client.close()


class _Transient(RuntimeError):
    """A failure that a retry may fix (connection error, 429, 5xx)."""


def _runs(indices: list[int], max_n: int) -> Iterator[list[int]]:
    """Runs of consecutive indices, each at most ``max_n`` long."""
    run: list[int] = []
    for idx in indices:
        if run and (idx != run[-1] + 1 or len(run) == max_n):
            yield run
            run = []
        run.append(idx)
    if run:
        yield run


def _text(choice: dict[str, Any]) -> str:
    if "message" in choice:
        return str(choice["message"].get("content") or "")
    if "delta" in choice:
        return str(choice["delta"].get("content") or "")
    return str(choice.get("text") or "")


def _read_whole(
    data: dict[str, Any], n: int, top_logprobs: bool = False
) -> Iterator[tuple[int, Completion, int]]:
    """The choices of a whole (non-streamed) response, in index order (with the first
    token's top log-probabilities when they were asked for)."""
    choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
    if len(choices) != n:
        raise ServerError(f"server returned {len(choices)} choices for n={n}")
    usage = data.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    texts = [_text(c) for c in choices]
    tokens = _split_tokens(choices, texts, int(usage.get("completion_tokens") or 0))
    for k, (t, count, c) in enumerate(zip(texts, tokens, choices, strict=True)):
        top = first_token_logprobs(c) if top_logprobs else None
        finish = c.get("finish_reason") or "unknown"
        yield k, Completion(t, count, finish, top_logprobs=top), prompt_tokens


def _read_events(lines: Iterator[str], n: int) -> Iterator[tuple[int, Completion, int]]:
    """The choices of a server-sent event stream, each when its finish_reason arrives.

    A choice's tokens are the server's own count where it streams one per choice
    (vLLM's continuous usage stats), else the number of chunks that carried it.
    """
    texts: dict[int, list[str]] = {}
    chunks: dict[int, int] = {}
    counted: dict[int, int] = {}
    prompt_tokens = 0
    finished = 0
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        event = json.loads(payload)
        if "error" in event:
            raise ServerError(f"server error in the stream: {str(event['error'])[:300]}")
        usage = event.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or prompt_tokens)
        choices = event.get("choices") or []
        for c in choices:
            k = int(c.get("index", 0))
            texts.setdefault(k, []).append(_text(c))
            chunks[k] = chunks.get(k, 0) + 1
            if len(choices) == 1 and usage.get("completion_tokens") is not None:
                counted[k] = int(usage["completion_tokens"])
            if c.get("finish_reason"):
                finished += 1
                tokens = counted.get(k, chunks[k])
                text = "".join(texts.pop(k))
                yield k, Completion(text, tokens, str(c["finish_reason"])), prompt_tokens
    if finished != n:
        raise _Transient(f"the stream ended with {finished} of {n} choices finished")


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
