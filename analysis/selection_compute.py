"""Compute of verification: what a selection method spends on judge and reward-model calls,
beside what generation spent, so accuracy can be read against total compute.

Every call a model-based verifier made is a line of ``judgements/<verifier>.jsonl`` with
its prompt and generated tokens. A call's FLOPs follow ``analysis.compute.token_flops``
for the verifier's own model: the prompt processed once from an empty context, then the
generated tokens on top of it. The prompt is counted in full for every call; the engine's
prefix cache, which shares a problem's tokens across its calls, makes the true cost lower.

A method's verification cost at k, per problem: ``k x calls per sample`` pointwise calls
for best-of-k and the weighted vote (every candidate is scored), and the mean calls its
recorded picks needed for verification@k and tournament@k (a tournament over k samples
plays k - 1 matches, each one or two calls). Costs are summed over the problems analysed,
like generation's in ``compute.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.compute import ModelSize, token_flops

FloatArray = npt.NDArray[np.float64]
FREE = ("coverage", "majority")  # need no verifier model (coverage: an oracle's)


@dataclass(frozen=True)
class CallCost:
    """What one verifier's calls cost, summed over the problems (each problem's mean call).

    Attributes:
        pointwise_flops: FLOPs of one pointwise call (one candidate), summed over problems.
        pairwise_flops: FLOPs of one pairwise call (two candidates), summed over problems.
        pointwise_tokens: Tokens (prompt + generated) of one pointwise call, summed likewise.
        pairwise_tokens: Tokens of one pairwise call, summed likewise.
        calls_per_sample: Pointwise calls per scored sample (k_verif of a sampled judge).
    """

    pointwise_flops: float
    pairwise_flops: float
    pointwise_tokens: float
    pairwise_tokens: float
    calls_per_sample: float


def _per_problem(values: pd.Series, problem_ids: list[str]) -> FloatArray:
    """Each problem's mean; problems without calls of this kind take the mean of those with."""
    means = values.groupby(level=0).mean()
    got = np.asarray([means.get(pid, np.nan) for pid in problem_ids], dtype=np.float64)
    fill = float(np.nanmean(got)) if np.isfinite(got).any() else 0.0
    out: FloatArray = np.where(np.isfinite(got), got, fill)
    return out


def call_costs(judgements: pd.DataFrame, problem_ids: list[str], size: ModelSize) -> CallCost:
    """The cost of one verifier's calls over ``problem_ids``.

    Args:
        judgements: Columns problem_id, a, b (null for pointwise), prompt_tokens,
            completion_tokens: one row per call.
        problem_ids: The problems analysed.
        size: The verifier model's size.
    """
    j = judgements[judgements["problem_id"].astype(str).isin(set(problem_ids))]
    prompt = j["prompt_tokens"].to_numpy(np.float64)
    gen = j["completion_tokens"].to_numpy(np.float64)
    flops = token_flops(size, 0.0, prompt) + token_flops(size, prompt, gen)
    index = pd.Index(j["problem_id"].astype(str))
    pairwise = j["b"].notna().to_numpy()
    table = pd.DataFrame({"flops": flops, "tokens": prompt + gen}, index=index)
    point, pair = table[~pairwise], table[pairwise]
    per_sample = (
        float(j[~pairwise].groupby(["problem_id", "a"]).size().mean()) if (~pairwise).any() else 0.0
    )
    return CallCost(
        pointwise_flops=float(_per_problem(point["flops"], problem_ids).sum())
        if len(point)
        else 0.0,
        pairwise_flops=float(_per_problem(pair["flops"], problem_ids).sum()) if len(pair) else 0.0,
        pointwise_tokens=float(_per_problem(point["tokens"], problem_ids).sum())
        if len(point)
        else 0.0,
        pairwise_tokens=float(_per_problem(pair["tokens"], problem_ids).sum())
        if len(pair)
        else 0.0,
        calls_per_sample=per_sample,
    )


def selection_compute(
    selection: pd.DataFrame,
    generation_flops: npt.ArrayLike,
    costs: Mapping[str, CallCost],
    pick_calls: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Every selection method's accuracy against generation + verification FLOPs.

    Args:
        selection: ``selection.csv``: k, coverage, majority, ``<method>:<verifier>``.
        generation_flops: Generation FLOPs at each k of ``selection`` (all problems).
        costs: Verifier -> its call costs (verifiers without one are left out).
        pick_calls: ``<method>:<verifier>`` -> columns k, pointwise_calls, pairwise_calls
            (mean per problem) for methods scored from recorded picks.

    Returns:
        Long table: method, k, accuracy, generation_flops, verification_flops,
        total_flops, verification_tokens (NaN accuracy rows dropped).
    """
    k = selection["k"].to_numpy(np.float64)
    gen = np.asarray(generation_flops, dtype=np.float64)
    frames = []
    for column in selection.columns:
        if column == "k" or column.endswith((":lo", ":hi")):
            continue
        if column in FREE:
            flops = tokens = np.zeros(k.size)
        else:
            verifier = column.partition(":")[2]
            cost = costs.get(verifier)
            if cost is None:
                continue
            if column in pick_calls:
                calls = pick_calls[column].set_index("k").reindex(selection["k"])
                point = calls["pointwise_calls"].to_numpy(np.float64)
                pair = calls["pairwise_calls"].to_numpy(np.float64)
            else:
                point = k * cost.calls_per_sample
                pair = np.zeros(k.size)
            flops = point * cost.pointwise_flops + pair * cost.pairwise_flops
            tokens = point * cost.pointwise_tokens + pair * cost.pairwise_tokens
        frame = pd.DataFrame(
            {
                "method": column,
                "k": selection["k"].to_numpy(np.int64),
                "accuracy": selection[column].to_numpy(np.float64),
                "generation_flops": gen,
                "verification_flops": flops,
                "total_flops": gen + flops,
                "verification_tokens": tokens,
            }
        )
        frames.append(frame[np.isfinite(frame["accuracy"]) & np.isfinite(frame["total_flops"])])
    if not frames:
        return pd.DataFrame(
            columns=[
                "method",
                "k",
                "accuracy",
                "generation_flops",
                "verification_flops",
                "total_flops",
                "verification_tokens",
            ]
        )
    return pd.concat(frames, ignore_index=True)
