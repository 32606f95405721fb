"""``reward``: an outcome reward model scores every sample (a selector, no ground truth).

Any sequence classifier with one output that ``transformers`` loads
(``AutoModelForSequenceClassification``), by Hugging Face id or local path: e.g.
``Skywork/Skywork-Reward-Llama-3.1-8B-v0.2`` on a GPU. Each sample is shown as the
conversation (problem as the user turn, sample as the assistant turn) formatted with the
model's chat template; the score is the reward logit. Samples are scored in batches of
similar length; a text longer than ``max_length`` tokens keeps its end (the answer).

Verdicts have status ``scored`` and claim nothing about correctness; every scoring is
also a line of ``judgements/reward.jsonl`` (its tokens count as verification compute).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.core.errors import UsageError
from harness.core.judgements import Judgement, JudgementLog
from harness.core.options import option
from harness.core.records import Problem, Sample, Status, Verdict
from harness.core.verifier import Verifier
from verifiers._judge_text import question_of
from verifiers._judging import batches


@dataclass(frozen=True)
class RewardOptions:
    model: str = option("", "reward model: Hugging Face id or local path (a classifier)")
    batch_size: int = option(8, "samples per forward pass", min=1)
    max_length: int = option(4096, "tokens kept per sample (its end is kept)", min=8)
    device: str = option("auto", "cpu, cuda or auto", choices=("auto", "cpu", "cuda"))
    dtype: str = option(
        "auto",
        "weights dtype (auto: bfloat16 on GPU, float32 on CPU)",
        choices=("auto", "float32", "bfloat16", "float16"),
    )
    batch: int = option(64, "problems scored together", min=1)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()


class RewardVerifier(Verifier):
    """Outcome reward model through transformers; score = the reward logit."""

    name: ClassVar[str] = "reward"
    description: ClassVar[str] = "outcome reward model score (transformers classifier; selector)"
    Options: ClassVar[type] = RewardOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.model: Any = None
        self.tokenizer: Any = None
        self.log: JudgementLog | None = None
        self.device = "cpu"
        self.dtype = "float32"

    def selector(self) -> tuple[str, ...]:
        return ("best_of_k", "weighted_vote")

    def judgement_config(self) -> dict[str, Any]:
        o = self.options
        return {"model": o.model, "max_length": o.max_length, "dtype": self.dtype}

    def bind(self, backend: Any, log: JudgementLog | None) -> None:
        self.log = log

    # -- loading ------------------------------------------------------------------------------
    def check(self) -> None:
        """Load the model now: a missing path, an unloadable id or a model that is not a
        one-output classifier is a one-line error before anything is written."""
        name = self.options.model.strip()
        if not name:
            raise UsageError(
                "verifier 'reward' needs --verifier-opt model=<Hugging Face id or path of a "
                "reward model> (a sequence classifier with one output)"
            )
        if _looks_like_path(name) and not Path(name).expanduser().exists():
            raise UsageError(f"reward model path {name!r} does not exist")
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        where = str(Path(name).expanduser()) if _looks_like_path(name) else name
        try:
            config = AutoConfig.from_pretrained(where)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"reward model {name!r} could not be loaded: {first}") from None
        archs = list(getattr(config, "architectures", None) or [])
        if not any(a.endswith("ForSequenceClassification") for a in archs):
            raise UsageError(
                f"reward model {name!r} is not a sequence classifier (architectures: "
                f"{', '.join(archs) or 'none'}); give a reward model such as "
                "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2"
            )
        if int(getattr(config, "num_labels", 1)) != 1:
            raise UsageError(
                f"reward model {name!r} has {config.num_labels} outputs; a reward model has one"
            )
        o = self.options
        self.device = (
            o.device if o.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.dtype = (
            o.dtype if o.dtype != "auto" else ("bfloat16" if self.device == "cuda" else "float32")
        )
        try:
            tokenizer = AutoTokenizer.from_pretrained(where)
            model = AutoModelForSequenceClassification.from_pretrained(
                where, dtype=getattr(torch, self.dtype)
            )
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"reward model {name!r} could not be loaded: {first}") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.truncation_side = "left"  # keep the answer at the end
        model.config.pad_token_id = tokenizer.pad_token_id
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        if self.model is not None:
            cfg = self.model.config
            info["model_size"] = {
                "params": int(sum(p.numel() for p in self.model.parameters())),
                "layers": getattr(cfg, "num_hidden_layers", None),
                "d_model": getattr(cfg, "hidden_size", None),
                "source": "loaded model",
            }
            info.update(device=self.device, dtype=self.dtype)
            info["chat_template"] = bool(getattr(self.tokenizer, "chat_template", None))
        return info

    def close(self) -> None:
        self.model = None

    # -- scoring ------------------------------------------------------------------------------
    def text_of(self, problem: Problem, sample: Sample) -> str:
        """The conversation the reward model reads, through its chat template."""
        messages = [
            {"role": "user", "content": question_of(problem)},
            {"role": "assistant", "content": sample.text},
        ]
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(messages, tokenize=False))
        return f"{messages[0]['content']}\n\n{messages[1]['content']}"

    def score_texts(self, texts: Sequence[str]) -> tuple[list[float], list[int]]:
        """(reward logit, tokens read) of each text, in batches of similar length."""
        import torch

        if self.model is None:
            self.check()
        templated = bool(getattr(self.tokenizer, "chat_template", None))
        encoded = [
            self.tokenizer(
                t,
                add_special_tokens=not templated,  # the template wrote them already
                truncation=True,
                max_length=self.options.max_length,
            )["input_ids"]
            for t in texts
        ]
        scores = [0.0] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        size = self.options.batch_size
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            batch = self.tokenizer.pad(
                {"input_ids": [encoded[i] for i in rows]}, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits[:, 0].float().cpu().tolist()
            for i, value in zip(rows, logits, strict=True):
                scores[i] = float(value)
        return scores, [len(e) for e in encoded]

    def verify(self, problem: Problem, samples: Sequence[Sample]) -> list[Verdict]:
        return next(self.verify_many([(problem, samples)]))

    def verify_many(
        self, items: Iterable[tuple[Problem, Sequence[Sample]]]
    ) -> Iterator[list[Verdict]]:
        for batch in batches(items, self.options.batch):
            todo = [
                (p, s)
                for p, samples in batch
                for s in samples
                if self.log is None or (p.id, s.sample_index, None, "a", 0) not in self.log
            ]
            if todo:
                scores, tokens = self.score_texts([self.text_of(p, s) for p, s in todo])
                if self.log is not None:
                    self.log.add(
                        Judgement(p.id, s.sample_index, None, "a", 0, "scored", v, t)
                        for (p, s), v, t in zip(todo, scores, tokens, strict=True)
                    )
                    self.log.flush()
                fresh = {(p.id, s.sample_index): v for (p, s), v in zip(todo, scores, strict=True)}
            else:
                fresh = {}
            for p, samples in batch:
                out = []
                for s in samples:
                    if (p.id, s.sample_index) in fresh:
                        score = fresh[(p.id, s.sample_index)]
                    else:
                        assert self.log is not None
                        found = self.log.get((p.id, s.sample_index, None, "a", 0))
                        assert found is not None and found.score is not None
                        score = found.score
                    out.append(Verdict(p.id, s.sample_index, False, Status.SCORED, score=score))
                yield out
