"""The compute part of ``harness analyze``: tokens, FLOPs, memory-aware eFLOPs and dollars
against coverage (``compute.csv``, ``compute.json``).

The model's architecture comes from its ``config.json`` (a local directory, the
converted default model or the Hugging Face hub cache), else from the alias table, with
any number given by ``--model-size`` on top.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.compute import ModelSize, compute_curve, problem_compute, resolve_intensity
from analysis.prices import load_prices, price_note
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.coltypes import TokenCounts, VerdictColumns
from harness.core.errors import UsageError
from harness.core.manifest import RunManifest
from harness.core.store import RunStore, write_json
from harness.models.facts import model_facts

SIZE_KEYS = ("params", "layers", "d_model", "n_heads", "n_kv_heads", "head_dim")
SIZE_HINT = "--model-size params=8e9,layers=32,n_heads=32,n_kv_heads=8,head_dim=128"


def parse_model_size(text: str | None) -> dict[str, float]:
    """``params=8e9,layers=32,...`` -> numbers (keys: params, layers, d_model, n_heads,
    n_kv_heads, head_dim).

    Raises:
        UsageError: an unknown key, a pair without ``=``, or a value that is not a
            positive whole number.
    """
    out: dict[str, float] = {}
    for pair in (text or "").replace(" ", "").split(","):
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        if not sep or key not in SIZE_KEYS:
            raise UsageError(
                f"--model-size expects KEY=VALUE pairs with keys {', '.join(SIZE_KEYS)}, "
                f"got {pair!r}"
            )
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number >= 1 or number != int(number):
            raise UsageError(f"--model-size {key} must be a positive whole number, got {value!r}")
        out[key] = number
    return out


def model_size(model: str, given: dict[str, float]) -> ModelSize | None:
    """The model's size facts with ``given`` numbers over them; None when params, layers
    or the hidden size stay unknown."""
    facts = model_facts(model)
    known: dict[str, Any] = {k: getattr(facts, k) for k in SIZE_KEYS}
    known.update({k: int(v) for k, v in given.items()})
    if known["d_model"] is None and known["n_heads"] and known["head_dim"]:
        known["d_model"] = known["n_heads"] * known["head_dim"]
    if known["n_kv_heads"] is None and known["n_heads"] and "n_heads" in given:
        known["n_kv_heads"] = known["n_heads"]  # heads given, no grouping: plain attention
    if known["params"] is None or known["layers"] is None or known["d_model"] is None:
        return None
    source = facts.source if not given else f"{facts.source} + --model-size"
    if facts.source == "unknown" and given:
        source = "--model-size"
    return ModelSize(source=source, **known)


def check_memory_aware(model: str, s: AnalysisSettings) -> None:
    """Refuse, before any work, an ``--intensity`` the model's shape cannot serve.

    Raises:
        UsageError: ``--intensity`` was asked for and the model's KV-cache shape is
            unknown (no config.json, not in the table, no ``--model-size``).
    """
    if s.intensity is None:
        return
    resolve_intensity(s.intensity)
    size = model_size(model, s.model_size)
    if size is None or not size.memory_aware:
        raise UsageError(
            f"model {model!r} has no config.json (local directory or Hugging Face cache) and "
            f"is not in the model table, so its KV-cache shape is unknown; pass {SIZE_HINT}"
        )


def eflops_sentence(share: float, accelerator: str) -> str:
    """What the KV cache's share of a sample's eFLOPs means for the next run."""
    where = accelerator.split(":")[0].upper()
    head = f"Reading the KV cache is {share:.0%} of the cost of a sample on {where}"
    if share >= 0.5:
        return (
            f"{head}: the run is memory-bound, so shorter samples, fewer key/value heads or a "
            "shared prompt save more than a smaller model would."
        )
    if share >= 0.2:
        return (
            f"{head}: compare models in eFLOPs rather than FLOPs before moving budget between "
            "them, as FLOPs undercount the cost of long samples."
        )
    return f"{head}: FLOPs tell most of the story, and a smaller model is what saves compute."


def compute_section(
    store: RunStore,
    manifest: RunManifest,
    cols: VerdictColumns,
    coverage: pd.DataFrame,
    tokens: TokenCounts,
    s: AnalysisSettings,
    out: AnalyzeResult,
) -> None:
    """Tokens, FLOPs, eFLOPs and dollars against coverage (``compute.csv``, ``.json``)."""
    size = model_size(manifest.model, s.model_size)
    prices = load_prices()
    info: dict[str, Any] = {
        "model": manifest.model,
        "available": False,
        "prices": price_note(manifest.model, prices),
    }
    if size is None:
        info["reason"] = (
            f"size of model {manifest.model!r} unknown (params, layers, d_model); pass {SIZE_HINT}"
        )
    elif not tokens.problem.size or not (tokens.completion_tokens > 0).any():
        info["reason"] = "samples carry no token counts"
    else:
        intensity, accelerator = resolve_intensity(s.intensity)
        pc = problem_compute(tokens, size)
        frame = compute_curve(
            pc,
            cols.problem_ids,
            coverage["k"],
            coverage["coverage"],
            manifest.model,
            prices,
            shared_prefix=s.shared_prefix,
            intensity=intensity,
        )
        out.files.append(store.analysis_dir / "compute.csv")
        frame.to_csv(out.files[-1], index=False)
        info.update(
            available=True,
            params=size.params,
            layers=size.layers,
            d_model=size.d_model,
            n_heads=size.n_heads,
            n_kv_heads=size.n_kv_heads,
            head_dim=size.head_dim,
            facts_from=size.source,
            shared_prefix=s.shared_prefix,
            mean_prompt_tokens=float(pc.prompt_tokens.mean()),
            mean_completion_tokens=float(pc.completion_tokens.mean()),
            flops_per_sample=float(pc.sample_flops.mean()),
            flops_per_prompt=float(pc.prompt_flops.mean()),
            priced_by=str(frame["priced_by"].iloc[0]),
            formula="2*params + 4*context*n_heads*head_dim*layers per token",
        )
        if "gpu" in prices:
            info["gpu"] = prices["gpu"]
        if "eflops" in frame:
            k1 = frame.iloc[0]
            share = float(intensity * k1["kv_memory"] / k1["eflops"])
            info.update(
                eflops=True,
                intensity=intensity,
                accelerator=accelerator,
                eflops_formula="FLOPs + I * KV-cache elements read (2*n_kv_heads*head_dim*"
                "layers per context position per generated token; prompt KV shared by a "
                "problem's samples)",
                memory_share_k1=share,
                advice=eflops_sentence(share, accelerator),
            )
            out.advice.append(info["advice"])
        else:
            info.update(eflops=False, eflops_reason="the model's KV-cache shape is unknown")
            out.notes.append(
                f"no eFLOPs: the KV-cache shape of {manifest.model!r} is unknown; pass {SIZE_HINT}"
            )
        if info["priced_by"] == "none":
            out.notes.append(info["prices"])
    if not info["available"]:
        out.notes.append(f"no compute accounting: {info['reason']}")
    out.files.append(write_json(store.analysis_dir / "compute.json", info))
