"""The options the commands share, each declared once (flags, metavar, help, default and the
``DEDUP_*`` environment variable that also sets it), and the one function that maps a
command's setting options to :class:`~dedup.config.Settings`.

An option given on the command line beats its environment variable, which beats the default.
Only what a command's options need is imported here: ``dedup --help`` must stay quick.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from dedup.cli.fields import record_fields
from dedup.config import (
    CACHE_ENV,
    DEFAULT_MODEL,
    MODEL_ENV,
    RECORD_FIELDS,
    Backend,
    Engine,
    Neighbours,
    Settings,
    StdinFormat,
    cache_root,
    default_model,
)

#: The Settings fields' own defaults, which their options show and give.
_DEFAULT: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Settings)}


_ENGINE = "Clean, profile and embed here (local) or on a Ray cluster (ray; docs/scaling.md)."
_RAY_ADDRESS = "The Ray cluster of --engine ray (default: RAY_ADDRESS, else a local Ray)."


class SettingValues(dict[str, Any]):
    """What a command that takes setting options receives in its ``options`` parameter: their
    values by name, for :func:`to_settings`; ``given`` names those set on the command line
    (the others come from their environment variable or default)."""

    given: frozenset[str] = frozenset()


def _setting_options(
    backend: Annotated[
        Backend,
        Engine,
        typer.Option(
            "--backend",
            "-b",
            metavar="auto|dense|lexical|hybrid",
            envvar="DEDUP_BACKEND",
            help="auto: dense + lexical when the model loads, else lexical alone.",
        ),
    ] = _DEFAULT["backend"],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            envvar=MODEL_ENV,
            help=f"Sentence-transformers model or directory [default: {DEFAULT_MODEL}, bundled].",
        ),
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            metavar="DEVICE",
            envvar="DEDUP_DEVICE",
            help="auto (cuda, then mps, then cpu), cpu, cuda, mps.",
        ),
    ] = _DEFAULT["device"],
    threshold: Annotated[
        float | None,
        typer.Option(
            metavar="X",
            envvar="DEDUP_THRESHOLD",
            help="Similarity at which articles tell one story [default: per backend].",
        ),
    ] = _DEFAULT["threshold"],
    related_threshold: Annotated[
        float | None,
        typer.Option(
            metavar="X",
            envvar="DEDUP_RELATED_THRESHOLD",
            help="Mean similarity at which two stories are related"
            " [default: 0.45 x the threshold].",
        ),
    ] = _DEFAULT["related_threshold"],
    batch_size: Annotated[
        int,
        typer.Option(metavar="N", envvar="DEDUP_BATCH_SIZE", help="Texts per encoding batch."),
    ] = _DEFAULT["batch_size"],
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            metavar="DIR",
            envvar=CACHE_ENV,
            help="Keep embeddings in this directory (default: the user's cache directory).",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            envvar="DEDUP_NO_CACHE",
            help="Neither read nor write the embedding cache.",
        ),
    ] = False,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            envvar="DEDUP_FAST",
            help="On the CPU, run the model as int8 ONNX (exported once and cached): about "
            "twice as fast, similarities within about 0.01 (see docs/benchmarks.md).",
        ),
    ] = _DEFAULT["fast"],
    engine: Annotated[
        Engine,
        typer.Option(metavar="local|ray", envvar="DEDUP_ENGINE", help=_ENGINE),
    ] = _DEFAULT["engine"],
    ray_address: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", envvar="DEDUP_RAY_ADDRESS", help=_RAY_ADDRESS),
    ] = _DEFAULT["ray_address"],
    max_bytes: Annotated[
        int,
        typer.Option(
            metavar="N",
            envvar="DEDUP_MAX_BYTES",
            help="Skip input files larger than this many bytes.",
        ),
    ] = _DEFAULT["max_bytes"],
    neighbours: Annotated[
        Neighbours,
        typer.Option(
            metavar="auto|exact|ann",
            envvar="DEDUP_NEIGHBOURS",
            help="Candidate pairs: exact (all pairs, in blocks), ann (approximate nearest "
            "neighbours of the dense vectors), auto (ann from 20,000 articles).",
        ),
    ] = _DEFAULT["neighbours"],
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days",
            metavar="N",
            envvar="DEDUP_WINDOW_DAYS",
            help="Never compare two articles whose published dates are further apart than this"
            " (see --trust-text-dates).",
        ),
    ] = _DEFAULT["window_days"],
    trust_text_dates: Annotated[
        bool,
        typer.Option(
            "--trust-text-dates",
            envvar="DEDUP_TRUST_TEXT_DATES",
            help="Where an article has no published date (record or page metadata), use the "
            "date read from its text (stamp, dateline, lead) for --window-days, the stories' "
            "date spans and the timeline.",
        ),
    ] = _DEFAULT["trust_text_dates"],
    text_field: Annotated[
        str | None,
        typer.Option(
            "--text-field",
            metavar="COLUMN",
            envvar="DEDUP_TEXT_FIELD",
            help="Read the article text from this key or column only (JSON, CSV).",
        ),
    ] = None,
    title_field: Annotated[
        str | None,
        typer.Option(
            "--title-field",
            metavar="COLUMN",
            envvar="DEDUP_TITLE_FIELD",
            help="Read the title from this key or column only.",
        ),
    ] = None,
    date_field: Annotated[
        str | None,
        typer.Option(
            "--date-field",
            metavar="COLUMN",
            envvar="DEDUP_DATE_FIELD",
            help="Read the published date from this key or column only.",
        ),
    ] = None,
    id_field: Annotated[
        str | None,
        typer.Option(
            "--id-field",
            metavar="COLUMN",
            envvar="DEDUP_ID_FIELD",
            help="Read the article id from this key or column only.",
        ),
    ] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            metavar="NAME=COLUMN",
            envvar="DEDUP_FIELD",
            help=f"Read the field NAME ({', '.join(RECORD_FIELDS)}) from this key or column "
            "only; repeatable.",
        ),
    ] = None,
    stdin_format: Annotated[
        StdinFormat,
        typer.Option(
            "--format",
            metavar="jsonl|csv|text",
            envvar="DEDUP_FORMAT",
            help="How to read - (standard input): JSONL, CSV with a header row, or text "
            "(articles separated by blank lines, the first line of each its title).",
        ),
    ] = _DEFAULT["stdin_format"],
    min_size: Annotated[
        int,
        typer.Option(
            "--min-size",
            metavar="N",
            envvar="DEDUP_MIN_SIZE",
            help="Show only stories of at least N articles: in the table, report.md, "
            "report.html and stories.jsonl (report.json keeps every story).",
        ),
    ] = _DEFAULT["min_size"],
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            envvar="DEDUP_LIMIT",
            help="Show only the first N stories in report order (largest first), after "
            "--min-size; as --min-size, report.json keeps every story.",
        ),
    ] = _DEFAULT["limit"],
    multi_only: Annotated[
        bool,
        typer.Option(
            "--multi-only",
            envvar="DEDUP_MULTI_ONLY",
            help="Leave out single-article stories: --min-size 2.",
        ),
    ] = False,
) -> None:
    """The options that set Settings fields, declared once, as a command would declare them:
    :func:`setting_options` gives a command those it names. ``--model`` and ``--cache`` left
    out mean the defaults of the environment at run time (see :func:`to_settings`); the
    ``--*-field`` options make the one setting ``fields``."""


_DECLARED = inspect.signature(_setting_options, eval_str=True).parameters


_CONTEXT = "_dedup_context"  # the parameter through which Typer hands a command its context


def setting_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the setting options ``names``, in that order, where its signature has
    the keyword-only parameter ``options``; the command is called with their values there (a
    :class:`SettingValues`), to pass to :func:`to_settings`."""
    chosen = [_DECLARED[name].replace(kind=inspect.Parameter.KEYWORD_ONLY) for name in names]
    context = inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = list(signature.parameters.values())
        slot = [p.name for p in own].index("options")
        parameters = [*own[:slot], *chosen, *own[slot + 1 :], context]

        @functools.wraps(command)
        def with_options(**values: Any) -> None:
            ctx: typer.Context = values.pop(_CONTEXT)
            options = SettingValues({p.name: values.pop(p.name) for p in chosen})
            options.given = frozenset(
                name
                for name in options
                if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"
            )
            command(options=options, **values)

        # What Typer reads to make the command's parameters.
        with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_options

    return decorate


