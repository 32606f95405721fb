"""How many CPUs the harness may really use: its affinity, capped by a cgroup CPU quota.

In a container started with a CPU limit (``docker run --cpus 2`` on a 64-core host),
the affinity still lists every core of the host while the kernel throttles the
container to its quota; one sandbox worker per listed core would then fight over two
cores' worth of time, and correct programs would run into their timeouts. Both cgroup
versions are read: v2's ``cpu.max`` and v1's ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``,
for the process's own cgroup and each of its ancestors (the tightest limit wins).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cpus() -> int:
    """The affinity's CPU count, capped by the cgroup CPU quota (at least 1)."""
    count = len(os.sched_getaffinity(0))
    limit = cgroup_cpu_limit()
    return count if limit is None else max(1, min(count, math.ceil(limit)))


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """CPUs' worth of time the cgroup quota allows (``None``: no quota found)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controllers == "":  # v2 (unified)
            limits += [_v2_limit(d) for d in _chain(root, path)]
        elif "cpu" in controllers.split(","):  # v1
            base = root / controllers  # e.g. cpu,cpuacct (or its link, cpu)
            if not base.is_dir():
                base = root / "cpu"
            limits += [_v1_limit(d) for d in _chain(base, path)]
    found = [x for x in limits if x is not None]
    return min(found) if found else None


def _chain(base: Path, path: str) -> list[Path]:
    """``base/path`` and each of its parents up to ``base`` (the cgroup's ancestors)."""
    parts = [p for p in path.strip().split("/") if p and p != ".."]
    return [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _v2_limit(directory: Path) -> float | None:
    try:
        quota, period = (directory / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_limit(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
