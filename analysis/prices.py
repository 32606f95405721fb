"""The price table: what a token costs, for the dollar axis of compute plots.

Dollars are only as good as their prices, so the built-in table holds list prices only,
each with where and when it was listed: US dollars per million tokens (``input`` for
prompt tokens, ``output`` for generated ones), as serving APIs bill; a prompt shared by
the samples of one request is billed once. A model without a known price gets no dollar
figure (NaN, ``priced_by`` ``none``), never a placeholder. Prices change: check the
source before quoting a number, and put your own in a JSON file of the same shape named
by ``$HARNESS_PRICES`` (merged over the table), e.g.
``{"models": {"my-model": {"input": 0.1, "output": 0.2, "source": "...", "date": "..."}}}``.

Renting hardware is the other way to price a run: a ``gpu`` entry in that file
(``{"gpu": {"name": ..., "usd_per_hour": ..., "peak_flops": ..., "utilization": ...}}``)
prices models without a token price at FLOPs / (peak FLOP/s x utilisation) / 3600 x
dollars per hour. There is no built-in one: utilisation is a guess only its user can make.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError

PRICES_ENV = "HARNESS_PRICES"

_BEDROCK = "https://aws.amazon.com/bedrock/pricing/ (on-demand, US East)"
_TOGETHER = "https://www.together.ai/pricing (serverless)"

# List prices in US dollars per million tokens, as the source listed them on that date.
DEFAULT_PRICES: dict[str, Any] = {
    "models": {
        "meta-llama/Llama-3.1-8B-Instruct": {
            "input": 0.22,
            "output": 0.22,
            "source": _BEDROCK,
            "date": "2024-10",
        },
        "meta-llama/Llama-3.2-3B-Instruct": {
            "input": 0.15,
            "output": 0.15,
            "source": _BEDROCK,
            "date": "2024-10",
        },
        "meta-llama/Llama-3.2-1B-Instruct": {
            "input": 0.10,
            "output": 0.10,
            "source": _BEDROCK,
            "date": "2024-10",
        },
        "Qwen/Qwen2.5-7B-Instruct": {
            "input": 0.30,
            "output": 0.30,
            "source": _TOGETHER + ", Qwen2.5-7B-Instruct-Turbo",
            "date": "2024-12",
        },
    },
}
# Aliases of ``harness models`` share their model's price (one entry under both names).
ALIASES = {
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B-Instruct",
    "llama-3.2-1b": "meta-llama/Llama-3.2-1B-Instruct",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct",
}
for _alias, _model in ALIASES.items():
    DEFAULT_PRICES["models"][_alias] = DEFAULT_PRICES["models"][_model]


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
    for name, entry in (extra.get("models") or {}).items():
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), int | float) for k in ("input", "output")
        ):
            raise UsageError(f"price table {p}: model {name!r} needs numbers input and output")
        entry.setdefault("source", str(p))
    table = _merge(table, extra)
    table["file"] = str(p)
    return table


def model_price(model: str, prices: dict[str, Any]) -> dict[str, Any] | None:
    """The per-token price entry of ``model`` (by name or alias), or None."""
    entry = prices.get("models", {}).get(model)
    return entry if isinstance(entry, dict) else None


def price_note(model: str, prices: dict[str, Any]) -> str:
    """Which price a model's dollars use, in words (or why it has none)."""
    entry = model_price(model, prices)
    if entry is not None:
        source = entry.get("source", "price table")
        date = f", {entry['date']}" if entry.get("date") else ""
        return (
            f"${entry['input']:g} per million input tokens, ${entry['output']:g} per million "
            f"output tokens ({source}{date})"
        )
    gpu = prices.get("gpu")
    if isinstance(gpu, dict):
        return (
            f"GPU rental from {prices.get('file', 'the price table')}: {gpu.get('name', 'GPU')} "
            f"at ${gpu['usd_per_hour']:g}/h, {float(gpu['utilization']):.0%} of "
            f"{float(gpu['peak_flops']):.3g} FLOP/s"
        )
    return (
        f"no known price for model {model!r}, so no dollar figure (add one to a JSON file "
        f"named by ${PRICES_ENV})"
    )


def dollars(
    model: str,
    flops: float,
    prompt_tokens: float,
    completion_tokens: float,
    prices: dict[str, Any],
) -> tuple[float, str]:
    """Cost of some work and how it was priced ("tokens", "gpu" or "none": NaN dollars).

    Args:
        model: The run's model name (looked up in ``prices["models"]``).
        flops: FLOPs of the work (used when the model has no token price and the table
            has a ``gpu`` entry).
        prompt_tokens: Billed prompt tokens.
        completion_tokens: Generated tokens.
        prices: A table from :func:`load_prices`.
    """
    per_token = model_price(model, prices)
    if per_token is not None:
        cost = (
            prompt_tokens * float(per_token["input"])
            + completion_tokens * float(per_token["output"])
        ) / 1e6
        return cost, "tokens"
    gpu = prices.get("gpu")
    if isinstance(gpu, dict):
        seconds = flops / (float(gpu["peak_flops"]) * float(gpu["utilization"]))
        return seconds / 3600.0 * float(gpu["usd_per_hour"]), "gpu"
    return math.nan, "none"
