"""What the harness costs over raw vLLM, and what n-sampling saves over repeated prompts.

Same prompts (arith problems, token ids from the harness's own prompt builder), same
``SamplingParams`` (per-request seeds included, so both sides generate the very same
tokens) and one engine loaded once for every measurement:

1. raw ``vllm.LLM.generate`` (one ``n=N`` request per problem) vs the harness driver
   (``harness.generate.generate``: plan, one engine request per sample streamed back as
   it finishes, a samples.jsonl append per sample, progress callback);
2. one request with ``SamplingParams(n=N)`` per problem vs the prompt sent N times with
   ``n=1`` (what lm-eval and EvalPlus do). The n=1 copies get seeds ``seed + k``, the
   seeds vLLM gives the k-th sample of an n=N request, so they produce the same tokens.

Raw and harness runs are paired in rounds (ABBA order, ``--rounds``) so load from other
processes hits both sides alike; the harness/raw ratio printed last is the median of the
per-round ratios (the total-token ratio is printed too). Both sides start each run with
an empty prefix cache.

Usage: ``python bench/generation_overhead.py [--problems 6] [--samples 16] [--rounds 6]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from harness.backends.vllm import VLLMBackend
from harness.core.backend import BackendConfig, GenRequest, GenResult
from harness.core.config import RunConfig
from harness.core.records import Sample, SamplingConfig
from tasks.arith import ArithTask


@dataclass
class Tally:
    tokens: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of this (front-end) process: the harness's own work
    first: float = 0.0  # seconds until the first sample was on disk (harness runs)

    def add(self, tokens: int, seconds: float, cpu: float = 0.0) -> None:
        self.tokens += tokens
        self.seconds += seconds
        self.cpu += cpu

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class SharedEngine:
    """Hands the driver an already-loaded backend and keeps it open after the run."""

    name = "vllm"

    def __init__(self, backend: VLLMBackend) -> None:
        self.backend = backend

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        return self.backend.generate(requests)

    def stream(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        return self.backend.stream(requests)  # what the driver uses: sample by sample

    def close(self) -> None:
        pass  # the bench closes the engine at the very end


def raw_generate(backend: VLLMBackend, prompts: list[list[int]], params: list[Any]) -> Tally:
    """``LLM.generate`` on token-id prompts; returns output tokens and wall time."""
    backend.llm.reset_prefix_cache()
    start, cpu = time.perf_counter(), time.process_time()
    outs = backend.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    t = Tally()
    t.add(sum(len(c.token_ids) for o in outs for c in o.outputs), elapsed, cpu)
    return t


def harness_generate(backend: VLLMBackend, cfg: RunConfig) -> Tally:
    """The driver end to end into a fresh run directory; returns output tokens and time."""
    from harness.generate import generate

    written = Tally()
    backend.llm.reset_prefix_cache()  # both sides start cold: each pays its own prefill

    def progress(samples: Sequence[Sample]) -> None:
        if not written.tokens:
            written.first = time.perf_counter() - start
        written.tokens += sum(s.completion_tokens for s in samples)

    start, cpu = time.perf_counter(), time.process_time()
    generate(cfg, backend=SharedEngine(backend), progress=progress)
    written.seconds = time.perf_counter() - start
    written.cpu = time.process_time() - cpu
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=6)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()

    task = ArithTask(seed=0)
    sampling = SamplingConfig(temperature=0.8, max_tokens=args.max_tokens, seed=0)
    backend = VLLMBackend(
        BackendConfig(model=args.model, sampling=sampling, completion_stop=task.stop)
    )
    problems = task.load()[: args.problems]
    requests = [GenRequest(p, tuple(range(args.samples))) for p in problems]
    prompts = [backend._prompt_ids(p) for p in problems]
    params = [backend._params(r) for r in requests]
    print(
        f"device {backend.device}, model {args.model}, {len(problems)} problems x "
        f"{args.samples} samples, max_tokens {args.max_tokens}, {args.rounds} rounds"
    )
    warm = [sp.clone() for sp in params]
    for sp in warm:
        sp.max_tokens = 8
    raw_generate(backend, prompts, warm)  # warm-up: first-call costs out of the way

    raw, ours = Tally(), Tally()
    ratios: list[float] = []
    firsts: list[float] = []  # first sample on disk / raw generate's wall time, per round
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            cfg = RunConfig(
                task="arith",
                model=args.model,
                backend="vllm",
                n=args.samples,
                limit=args.problems,
                out=Path(tmp) / f"run{r}",
                sampling=sampling,
            )
            # ABBA order: machine load drifting over time favours neither side.
            if r % 2 == 0:
                a = raw_generate(backend, prompts, params)
                b = harness_generate(backend, cfg)
            else:
                b = harness_generate(backend, cfg)
                a = raw_generate(backend, prompts, params)
            ratios.append(b.rate / a.rate)
            firsts.append(b.first / a.seconds)
            print(
                f"round {r}: raw {a.rate:7.1f} tok/s   harness {b.rate:7.1f} tok/s "
                f"({a.tokens} / {b.tokens} tokens)"
            )
            raw.add(a.tokens, a.seconds, a.cpu)
            ours.add(b.tokens, b.seconds, b.cpu)
            ours.first += b.first
        same = raw.tokens == ours.tokens
        print(f"same tokens generated on both sides: {same}")

    # n-sampling vs the prompt sent N times with n=1 (seeds chosen to give the same tokens).
    from vllm import SamplingParams

    copies, copy_params = [], []
    for p, sp in zip(prompts, params, strict=True):
        for k in range(args.samples):
            copies.append(p)
            copy_params.append(
                SamplingParams(
                    n=1,
                    temperature=sp.temperature,
                    top_p=sp.top_p,
                    min_p=sp.min_p,
                    max_tokens=sp.max_tokens,
                    stop=sp.stop,
                    seed=sp.seed + k,
                )
            )
    n_tally, rep_tally = Tally(), Tally()
    for _ in range(max(1, args.rounds // 2)):
        t = raw_generate(backend, copies, copy_params)
        rep_tally.add(t.tokens, t.seconds)
        t = raw_generate(backend, prompts, params)
        n_tally.add(t.tokens, t.seconds)
    backend.close()

    print(f"n-sampling (n={args.samples}):      {n_tally.rate:7.1f} tok/s")
    print(f"prompt repeated {args.samples}x (n=1):  {rep_tally.rate:7.1f} tok/s")
    print(f"n-sampling / repeated-prompt throughput ratio: {n_tally.rate / rep_tally.rate:.3f}")
    print(f"raw vllm.LLM.generate:  {raw.rate:7.1f} tok/s")
    print(f"harness generate:       {ours.rate:7.1f} tok/s")
    print(
        f"first sample on disk after {ours.first / args.rounds:.1f} s (mean), "
        f"{statistics.median(firsts):.3f} of raw LLM.generate's time for the whole batch, "
        "which returns nothing before its end (median of paired rounds)"
    )
    print(
        f"front-end process CPU: raw {raw.cpu:.2f} s, harness {ours.cpu:.2f} s "
        f"(of {raw.seconds:.0f} s / {ours.seconds:.0f} s wall)"
    )
    print(f"harness / raw, total tokens over total time: {ours.rate / raw.rate:.3f}")
    print(
        f"harness / raw throughput ratio: {statistics.median(ratios):.3f} "
        f"(median of {len(ratios)} paired rounds; goal >= 0.97)"
    )


if __name__ == "__main__":
    main()
