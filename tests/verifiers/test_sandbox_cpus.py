"""The default worker count: CPU affinity capped by a cgroup quota (files laid out as the
kernel does, under a temporary root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from verifiers.sandbox import cpus
from verifiers.sandbox.cpus import cgroup_cpu_limit, usable_cpus


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_quota_of_the_cgroup_or_a_tighter_ancestor(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    _write(proc, "0::/box/job\n")
    root = tmp_path / "fs"
    _write(root / "box" / "job" / "cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(root, proc) is None
    _write(root / "box" / "cpu.max", "250000 100000\n")  # 2.5 CPUs on the parent
    assert cgroup_cpu_limit(root, proc) == pytest.approx(2.5)
    _write(root / "box" / "job" / "cpu.max", "50000 100000\n")
    assert cgroup_cpu_limit(root, proc) == pytest.approx(0.5)


def test_v1_quota_under_the_cpu_controller(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    _write(proc, "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    root = tmp_path / "fs"
    box = root / "cpu,cpuacct" / "docker" / "abc"
    _write(box / "cpu.cfs_quota_us", "-1\n")
    _write(box / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(root, proc) is None
    _write(box / "cpu.cfs_quota_us", "300000\n")
    assert cgroup_cpu_limit(root, proc) == pytest.approx(3.0)


def test_no_or_unreadable_cgroup_files_mean_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path, tmp_path / "missing") is None
    proc = tmp_path / "cgroup"
    _write(proc, "garbage\n0::/a\n")
    _write(tmp_path / "a" / "cpu.max", "not numbers\n")
    assert cgroup_cpu_limit(tmp_path, proc) is None


def test_usable_cpus_is_the_affinity_capped_by_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: None)
    assert usable_cpus() == affinity
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: 0.3)
    assert usable_cpus() == 1
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: 1000.0)
    assert usable_cpus() == affinity
