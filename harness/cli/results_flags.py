"""The flags of the commands that read what other runs and files hold: ``harness import``
(formats, and what the user states of imported samples) and ``harness compare``
(the allocation's split, budgets and cost)."""

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.flags import _opt
from harness.ingest.formats import FORMAT_FIELDS
from harness.ingest.meta import ImportMeta

if typing.TYPE_CHECKING:
    from harness.report.compare_allocation import AllocationOptions


def import_epilog() -> str:
    """The fields each import format reads, one paragraph per format (``harness import
    --help``)."""
    lines = [f"{name}: {text}." for name, text in FORMAT_FIELDS.items()]
    lines.append(
        "A release's configuration names can carry model and temperature: "
        "--name-pattern '(?P<model>.+)_(?P<temperature>[0-9.]+)' reads 'Qwen_0.2'."
    )
    return "Formats and their fields:\n\n" + "\n\n".join(lines)


@dataclass
class ImportFlags:
    samples_file: Annotated[
        Path,
        typer.Argument(
            help="The file to import (JSONL, Parquet, CSV or JSON).", show_default=False
        ),
    ]
    task: Annotated[str, _opt("--task", "-t", help="Task name (see `harness tasks`).")]
    out: Annotated[
        Path,
        _opt("--out", "-o", help="Run directory (a folder of runs for a counts release)."),
    ]
    model: Annotated[str, _opt("--model", help="Name of the model that made them.")] = "imported"
    temperature: Annotated[
        float | None,
        _opt("--temperature", help="Sampling temperature they were drawn at.", default="unknown"),
    ] = None
    seed: Annotated[
        int | None, _opt("--seed", help="Sampling seed they were drawn with.", default="unknown")
    ] = None
    label: Annotated[
        str | None,
        _opt("--label", help="Name of the run on pages.", default="model and temperature"),
    ] = None
    cost_per_sample: Annotated[
        float | None,
        _opt(
            "--cost-per-sample",
            help="Cost of one sample, so harness compare can allocate by cost without "
            "token counts.",
            default="none",
        ),
    ] = None
    cost_unit: Annotated[
        str, _opt("--cost-unit", help="Unit of --cost-per-sample (dollars, GPU-seconds, ...).")
    ] = "dollars"
    name_pattern: Annotated[
        str | None,
        _opt(
            "--name-pattern",
            help="counts release: regular expression whose named groups (model, "
            "temperature, seed) are read from each configuration name (see below).",
        ),
    ] = None
    analyze: Annotated[
        bool,
        _opt(
            "--analyze/--no-analyze",
            help="Analyse the runs a counts import writes, ready for harness report/compare.",
        ),
    ] = True
    append: Annotated[
        bool,
        _opt(
            "--append",
            help="Add lines without a sample_index after the samples the run holds (default:"
            " a line's index is its place in the file, and samples already there are skipped).",
        ),
    ] = False
    fmt: Annotated[
        str,
        _opt(
            "--format",
            help=f"auto (told from the fields) | {' | '.join(FORMAT_FIELDS)}: fields below.",
        ),
    ] = "auto"

    def meta(self) -> ImportMeta:
        """What the flags state about the imported samples."""
        return ImportMeta(
            model=self.model,
            temperature=self.temperature,
            seed=self.seed,
            label=self.label,
            cost_per_sample=self.cost_per_sample,
            cost_unit=self.cost_unit,
        ).check()


@dataclass
class CompareFlags:
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Analysed run directories, or folders of them.")
    ]
    out: Annotated[Path | None, _opt("--out", "-o", help="Folder for compare.html and plots/.")] = (
        None
    )
    allow_mixed: Annotated[
        bool,
        _opt(
            "--allow-mixed",
            help="Compare runs of different tasks or problem sets (labelled as such on the page).",
        ),
    ] = False
    split_key: Annotated[
        str | None,
        _opt(
            "--split-key",
            help="Problem-metadata field whose values (train, test, both) fix the allocation's "
            "train/test split, e.g. the split of an imported release.",
            default="random splits",
        ),
    ] = None
    train_frac: Annotated[
        float | None,
        _opt(
            "--train-frac",
            help="Share of problems in each random split's training half.",
            default="0.5",
        ),
    ] = None
    split_seeds: Annotated[
        int | None,
        _opt(
            "--split-seeds",
            help="Random splits (seeds 0..N-1); every allocation number is their mean and spread.",
            default="20",
        ),
    ] = None
    budgets: Annotated[
        str | None,
        _opt(
            "--budgets",
            help="Comma-separated budgets per problem in the allocation's unit, e.g. 1,2,4,300.",
            default="powers of 2 up to N",
        ),
    ] = None
    allocate_by: Annotated[
        str,
        _opt(
            "--allocate-by",
            help="Cost of a sample: auto (cost stated on import, else FLOPs, else samples), "
            "samples, flops or cost.",
        ),
    ] = "auto"

    def allocation(self) -> "AllocationOptions":
        """The allocation options, checked."""
        from harness.report.compare_allocation import AllocationOptions, parse_budgets

        return AllocationOptions(
            split_key=self.split_key,
            train_frac=self.train_frac,
            split_seeds=self.split_seeds,
            budgets=parse_budgets(self.budgets),
            allocate_by=self.allocate_by,
        ).check()
