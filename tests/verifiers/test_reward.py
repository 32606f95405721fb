"""The ``reward`` verifier on a real transformers classifier, built from a config here and
saved to a temporary directory, then loaded through the verifier's own path (the model's
files, its tokenizer and chat template, batched scoring)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.analyze import AnalysisSettings, analyze
from harness.core.errors import UsageError
from harness.core.judgements import judgements_path
from harness.verify import load_verifier, verify
from tests.verifiers.judge_runs import make_math_run

FAST = AnalysisSettings(n_boot=50, fit_points=8)
CHAT = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = ["What is 3 + 10? Adding the numbers step by step. #### 13 user assistant"] * 20
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(vocab_size=120, special_tokens=["[PAD]", "[UNK]", "<s>", "</s>"]),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="<s>",
        eos_token="</s>",
    )
    fast.chat_template = CHAT
    return fast


def tiny_llama(**kw: object) -> object:
    """A two-layer Llama config: a real architecture, small enough to build in a test."""
    from transformers import LlamaConfig

    size = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    heads = {"num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 256}
    return LlamaConfig(**size, **heads, **kw)


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import LlamaForSequenceClassification

    out = tmp_path_factory.mktemp("tiny-reward")
    tokenizer = _tokenizer()
    config = tiny_llama(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,  # type: ignore[attr-defined]
    )
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)  # type: ignore[attr-defined]
    return out


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_scores_are_the_reward_logit_of_the_chat_formatted_sample(
    tmp_path: Path, reward_model: Path
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    store = make_math_run(tmp_path / "run", problems=3, n=5)
    verify(store, "reward", {"model": str(reward_model), "batch_size": "3"})
    verdicts = lines(store.verdicts_path("reward"))
    assert len(verdicts) == 15 and {v["status"] for v in verdicts} == {"scored"}
    # The same numbers from the model used directly, one text at a time (no padding).
    model = AutoModelForSequenceClassification.from_pretrained(reward_model).eval()
    tok = AutoTokenizer.from_pretrained(reward_model)
    problems = {p["id"]: p for p in lines(store.problems_path)}
    samples = {(s["problem_id"], s["sample_index"]): s["text"] for s in lines(store.samples_path)}
    for v in verdicts:
        question = problems[v["problem_id"]]["messages"][-1]["content"]
        text = tok.apply_chat_template(
            [
                {"role": "user", "content": question},
                {"role": "assistant", "content": samples[(v["problem_id"], v["sample_index"])]},
            ],
            tokenize=False,
        )
        with torch.inference_mode():
            want = model(**tok(text, add_special_tokens=False, return_tensors="pt")).logits[0, 0]
        assert v["score"] == pytest.approx(float(want), abs=1e-4)
    calls = lines(judgements_path(store.root, "reward"))
    assert len(calls) == 15 and all(c["prompt_tokens"] > 10 for c in calls)
    meta = json.loads((store.root / "verdicts" / "reward.meta.json").read_text())
    assert meta["model_size"]["params"] > 0 and meta["selection"] == ["best_of_k", "weighted_vote"]


def test_batching_does_not_change_scores(tmp_path: Path, reward_model: Path) -> None:
    one = make_math_run(tmp_path / "one", problems=2, n=6)
    many = make_math_run(tmp_path / "many", problems=2, n=6)
    verify(one, "reward", {"model": str(reward_model), "batch_size": "1"})
    verify(many, "reward", {"model": str(reward_model), "batch_size": "8"})
    a = [v["score"] for v in lines(one.verdicts_path("reward"))]
    b = [v["score"] for v in lines(many.verdicts_path("reward"))]
    assert a == pytest.approx(b, abs=1e-5)


def test_analysis_scores_reward_selection_and_counts_its_compute(
    tmp_path: Path, reward_model: Path
) -> None:
    store = make_math_run(tmp_path / "run", problems=4, n=6)
    verify(store, "reward", {"model": str(reward_model)})
    analyze(store.root, settings=FAST)
    sel = pd.read_csv(store.analysis_dir / "selection.csv")
    assert {"best_of_k:reward", "weighted_vote:reward"} <= set(sel.columns)
    cost = pd.read_csv(store.analysis_dir / "selection_compute.csv")
    mine = cost[cost["method"] == "best_of_k:reward"]
    assert (mine["verification_flops"] > 0).all()
    # Scoring k samples costs k times one scoring.
    ratio = mine["verification_flops"].to_numpy() / mine["k"].to_numpy()
    assert ratio == pytest.approx([ratio[0]] * len(ratio))
    assert (cost[cost["method"] == "majority"]["verification_flops"] == 0).all()


def test_resume_reuses_stored_scores(tmp_path: Path, reward_model: Path) -> None:
    store = make_math_run(tmp_path / "run", problems=2, n=4)
    verify(store, "reward", {"model": str(reward_model)})
    first = lines(store.verdicts_path("reward"))
    store.verdicts_path("reward").unlink()
    impl = load_verifier("reward", {"model": str(reward_model)})
    impl.score_texts = None  # type: ignore[attr-defined,method-assign,assignment]
    verify(store, "reward", impl=impl)  # every score is in the log: no forward pass
    assert lines(store.verdicts_path("reward")) == first


def test_bad_models_are_one_line_errors(tmp_path: Path, reward_model: Path) -> None:
    from transformers import LlamaForCausalLM

    with pytest.raises(UsageError, match="does not exist"):
        load_verifier("reward", {"model": str(tmp_path / "nope")})
    lm = tmp_path / "lm"
    LlamaForCausalLM(tiny_llama(vocab_size=64)).save_pretrained(lm)
    with pytest.raises(UsageError, match="not a sequence classifier"):
        load_verifier("reward", {"model": str(lm)})
    with pytest.raises(UsageError, match="needs --verifier-opt model="):
        load_verifier("reward", {})
