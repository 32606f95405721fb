"""Size facts of a model for the analysis layer (FLOPs, eFLOPs, judge compute).

``model_facts(name)`` reads the model's own ``config.json`` and safetensors headers when
the model is on disk (a local directory, the converted default, or the Hugging Face hub
cache), else the alias table in ``harness.models``; no weights are read.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.models import _HF_ID, KNOWN_MODELS, embedded_model_dir


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """Size facts of a model; ``None`` where unknown."""

    name: str
    params: int | None
    layers: int | None
    d_model: int | None
    source: str  # "config.json" (read from the model's files), "table" or "unknown"
    n_heads: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None


def _config_value(cfg: dict[str, Any], *keys: str) -> int | None:
    for src in (cfg, cfg.get("text_config") or {}):
        for k in keys:
            if isinstance(src.get(k), int):
                return int(src[k])
    return None


def safetensors_param_count(model_dir: Path) -> int | None:
    """Exact parameter count from the safetensors headers (no weights are read)."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        with f.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            count = 1
            for dim in entry["shape"]:
                count *= int(dim)
            total += count
    return total


def hub_cache_dir() -> Path:
    """Where the Hugging Face hub keeps downloaded models (``$HF_HUB_CACHE``, else
    ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or "~/.cache/huggingface"
    return Path(home).expanduser() / "hub"


def _hub_cached(hf_id: str) -> Path | None:
    """The newest snapshot of ``hf_id`` in the hub cache that has a config.json."""
    if not _HF_ID.match(hf_id):
        return None
    snapshots = hub_cache_dir() / f"models--{hf_id.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def _local_dir_of(name: str, hf_id: str | None = None) -> Path | None:
    """The model directory on disk for ``name`` (or its hub cache snapshot) without
    converting or downloading."""
    info = KNOWN_MODELS.get(name)
    if info is not None and info.embedded:
        d = embedded_model_dir()
        return d if (d / "config.json").is_file() else None
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        return path
    return _hub_cached(hf_id or name)


def model_facts(name: str) -> ModelFacts:
    """Parameter count, layers and d_model of ``name`` (alias, HF id or local dir).

    Read from the model's ``config.json`` and safetensors headers when the model is on
    disk; otherwise from the alias table (matched by alias or HF id); ``None`` fields
    when neither knows.
    """
    info = KNOWN_MODELS.get(name) or next(
        (m for m in KNOWN_MODELS.values() if m.hf_id == name), None
    )
    local = _local_dir_of(info.alias if info else name, info.hf_id if info else None)
    if local is not None:
        try:
            cfg = json.loads((local / "config.json").read_text())
        except (OSError, ValueError):
            cfg = {}
        layers = _config_value(cfg, "num_hidden_layers", "n_layer", "num_layers")
        d_model = _config_value(cfg, "hidden_size", "d_model", "n_embd")
        heads = _config_value(cfg, "num_attention_heads", "n_head", "num_heads")
        # No key/value head count: plain multi-head attention.
        kv_heads = _config_value(cfg, "num_key_value_heads", "multi_query_group_num") or heads
        head_dim = _config_value(cfg, "head_dim") or (
            d_model // heads if d_model and heads else None
        )
        params = safetensors_param_count(local)

        def pick(value: int | None, field: str) -> int | None:
            return value if value is not None else getattr(info, field, None)

        return ModelFacts(
            name=name,
            params=pick(params, "params"),
            layers=pick(layers, "layers"),
            d_model=pick(d_model, "d_model"),
            source="config.json",
            n_heads=pick(heads, "n_heads"),
            n_kv_heads=pick(kv_heads, "n_kv_heads"),
            head_dim=pick(head_dim, "head_dim"),
        )
    if info is not None:
        return ModelFacts(
            name,
            info.params,
            info.layers,
            info.d_model,
            "table",
            info.n_heads,
            info.n_kv_heads,
            info.head_dim,
        )
    return ModelFacts(name, None, None, None, "unknown")
