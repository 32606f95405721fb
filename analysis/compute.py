"""Compute accounting: tokens, FLOPs, memory-aware eFLOPs and dollars to draw k samples
per problem.

FLOPs per token follow Large Language Monkeys (after Kaplan et al. 2020):
2 * (params + 2 * layers * d_model * context), where context is the number of tokens
already in the sequence when the token is processed; with grouped-query attention the
attention term is 4 * context * n_heads * head_dim * layers (n_heads * head_dim is
d_model in most models). A prompt shared by all samples of a problem is processed once
(prefix caching); every sample decodes its own tokens on top of it. Summed exactly over
positions, T tokens starting at context s cost 2*N*T + 4*l*d*(s*T + T*(T-1)/2).

FLOPs ignore the memory traffic that dominates decoding many long samples from a small
model. Kinetics (Sadhukhan et al. 2025) prices it: eFLOPs = compute + I * memory, where
memory counts the KV-cache elements read per generated token (2 * n_kv_heads * head_dim
* layers per context position, per sample; the prompt's KV read once per decoding step
for all samples of a problem, which share it) and I is the accelerator's FLOPs per
memory element (peak FLOP/s over bandwidth in elements/s; ``ACCELERATORS``). T generated
tokens after a prompt of s read kv * (T*s + k*T*(T-1)/2) elements for k samples sharing
the prompt, kv * k * (T*s + T*(T-1)/2) without sharing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.prices import dollars
from harness.core.coltypes import TokenCounts
from harness.core.errors import UsageError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelSize:
    """The numbers the FLOP formula needs, and the attention shape eFLOPs need.

    Attributes:
        params: Parameter count.
        layers: Transformer layers.
        d_model: Hidden size.
        source: Where the numbers come from (config.json, table, --model-size).
        n_heads: Attention (query) heads; with ``head_dim``, the attention width.
        n_kv_heads: Key/value heads (grouped-query attention).
        head_dim: Width of one head.
    """

    params: int
    layers: int
    d_model: int
    source: str = "given"
    n_heads: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None

    @property
    def attention_width(self) -> int:
        """n_heads * head_dim where known, else d_model."""
        if self.n_heads and self.head_dim:
            return self.n_heads * self.head_dim
        return self.d_model

    @property
    def memory_aware(self) -> bool:
        """Whether the KV-cache shape is known (eFLOPs need it)."""
        return bool(self.n_kv_heads and self.head_dim)


def token_flops(size: ModelSize, start: npt.ArrayLike, tokens: npt.ArrayLike) -> FloatArray:
    """FLOPs of processing ``tokens`` tokens that start at context length ``start``."""
    s = np.asarray(start, dtype=np.float64)
    t = np.asarray(tokens, dtype=np.float64)
    attn = 2.0 * size.layers * size.attention_width
    out: FloatArray = 2.0 * (size.params * t + attn * (s * t + t * (t - 1) / 2.0))
    return out


def kv_memory_elements(
    *,
    layers: int,
    n_kv_heads: int,
    head_dim: int,
    prompt_tokens: npt.ArrayLike,
    output_tokens: npt.ArrayLike,
    trials: npt.ArrayLike = 1,
    shared_prompt: bool = True,
) -> FloatArray:
    """KV-cache elements read while ``trials`` samples each generate ``output_tokens``
    tokens after a prompt of ``prompt_tokens``.

    Generated token j (0-based) of a sample reads the keys and values of the
    ``prompt + j`` positions before it: 2 * n_kv_heads * head_dim * layers elements per
    position. With ``shared_prompt`` the samples of a problem decode in one batch and
    read the prompt's KV once per step for all of them (prefix sharing); otherwise each
    sample reads it for itself.

    Returns:
        kv * (T*s + trials*T*(T-1)/2) shared, kv * trials * (T*s + T*(T-1)/2) otherwise.
    """
    per_position = 2.0 * n_kv_heads * head_dim * layers
    s = np.asarray(prompt_tokens, dtype=np.float64)
    t = np.asarray(output_tokens, dtype=np.float64)
    k = np.asarray(trials, dtype=np.float64)
    own = k * t * (t - 1) / 2.0
    prompt = t * s if shared_prompt else k * t * s
    out: FloatArray = per_position * (prompt + own)
    return out


def compute_flops(
    *,
    params: int,
    layers: int,
    n_heads: int,
    head_dim: int,
    prompt_tokens: npt.ArrayLike,
    output_tokens: npt.ArrayLike,
    trials: npt.ArrayLike = 1,
    shared_prompt: bool = True,
) -> FloatArray:
    """FLOPs of prefilling the prompt (once when shared) and decoding ``trials`` samples:
    2 * params + 4 * context * n_heads * head_dim * layers per token."""
    size = ModelSize(params, layers, n_heads * head_dim, n_heads=n_heads, head_dim=head_dim)
    k = np.asarray(trials, dtype=np.float64)
    prefill = token_flops(size, 0.0, prompt_tokens)
    out: FloatArray = (1.0 if shared_prompt else k) * prefill + k * token_flops(
        size, prompt_tokens, output_tokens
    )
    return out


def eflops(
    *,
    params: int,
    layers: int,
    n_heads: int,
    n_kv_heads: int,
    head_dim: int,
    prompt_tokens: npt.ArrayLike,
    output_tokens: npt.ArrayLike,
    trials: npt.ArrayLike = 1,
    intensity: float,
    shared_prompt: bool = True,
) -> FloatArray:
    """Kinetics' memory-aware cost: :func:`compute_flops` + ``intensity`` *
    :func:`kv_memory_elements` (``intensity``: FLOPs per memory element, ``ACCELERATORS``)."""
    compute = compute_flops(
        params=params,
        layers=layers,
        n_heads=n_heads,
        head_dim=head_dim,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        trials=trials,
        shared_prompt=shared_prompt,
    )
    memory = kv_memory_elements(
        layers=layers,
        n_kv_heads=n_kv_heads,
        head_dim=head_dim,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        trials=trials,
        shared_prompt=shared_prompt,
    )
    out: FloatArray = compute + intensity * memory
    return out


@dataclass(frozen=True)
class Accelerator:
    """Datasheet numbers of one accelerator: dense bf16 peak and memory bandwidth."""

    name: str
    peak_flops: float
    bandwidth: float  # bytes/s
    source: str

    @property
    def intensity(self) -> float:
        """FLOPs per bf16 element moved: peak / (bandwidth / 2 bytes)."""
        return self.peak_flops / (self.bandwidth / 2.0)


# Vendor datasheets (dense, no sparsity); I = peak / (bandwidth / 2 bytes per bf16 element).
ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in [
        Accelerator(
            "a100", 312e12, 2.039e12, "NVIDIA A100 80GB SXM datasheet: 312 TFLOPS bf16, 2,039 GB/s"
        ),
        Accelerator(
            "h100", 989e12, 3.35e12, "NVIDIA H100 SXM datasheet: 989 TFLOPS bf16, 3.35 TB/s"
        ),
        Accelerator("h200", 989e12, 4.8e12, "NVIDIA H200 SXM datasheet: 989 TFLOPS bf16, 4.8 TB/s"),
        Accelerator(
            "b200", 2.25e15, 8e12, "NVIDIA HGX B200 datasheet: 2.25 PFLOPS bf16, 8 TB/s per GPU"
        ),
        Accelerator("l40s", 362e12, 864e9, "NVIDIA L40S datasheet: 362 TFLOPS bf16, 864 GB/s"),
        Accelerator("a10", 125e12, 600e9, "NVIDIA A10 datasheet: 125 TFLOPS bf16, 600 GB/s"),
        Accelerator(
            "mi300x", 1307e12, 5.3e12, "AMD Instinct MI300X datasheet: 1,307 TFLOPS bf16, 5.3 TB/s"
        ),
    ]
}
DEFAULT_ACCELERATOR = "h100"


def resolve_intensity(value: str | float | None) -> tuple[float, str]:
    """(I, what it is) for an accelerator name (``ACCELERATORS``) or a number of FLOPs
    per memory element; None gives the default accelerator.

    Raises:
        UsageError: an unknown name, or a number that is not positive.
    """
    if value is None:
        value = DEFAULT_ACCELERATOR
    text = str(value).strip().lower()
    if text in ACCELERATORS:
        acc = ACCELERATORS[text]
        return acc.intensity, f"{acc.name}: I = {acc.intensity:.0f} ({acc.source})"
    try:
        number = float(text)
    except ValueError:
        raise UsageError(
            f"--intensity must be an accelerator ({', '.join(ACCELERATORS)}) or a number of "
            f"FLOPs per memory element, got {value!r}"
        ) from None
    if not number > 0 or not np.isfinite(number):
        raise UsageError(f"--intensity must be a positive number, got {value!r}")
    return number, f"I = {number:g} FLOPs per memory element (given)"


@dataclass(frozen=True)
class ProblemCompute:
    """Per-problem cost of the prompt and of one average sample.

    Attributes:
        problem_ids: Problem ids, aligned with the arrays.
        prompt_tokens: Prompt length of each problem.
        completion_tokens: Mean generated tokens per sample of each problem.
        prompt_flops: FLOPs of processing each prompt once.
        sample_flops: Mean FLOPs of decoding one sample of each problem.
        prompt_kv: KV elements of the prompt read while one sample of mean length
            decodes (read once per problem when the prompt is shared); None when the
            model's KV shape is unknown.
        sample_kv: Mean KV elements a sample reads of its own generated tokens.
    """

    problem_ids: list[str]
    prompt_tokens: FloatArray
    completion_tokens: FloatArray
    prompt_flops: FloatArray
    sample_flops: FloatArray
    prompt_kv: FloatArray | None = None
    sample_kv: FloatArray | None = None


def problem_compute(tokens: TokenCounts, size: ModelSize) -> ProblemCompute:
    """Aggregate per-sample token counts of ``samples.jsonl`` into per-problem costs."""
    count = np.bincount(tokens.problem, minlength=len(tokens.problem_ids)).astype(np.float64)
    count = np.maximum(count, 1.0)
    # Every sample of a problem carries the same prompt; the max ignores zeros from
    # backends that did not report it for some samples.
    prompt = np.zeros(len(tokens.problem_ids))
    np.maximum.at(prompt, tokens.problem, tokens.prompt_tokens.astype(np.float64))
    decode = token_flops(size, prompt[tokens.problem], tokens.completion_tokens)

    def mean(values: npt.ArrayLike) -> FloatArray:
        out: FloatArray = np.bincount(tokens.problem, weights=values, minlength=prompt.size) / count
        return out

    completion = mean(tokens.completion_tokens)
    prompt_kv = sample_kv = None
    if size.memory_aware:
        assert size.n_kv_heads is not None and size.head_dim is not None
        per_position = 2.0 * size.n_kv_heads * size.head_dim * size.layers
        # The prompt's KV, read at every step of a sample of the problem's mean length
        # (exact per sample when each reads it alone; shared, over the mean length)...
        prompt_kv = per_position * prompt * completion
        # ... and a sample's reads of its own tokens, exact per sample.
        t = tokens.completion_tokens.astype(np.float64)
        sample_kv = mean(per_position * t * (t - 1) / 2.0)
    return ProblemCompute(
        problem_ids=tokens.problem_ids,
        prompt_tokens=prompt,
        completion_tokens=completion,
        prompt_flops=token_flops(size, 0.0, prompt),
        sample_flops=mean(decode),
        prompt_kv=prompt_kv,
        sample_kv=sample_kv,
    )


def compute_curve(
    pc: ProblemCompute,
    problem_ids: list[str],
    ks: npt.ArrayLike,
    coverage: npt.ArrayLike,
    model: str,
    prices: dict[str, Any],
    shared_prefix: bool = True,
    intensity: float | None = None,
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
        intensity: FLOPs per memory element (``ACCELERATORS``): adds kv_memory and
            eflops columns where ``pc`` knows the KV shape.

    Returns:
        Columns k, coverage, prompt_tokens, completion_tokens, flops, [kv_memory,
        eflops,] dollars (NaN where no price is known), priced_by.
    """
    k = np.asarray(ks, dtype=np.float64)
    index = {pid: i for i, pid in enumerate(pc.problem_ids)}
    rows = np.asarray([index.get(pid, -1) for pid in problem_ids], dtype=np.int64)
    known = rows >= 0

    def total(values: FloatArray) -> float:
        fill = float(values[rows[known]].mean()) if known.any() else 0.0
        return float(np.where(known, values[np.maximum(rows, 0)], fill).sum())

    def scaled(prompt: float, sample: float) -> FloatArray:
        out: FloatArray = (prompt if shared_prefix else k * prompt) + k * sample
        return out

    prompts = scaled(total(pc.prompt_tokens), 0.0)
    completion = k * total(pc.completion_tokens)
    flops = scaled(total(pc.prompt_flops), total(pc.sample_flops))
    frame = pd.DataFrame(
        {
            "k": np.asarray(ks, dtype=np.int64),
            "coverage": np.asarray(coverage, dtype=np.float64),
            "prompt_tokens": prompts,
            "completion_tokens": completion,
            "flops": flops,
        }
    )
    if intensity is not None and pc.prompt_kv is not None and pc.sample_kv is not None:
        frame["kv_memory"] = scaled(total(pc.prompt_kv), total(pc.sample_kv))
        frame["eflops"] = flops + intensity * frame["kv_memory"].to_numpy()
    cost = [
        dollars(model, f, p, c, prices) for f, p, c in zip(flops, prompts, completion, strict=True)
    ]
    frame["dollars"] = [x[0] for x in cost]
    frame["priced_by"] = [x[1] for x in cost]
    return frame
