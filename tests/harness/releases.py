"""Results files shaped as papers release them (per-configuration counts of correct
samples, a train/test split), with known contents, for the import and compare tests."""

from __future__ import annotations

import itertools
import json
from math import comb
from pathlib import Path

import numpy as np

# Two specialists and a generalist: "alpha" solves the even problems (7 of 8 samples
# right), "beta" the odd ones, "gamma" every problem now and then (2 of 8).
NAMES = ("alpha_0.2", "beta_1.0", "gamma_0.6")
RUNS = 8


def specialist_counts(problems: list[int]) -> dict[str, list[int]]:
    return {
        "0": [7 if p % 2 == 0 else 0 for p in problems],
        "1": [7 if p % 2 else 0 for p in problems],
        "2": [2 for _ in problems],
    }


def specialist_release(path: Path) -> Path:
    """24 problems; the training list holds 8 even (alpha's) and 4 odd (beta's) problems,
    the test list the other way round, so the best single configuration on the training
    problems (alpha) is not the best on the test ones."""
    evens, odds = list(range(0, 24, 2)), list(range(1, 24, 2))
    train, test = evens[:8] + odds[:4], evens[8:] + odds[4:]
    release = {
        "settings": [{"name": name, "runs": RUNS} for name in NAMES],
        "training_instances": [f"Toy/{p}" for p in train],
        "testing_instances": [f"Toy/{p}" for p in test],
        "train": specialist_counts(train),
        "test": specialist_counts(test),
    }
    path.write_text(json.dumps(release))
    return path


def random_release(path: Path, problems: int = 30, n: int = 10, seed: int = 0) -> Path:
    """Irregular counts (no two mixes tie) of three configurations, no split."""
    rng = np.random.default_rng(seed)
    ids = [f"q{i:02d}" for i in range(problems)]
    counts = {
        name: rng.binomial(n, rng.beta(0.4, 1.0, problems) * (rng.random(problems) < 0.7)).tolist()
        for name in ("hot", "mid", "cold")
    }
    release = {
        "configurations": [{"name": name, "n": n} for name in counts],
        "problems": ids,
        "counts": counts,
    }
    path.write_text(json.dumps(release))
    return path


def exact_coverage(n: int, cs: list[list[int]], ks: tuple[int, ...]) -> float:
    """Mean over problems of 1 - prod_j C(n - c_j, k_j) / C(n, k_j): written out."""
    total = 0.0
    for per_config in zip(*cs, strict=True):
        fail = 1.0
        for c, k in zip(per_config, ks, strict=True):
            fail *= comb(n - c, k) / comb(n, k)
        total += 1 - fail
    return total / len(cs[0])


def brute_force_mix(n: int, cs: list[list[int]], budget: int) -> tuple[int, ...]:
    """The mix of sample counts (summing to at most ``budget``) with the best coverage."""
    mixes = [m for m in itertools.product(range(budget + 1), repeat=len(cs)) if sum(m) <= budget]
    return max(mixes, key=lambda m: exact_coverage(n, cs, m))
