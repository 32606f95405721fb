"""The price table: what a token or a FLOP costs, for the dollar axis of compute plots.

Two ways to price a run, in this order:

1. ``models``: a per-model price in US dollars per million tokens (``input`` for prompt
   tokens, ``output`` for generated ones), as serving APIs bill. A prompt shared by the
   samples of one request is billed once.
2. ``gpu``: renting hardware. Dollars = FLOPs / (peak FLOP/s x utilisation) / 3600 x
   dollars per hour.

The defaults below are editable placeholders of the right order of magnitude, not quotes.
Override any part with a JSON file of the same shape named by ``$HARNESS_PRICES`` (merged
over the defaults), e.g. ``{"models": {"llama-3.1-8b": {"input": 0.1, "output": 0.1}}}``.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError

PRICES_ENV = "HARNESS_PRICES"

DEFAULT_PRICES: dict[str, Any] = {
    "gpu": {
        "name": "H100 SXM (rented)",
        "usd_per_hour": 2.50,
        "peak_flops": 989e12,  # dense bf16
        "utilization": 0.40,
    },
    "models": {
        "llama-3.1-8b": {"input": 0.18, "output": 0.18},
        "meta-llama/Llama-3.1-8B-Instruct": {"input": 0.18, "output": 0.18},
        "qwen2.5-7b": {"input": 0.30, "output": 0.30},
        "Qwen/Qwen2.5-7B-Instruct": {"input": 0.30, "output": 0.30},
    },
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_prices(path: Path | str | None = None) -> dict[str, Any]:
    """The default table merged with ``path`` (or ``$HARNESS_PRICES`` when set).

    Raises:
        UsageError: the override file is missing or not a JSON object.
    """
    table = copy.deepcopy(DEFAULT_PRICES)
    source = path if path is not None else os.environ.get(PRICES_ENV)
    if not source:
        return table
    p = Path(source)
    try:
        extra = json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"price table {p}: no such file") from None
    except ValueError as e:
        raise UsageError(f"price table {p}: not valid JSON ({e})") from None
    if not isinstance(extra, dict):
        raise UsageError(f"price table {p}: expected a JSON object")
    return _merge(table, extra)


def dollars(
    model: str,
    flops: float,
    prompt_tokens: float,
    completion_tokens: float,
    prices: dict[str, Any],
) -> tuple[float, str]:
    """Cost of some work and how it was priced ("tokens" or "gpu").

    Args:
        model: The run's model name (looked up in ``prices["models"]``).
        flops: FLOPs of the work (used when the model has no token price).
        prompt_tokens: Billed prompt tokens.
        completion_tokens: Generated tokens.
        prices: A table from :func:`load_prices`.
    """
    per_token = prices.get("models", {}).get(model)
    if per_token is not None:
        cost = (
            prompt_tokens * float(per_token["input"])
            + completion_tokens * float(per_token["output"])
        ) / 1e6
        return cost, "tokens"
    gpu = prices["gpu"]
    seconds = flops / (float(gpu["peak_flops"]) * float(gpu["utilization"]))
    return seconds / 3600.0 * float(gpu["usd_per_hour"]), "gpu"