def to_settings(options: Mapping[str, Any], **own: Any) -> Settings:
    """Settings from a command's setting options (``options``, by name) and the fields the
    command sets itself (such as ``outputs``). ``--multi-only`` is ``--min-size 2``.

    Of two options that contradict each other, the one given on the command line wins over
    the one set by its environment variable; given both on the command line, they are a usage
    error. A plain mapping counts as given on the command line.
    """
    values = dict(options)
    given = getattr(options, "given", frozenset(options))
    model = values.pop("model", None)
    cache = values.pop("cache", None)
    if "cache" not in given:
        cache = None  # from DEDUP_CACHE_DIR, which cache_root() reads as it always has
    no_cache = values.pop("no_cache", False)
    if no_cache and cache is not None:
        if "no_cache" in given:
            raise typer.BadParameter(
                "give --cache DIR or --no-cache, not both", param_hint="--cache"
            )
        no_cache = False  # DEDUP_NO_CACHE, and --cache DIR on the command line
    fields = record_fields(values, given)
    if fields is not None:
        values["fields"] = fields
    if values.pop("multi_only", False):  # with --min-size N too, the stricter of the two
        min_size = values.get("min_size", 1)
        values["min_size"] = max(min_size, 2) if min_size >= 1 else min_size  # < 1: an error
    return Settings(
        model=model or default_model(),
        cache=None if no_cache else (cache or cache_root()),
        **values,
        **own,
    )


