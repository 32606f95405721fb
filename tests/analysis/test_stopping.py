"""Stopping rules: closed forms against values computed by hand and against draw-by-draw
simulation; the vectorised evaluation against a plain Python replay of the same orders."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from analysis._draws import draw_positions
from analysis.majority import majority_at_k
from analysis.stopping import (
    StopData,
    asc_confidence,
    esc_expected_samples,
    stop_data,
    stopping_table,
)
from harness.core.coltypes import VerdictColumns


def test_asc_confidence_by_hand() -> None:
    # 1 - I_0.5(a+1, b+1): with b = 0, I_x(a+1, 1) = x^(a+1); I_0.5(4, 2) = 6/32.
    got = asc_confidence([1, 2, 1, 3, 0], [0, 0, 1, 1, 0])
    np.testing.assert_allclose(got, [0.75, 0.875, 0.5, 26 / 32, 0.5], rtol=1e-12)
    with pytest.raises(ValueError):
        asc_confidence(1, 2)


def test_esc_expected_samples_by_hand() -> None:
    # Two equally likely answers, windows of 2, cap 4: the first window agrees half the
    # time (2 draws), else 4 draws: 3.
    assert esc_expected_samples([0.5, 0.5], 2, 4) == pytest.approx(3.0)
    assert esc_expected_samples([1.0], 3, 10) == pytest.approx(3.0)  # agrees at once
    # 10% of samples without an answer: q = 0.6^2 + 0.3^2 = 0.45; m = 2 windows, then 1
    # more draw when both disagree: 2 * (1 + 0.55) + 1 * 0.55^2.
    assert esc_expected_samples([0.6, 0.3], 2, 5) == pytest.approx(3.1 + 0.55**2)
    assert esc_expected_samples([0.4, 0.4], 8, 3) == pytest.approx(3.0)  # no full window
    with pytest.raises(ValueError):
        esc_expected_samples([0.7, 0.6], 2, 4)


def _esc_draw_by_draw(p: list[float], window: int, cap: int, rng: np.random.Generator) -> int:
    drawn: list[int] = []
    while len(drawn) < cap:
        answer = int(rng.choice(len(p) + 1, p=[*p, 1 - sum(p)]))
        drawn.append(answer if answer < len(p) else -1)  # -1: no answer
        if len(drawn) % window == 0:
            last = drawn[-window:]
            if last[0] >= 0 and len(set(last)) == 1:
                break
    return len(drawn)


def test_esc_closed_form_matches_simulation() -> None:
    rng = np.random.default_rng(3)
    for p, window, cap in [([0.5, 0.3, 0.1], 3, 20), ([0.8, 0.2], 4, 10), ([0.25] * 4, 2, 9)]:
        sims = [_esc_draw_by_draw(p, window, cap, rng) for _ in range(4000)]
        exact = float(esc_expected_samples(p, window, cap))
        assert np.mean(sims) == pytest.approx(exact, abs=4 * np.std(sims) / np.sqrt(len(sims)))


def test_draw_positions_are_distinct_and_uniform() -> None:
    rng = np.random.default_rng(0)
    pos = draw_positions(np.array([6, 9]), 4, 6000, rng)
    assert pos.shape == (12000, 4)
    assert all(len(set(row)) == 4 for row in pos[:500].tolist())
    assert pos[:6000].max() < 6 and pos[6000:].max() < 9 and pos.min() >= 0
    for block, n in ((pos[:6000], 6), (pos[6000:], 9)):
        for col in range(4):  # every sample equally likely at every draw position
            freq = np.bincount(block[:, col], minlength=n) / len(block)
            assert np.abs(freq - 1 / n).max() < 0.02


def _data(seed: int = 0, problems: int = 7, n: int = 12, classes: bool = True) -> StopData:
    rng = np.random.default_rng(seed)
    ids = [f"p{i}" for i in range(problems)]
    problem = np.repeat(np.arange(problems), n).astype(np.int32)
    index = np.tile(np.arange(n), problems)
    spread = rng.integers(1, 5, size=problems)[problem]
    cls = np.where(rng.random(problems * n) < 0.1, -1, rng.integers(0, 99, problems * n) % spread)
    # Renumber classes by first appearance within each problem, as verifiers do.
    for p in range(problems):
        part = cls[p * n : (p + 1) * n]
        order = {c: i for i, c in enumerate(dict.fromkeys(x for x in part.tolist() if x >= 0))}
        cls[p * n : (p + 1) * n] = [order.get(x, -1) for x in part.tolist()]
    right = rng.integers(0, 3, size=problems)  # the right class of each problem
    correct = (cls == right[problem]) & (cls >= 0)
    score = rng.normal(size=problems * n) + correct
    cols = VerdictColumns(
        ids, problem, index, correct, score, cls if classes else np.full(cls.size, -1)
    )
    return stop_data(cols, {"judge": score})


def _majority(drawn_cls: list[int], correct_cls: set[int]) -> bool:
    votes = Counter(c for c in drawn_cls if c >= 0)
    if not votes:
        return False
    top = max(votes.values())
    return min(c for c, v in votes.items() if v == top) in correct_cls


def _replay(
    data: StopData, cap: int, orders: int, seed: int, tau: float
) -> dict[tuple[str, object], tuple]:
    """The same orders, one problem and one draw at a time, in plain Python."""
    pos = draw_positions(data.n, cap, orders, np.random.default_rng(seed))
    starts = np.concatenate([[0], np.cumsum(data.n)[:-1]])
    results: dict[tuple[str, object], list[tuple[float, float]]] = {}
    for row, order in enumerate(pos.tolist()):
        p = row // orders
        at = [int(starts[p]) + i for i in order]
        cls = [int(data.cls[i]) for i in at]
        ok = [bool(data.correct[i]) for i in at]
        mine = range(int(starts[p]), int(starts[p] + data.n[p]))
        # A class is right when any of the problem's samples in it is judged right.
        good = {int(data.cls[i]) for i in mine if data.correct[i] and data.cls[i] >= 0}
        for thr in (0.8, 0.95):
            stop = cap
            for t in range(1, cap + 1):
                counts = sorted(Counter(c for c in cls[:t] if c >= 0).values(), reverse=True)
                a, b = [*counts, 0, 0][:2]
                if asc_confidence(a, b) >= thr:
                    stop = t
                    break
            results.setdefault(("adaptive_consistency", thr), []).append(
                (stop, _majority(cls[:stop], good))
            )
        for w in (2, 4):
            stop = cap
            for end in range(w, cap + 1, w):
                win = cls[end - w : end]
                if win[0] >= 0 and len(set(win)) == 1:
                    stop = end
                    break
            results.setdefault(("early_stopping_sc", w), []).append(
                (stop, _majority(cls[:stop], good))
            )
        scores = [float(data.scores["judge"][i]) for i in at]
        first = next((t for t, s in enumerate(scores) if s >= tau), None)
        pick = first if first is not None else int(np.argmax(scores))
        results.setdefault(("confidence:judge", "tau"), []).append(
            (first + 1 if first is not None else cap, ok[pick])
        )
    return {k: tuple(np.mean(v, axis=0)) for k, v in results.items()}


def test_vectorised_rules_match_a_plain_replay_of_the_same_orders() -> None:
    data = _data()
    cap, orders, seed = 10, 40, 5
    # tau: a score itself (the quantile i/(N-1) of N scores is the i-th smallest).
    ranked = np.sort(data.scores["judge"])
    tau = float(ranked[60])
    table = stopping_table(
        data,
        cap=cap,
        orders=orders,
        seed=seed,
        thresholds=(0.8, 0.95),
        windows=(2, 4),
        tau_quantiles=(60 / (ranked.size - 1),),
        n_boot=50,
    )
    replay = _replay(data, cap, orders, seed, tau)
    assert len(replay) == 5
    for (rule, param), (samples, acc) in replay.items():
        if rule.startswith("confidence"):
            row = table[table["rule"] == rule].iloc[0]
            assert float(row["parameter"]) == pytest.approx(tau, abs=1e-12)
        else:
            row = table[(table["rule"] == rule) & (table["parameter"] == param)].iloc[0]
        assert row["expected_samples"] == pytest.approx(samples, abs=1e-12), (rule, param)
        assert row["accuracy"] == pytest.approx(acc, abs=1e-12), (rule, param)
    again = stopping_table(
        data,
        cap=cap,
        orders=orders,
        seed=seed,
        thresholds=(0.8, 0.95),
        windows=(2, 4),
        tau_quantiles=(60 / (ranked.size - 1),),
        n_boot=50,
    )
    assert again.equals(table)  # seeded: the same table again


def test_fixed_majority_on_the_orders_estimates_exact_majority_at_k() -> None:
    data = _data(seed=1, problems=5, n=14)
    table = stopping_table(data, cap=14, orders=4000, seed=0, tau_quantiles=(), n_boot=20)
    fixed = table[(table["rule"] == "fixed") & (table["baseline"] == "majority")]
    starts = np.concatenate([[0], np.cumsum(data.n)])
    exact = np.mean(
        [
            majority_at_k(
                [None if c < 0 else int(c) for c in data.cls[a:b]], data.correct[a:b].tolist()
            )
            for a, b in itertools.pairwise(starts)
        ],
        axis=0,
    )
    np.testing.assert_allclose(fixed["accuracy"].to_numpy(), exact, atol=0.02)
    # At k = n every order holds every sample: exact.
    assert fixed["accuracy"].iloc[-1] == pytest.approx(exact[-1], abs=1e-12)


def test_oracle_is_exact_and_runs_without_answer_classes() -> None:
    data = _data(seed=2, classes=False)
    table = stopping_table(data, cap=6, orders=64, seed=0, n_boot=100)
    assert set(table["rule"]) == {"confidence:judge", "oracle", "fixed"}
    oracle = table[table["rule"] == "oracle"].iloc[0]
    n = data.n
    c = np.add.reduceat(data.correct.astype(int), np.concatenate([[0], np.cumsum(n)[:-1]]))
    # E[min(T, 6)] = sum_{t<6} C(n-c, t) / C(n, t), per problem, by hand.
    from math import comb

    want = np.mean(
        [sum(comb(m - x, t) / comb(m, t) for t in range(6)) for m, x in zip(n, c, strict=True)]
    )
    assert oracle["expected_samples"] == pytest.approx(want, rel=1e-12)
    assert oracle["exact_samples"] == pytest.approx(want, rel=1e-12)
    conf = table[table["rule"] == "confidence:judge"]
    assert (conf["baseline"] == "best_of_k:judge").all()
    assert (conf["gain_lo"] <= conf["gain"] + 1e-12).all()
    assert (conf["gain"] <= conf["gain_hi"] + 1e-12).all()


def test_sparse_class_ids_give_the_same_table() -> None:
    """Class ids far apart (a table too sparse for one bincount) change nothing."""
    from dataclasses import replace

    data = _data(seed=4)
    spread = replace(data, cls=np.where(data.cls >= 0, data.cls * 1000, -1))
    truth = VerdictColumns(
        data.problem_ids,
        np.repeat(np.arange(data.n.size), data.n).astype(np.int32),
        np.concatenate([np.arange(k) for k in data.n]),
        data.correct,
        data.scores["judge"],
        spread.cls,
    )
    sparse = stop_data(truth, {"judge": data.scores["judge"]})
    assert sparse.width > 1000 and sparse.class_keys.size == data.class_keys.size
    kwargs = {"cap": 8, "orders": 30, "seed": 1, "n_boot": 40}
    pd.testing.assert_frame_equal(stopping_table(data, **kwargs), stopping_table(sparse, **kwargs))
