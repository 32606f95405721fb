"""Sandbox for running untrusted programs: bubblewrap + pre-forked warm workers.

``SandboxPool`` starts one sandboxed worker per core; each forks one process per
sample from a warm interpreter, under rlimits and a wall-clock deadline, and returns
the sample's raw outputs over a dedicated pipe. Judging those outputs is the
caller's job (see ``verifiers.unit_tests``), outside the sandbox.
"""

from verifiers.sandbox.bwrap import (
    INSTALL_HINT,
    SANDBOX_MODES,
    SandboxMode,
    SandboxSettings,
    SandboxUnavailable,
    probe,
)
from verifiers.sandbox.pool import SandboxPool
from verifiers.sandbox.worker import SandboxWorker

__all__ = [
    "INSTALL_HINT",
    "SANDBOX_MODES",
    "SandboxMode",
    "SandboxPool",
    "SandboxSettings",
    "SandboxUnavailable",
    "SandboxWorker",
    "probe",
]
