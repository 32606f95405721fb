"""Compute accounting: tokens, FLOPs and dollars to draw k samples per problem.

FLOPs per token follow Large Language Monkeys (after Kaplan et al. 2020):
2 * (params + 2 * layers * d_model * context), where context is the number of tokens
already in the sequence when the token is processed. A prompt shared by all samples of a
problem is processed once (prefix caching); every sample decodes its own tokens on top
of it. Summed exactly over positions, T tokens starting at context s cost
2*N*T + 4*l*d*(s*T + T*(T-1)/2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.prices import dollars
from harness.core.columns import TokenCounts

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelSize:
    """The three numbers the FLOP formula needs."""

    params: int
    layers: int
    d_model: int
    source: str = "given"


def token_flops(size: ModelSize, start: npt.ArrayLike, tokens: npt.ArrayLike) -> FloatArray:
    """FLOPs of processing ``tokens`` tokens that start at context length ``start``."""
    s = np.asarray(start, dtype=np.float64)
    t = np.asarray(tokens, dtype=np.float64)
    attn = 2.0 * size.layers * size.d_model
    out: FloatArray = 2.0 * (size.params * t + attn * (s * t + t * (t - 1) / 2.0))
    return out


@dataclass(frozen=True)
class ProblemCompute:
    """Per-problem cost of the prompt and of one average sample.

    Attributes:
        problem_ids: Problem ids, aligned with the arrays.
        prompt_tokens: Prompt length of each problem.
        completion_tokens: Mean generated tokens per sample of each problem.
        prompt_flops: FLOPs of processing each prompt once.
        sample_flops: Mean FLOPs of decoding one sample of each problem.
    """

    problem_ids: list[str]
    prompt_tokens: FloatArray
    completion_tokens: FloatArray
    prompt_flops: FloatArray
    sample_flops: FloatArray


def problem_compute(tokens: TokenCounts, size: ModelSize) -> ProblemCompute:
    """Aggregate per-sample token counts of ``samples.jsonl`` into per-problem costs."""
    count = np.bincount(tokens.problem, minlength=len(tokens.problem_ids)).astype(np.float64)
    count = np.maximum(count, 1.0)
    # Every sample of a problem carries the same prompt; the max ignores zeros from
    # backends that did not report it for some samples.
    prompt = np.zeros(len(tokens.problem_ids))
    np.maximum.at(prompt, tokens.problem, tokens.prompt_tokens.astype(np.float64))
    decode = token_flops(size, prompt[tokens.problem], tokens.completion_tokens)
    return ProblemCompute(
        problem_ids=tokens.problem_ids,
        prompt_tokens=prompt,
        completion_tokens=np.bincount(
            tokens.problem, weights=tokens.completion_tokens, minlength=prompt.size
        )
        / count,
        prompt_flops=token_flops(size, 0.0, prompt),
        sample_flops=np.bincount(tokens.problem, weights=decode, minlength=prompt.size) / count,
    )


def compute_curve(
    pc: ProblemCompute,
    problem_ids: list[str],
    ks: npt.ArrayLike,
    coverage: npt.ArrayLike,
    model: str,
    prices: dict[str, Any],
    shared_prefix: bool = True,
) -> pd.DataFrame:
    """Cost of k samples per problem over the problems analysed, with the coverage bought.

    Args:
        pc: Per-problem costs from :func:`problem_compute`.
        problem_ids: The problems the coverage is over (others in ``pc`` are ignored;
            problems without token counts cost the mean of those with).
        ks: The k values.
        coverage: Coverage at each k.
        model: Model name for the price table.
        prices: Price table (:func:`analysis.prices.load_prices`).
        shared_prefix: Count each prompt once per problem (True) or once per sample.

    Returns:
        Columns k, coverage, prompt_tokens, completion_tokens, flops, dollars, priced_by.
    """
    k = np.asarray(ks, dtype=np.float64)
    index = {pid: i for i, pid in enumerate(pc.problem_ids)}
    rows = np.asarray([index.get(pid, -1) for pid in problem_ids], dtype=np.int64)
    known = rows >= 0

    def per_problem(values: FloatArray) -> FloatArray:
        fill = float(values[rows[known]].mean()) if known.any() else 0.0
        return np.where(known, values[np.maximum(rows, 0)], fill)

    prompt_tok = per_problem(pc.prompt_tokens).sum()
    sample_tok = per_problem(pc.completion_tokens).sum()
    prompt_fl = per_problem(pc.prompt_flops).sum()
    sample_fl = per_problem(pc.sample_flops).sum()
    prompts = np.full(k.shape, prompt_tok) if shared_prefix else k * prompt_tok
    prompt_flops = np.full(k.shape, prompt_fl) if shared_prefix else k * prompt_fl
    flops = prompt_flops + k * sample_fl
    completion = k * sample_tok
    cost = [
        dollars(model, f, p, c, prices) for f, p, c in zip(flops, prompts, completion, strict=True)
    ]
    return pd.DataFrame(
        {
            "k": np.asarray(ks, dtype=np.int64),
            "coverage": np.asarray(coverage, dtype=np.float64),
            "prompt_tokens": prompts,
            "completion_tokens": completion,
            "flops": flops,
            "dollars": [x[0] for x in cost],
            "priced_by": [x[1] for x in cost],
        }
    )
