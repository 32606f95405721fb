"""The selection part of ``harness analyze``: every selection method of every verifier
present, scored against the ground-truth verifier, and what each costs.

A *selector* (reward, judge, pairwise, or any verifier whose verdicts only carry scores:
status ``scored``/``unparsed``) claims nothing about correctness; its methods
(``verdicts/<v>.meta.json``: ``selection``) are scored against the truth verifier:
best-of-k and the weighted vote from its scores, verification@k and tournament@k from the
picks it recorded. A verifier that judges correctness (exact, math, unit_tests, ...) is
compared with the truth instead (``verifier_errors.csv``).

Files: ``selection.csv`` (k, coverage, majority, ``<method>:<verifier>`` and the bands
``<method>:<verifier>:lo|hi`` of the methods scored from picks), ``selection_compute.csv``
(accuracy against generation + verification FLOPs) and ``selection_compute.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.compute import ModelSize, compute_curve, problem_compute
from analysis.prices import load_prices
from analysis.selection import SCORE_METHODS, selection_curves
from analysis.selection_compute import CallCost, call_costs, selection_compute
from analysis.tournament import picked_curve
from analysis.verifier_errors import verifier_errors
from harness.analyze.compute import model_size
from harness.analyze.settings import AnalysisSettings, AnalyzeResult
from harness.core.coltypes import TokenCounts, VerdictColumns
from harness.core.columns import read_verdict_columns
from harness.core.judgements import read_judgement_tokens, read_selections
from harness.core.manifest import RunManifest
from harness.core.records import Status
from harness.core.store import RunStore, write_json
from harness.models.facts import model_facts

SELECTOR_STATUSES = {Status.SCORED.value, Status.UNPARSED.value}
PICK_METHODS = ("verification", "tournament")


@dataclass
class Selector:
    """A verifier whose verdicts rank samples instead of judging them."""

    name: str
    cols: VerdictColumns
    methods: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def read_meta(store: RunStore, verifier: str) -> dict[str, Any]:
    path = store.root / "verdicts" / f"{verifier}.meta.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        data = {}
    return data


def split_verifiers(
    store: RunStore, truth_name: str
) -> tuple[dict[str, Selector], dict[str, VerdictColumns]]:
    """(selectors, verifiers that judge correctness) other than the truth."""
    selectors: dict[str, Selector] = {}
    judges: dict[str, VerdictColumns] = {}
    for v in store.verifiers():
        if v == truth_name:
            continue
        cols = read_verdict_columns(store.verdicts_path(v))
        meta = read_meta(store, v)
        methods = tuple(meta.get("selection") or ())
        if not methods and cols.statuses and set(cols.statuses) <= SELECTOR_STATUSES:
            methods = ("best_of_k",)  # scores from elsewhere: ranked by them
        if methods:
            selectors[v] = Selector(v, cols, methods, meta)
        else:
            judges[v] = cols
    return selectors, judges


def selection_section(
    store: RunStore,
    name: str,
    truth: VerdictColumns,
    ks: np.ndarray,
    s: AnalysisSettings,
    out: AnalyzeResult,
) -> tuple[pd.DataFrame, dict[str, Selector], dict[str, pd.DataFrame]]:
    """``selection.csv`` and the errors of every other correctness verifier against the
    truth; returns the table, the selectors and the per-pick call counts (for compute)."""
    selectors, judges = split_verifiers(store, name)
    scorers = {name: truth, **judges, **{v: sel.cols for v, sel in selectors.items()}}
    methods = {v: [m for m in sel.methods if m in SCORE_METHODS] for v, sel in selectors.items()}
    majority_csv = store.analysis_dir / "majority.csv"
    frame = selection_curves(
        truth, scorers, ks, with_majority=not majority_csv.exists(), seed=s.seed, methods=methods
    )
    if "majority" not in frame and majority_csv.exists():
        # Written by the majority step: reuse it at the k it has.
        maj = pd.read_csv(majority_csv)
        frame = frame.merge(maj[["k", "majority"]], on="k", how="left")
        rest = [c for c in frame.columns if c not in ("k", "coverage", "majority")]
        frame = frame[["k", "coverage", "majority", *rest]]
    pick_calls: dict[str, pd.DataFrame] = {}
    for v, sel in selectors.items():
        wanted = [m for m in sel.methods if m in PICK_METHODS]
        picks = read_selections(store.root, v) if wanted else None
        for method in wanted:
            assert picks is not None
            mine = picks[picks["method"] == method]
            if mine.empty:
                out.notes.append(
                    f"{v}: no {method} picks recorded (judgements/{v}.selections.jsonl)"
                )
                continue
            curve = picked_curve(truth, mine, ks, n_boot=s.n_boot, seed=s.seed, level=s.level)
            column = f"{method}:{v}"
            frame[column] = curve["accuracy"].to_numpy()
            frame[f"{column}:lo"] = curve["lo"].to_numpy()
            frame[f"{column}:hi"] = curve["hi"].to_numpy()
            pick_calls[column] = curve[["k", "pointwise_calls", "pairwise_calls", "draws"]]
    out.files.append(store.analysis_dir / "selection.csv")
    frame.to_csv(out.files[-1], index=False)
    out.selectors = {v: _selector_facts(store, sel) for v, sel in selectors.items()}
    rows = []
    for other, cols in judges.items():
        try:
            errs = verifier_errors(truth, cols, ks, names=(name, other))
        except ValueError:
            out.notes.append(f"verifier {other!r} judged no sample {name!r} judged")
            continue
        rows.append({"verifier": other, "truth": name, **errs.confusion.to_dict()})
        path = store.analysis_dir / f"verifier_curves_{other}.csv"
        errs.curves.to_csv(path, index=False)
        out.files.append(path)
    if rows:
        out.files.append(store.analysis_dir / "verifier_errors.csv")
        pd.DataFrame(rows).to_csv(out.files[-1], index=False)
    return frame, selectors, pick_calls


def _selector_facts(store: RunStore, sel: Selector) -> dict[str, Any]:
    """What a selector did: its verdicts' statuses, its calls and how many were unreadable."""
    calls = read_judgement_tokens(store.root, sel.name)
    unparsed = int((calls["outcome"] == Status.UNPARSED.value).sum()) if len(calls) else 0
    options = sel.meta.get("options") or {}
    return {
        "methods": list(sel.methods),
        "statuses": sel.cols.status_counts(),
        "samples": len(sel.cols),
        "model": options.get("model"),
        "mode": options.get("mode"),
        "judgements": len(calls),
        "unparsed_judgements": unparsed,
        "prompt_tokens": int(calls["prompt_tokens"].sum()) if len(calls) else 0,
        "completion_tokens": int(calls["completion_tokens"].sum()) if len(calls) else 0,
    }


