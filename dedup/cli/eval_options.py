"""The options of the commands that measure or learn that are no settings (the labelled data,
the articles to learn from, the sweep of thresholds, its plot), each declared once, and the
sweep's range read."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

PairsFileArg = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="JSONL or CSV: text1, text2, lang1, lang2, overall."),
]
LabelsOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        envvar="DEDUP_LABELS",
        help="Gold stories: CSV id,story (or JSON); else the records' story field.",
    ),
]
CorpusOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--corpus",
        envvar="DEDUP_CORPUS",
        metavar="PATH",
        help="Articles to learn from, read and cleaned as dedup reads them (files or"
        " directories; repeat for more).",
    ),
]
SweepOpt = Annotated[
    bool,
    typer.Option(
        "--sweep", envvar="DEDUP_SWEEP", help="Also score a range of thresholds (see --range)."
    ),
]
RangeOpt = Annotated[
    str,
    typer.Option(
        "--range",
        metavar="START:STOP:STEP",
        envvar="DEDUP_RANGE",
        help="Thresholds to sweep, STOP included.",
    ),
]
DEFAULT_RANGE = "0.02:0.98:0.04"
PlotOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        envvar="DEDUP_PLOT",
        help="With --sweep: draw precision, recall and F1 (.png or .svg).",
    ),
]
EvalJsonOpt = Annotated[
    bool, typer.Option("--json", envvar="DEDUP_JSON", help="Print one JSON object on stdout.")
]


# Thresholds differ in the 6th decimal at most; a sweep finer than 10^-4 on [0, 1] shows nothing.
MAX_SWEEP_POINTS = 10_001


def parse_range(text: str) -> list[float]:
    """``"0.05:0.5:0.05"`` -> [0.05, 0.1, ..., 0.5]; a usage error when malformed."""
    try:
        start, stop, step = (float(part) for part in text.split(":"))
    except ValueError:
        raise typer.BadParameter(
            f"expected START:STOP:STEP, got {text!r}", param_hint="--range"
        ) from None
    if not all(math.isfinite(x) for x in (start, stop, step)):
        raise typer.BadParameter("START, STOP and STEP must be numbers", param_hint="--range")
    if step <= 0 or stop < start:
        raise typer.BadParameter("STEP must be positive and STOP >= START", param_hint="--range")
    count = round((stop - start) / step) + 1
    if count > MAX_SWEEP_POINTS:
        raise typer.BadParameter(
            f"{count:,} thresholds; at most {MAX_SWEEP_POINTS:,} (use a larger STEP)",
            param_hint="--range",
        )
    return [round(start + k * step, 6) for k in range(count)]
