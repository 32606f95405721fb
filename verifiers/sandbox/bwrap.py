"""How a sandbox worker is launched: bubblewrap command line, uids, bootstrap code.

The worker sees a read-only ``/usr`` (plus the Python installation, bound alone even
when it lives under a home directory), its own ``/proc`` and minimal ``/dev``, and a
small private tmpfs at ``/tmp`` for per-sample scratch dirs. It has no network (new
net namespace), no home directory, no view of the run directory or the harness
source, and its own pid/ipc/uts namespaces. When the harness runs as root, the worker
keeps only the capabilities it needs to switch each sample to an unprivileged uid of
its own (so ``RLIMIT_NPROC`` applies and the sample cannot signal the worker);
otherwise bubblewrap uses an unprivileged user namespace.

The worker's code is shipped over a pipe rather than mounted, so the harness source
stays invisible.
"""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.core import values

SandboxMode = Literal["bwrap", "none"]
SANDBOX_MODES: tuple[str, ...] = ("bwrap", "none")
_TRUSTED = "or pass --sandbox none (verifier option sandbox=none) for trusted code only"
INSTALL_HINT = f"install it with `apt-get install bubblewrap` (Debian/Ubuntu), {_TRUSTED}"
NAMESPACE_HINT = (
    "run as root or enable unprivileged user namespaces "
    f"(sysctl kernel.unprivileged_userns_clone=1), {_TRUSTED}"
)
_WORKER_CAPS = (
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_KILL",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
)
# Imported once by each worker so samples need not import them; kept to what most
# programs use, because every page of the worker costs something at each fork and exit.
WARM_MODULES = (
    "math", "re", "string", "itertools", "functools", "collections", "heapq", "bisect",
    "operator", "copy", "hashlib", "json", "typing",
)  # fmt: skip
# The string hash seed of every worker (and so of every sample): a set of strings is
# iterated in the same order in every run, so identical programs may share one.
HASH_SEED = "0"
# stdio jobs: a worker keeps the inputs of this many problems (see sandbox.stdio).
CACHED_PROBLEMS = 4
_HERE = Path(__file__).parent
# The value codec is the harness's own (stdlib-only) module, shipped in under this name.
_MODULES = (
    ("sandbox_codec", Path(values.__file__)),
    ("sandbox_programs", _HERE / "programs.py"),
    ("sandbox_sysutil", _HERE / "sysutil.py"),
    ("sandbox_processes", _HERE / "processes.py"),
    ("sandbox_stdio", _HERE / "stdio.py"),
    ("sandbox_zygote", _HERE / "zygote.py"),
)

