"""``harness compare`` on imported releases: the allocation a reviewer can trust (split from
the problems or repeated random splits, best single chosen on train, budgets), its plot
and its page; bad options are one line and exit code 2, and nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runs import chromium_console, harness, one_error
from releases import (
    NAMES,
    RUNS,
    brute_force_mix,
    exact_coverage,
    random_release,
    specialist_counts,
    specialist_release,
)

from harness.core.errors import UsageError
from harness.ingest import ImportMeta, import_file
from harness.report.compare import compare
from harness.report.compare_allocation import AllocationOptions


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The specialist release imported in one command (analysed on import)."""
    tmp = tmp_path_factory.mktemp("release")
    src = specialist_release(tmp / "results.json")
    proc = harness(
        "import",
        src,
        "--task",
        "toy",
        "--out",
        tmp / "runs",
        "--name-pattern",
        r"(?P<model>[a-z]+)_(?P<temperature>[0-9.]+)",
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr
    return tmp / "runs"


def test_compare_with_the_release_split_finds_the_best_mix(imported: Path) -> None:
    cmp = imported.parent / "cmp"
    proc = harness(
        "compare",
        imported,
        "--split-key",
        "split",
        "--budgets",
        "2,4",
        "--out",
        cmp,
        cwd=cmp.parent,
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(cmp / "allocation.csv")
    assert list(table["budget"]) == [2, 4]
    assert list(table["unit"]) == ["samples per problem"] * 2
    # The mix a brute force over every mix finds on the training problems.
    evens, odds = list(range(0, 24, 2)), list(range(1, 24, 2))
    train, test = evens[:8] + odds[:4], evens[8:] + odds[4:]
    cs_train = list(specialist_counts(train).values())
    cs_test = list(specialist_counts(test).values())
    for row in table.itertuples():
        best = brute_force_mix(RUNS, cs_train, int(row.budget))
        want = " + ".join(f"{m} ×{k}" for m, k in zip(NAMES, best, strict=True) if k)
        assert row.mix == want
        assert row.mix_test == pytest.approx(exact_coverage(RUNS, cs_test, best), abs=1e-12)
        # The best single configuration is the one best on the training problems.
        b = int(row.budget)
        singles = [tuple(b if j == i else 0 for j in range(3)) for i in range(3)]
        alone = max(singles, key=lambda m: exact_coverage(RUNS, cs_train, m))
        assert row.best_single == f"{NAMES[alone.index(b)]} ×{b}"
        assert row.single_test == pytest.approx(exact_coverage(RUNS, cs_test, alone), abs=1e-12)
        assert row.gain_lo - 1e-12 <= row.gain_test <= row.gain_hi + 1e-12
    # At 2 samples that is alpha, though beta would score better on the test problems.
    assert table["best_single"].iloc[0] == "alpha_0.2 ×2"
    assert table["test:beta_1.0"].iloc[0] > table["single_test"].iloc[0]
    assert table["mix"].iloc[0] == "alpha_0.2 ×1 + beta_1.0 ×1"
    assert table["mix"].iloc[1] == "alpha_0.2 ×2 + beta_1.0 ×2"
    assert (table["train_problems"] == 12).all() and (table["test_problems"] == 12).all()
    page = (cmp / "compare.html").read_text()
    assert page.count("What produced these runs") == 1
    # Provenance is said once per page, not under every figure or once per run.
    assert all("numpy" not in c for c in re.findall(r"<figcaption>(.*?)</figcaption>", page))
    assert "percentile bootstrap over the test problems" in page
    assert (cmp / "plots" / "allocation.png").stat().st_size > 10_000
    assert (cmp / "plots" / "allocation.pdf").exists()
    # Each configuration's temperature, read from its name on import, names the run.
    assert "T=0.2" in page and "T=1.0" in page and "T=0.6" in page


def test_repeated_splits_report_the_spread_of_a_direct_computation(tmp_path: Path) -> None:
    src = random_release(tmp_path / "release.json")
    import_file(src, tmp_path / "runs", "toy", "counts")
    from harness.analyze import AnalysisSettings, analyze

    for run in sorted((tmp_path / "runs").iterdir()):
        analyze(run, settings=AnalysisSettings(n_boot=50))
    seeds, budgets = 5, (2, 5)
    opts = AllocationOptions(split_seeds=seeds, budgets=budgets, train_frac=0.4)
    compare([tmp_path / "runs"], tmp_path / "cmp", allocation=opts)
    summary = pd.read_csv(tmp_path / "cmp" / "allocation.csv")
    per_split = pd.read_csv(tmp_path / "cmp" / "osca.csv")
    assert sorted(set(per_split["split_seed"])) == list(range(seeds))
    # The same numbers computed here from the release itself: the problems sorted by id,
    # seed s keeps the first round(0.4 * 30) of numpy's default_rng(s).permutation(30)
    # for training; brute force over every mix; exact coverage by binomial coefficients.
    import json

    release = json.loads(src.read_text())
    ids = release["problems"]
    order = sorted(range(len(ids)), key=lambda i: ids[i])
    names = sorted(release["counts"])  # the runs are compared in folder order
    counts = [[release["counts"][m][i] for i in order] for m in names]
    for budget, row in zip(budgets, summary.itertuples(), strict=True):
        gains = []
        for seed in range(seeds):
            perm = np.random.default_rng(seed).permutation(len(ids))
            tr, te = perm[:12], perm[12:]
            cs_tr = [[c[i] for i in tr] for c in counts]
            cs_te = [[c[i] for i in te] for c in counts]
            mix = brute_force_mix(10, cs_tr, budget)
            singles = [tuple(budget if j == b else 0 for j in range(3)) for b in range(3)]
            single = max(singles, key=lambda m: exact_coverage(10, cs_tr, m))
            gains.append(exact_coverage(10, cs_te, mix) - exact_coverage(10, cs_te, single))
        assert row.gain == pytest.approx(np.mean(gains), abs=1e-12)
        assert row.gain_std == pytest.approx(np.std(gains, ddof=1), abs=1e-12)
        assert row.splits == seeds
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert "5 random splits" in page and "corrected resampled t interval" in page


def test_bad_compare_options_are_one_line_and_write_nothing(imported: Path) -> None:
    out = imported.parent / "never"
    for args in (["--budgets", "0,2"], ["--budgets=-1"]):
        line = one_error(harness("compare", imported, *args, "--out", out, cwd=out.parent))
        assert "--budgets must be positive" in line
        assert not out.exists()
    cases = [
        (AllocationOptions(budgets=(2.5,)), "whole numbers"),
        (AllocationOptions(split_key="level"), "has no 'level'"),
        (AllocationOptions(split_key="split", split_seeds=3), "--split-key fixes the split"),
        (AllocationOptions(train_frac=1.5), "--train-frac must be between 0 and 1"),
        (AllocationOptions(split_seeds=0), "--split-seeds must be at least 1"),
    ]
    for opts, needle in cases:
        with pytest.raises(UsageError, match=re.escape(needle)):
            compare([imported], out, allocation=opts)
        assert not out.exists()


def test_a_split_key_that_not_every_problem_has_is_refused(tmp_path: Path) -> None:
    rows = "problem_id,n,c,split\na,4,1,train\nb,4,2,test\nc,4,0,\nd,4,3,train\ne,4,4,test\n"
    (tmp_path / "x.csv").write_text(rows)
    (tmp_path / "y.csv").write_text(rows.replace("a,4,1", "a,4,3"))
    for name in ("x", "y"):
        import_file(tmp_path / f"{name}.csv", tmp_path / "runs" / name, "toy", "counts")
    from harness.analyze import AnalysisSettings, analyze

    for name in ("x", "y"):
        analyze(tmp_path / "runs" / name, settings=AnalysisSettings(n_boot=20))
    proc = harness(
        "compare",
        tmp_path / "runs",
        "--split-key",
        "split",
        "--out",
        tmp_path / "cmp",
        cwd=tmp_path,
    )
    assert "problem 'c' of " in one_error(proc) and "(4 of 5 problems have it)" in proc.stderr
    assert not (tmp_path / "cmp").exists()


def test_allocation_by_the_cost_stated_on_import(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for name, cost in (("cheap", 1.0), ("dear", 4.0)):
        rates = rng.beta(0.5, 1.0, 20)
        lines = "problem_id,n,c\n" + "".join(
            f"p{i},16,{rng.binomial(16, r)}\n" for i, r in enumerate(rates)
        )
        (tmp_path / f"{name}.csv").write_text(lines)
        meta = ImportMeta(model=name, cost_per_sample=cost, cost_unit="GPU-seconds")
        import_file(tmp_path / f"{name}.csv", tmp_path / name, "toy", "counts", meta=meta)
        from harness.analyze import AnalysisSettings, analyze

        analyze(tmp_path / name, settings=AnalysisSettings(n_boot=20))
    opts = AllocationOptions(split_seeds=3, budgets=(4.0, 16.0))
    compare([tmp_path / "cheap", tmp_path / "dear"], tmp_path / "cmp", allocation=opts)
    table = pd.read_csv(tmp_path / "cmp" / "osca.csv")
    assert (table["unit"] == "GPU-seconds per problem").all()
    assert ((table["k:cheap"] + 4 * table["k:dear"]) <= table["budget"]).all()
    with pytest.raises(UsageError, match="--allocate-by flops needs compute"):
        compare(
            [tmp_path / "cheap", tmp_path / "dear"],
            tmp_path / "cmp2",
            allocation=AllocationOptions(allocate_by="flops"),
        )
    assert not (tmp_path / "cmp2").exists()


def test_any_number_of_lines_look_different() -> None:
    from harness.report.plot_style import line_style

    looks = {(s["color"], str(s["ls"]), s["marker"]) for s in map(line_style, range(280))}
    assert len(looks) == 280
    assert all(s["color"] != "#000000" for s in map(line_style, range(280)))  # black: the mix


@pytest.mark.slow
def test_compare_page_with_the_allocation_renders_in_chromium(imported: Path) -> None:
    out = imported.parent / "rendered"
    compare([imported], out, allocation=AllocationOptions(split_seeds=3, budgets=(1, 2, 4, 8)))
    shot = out / "shot.png"
    assert chromium_console(out / "compare.html", shot, height=2400) == []
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert (pixels < 0.9).any(axis=-1).mean() > 0.02  # text, plots and tables drawn
