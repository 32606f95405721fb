"""Adaptive stopping, evaluated offline on the samples a run already holds.

Each problem's stored samples are drawn in seeded random orders (``orders`` per problem,
each a uniformly random arrangement of a random ``cap``-subset: sampling without
replacement, as a real run would draw them) and a rule decides after each draw whether
to stop. Every order of every problem is advanced at once, one draw position at a time
(a loop over at most ``cap`` positions, never over problems or orders):

* Adaptive-Consistency (Aggarwal et al. 2023): with a and b the votes of the two most
  common answers so far, stop when ``1 - I_0.5(a+1, b+1) >= threshold``
  (:func:`asc_confidence`); answer: the majority of what was drawn.
* Early-stopping self-consistency (Li et al. 2024): disjoint windows of ``w`` draws;
  stop after the first window whose answers all agree; answer: the majority of all
  drawn. :func:`esc_expected_samples` gives the exact expected draws when answers are
  independent draws from a distribution p.
* Confidence stopping (Self-Calibration, Huang et al. 2025): stop at the first sample
  whose score (a judge's or reward model's ``score``, or the sample's mean token
  log-probability) is at least tau; answer: that sample (the best-scored drawn one when
  none reaches tau), for a sweep of tau.
* Oracle stopping: stop at the first sample the verifier accepts (exact, from pass@k).

Majority votes follow ``analysis.majority``: answer classes vote, samples without an
answer do not, ties go to the class that appeared first among the problem's samples,
and a class is right when the verifier judged a member right. Each rule is set against
a fixed number of samples at the same average budget: majority vote (where the verdicts
carry answer classes), best-of-k by the same score (confidence rules without classes),
coverage (the oracle), measured on the same orders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betainc

from analysis._draws import Stops, Votes, draw_positions, local_classes
from analysis.passk import pass_at_k_curve
from analysis.stop_data import StopData, stop_data

__all__ = [
    "StopData",
    "asc_confidence",
    "default_orders",
    "esc_expected_samples",
    "stop_data",
    "stopping_table",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_CAP = 40  # the largest budget in Adaptive-Consistency's experiments
ASC_THRESHOLDS = (0.8, 0.9, 0.95, 0.99)
ESC_WINDOWS = (2, 4, 8)
TAU_QUANTILES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
ROWS_TARGET = 1 << 14  # problems x orders drawn at once: ~5 MB of state at cap 40


def asc_confidence(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Adaptive-Consistency's stopping statistic ``1 - I_0.5(a+1, b+1)``.

    The probability, under a uniform prior, that the leading answer (a votes) is more
    likely than the runner-up (b votes): ``P(x > 1/2)`` for ``x ~ Beta(a+1, b+1)``.
    Computed as ``I_0.5(b+1, a+1)``, the same value without cancellation.

    Args:
        a: Votes of the most common answer.
        b: Votes of the second most common answer (0 <= b <= a).

    Raises:
        ValueError: b < 0 or b > a.
    """
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    if np.any(b_ < 0) or np.any(b_ > a_):
        raise ValueError("asc_confidence needs 0 <= b <= a")
    out: FloatArray = betainc(b_ + 1.0, a_ + 1.0, 0.5)
    return out


def esc_expected_samples(p: npt.ArrayLike, window: int, cap: int) -> FloatArray:
    """Exact expected draws of early-stopping self-consistency with answers ~ p.

    Draws are independent; a window of ``window`` draws agrees with probability
    ``q = sum_i p_i^window``. Window j (0-based) is drawn when the j before it all
    disagreed, and the ``cap - m*window`` draws after the last full window (m = cap //
    window) when all m disagreed:

        E = window * sum_{j<m} (1-q)^j + (cap - m*window) * (1-q)^m.

    Args:
        p: Answer probabilities (last axis: answers). Mass missing from 1 is samples
            without an answer, which never agree with anything.
        window: Draws per window (>= 1).
        cap: Most draws allowed (>= 1).

    Returns:
        The expected number of draws (one per leading index of ``p``).

    Raises:
        ValueError: negative probabilities, a total above 1, or window/cap below 1.
    """
    p_ = np.asarray(p, dtype=np.float64)
    if window < 1 or cap < 1:
        raise ValueError("window and cap must be at least 1")
    if np.any(p_ < 0) or np.any(p_.sum(axis=-1) > 1 + 1e-9):
        raise ValueError("p must be probabilities (>= 0, summing to at most 1)")
    return _esc_draws(np.clip((p_**window).sum(axis=-1), 0.0, 1.0), window, cap)


def _esc_draws(q: npt.ArrayLike, window: int, cap: int) -> FloatArray:
    """Expected draws of early stopping when a window agrees with probability ``q``."""
    q_ = np.asarray(q, dtype=np.float64)
    m = cap // window
    miss = 1.0 - q_
    with np.errstate(divide="ignore", invalid="ignore"):
        # sum_{j<m} miss^j, which is m when q = 0
        windows = np.where(q_ > 0, (1.0 - miss**m) / np.where(q_ > 0, q_, 1.0), float(m))
    out: FloatArray = window * windows + (cap - m * window) * miss**m
    return out


