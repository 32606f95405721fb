"""FLOPs per the Large Language Monkeys formula, token accounting and prices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.compute import ModelSize, compute_curve, problem_compute, token_flops
from analysis.prices import load_prices
from harness.core.coltypes import TokenCounts
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
    # A model without a token price gets no dollar figure, unless the table rents a GPU.
    none = compute_curve(pc, ["a", "b"], [1], [0.5], "unpriced", prices)
    assert np.isnan(none["dollars"].iloc[0]) and none["priced_by"].iloc[0] == "none"
    prices["gpu"] = {"name": "rented", "usd_per_hour": 2.0, "peak_flops": 1e15, "utilization": 0.5}
    gpu = compute_curve(pc, ["a", "b"], [1], [0.5], "unpriced", prices)
    g = prices["gpu"]
    want = gpu["flops"].iloc[0] / (g["peak_flops"] * g["utilization"]) / 3600 * g["usd_per_hour"]
    assert gpu["dollars"].iloc[0] == pytest.approx(want) and gpu["priced_by"].iloc[0] == "gpu"


def test_price_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "gpu": {"usd_per_hour": 9.0, "peak_flops": 1e15, "utilization": 0.4},
                "models": {"m": {"input": 1, "output": 1}},
            }
        )
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


# -- memory-aware cost (Kinetics eFLOPs) -------------------------------------------------

ARCH = {"params": 1000, "layers": 2, "n_heads": 4, "n_kv_heads": 2, "head_dim": 3}


def kv_by_position(prompt: int, lengths: list[int], shared: bool) -> int:
    """KV elements read, counted one generated token of one sample at a time."""
    per_position = 2 * ARCH["n_kv_heads"] * ARCH["head_dim"] * ARCH["layers"]
    total = 0
    for step in range(max(lengths)):
        if shared and step < lengths[0]:
            total += prompt * per_position  # the batch reads the shared prompt once a step
        for length in lengths:
            if step < length:
                own = step  # positions this sample generated before this token
                total += (own + (0 if shared else prompt)) * per_position
    return total


def flops_by_position(prompt: int, lengths: list[int], shared: bool) -> int:
    width = ARCH["n_heads"] * ARCH["head_dim"]
    per = lambda ctx: 2 * ARCH["params"] + 4 * ctx * width * ARCH["layers"]  # noqa: E731
    prefill = sum(per(c) for c in range(prompt))
    total = prefill * (1 if shared else len(lengths))
    for length in lengths:
        total += sum(per(prompt + j) for j in range(length))
    return total


def test_kv_memory_and_compute_summed_position_by_position() -> None:
    from analysis.compute import compute_flops, eflops, kv_memory_elements

    for prompt, length, trials in [(0, 1, 1), (5, 7, 1), (12, 9, 4), (3, 1, 6)]:
        lengths = [length] * trials
        for shared in (True, False):
            kv = kv_memory_elements(
                layers=ARCH["layers"],
                n_kv_heads=ARCH["n_kv_heads"],
                head_dim=ARCH["head_dim"],
                prompt_tokens=prompt,
                output_tokens=length,
                trials=trials,
                shared_prompt=shared,
            )
            assert float(kv) == kv_by_position(prompt, lengths, shared)
            fl = compute_flops(
                params=ARCH["params"],
                layers=ARCH["layers"],
                n_heads=ARCH["n_heads"],
                head_dim=ARCH["head_dim"],
                prompt_tokens=prompt,
                output_tokens=length,
                trials=trials,
                shared_prompt=shared,
            )
            assert float(fl) == flops_by_position(prompt, lengths, shared)
            e = eflops(
                **ARCH,
                prompt_tokens=prompt,
                output_tokens=length,
                trials=trials,
                intensity=590.0,
                shared_prompt=shared,
            )
            assert float(e) == pytest.approx(float(fl) + 590.0 * float(kv), rel=1e-12)


def test_problem_compute_memory_per_sample_and_curve() -> None:
    from analysis.compute import ModelSize

    size = ModelSize(params=1000, layers=2, d_model=12, n_heads=4, n_kv_heads=2, head_dim=3)
    pc = problem_compute(tokens(), size)
    per_position = 2 * 2 * 3 * 2
    # Problem a: prompt 10, samples of 5, 7 and 9 tokens (mean 7).
    assert pc.prompt_kv is not None and pc.sample_kv is not None
    assert pc.prompt_kv[0] == per_position * 10 * 7
    assert pc.sample_kv[0] == pytest.approx(per_position * np.mean([10, 21, 36]))
    prices = load_prices()
    frame = compute_curve(pc, ["a", "b"], [1, 3], [0.5, 0.7], "toy", prices, intensity=100.0)
    memory = pc.prompt_kv.sum() + np.array([1, 3]) * pc.sample_kv.sum()
    np.testing.assert_allclose(frame["kv_memory"], memory)
    np.testing.assert_allclose(frame["eflops"], frame["flops"] + 100.0 * memory)
    # Without the KV shape there is no eFLOPs column.
    plain = compute_curve(
        problem_compute(tokens(), SIZE), ["a", "b"], [1], [0.5], "toy", prices, intensity=100.0
    )
    assert "eflops" not in plain


def test_intensity_from_an_accelerator_or_a_number() -> None:
    from analysis.compute import ACCELERATORS, resolve_intensity

    value, text = resolve_intensity("H100")
    assert value == pytest.approx(989e12 / (3.35e12 / 2)) and "H100" in text
    assert resolve_intensity(None)[0] == ACCELERATORS["h100"].intensity
    assert resolve_intensity("250")[0] == 250.0
    for bad in ("tpu9", "-3", "0"):
        with pytest.raises(UsageError, match="--intensity"):
            resolve_intensity(bad)


def test_list_prices_carry_source_and_date() -> None:
    from analysis.prices import DEFAULT_PRICES, price_note

    for name, entry in DEFAULT_PRICES["models"].items():
        assert entry["source"].startswith("https://") and entry["date"], name
    table = load_prices()
    assert "0.22 per million input tokens" in price_note("llama-3.1-8b", table)
    assert "no known price" in price_note("smollm2-135m", table)
