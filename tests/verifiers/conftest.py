"""Fixtures for the code verifier tests: small code problems and sandboxed verifiers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from verifiers.sandbox import SandboxUnavailable, probe
from verifiers.unit_tests import UnitTestVerifier


@pytest.fixture(scope="session")
def bwrap_ok() -> None:
    """Skips when bubblewrap cannot create a sandbox here (CI installs it)."""
    try:
        probe("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture
def unit_verifier() -> Iterator[Callable[..., UnitTestVerifier]]:
    """Factory of ``unit_tests`` verifiers, all closed at teardown."""
    made: list[UnitTestVerifier] = []

    def make(**options: Any) -> UnitTestVerifier:
        v = UnitTestVerifier(options={k: str(x) for k, x in options.items()})
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()
