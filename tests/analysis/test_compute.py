"""FLOPs per the Large Language Monkeys formula, token accounting and prices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.compute import ModelSize, compute_curve, problem_compute, token_flops
from analysis.prices import load_prices
from harness.core.columns import TokenCounts
from harness.core.errors import UsageError

SIZE = ModelSize(params=1000, layers=2, d_model=8)


def per_token_sum(start: int, tokens: int) -> float:
    return sum(
        2 * (SIZE.params + 2 * SIZE.layers * SIZE.d_model * (start + t)) for t in range(tokens)
    )


def test_token_flops_sums_the_per_token_formula_exactly() -> None:
    for start, tokens in [(0, 1), (0, 17), (5, 0), (12, 33)]:
        assert float(token_flops(SIZE, start, tokens)) == per_token_sum(start, tokens)


def tokens() -> TokenCounts:
    # Two problems: prompts of 10 and 4 tokens; 3 and 2 samples.
    return TokenCounts(
        ["a", "b"],
        np.array([0, 0, 0, 1, 1], np.int32),
        np.array([10, 10, 10, 4, 4]),
        np.array([5, 7, 9, 2, 4]),
    )


def test_problem_compute_counts_prompt_once_and_decode_per_sample() -> None:
    pc = problem_compute(tokens(), SIZE)
    assert pc.prompt_tokens.tolist() == [10, 4]
    assert pc.completion_tokens.tolist() == [7, 3]
    assert pc.prompt_flops[0] == per_token_sum(0, 10)
    want = np.mean([per_token_sum(10, 5), per_token_sum(10, 7), per_token_sum(10, 9)])
    assert pc.sample_flops[0] == pytest.approx(want)


def test_compute_curve_shared_prefix_and_prices() -> None:
    pc = problem_compute(tokens(), SIZE)
    prices = load_prices()
    prices["models"]["toy"] = {"input": 1.0, "output": 2.0}
    shared = compute_curve(pc, ["a", "b"], [1, 2], [0.5, 0.7], "toy", prices)
    each = compute_curve(pc, ["a", "b"], [1, 2], [0.5, 0.7], "toy", prices, shared_prefix=False)
    prompt = pc.prompt_flops.sum()
    sample = pc.sample_flops.sum()
    assert shared["flops"].tolist() == pytest.approx([prompt + sample, prompt + 2 * sample])
    assert each["flops"].tolist() == pytest.approx([prompt + sample, 2 * (prompt + sample)])
    assert shared["prompt_tokens"].tolist() == [14, 14]
    assert shared["dollars"].iloc[1] == pytest.approx((14 * 1.0 + 20 * 2.0) / 1e6)
    assert set(shared["priced_by"]) == {"tokens"}
    gpu = compute_curve(pc, ["a", "b"], [1], [0.5], "unpriced", prices)
    g = prices["gpu"]
    want = gpu["flops"].iloc[0] / (g["peak_flops"] * g["utilization"]) / 3600 * g["usd_per_hour"]
    assert gpu["dollars"].iloc[0] == pytest.approx(want) and gpu["priced_by"].iloc[0] == "gpu"


def test_price_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"gpu": {"usd_per_hour": 9.0}, "models": {"m": {"input": 1, "output": 1}}})
    )
    monkeypatch.setenv("HARNESS_PRICES", str(path))
    table = load_prices()
    assert table["gpu"]["usd_per_hour"] == 9.0 and table["gpu"]["peak_flops"] > 0
    assert "m" in table["models"] and "llama-3.1-8b" in table["models"]
    path.write_text("[1]")
    with pytest.raises(UsageError):
        load_prices()
    monkeypatch.setenv("HARNESS_PRICES", str(tmp_path / "missing.json"))
    with pytest.raises(UsageError):
        load_prices()
