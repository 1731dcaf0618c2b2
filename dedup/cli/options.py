"""The options the commands share, each declared once (flags, help, default), and the one
function that maps a command's setting options to :class:`~dedup.config.Settings`."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from dedup.config import (
    MODEL_ENV,
    Backend,
    Neighbours,
    Settings,
    cache_root,
    default_model,
)

#: The Settings fields' own defaults, which their options show and give.
_DEFAULT: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Settings)}

#: What a command that takes setting options receives in its ``options`` parameter: their
#: values by name, for :func:`to_settings`.
SettingValues = dict[str, Any]


def _setting_options(
    backend: Annotated[
        Backend,
        typer.Option(
            "--backend",
            "-b",
            help="auto: dense + lexical when the model loads, else lexical alone.",
        ),
    ] = _DEFAULT["backend"],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=f"Sentence-transformers model name or local directory [env {MODEL_ENV}].",
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda, mps.")
    ] = _DEFAULT["device"],
    threshold: Annotated[
        float | None,
        typer.Option(help="Similarity at which articles tell one story [default: per backend]."),
    ] = _DEFAULT["threshold"],
    related_threshold: Annotated[
        float | None,
        typer.Option(
            help="Mean similarity at which two stories are related [default: 0.45 x the threshold]."
        ),
    ] = _DEFAULT["related_threshold"],
    batch_size: Annotated[
        int,
        typer.Option(help="Texts per encoding batch."),
    ] = _DEFAULT["batch_size"],
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            metavar="DIR",
            help="Keep embeddings in this directory (default: the user's cache directory).",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the embedding cache.")
    ] = False,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="On the CPU, run the model as int8 ONNX (exported once and cached): about "
            "twice as fast, similarities within about 0.01 (see docs/benchmarks.md).",
        ),
    ] = _DEFAULT["fast"],
    max_bytes: Annotated[
        int,
        typer.Option(help="Skip input files larger than this many bytes."),
    ] = _DEFAULT["max_bytes"],
    neighbours: Annotated[
        Neighbours,
        typer.Option(
            help="Candidate pairs: exact (all pairs, in blocks), ann (approximate nearest "
            "neighbours of the dense vectors), auto (ann from 20,000 articles)."
        ),
    ] = _DEFAULT["neighbours"],
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days",
            help="Never compare two articles whose published dates are further apart than this"
            " (see --trust-text-dates).",
        ),
    ] = _DEFAULT["window_days"],
    trust_text_dates: Annotated[
        bool,
        typer.Option(
            "--trust-text-dates",
            help="Where an article has no published date (record or page metadata), use the "
            "date read from its text (stamp, dateline, lead) for --window-days, the stories' "
            "date spans and the timeline.",
        ),
    ] = _DEFAULT["trust_text_dates"],
) -> None:
    """The options that set Settings fields, declared once, as a command would declare them:
    :func:`setting_options` gives a command those it names. ``--model`` and ``--cache`` left
    out mean the defaults of the environment at run time (see :func:`to_settings`)."""


_DECLARED = inspect.signature(_setting_options, eval_str=True).parameters


def setting_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the setting options ``names``, in that order, where its signature has
    the keyword-only parameter ``options``; the command is called with their values there (a
    :data:`SettingValues`), to pass to :func:`to_settings`."""
    chosen = [_DECLARED[name].replace(kind=inspect.Parameter.KEYWORD_ONLY) for name in names]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = list(signature.parameters.values())
        slot = [p.name for p in own].index("options")
        parameters = [*own[:slot], *chosen, *own[slot + 1 :]]

        @functools.wraps(command)
        def with_options(**values: Any) -> None:
            command(options={p.name: values.pop(p.name) for p in chosen}, **values)

        # What Typer reads to make the command's parameters.
        with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_options

    return decorate


def to_settings(options: Mapping[str, Any], **fields: Any) -> Settings:
    """Settings from a command's setting options (``options``, by name) and the fields the
    command sets itself (such as ``outputs``)."""
    values = dict(options)
    model = values.pop("model", None)
    cache = values.pop("cache", None)
    no_cache = values.pop("no_cache", False)
    if no_cache and cache is not None:
        raise typer.BadParameter("give --cache DIR or --no-cache, not both", param_hint="--cache")
    return Settings(
        model=model or default_model(),
        cache=None if no_cache else (cache or cache_root()),
        progress=sys.stderr.isatty(),
        **values,
        **fields,
    )


# The options that are no settings, shared by several commands.

PathsArg = Annotated[
    list[str],
    typer.Argument(help="Files, directories (read recursively), or - for JSONL on stdin."),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Log progress; -vv debug.")
]
SweepOpt = Annotated[
    bool, typer.Option("--sweep", help="Also score a range of thresholds (see --range).")
]
RangeOpt = Annotated[
    str, typer.Option("--range", help="Thresholds to sweep as START:STOP:STEP, STOP included.")
]
DEFAULT_RANGE = "0.02:0.98:0.04"
PlotOpt = Annotated[
    Path | None, typer.Option(help="With --sweep: draw precision, recall and F1 (.png or .svg).")
]
EvalJsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


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
