"""``scripted``: returns texts given by a test. For unit tests of the pipeline only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harness.core.backend import BackendConfig, Completion, GenRequest, GenResult

# A script returns the text of sample ``i``, or a whole Completion (to script logprobs).
Script = Callable[[GenRequest, int], "str | Completion"]


class ScriptedBackend:
    """Answers every request from ``script(request, sample_index) -> text``.

    Without a script it answers each problem's reference (or an empty string), which is
    enough to exercise generate -> verify -> analyze end to end in milliseconds.
    """

    name = "scripted"

    def __init__(self, config: BackendConfig, script: Script | None = None) -> None:
        self.config = config
        self.script = script or (lambda req, i: req.problem.reference or "")
        self.calls: list[GenRequest] = []

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def generate(self, requests: Iterable[GenRequest]) -> Iterator[GenResult]:
        for req in requests:
            self.calls.append(req)
            made = [self.script(req, i) for i in req.sample_indices]
            yield GenResult(
                request=req,
                completions=[
                    Completion(t, len(t.split()), "stop") if isinstance(t, str) else t for t in made
                ],
                prompt_tokens=len(req.problem.prompt.split()),
                seed=(req.sampling or self.config.sampling).seed,
            )

    def close(self) -> None:
        pass