def _model_size(sel: Selector) -> ModelSize | None:
    """The selector model's size: recorded by the verifier, else looked up by its name."""
    got = sel.meta.get("model_size") or {}
    if not all(got.get(k) for k in ("params", "layers", "d_model")):
        model = (sel.meta.get("options") or {}).get("model")
        facts = model_facts(str(model)) if model else None
        if facts is None or None in (facts.params, facts.layers, facts.d_model):
            return None
        got = {"params": facts.params, "layers": facts.layers, "d_model": facts.d_model}
        got["source"] = facts.source
    return ModelSize(
        int(got["params"]),
        int(got["layers"]),
        int(got["d_model"]),
        str(got.get("source", "verifier")),
    )


def selection_compute_section(
    store: RunStore,
    manifest: RunManifest,
    truth: VerdictColumns,
    selection: pd.DataFrame,
    selectors: dict[str, Selector],
    pick_calls: dict[str, pd.DataFrame],
    tokens: TokenCounts,
    s: AnalysisSettings,
    out: AnalyzeResult,
) -> None:
    """Selection accuracy against generation + verification FLOPs
    (``selection_compute.csv``, ``selection_compute.json``)."""
    paths = [
        store.analysis_dir / "selection_compute.csv",
        store.analysis_dir / "selection_compute.json",
    ]
    size = model_size(manifest.model, s.model_size)
    info: dict[str, Any] = {"available": False, "verifiers": {}}
    if size is None:
        info["reason"] = f"size of model {manifest.model!r} unknown (params, layers, d_model)"
    elif not tokens.problem.size or not (tokens.completion_tokens > 0).any():
        info["reason"] = "samples carry no token counts"
    if "reason" in info:
        paths[0].unlink(missing_ok=True)
        out.files.append(write_json(paths[1], info))
        return
    assert size is not None
    generation = compute_curve(
        problem_compute(tokens, size),
        truth.problem_ids,
        selection["k"],
        selection["coverage"],
        manifest.model,
        load_prices(),
        shared_prefix=s.shared_prefix,
    )
    costs: dict[str, CallCost] = {}
    for v, sel in selectors.items():
        judge_size = _model_size(sel)
        calls = read_judgement_tokens(store.root, v)
        if judge_size is None or not len(calls):
            reason = "model size unknown" if judge_size is None else "no judgements recorded"
            info["verifiers"][v] = {"available": False, "reason": reason}
            out.notes.append(f"no verification compute for {v}: {reason}")
            continue
        costs[v] = call_costs(calls, truth.problem_ids, judge_size)
        info["verifiers"][v] = {
            "available": True,
            "model": (sel.meta.get("options") or {}).get("model"),
            "params": judge_size.params,
            "layers": judge_size.layers,
            "d_model": judge_size.d_model,
            "facts_from": judge_size.source,
            "calls_per_sample": costs[v].calls_per_sample,
            "flops_per_pointwise_call": costs[v].pointwise_flops / max(len(truth.problem_ids), 1),
            "flops_per_pairwise_call": costs[v].pairwise_flops / max(len(truth.problem_ids), 1),
        }
    table = selection_compute(selection, generation["flops"], costs, pick_calls)
    table.to_csv(paths[0], index=False)
    info.update(
        available=True,
        generation_model=manifest.model,
        problems=len(truth.problem_ids),
        prompt_counting="every judge call's prompt counted in full (prefix-cache savings "
        "not subtracted); generation prompts "
        + ("once per problem" if s.shared_prefix else "once per sample"),
    )
    out.files.extend([paths[0], write_json(paths[1], info)])
