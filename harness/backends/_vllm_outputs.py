"""What vLLM hands back, read into the harness's records: a ``CompletionOutput`` as one
``Completion`` (text, tokens, finish reason, seed, mean token log-probability, the first
token's top candidates)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.core.backend import Completion


def completion(output: Any, seed: int | None, top_logprobs: bool = False) -> Completion:
    """One vLLM ``CompletionOutput`` as a sample: every per-sample fact is read here."""
    return Completion(
        text=output.text,
        completion_tokens=len(output.token_ids),
        finish_reason=output.finish_reason or "unknown",
        seed=seed,
        mean_logprob=mean_logprob(output.cumulative_logprob, len(output.token_ids)),
        top_logprobs=first_token_logprobs(output) if top_logprobs else None,
    )


def mean_logprob(cumulative: float | None, tokens: int) -> float | None:
    """The mean token log-probability of a sample (None when not requested or empty)."""
    if cumulative is None or tokens <= 0:
        return None
    return float(cumulative) / tokens


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
