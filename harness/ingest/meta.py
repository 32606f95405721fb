"""What a user states about imported samples (``--model``, ``--temperature``, ``--seed``,
``--label``, ``--cost-per-sample``), and how it goes into the run's manifest.

An imported file rarely says how its samples were drawn; what the user does not state is
recorded as unknown (``RunManifest.sampling_given`` lists what was stated), so no page
prints a default temperature as if it were the run's.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from harness.core.errors import UsageError
from harness.core.records import SamplingConfig


@dataclass(frozen=True)
class ImportMeta:
    """Facts about imported samples, written into the manifest of every run imported.

    Attributes:
        model: The model that made the samples (a name; sizes known to ``harness models``
            give FLOPs when the file carries token counts).
        temperature: Sampling temperature, if known.
        seed: Sampling seed, if known.
        label: How pages name the run (default: model and temperature).
        cost_per_sample: Cost of one sample, in ``cost_unit``, so runs without token
            counts can still be allocated by cost.
        cost_unit: Unit of ``cost_per_sample`` (``harness compare`` allocates by it only
            when every run states one in the same unit).
    """

    model: str = "imported"
    temperature: float | None = None
    seed: int | None = None
    label: str | None = None
    cost_per_sample: float | None = None
    cost_unit: str = "dollars"

    def check(self, where: str = "") -> ImportMeta:
        """This, after checking each value.

        Raises:
            UsageError: a negative temperature or a cost that is not a positive number.
        """
        at = f"{where}: " if where else ""
        if self.temperature is not None and not (
            math.isfinite(self.temperature) and self.temperature >= 0
        ):
            raise UsageError(f"{at}temperature must be a number >= 0, got {self.temperature}")
        if self.cost_per_sample is not None and not (
            math.isfinite(self.cost_per_sample) and self.cost_per_sample > 0
        ):
            raise UsageError(f"{at}cost per sample must be > 0, got {self.cost_per_sample}")
        if not self.model:
            raise UsageError(f"{at}model name is empty")
        return self

    def with_defaults(self, other: ImportMeta) -> ImportMeta:
        """This, with each unset field (None, or the default model name) taken from ``other``."""
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            mine = getattr(self, f.name)
            if mine is None or (mine == f.default and f.name in ("model", "cost_unit")):
                changes[f.name] = getattr(other, f.name)
        return dataclasses.replace(self, **changes)

    def manifest_fields(self) -> dict[str, Any]:
        """Keyword arguments of ``new_manifest``: model, sampling and what the user stated."""
        stated = {k: getattr(self, k) for k in ("temperature", "seed")}
        stated = {k: v for k, v in stated.items() if v is not None}
        given = tuple(stated)
        sampling = SamplingConfig(**stated)
        return {
            "model": self.model,
            "sampling": sampling,
            "sampling_given": given,
            "label": self.label,
            "cost_per_sample": self.cost_per_sample,
            "cost_unit": self.cost_unit if self.cost_per_sample is not None else None,
        }
