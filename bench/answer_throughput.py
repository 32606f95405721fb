"""Answer verification throughput: clustered ``math`` verifier vs math-verify per sample.

100 problems x 1,000 samples. References are MATH-500 answers (from ../shared/data when
present, else a built-in list) and GSM8K-style integers. Each problem's samples draw their
final answer from a skewed distribution over the reference written in several formats,
a few distractors (also in several formats) and a tail of one-off wrong numbers; some
samples give no answer. Sample texts end like real generations do (``\\boxed{}``, "The
answer is", Minerva's "Final Answer:" line, ``#### N``).

Clustered: ``MathVerifier.verify`` per problem (extract, normalise, judge each distinct
answer once). Per sample: ``math_verify.verify(parse(reference), parse(text))`` for every
sample, the usual way to call math-verify; it is timed on a random subset of the samples
(``--baseline-samples``; ``--full`` for all) and both sides are reported in verdicts/s.
The last line is the ratio.

Usage: .venv/bin/python bench/answer_throughput.py [--problems 100] [--samples 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.records import Problem, Sample  # noqa: E402
from verifiers.math import MathVerifier  # noqa: E402

MATH500 = ROOT.parent / "shared" / "data" / "math500" / "test.jsonl"
BUILTIN_REFERENCES = [
    "\\frac{1}{2}",
    "\\frac{14}{3}",
    "3\\sqrt{13}",
    "\\left( 3, \\frac{\\pi}{2} \\right)",
    "[2,5)",
    "p - q",
    "\\frac{\\sqrt{3}}{2}",
    "x^2+7x+10",
    "(-\\infty, 3]",
    "\\{1, 2\\}",
    "2\\pi",
    "-\\frac{2}{3}",
    "\\text{(C)}",
    "0.25",
    "4210_{5}",
    "17",
    "90^\\circ",
    "1,000",
]
FILLER = [
    "We start from the given condition and simplify both sides.",
    "Substituting the values, we get $3 \\cdot 4 + 2 = 14$.",
    "Note that the expression factors as a product of two terms.",
    "Hence the total is 12 + 30 = 42 in the intermediate step.",
    "Multiplying through by the denominator clears the fractions.",
    "By symmetry, it suffices to consider the first case.",
]


def _variants(answer: str) -> list[str]:
    """The same answer written several ways."""
    out = {answer, answer.replace("\\frac", "\\dfrac"), answer.replace(",", ", ")}
    out.add(answer.replace("\\left", "").replace("\\right", ""))
    m = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", answer)
    if m:
        out.add(f"{m.group(1)}/{m.group(2)}")
        value = int(m.group(1)) / int(m.group(2))
        if len(repr(value)) < 8:
            out.add(repr(value))
    if answer.isdigit():
        out |= {f"{int(answer):,}", f"{answer}.0", f"\\text{{{answer}}}"}
    return sorted(out)


def _distractor(answer: str, rng: random.Random) -> str:
    m = list(re.finditer(r"\d+", answer))
    if m:
        pick = rng.choice(m)
        new = str(int(pick.group()) + rng.randint(1, 9))
        return answer[: pick.start()] + new + answer[pick.end() :]
    return f"{answer}+{rng.randint(1, 5)}"


def _text(answer: str | None, rng: random.Random) -> str:
    body = " ".join(rng.sample(FILLER, 3))
    if answer is None:
        return body + " This leads to a contradiction, so we try again"
    ending = rng.choice(
        [
            f"Therefore the answer is $\\boxed{{{answer}}}$.",
            f"So we get $\\boxed{{{answer}}}$.\nFinal Answer: The final answer is ${answer}$. "
            "I hope it is correct.",
            f"The answer is ${answer}$.",
            f"The total is {answer}.\n#### {answer}",
        ]
    )
    return f"{body}\n{ending}"


def make_problems(
    num_problems: int, num_samples: int, seed: int
) -> list[tuple[Problem, list[Sample]]]:
    rng = random.Random(seed)
    if MATH500.is_file():
        pool = [json.loads(line)["answer"] for line in MATH500.read_text().splitlines()]
    else:
        pool = list(BUILTIN_REFERENCES)
    references = rng.sample(pool, min(len(pool), num_problems // 2))
    while len(references) < num_problems:
        references.append(str(rng.randint(2, 5000)))  # GSM8K-style integer answers
    items = []
    for i, reference in enumerate(references):
        pid = f"p{i}"
        choices: list[str | None] = [*_variants(reference)]
        for _ in range(rng.randint(2, 6)):
            choices += _variants(_distractor(reference, rng))[:2]
        choices.append(None)
        weights = [1 / (rank + 1) ** 1.2 for rank in range(len(choices))]
        rng.shuffle(weights)
        samples = []
        for j in range(num_samples):
            if rng.random() < 0.04:  # a one-off wrong answer
                answer: str | None = str(rng.randint(-10_000, 10_000))
            else:
                answer = rng.choices(choices, weights)[0]
            samples.append(Sample(pid, j, _text(answer, rng)))
        items.append((Problem(pid, "", reference=reference), samples))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--baseline-samples", type=int, default=3000)
    parser.add_argument("--full", action="store_true", help="time math-verify on every sample")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from math_verify import parse, verify

    from harness.core.answers import normalize_answer
    from verifiers._equivalence import _numeric_value, _parse_cached

    items = make_problems(args.problems, args.samples, args.seed)
    total = sum(len(s) for _, s in items)
    print(f"{args.problems} problems x {args.samples} samples = {total} samples")

    for cache in (_parse_cached, _numeric_value, normalize_answer):
        cache.cache_clear()  # no head start from earlier runs in this process
    verifier = MathVerifier()
    start = time.perf_counter()
    clustered = {}
    for problem, samples in items:
        for v in verifier.verify(problem, samples):
            clustered[(v.problem_id, v.sample_index)] = v.correct
    clustered_s = time.perf_counter() - start
    clustered_rate = total / clustered_s
    accuracy = sum(clustered.values()) / total
    print(
        f"clustered math verifier: {clustered_s:.2f} s, {clustered_rate:,.0f} verdicts/s "
        f"(judged correct: {accuracy:.1%})"
    )

    pairs = [(p, s) for p, samples in items for s in samples]
    if not args.full:
        pairs = random.Random(args.seed + 1).sample(pairs, min(args.baseline_samples, len(pairs)))
    golds = {p.id: parse(f"${p.reference}$") for p, _ in items}
    agree = 0
    start = time.perf_counter()
    for problem, sample in pairs:
        ok = verify(golds[problem.id], parse(sample.text))
        agree += ok == clustered[(problem.id, sample.sample_index)]
    baseline_s = time.perf_counter() - start
    baseline_rate = len(pairs) / baseline_s
    print(
        f"math-verify per sample: {len(pairs)} samples in {baseline_s:.2f} s, "
        f"{baseline_rate:,.0f} verdicts/s (same verdict as clustered: {agree / len(pairs):.1%})"
    )
    ratio = clustered_rate / baseline_rate
    print(f"verdicts/s ratio (clustered / per-sample math-verify): {ratio:.1f}x")


if __name__ == "__main__":
    main()
