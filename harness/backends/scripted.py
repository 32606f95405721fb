"""``scripted``: returns texts given by a test. For unit tests of the pipeline only.

``--backend-opt start_s=… sample_s=…`` make it take that long to start and per sample,
so a test can interrupt a real ``harness`` process while it starts or generates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult, gather
from harness.core.options import build, option

# A script returns the text of sample ``i``, or a whole Completion (to script logprobs).
Script = Callable[[GenRequest, int], "str | Completion"]


@dataclass(frozen=True)
class ScriptedOptions:
    """``--backend-opt`` of the ``scripted`` backend."""

    start_s: float = option(0.0, "seconds it takes to start (tests)", min=0)
    sample_s: float = option(0.0, "seconds per sample (tests)", min=0)


class ScriptedBackend:
    """Answers every request from ``script(request, sample_index) -> text``.

    Without a script it answers each problem's reference (or an empty string), which is
    enough to exercise generate -> verify -> analyze end to end in milliseconds.
    """

    name = "scripted"
    Options = ScriptedOptions

    def __init__(self, config: BackendConfig, script: Script | None = None) -> None:
        self.config = config
        self.options: ScriptedOptions = build(ScriptedOptions, config.options, "backend 'scripted'")
        self.script = script or (lambda req, i: req.problem.reference or "")
        self.calls: list[GenRequest] = []
        time.sleep(self.options.start_s)

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def stream(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        """One sample at a time, ``sample_s`` apart."""
        for req in requests:
            self.calls.append(req)
            for i in req.sample_indices:
                time.sleep(self.options.sample_s)
                made = self.script(req, i)
                yield GenResult(
                    request=req.part([i]),
                    completions=[
                        Completion(made, len(made.split()), "stop")
                        if isinstance(made, str)
                        else made
                    ],
                    prompt_tokens=len(req.problem.prompt.split()),
                    seed=(req.sampling or self.config.sampling).seed,
                )

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        return gather(self.stream, requests)

    def close(self) -> None:
        pass