def default_orders(problems: int) -> int:
    """Orders per problem: many for small runs, fewer for large ones (16 to 256), about
    2^14 problem orders in all."""
    return int(np.clip(ROWS_TARGET // max(problems, 1), 16, 256))


def stopping_table(
    data: StopData,
    cap: int = DEFAULT_CAP,
    orders: int | None = None,
    seed: int = 0,
    thresholds: Sequence[float] = ASC_THRESHOLDS,
    windows: Sequence[int] = ESC_WINDOWS,
    tau_quantiles: Sequence[float] = TAU_QUANTILES,
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Expected draws per problem and accuracy of every stopping rule, and the fixed-k
    baselines they are set against.

    Args:
        data: The run's samples (:func:`stop_data`).
        cap: Most draws per problem (clipped to the fewest samples of any problem).
        orders: Random orders per problem (default :func:`default_orders`).
        seed: Seed of the orders and of the bootstrap.
        thresholds: Adaptive-Consistency thresholds (each in (0.5, 1)).
        windows: Early-stopping self-consistency window sizes (those <= cap are used).
        tau_quantiles: Confidence thresholds, as quantiles of each scorer's scores.
        n_boot: Bootstrap resamples of the problems for the gain's interval.
        level: Confidence level of that interval.

    Returns:
        One row per rule and setting: rule, parameter, expected_samples, accuracy,
        baseline (what it is set against), baseline_accuracy (with the same average
        number of samples), gain, gain_lo, gain_hi (percentile bootstrap over problems),
        exact_samples (closed form where one exists), cap, orders, seed. Rows with rule
        ``fixed`` are the baseline curves at k = 1..cap.
    """
    if any(not 0.5 < t < 1 for t in thresholds):
        raise ValueError("Adaptive-Consistency thresholds must lie in (0.5, 1)")
    length = int(min(cap, data.n.min()))
    if length < 1:
        raise ValueError("stopping rules need at least one sample per problem")
    problems = data.n.size
    reps = orders or default_orders(problems)
    rng = np.random.default_rng(seed)
    pos = draw_positions(data.n, length, reps, rng)
    owner = np.repeat(np.arange(problems, dtype=np.int64), reps)
    flat = data.starts[owner][:, None] + pos
    rows = flat.shape[0]

    def per_problem(values: npt.ArrayLike) -> FloatArray:
        out: FloatArray = np.asarray(values, np.float64).reshape(problems, reps).mean(axis=1)
        return out

    correct = data.correct[flat]
    classes = data.has_classes
    drawn_cls = data.cls[flat]
    local = local_classes(drawn_cls)
    voting = drawn_cls >= 0
    good = data.good(owner[:, None], drawn_cls)
    seqs = {name: np.where(np.isnan(s[flat]), -np.inf, s[flat]) for name, s in data.scores.items()}
    lead, runner = np.indices((length + 1, length + 1))
    conf = asc_confidence(lead, np.minimum(lead, runner))  # conf[a, b], b <= a
    votes = Votes(rows, length)
    asc = {t: Stops(rows, length) for t in thresholds}
    esc = {w: Stops(rows, length) for w in windows if w <= length}
    window_class = {w: np.zeros(rows, np.int64) for w in esc}
    window_ok = {w: np.ones(rows, bool) for w in esc}
    curves: dict[str, FloatArray] = {}  # baseline name -> (problems, length) accuracy
    if classes:
        curves["majority"] = np.zeros((problems, length))
    best = {name: (np.full(rows, -np.inf), np.zeros(rows, bool)) for name in seqs}
    for name in seqs:
        curves[f"best_of_k:{name}"] = np.zeros((problems, length))
    for i in range(length):
        if classes:
            votes.add(local[:, i], voting[:, i], good[:, i])
            curves["majority"][:, i] = per_problem(votes.good)
            c = conf[votes.top, votes.runner_up]
            for t, stops in asc.items():
                stops.stop(c >= t, i + 1, votes.good)
            for w, stops in esc.items():
                if i % w == 0:
                    window_class[w] = local[:, i]
                    window_ok[w] = voting[:, i].copy()
                else:
                    window_ok[w] &= voting[:, i] & (local[:, i] == window_class[w])
                if (i + 1) % w == 0:
                    stops.stop(window_ok[w], i + 1, votes.good)
        for name, seq in seqs.items():
            score, ok = best[name]
            better = seq[:, i] > score
            best[name] = (np.where(better, seq[:, i], score), np.where(better, correct[:, i], ok))
            curves[f"best_of_k:{name}"][:, i] = per_problem(best[name][1])
    ks = np.arange(1, length + 1)
    c_ = data.right_count
    curves["coverage"] = pass_at_k_curve(data.n, c_, ks)
    boot = _Bootstrap(problems, ks, n_boot, level, seed)
    meta = {"cap": length, "orders": reps, "seed": seed}
    table: list[dict[str, object]] = []

    def add(
        rule: str,
        param: object,
        drawn: FloatArray,
        right: FloatArray,
        base: str,
        exact: float = float("nan"),
        per_row: bool = True,
    ) -> None:
        samples = per_problem(drawn) if per_row else drawn
        acc = per_problem(right) if per_row else right
        table.append(
            {
                "rule": rule,
                "parameter": param,
                **boot.summary(samples, acc, curves[base]),
                "baseline": base,
                "exact_samples": exact,
                **meta,
            }
        )

    if classes:
        for t, stops in asc.items():
            add("adaptive_consistency", t, *stops.finish(votes.good), "majority")
        whose = data.class_keys // data.width
        shares = data.class_size / data.n[whose]
        for w, stops in esc.items():
            q = np.bincount(whose, weights=shares**w, minlength=problems)
            exact = float(_esc_draws(q, w, length).mean())
            add("early_stopping_sc", w, *stops.finish(votes.good), "majority", exact)
    for name, seq in seqs.items():
        finite = _some_scores(data.scores[name], rng)
        base = "majority" if classes else f"best_of_k:{name}"
        for tau in np.unique(np.quantile(finite, tau_quantiles)) if finite.size else []:
            hit = seq >= tau
            first = np.argmax(hit, axis=1)
            reached = hit[np.arange(rows), first]
            drawn = np.where(reached, first + 1, length).astype(np.float64)
            right = np.where(reached, correct[np.arange(rows), first], best[name][1])
            add(f"confidence:{name}", float(tau), drawn, right.astype(np.float64), base)
    # Oracle, exact: E[min(T, cap)] = sum_{t<cap} P(no accepted sample among t draws).
    cover = curves["coverage"]
    oracle_drawn = 1.0 + (1.0 - cover[:, :-1]).sum(axis=1)
    add(
        "oracle",
        "first accepted",
        oracle_drawn,
        cover[:, -1],
        "coverage",
        exact=float(oracle_drawn.mean()),
        per_row=False,
    )
    shown = ["majority"] if classes else [k for k in curves if k.startswith("best_of_k:")]
    for base in [*shown, "coverage"]:
        for k, value in zip(ks, curves[base].mean(axis=0), strict=True):
            table.append(
                {
                    "rule": "fixed",
                    "parameter": int(k),
                    "expected_samples": float(k),
                    "accuracy": float(value),
                    "baseline_accuracy": float(value),
                    "gain": 0.0,
                    "gain_lo": 0.0,
                    "gain_hi": 0.0,
                    "baseline": base,
                    "exact_samples": float(k),
                    **meta,
                }
            )
    return pd.DataFrame(table)


class _Bootstrap:
    """Gain of a rule over a fixed-k baseline, with a percentile interval from resampling
    the problems (one resample matrix shared by every rule)."""

    def __init__(self, problems: int, ks: IntArray, n_boot: int, level: float, seed: int):
        rng = np.random.default_rng([seed, 1])
        draws = rng.integers(0, problems, size=(n_boot, problems))
        self.weights = np.zeros((n_boot, problems))
        np.add.at(self.weights, (np.arange(n_boot)[:, None], draws), 1.0 / problems)
        self.ks = ks
        self.tails = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
        self._curves: dict[int, tuple[FloatArray, FloatArray]] = {}

    def _at(self, curve: FloatArray, samples: FloatArray) -> FloatArray:
        """Row-wise linear interpolation of ``curve`` (rows, k) at ``samples`` draws."""
        x = np.clip(samples, 1.0, float(self.ks[-1]))
        lo = np.clip(np.floor(x).astype(np.int64), 1, int(self.ks[-1]))
        hi = np.minimum(lo + 1, int(self.ks[-1]))
        frac = x - lo
        rows = np.arange(curve.shape[0])
        out: FloatArray = curve[rows, lo - 1] * (1 - frac) + curve[rows, hi - 1] * frac
        return out

    def summary(self, samples: FloatArray, acc: FloatArray, curve: FloatArray) -> dict[str, float]:
        """Means over problems, the baseline at the same mean samples, gain and interval."""
        mean_s, mean_a = float(samples.mean()), float(acc.mean())
        if id(curve) not in self._curves:  # one product per baseline, shared by its rules
            self._curves[id(curve)] = (curve.mean(axis=0)[None, :], self.weights @ curve)
        mean_curve, boot_curves = self._curves[id(curve)]
        base = float(self._at(mean_curve, np.asarray([mean_s]))[0])
        boot = self.weights @ acc - self._at(boot_curves, self.weights @ samples)
        lo, hi = np.percentile(boot, self.tails)
        return {
            "expected_samples": mean_s,
            "accuracy": mean_a,
            "baseline_accuracy": base,
            "gain": mean_a - base,
            "gain_lo": float(lo),
            "gain_hi": float(hi),
        }


QUANTILE_SAMPLE = 1 << 20


def _some_scores(scores: FloatArray, rng: np.random.Generator) -> FloatArray:
    """The finite scores tau is set from: all of them, or a seeded sample of 2^20 when
    there are more (the quantiles then move by well under 0.1 %)."""
    if scores.size > QUANTILE_SAMPLE:
        scores = scores[rng.integers(0, scores.size, QUANTILE_SAMPLE)]
    out: FloatArray = scores[np.isfinite(scores)]
    return out
