"""First-token log-probabilities as the backends read them back (the judge's logprob mode):
the OpenAI chat and completions formats, and vLLM's outputs (the slow end-to-end test
``tests/verifiers/test_judges_e2e.py`` runs the real engine)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from harness.backends._vllm_outputs import first_token_logprobs as from_vllm
from harness.backends.openai import first_token_logprobs as from_openai
from verifiers._judge_text import token_mass


def test_openai_chat_and_completions_formats() -> None:
    chat = {
        "logprobs": {
            "content": [
                {
                    "token": "Yes",
                    "logprob": -0.2,
                    "top_logprobs": [
                        {"token": "Yes", "logprob": -0.2},
                        {"token": " No", "logprob": -1.8},
                    ],
                },
                {"token": ".", "logprob": -0.1, "top_logprobs": []},
            ]
        }
    }
    assert from_openai(chat) == {"Yes": -0.2, " No": -1.8}
    completions = {"logprobs": {"tokens": [" B"], "top_logprobs": [{" B": -0.3, " A": -1.4}]}}
    assert from_openai(completions) == {" B": -0.3, " A": -1.4}
    assert from_openai({"logprobs": None}) is None and from_openai({}) is None


@dataclass
class Logprob:  # the fields vLLM's Logprob has
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class Output:
    logprobs: list[dict[int, Logprob]] | None


def test_vllm_token_ids_that_decode_alike_are_summed() -> None:
    out = Output(
        [
            {
                5: Logprob(math.log(0.5), 1, "Yes"),
                9: Logprob(math.log(0.2), 2, "Yes"),
                3: Logprob(math.log(0.1), 3, "No"),
            }
        ]
    )
    got = from_vllm(out)
    assert got is not None and math.exp(got["Yes"]) == pytest.approx(0.7)
    assert from_vllm(Output(None)) is None


def test_yes_no_mass_ignores_case_spaces_and_punctuation() -> None:
    top = {" Yes": math.log(0.4), "yes.": math.log(0.2), "NO": math.log(0.1), "Maybe": -1.0}
    assert token_mass(top, {"yes"}) == pytest.approx(0.6)
    assert token_mass(top, {"no"}) == pytest.approx(0.1)
    assert token_mass(None, {"yes"}) == 0.0