# Runs as `python -s -S -P -c BOOTSTRAP job_fd result_fd tests_fd control_fd`: reads one frame with
# the worker's config and its modules, compiled by the harness (same interpreter), so
# the worker does not hold the compiler's leftovers in memory it copies at each fork.
BOOTSTRAP = """
import json, marshal, os, sys, types
fds = [int(a) for a in sys.argv[1:5]]
def _read(n):
    b = b""
    while len(b) < n:
        c = os.read(fds[0], n - len(b))
        if not c:
            raise SystemExit(3)
        b += c
    return b
boot = json.loads(_read(int.from_bytes(_read(4), "big")))
for name, code in marshal.loads(_read(boot["blob"])):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    exec(code, mod.__dict__)
del name, code, mod
sys.modules["sandbox_zygote"].main(boot["config"], *fds)
"""


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be started on this machine."""


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """Isolation and resource limits of the sandbox.

    Attributes:
        mode: ``bwrap`` (isolated) or ``none`` (no isolation: trusted code only).
        memory_mb: Address space a sample may add on top of its size at fork.
        fsize_mb: Largest file a sample may write.
        nofile: Open file descriptors per process.
        nproc: Processes and threads per sample.
        tmpfs_mb: Size of each worker's scratch tmpfs.
        site_packages: Let programs import the packages installed next to the harness
            (numpy...), mounted read-only; by default only the standard library.
    """

    mode: SandboxMode = "bwrap"
    memory_mb: int = 1024
    fsize_mb: int = 16
    nofile: int = 64
    nproc: int = 32
    tmpfs_mb: int = 64
    site_packages: bool = False

    def limits(self, timeout_s: float) -> dict[str, Any]:
        """Per-sample rlimits for a wall-clock timeout of ``timeout_s``."""
        return {
            "cpu_s": int(timeout_s) + 1,
            "memory_mb": self.memory_mb,
            "fsize_mb": self.fsize_mb,
            "nofile": self.nofile,
            "nproc": self.nproc,
        }


def python_executable() -> str:
    """The base interpreter (not the virtualenv's wrapper): run with -I -S, no site."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def module_sources() -> list[tuple[str, str]]:
    """(module name, source) of the code the worker runs, in import order."""
    return [(name, path.read_text()) for name, path in _MODULES]


def module_code() -> bytes:
    """The worker's modules, compiled, in import order (marshal bytes for BOOTSTRAP)."""
    modules = module_sources()
    return marshal.dumps(
        [(name, compile(src, f"<{name}>", "exec", dont_inherit=True)) for name, src in modules]
    )


def privileged() -> bool:
    """Whether workers can switch samples to their own uids (the harness runs as root)."""
    return os.geteuid() == 0


def worker_uids(index: int) -> dict[str, int]:
    """Unprivileged uids for worker ``index``: distinct per worker and per harness process."""
    base = 1_000_000 + (os.getpid() % 50_000) * 64
    return {"candidate": base + 2 * index, "driver": base + 2 * index + 1}


def site_packages_dirs() -> list[str]:
    """The harness environment's package directories (purelib/platlib), existing ones."""
    import sysconfig

    paths = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    return sorted(os.path.realpath(p) for p in paths if p and os.path.isdir(p))


def _ro_binds(extra_dirs: list[str]) -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for etc in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(etc):
            args += ["--ro-bind", os.path.realpath(etc), etc]
    made: set[str] = set()
    dirs = {sys.base_prefix, os.path.dirname(os.path.dirname(python_executable())), *extra_dirs}
    for extra in sorted(dirs):
        real = os.path.realpath(extra)
        if real == "/usr" or real.startswith(("/usr/", "/bin/", "/lib")):
            continue
        # Parents (say /root) are created empty and traversable: only the install shows.
        parents = Path(real).parents
        for parent in reversed(list(parents)[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", real, real]
    return args


def worker_command(settings: SandboxSettings, fds: tuple[int, ...]) -> list[str]:
    """Command line that starts one worker; ``fds`` are its job, result, tests and control
    pipes."""
    # -s -S -P: no user site, no site, nothing from the working directory (as -I, which
    # would also ignore the environment, where PYTHONHASHSEED must be read).
    python = [python_executable(), "-s", "-S", "-P", "-c", BOOTSTRAP, *map(str, fds)]
    if settings.mode == "none":
        return python
    # The scratch tmpfs first: a harness installed under /tmp must stay visible on top of it.
    args = ["bwrap", "--size", str(settings.tmpfs_mb << 20), "--tmpfs", "/tmp"]
    args += _ro_binds(site_packages_dirs() if settings.site_packages else [])
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--hostname", "sandbox"]
    args += ["--cap-drop", "ALL"]
    if privileged():
        for cap in _WORKER_CAPS:
            args += ["--cap-add", cap]
    else:
        args += ["--unshare-user"]
    args += ["--die-with-parent", "--new-session", "--clearenv", "--chdir", "/tmp"]
    args += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8"]
    args += ["--setenv", "PYTHONHASHSEED", HASH_SEED]
    args += ["--setenv", "LD_BIND_NOW", "1"]
    return [*args, "--", *python]


def probe(mode: SandboxMode) -> None:
    """Check that a sandbox of ``mode`` can start here.

    Raises:
        SandboxUnavailable: bwrap is missing or cannot create namespaces; the message
            is one line that says how to fix it.
    """
    if mode == "none":
        return
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    cmd = worker_command(SandboxSettings(), (0, 1, 2, 2))
    cmd = [*cmd[: cmd.index("--")], "--", "/bin/true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap cannot run ({exc}): {NAMESPACE_HINT}") from None
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["exit code " + str(proc.returncode)])[0]
        raise SandboxUnavailable(f"bubblewrap cannot create a sandbox ({reason}): {NAMESPACE_HINT}")


def user_task_count() -> int:
    """Processes + threads of this uid (RLIMIT_NPROC counts them all in a user namespace)."""
    uid, total = str(os.getuid()), 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [uid]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total