# The options that are no settings, shared by several commands.

PathsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="PATH...",
        help="Files, directories (read recursively), or - for standard input (see --format).",
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        envvar="DEDUP_VERBOSE",
        help="Log each stage with its counts and time; -vv debug.",
    ),
]
QuietOpt = Annotated[
    int,
    typer.Option(
        "--quiet",
        "-q",
        count=True,
        envvar="DEDUP_QUIET",
        help="No progress display and no notes on stderr (warnings and errors still); "
        "-qq errors only.",
    ),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="FILE",
        envvar="DEDUP_STORE",
        help="A story store, one SQLite file: `dedup cluster` adds the articles to it (made when"
        " missing; each joins a story it holds or a new one, and the report shows what changed;"
        " --window-days then defaults to 7 and also closes older stories), `dedup report`"
        " reports it.",
    ),
]
AllStoriesOpt = Annotated[
    bool,
    typer.Option(
        "--all-stories",
        envvar="DEDUP_ALL_STORIES",
        help="With --store: report every story of the store.",
    ),
]
RepresentativesOpt = Annotated[
    Path | None,
    typer.Option(
        "--representatives",
        metavar="FILE",
        envvar="DEDUP_REPRESENTATIVES",
        help="Write the deduplicated corpus to this file: JSONL, one line per story, its"
        " most central article with the ids of the articles it stands for.",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", envvar="DEDUP_JSON", help="Print the JSON report on stdout.")
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR",
        envvar="DEDUP_OUT",
        help="Write report.json, report.md, stories.jsonl and report.html into this directory.",
    ),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        envvar="DEDUP_HTML",
        help="Write the HTML report (one page that works offline) to this file.",
    ),
]
ExplainOpt = Annotated[
    bool,
    typer.Option(
        "--explain",
        envvar="DEDUP_EXPLAIN",
        help="Also show the evidence that linked each story and related pair: shared"
        " names, numbers and days, and what each signal adds to the similarity.",
    ),
]


# The settings of clustering: what `dedup cluster` takes, and `dedup evaluate clusters` with it.
CLUSTER_OPTIONS = (
    "backend",
    "model",
    "device",
    "threshold",
    "related_threshold",
    "batch_size",
    "cache",
    "no_cache",
    "fast",
    "engine",
    "ray_address",
    "max_bytes",
    "neighbours",
    "window_days",
    "stdin_format",
    "fields",
    "text_field",
    "title_field",
    "date_field",
    "id_field",
    "trust_text_dates",
)
