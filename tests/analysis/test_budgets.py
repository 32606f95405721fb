"""Which run a budget should go to in FLOPs, eFLOPs and dollars, and when the unit changes
the answer."""

from __future__ import annotations

import numpy as np

from analysis.budgets import change_sentence, choices_by_unit


def test_the_unit_of_account_can_change_the_answer() -> None:
    k = np.arange(1, 65, dtype=float)
    small = 1 - 0.9**k  # a small model: cheap in FLOPs, sampled often
    big = 1 - 0.6**k  # a big one: costly in FLOPs, little memory traffic per sample
    curves = {
        "flops": {"small": (k * 1.0, small), "big": (k * 10.0, big)},
        # Memory traffic makes the small model's long samples cost as much as the big one's.
        "eflops": {"small": (k * 20.0, small), "big": (k * 12.0, big)},
    }
    table = choices_by_unit(curves, points=6)
    at = table[(table["reference"] == "big") & (table["k"] == 2)].iloc[0]
    # The budget of 2 big-model samples: 20 FLOPs (20 small samples: 0.878 > 0.84) but
    # 24 eFLOPs (1.2 small samples: 0.1 < 0.84).
    assert at["best_flops"] == "small" and at["coverage_flops"] == 1 - 0.9**20
    assert at["best_eflops"] == "big" and not at["agree"]
    sentence = change_sentence(table, ["flops", "eflops"])
    assert sentence.startswith("The unit changes the answer") and "FLOPs favour" in sentence


def test_units_that_agree_say_so() -> None:
    k = np.arange(1, 17, dtype=float)
    curves = {
        "flops": {"a": (k, 1 - 0.5**k), "b": (k * 2, 1 - 0.8**k)},
        "dollars": {"a": (k * 0.1, 1 - 0.5**k), "b": (k * 0.3, 1 - 0.8**k)},
    }
    table = choices_by_unit(curves)
    assert table["agree"].all()
    # Past the budgets run a measured, only b reaches them: b, in both units.
    assert set(table["best_flops"]) == {"a", "b"}
    assert "agree at every budget" in change_sentence(table, ["flops", "dollars"])
