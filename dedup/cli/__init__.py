"""The command line: the Typer app and its commands, options -> Settings -> pipeline -> writers.
Only this package prints.

The shell around the commands (one-line errors, exit codes, signals, standard output) is
:mod:`dedup.cli.shell`; the options they share are declared in :mod:`dedup.cli.options`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from dedup import evaluate
from dedup.cli.options import (
    DEFAULT_RANGE,
    EvalJsonOpt,
    PathsArg,
    PlotOpt,
    RangeOpt,
    SettingValues,
    SweepOpt,
    VerboseOpt,
    parse_range,
    setting_options,
    to_settings,
)
from dedup.cli.shell import OneLineErrors, setup_logging, write_stdout
from dedup.errors import OutputError
from dedup.models import Report
from dedup.pipeline import read_and_prepare, run, run_into_store
from dedup.report import render_table, to_json
from dedup.report.html import DEDUP_PAGE_MARK, to_html
from dedup.report.outputs import check_writable, output_paths, write_outputs, write_text_atomic
from dedup.store import DEFAULT_WINDOW_DAYS, Store
from dedup.version import __version__

app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Find the same news story told by different outlets in different languages.",
    epilog="Example: dedup cluster articles/ --out report/",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dedup {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Find the same news story told by different outlets in different languages."""


def _warn(report: Report) -> None:
    for warning in report.run.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if report.skipped:
        first = report.skipped[0]
        more = f" and {len(report.skipped) - 1} more" if len(report.skipped) > 1 else ""
        typer.echo(
            f"Warning: skipped {len(report.skipped)} input(s): {first.origin}: {first.reason}"
            f"{more} (the report lists them all)",
            err=True,
        )


def _outputs(out: Path | None, html: Path | None) -> list[Path]:
    return (output_paths(out) if out is not None else []) + ([html] if html is not None else [])


def _refuse_overwriting_an_article(target: Path, inputs: Sequence[str]) -> None:
    """An existing page that dedup did not write, named by --html and among the inputs, is an
    article: writing the report there would destroy it."""
    try:
        with target.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return  # nothing there (or unreadable: writing will say so)
    if DEDUP_PAGE_MARK in head:
        return  # an earlier report: replacing it is the point
    real = os.path.realpath(target)
    for item in inputs:
        if item == "-":
            continue
        root = os.path.realpath(item)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            raise OutputError(
                f"--html {target} is an input article ({item}): name another file for the report"
            )


# The report options `dedup cluster` and `dedup report` share.
ReportJsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON report on stdout.")]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        help="Write report.json, report.md, stories.jsonl and report.html into this directory."
    ),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(help="Write the HTML report (one page that works offline) to this file."),
]

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="FILE",
        help="A story store, one SQLite file: `dedup cluster` adds the articles to it (made when"
        " missing; each joins a story it holds or a new one, and the report shows what changed;"
        f" --window-days then defaults to {DEFAULT_WINDOW_DAYS} and also closes older"
        " stories), `dedup report` reports it.",
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
    "max_bytes",
    "neighbours",
    "window_days",
)


@app.command(
    epilog="Example: dedup cluster samples/ --out out/  |  cat feed.jsonl | dedup cluster - --json"
)
@setting_options(*CLUSTER_OPTIONS)
def cluster(
    paths: PathsArg,
    *,
    options: SettingValues,
    json_out: ReportJsonOpt = False,
    out: OutOpt = None,
    html: HtmlOpt = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also show the evidence that linked each story and related pair: shared"
            " names, numbers and days, and what each signal adds to the similarity.",
        ),
    ] = False,
    store: StoreOpt = None,
    all_stories: Annotated[
        bool,
        typer.Option("--all-stories", help="With --store: report every story of the store."),
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Group articles into stories and report them."""
    setup_logging(verbose)
    if all_stories and store is None:
        raise typer.BadParameter("--all-stories needs --store", param_hint="--all-stories")
    if explain and store is not None:
        raise typer.BadParameter("a store's report has no evidence yet", param_hint="--explain")
    written = [*_outputs(out, html)]
    if store is not None:  # the store and its journal are never input
        written += [store, Path(f"{store}-wal"), Path(f"{store}-shm"), Path(f"{store}-journal")]
    settings = to_settings(options, explain=explain, outputs=tuple(map(str, written)))
    if out is not None:
        check_writable(out)  # before any expensive work
    if html is not None:
        if html.is_dir():
            raise OutputError(f"cannot write {html}: it is a directory")
        check_writable(html.parent)
        _refuse_overwriting_an_article(html, paths)
    if "-" in paths and sys.stdin is not None and sys.stdin.isatty():
        typer.echo("Reading JSONL from standard input; end it with Ctrl-D.", err=True)
    if store is None:
        report = run(paths, settings)
    else:
        with Store(store) as opened:
            report = run_into_store(paths, settings, opened, all_stories=all_stories)
    _write_report(report, out=out, html=html, json_out=json_out)


def _write_report(report: Report, *, out: Path | None, html: Path | None, json_out: bool) -> None:
    """Warnings on stderr, the files asked for, and the JSON or the table on stdout."""
    _warn(report)
    if out is not None:
        written = write_outputs(report, out)
        typer.echo(f"Wrote {', '.join(str(p) for p in written)}", err=True)
    if html is not None:
        write_text_atomic(html, to_html(report))
        typer.echo(f"Wrote {html}", err=True)
    if json_out:
        write_stdout(to_json(report), nl=False)
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        color = sys.stdout is not None and sys.stdout.isatty()
        write_stdout(render_table(report, width=max(80, width), color=color), nl=False)


@app.command(
    "report",
    epilog="Example: dedup report --store stories.db --since 2024-09-01 --out report/",
)
def report_cmd(
    store: StoreOpt = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Only stories with an article dated on or after DATE (YYYY-MM-DD); undated"
            " stories count from the run that last changed them.",
        ),
    ] = None,
    changed: Annotated[
        bool, typer.Option("--changed", help="Only the stories the store's last run changed.")
    ] = False,
    json_out: ReportJsonOpt = False,
    out: OutOpt = None,
    html: HtmlOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Report the stories of a story store, without new input."""
    setup_logging(verbose)
    if store is None:
        raise typer.BadParameter("name the story store to report", param_hint="--store")
    day = None
    if since is not None:
        try:
            day = dt.date.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(
                f"expected a date YYYY-MM-DD, got {since!r}", param_hint="--since"
            ) from None
    if out is not None:
        check_writable(out)
    if html is not None:
        if html.is_dir():
            raise OutputError(f"cannot write {html}: it is a directory")
        check_writable(html.parent)
    with Store(store, create=False) as opened:
        report = opened.report(since=day, changed_only=changed)
    _write_report(report, out=out, html=html, json_out=json_out)


evaluate_app = typer.Typer(
    cls=OneLineErrors,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Measure story detection on labelled data, and see which threshold suits it.",
    epilog="Example: dedup evaluate pairs pairs.jsonl --sweep --plot sweep.png",
)
app.add_typer(evaluate_app, name="evaluate")


def _print_json(doc: object) -> None:
    write_stdout(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False))


def _eval_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        typer.echo(f"Warning: {warning}", err=True)


@evaluate_app.command(
    "pairs",
    epilog="Example: dedup evaluate pairs ../shared/eval/semeval2022_pairs_dev.jsonl "
    "--backend lexical --json",
)
@setting_options("backend", "model", "device", "batch_size", "cache", "no_cache", "fast")
def evaluate_pairs_cmd(
    file: Annotated[
        Path, typer.Argument(help="JSONL or CSV: text1, text2, lang1, lang2, overall.")
    ],
    *,
    options: SettingValues,
    json_out: EvalJsonOpt = False,
    sweep: SweepOpt = False,
    sweep_range: RangeOpt = DEFAULT_RANGE,
    plot: PlotOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Score the similarity of labelled article pairs (SemEval-2022 Task 8 style)."""
    setup_logging(verbose)
    thresholds = parse_range(sweep_range) if sweep else []
    settings = to_settings(options)
    pairs = evaluate.load_pairs(file)
    sims, ran, model_name, warnings = evaluate.pair_similarities(pairs, settings)
    result = evaluate.score_pair_file(pairs, sims, ran, model_name, warnings)
    _eval_warnings(result.pop("warnings"))
    rows: list[dict[str, float]] = []
    if sweep:
        overall = np.array([p.overall for p in pairs])
        scored = np.isfinite(sims)
        rows = evaluate.sweep_pairs(sims[scored], overall[scored], thresholds)
        if plot is not None:
            evaluate.plot_sweep(rows, plot, title=f"{file.name}: {ran} backend")
    _show_evaluation(
        result, rows, sweep=sweep, json_out=json_out, table=evaluate.render_pairs_table
    )


@evaluate_app.command(
    "clusters",
    epilog="Example: dedup evaluate clusters samples/articles --labels samples/labels.csv",
)
@setting_options(*CLUSTER_OPTIONS)
def evaluate_clusters_cmd(
    paths: PathsArg,
    labels: Annotated[
        Path | None,
        typer.Option(help="Gold stories: CSV id,story (or JSON); else the records' story field."),
    ] = None,
    *,
    options: SettingValues,
    json_out: EvalJsonOpt = False,
    sweep: SweepOpt = False,
    sweep_range: RangeOpt = DEFAULT_RANGE,
    plot: PlotOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Cluster as `dedup cluster` does and score the stories against gold stories."""
    setup_logging(verbose)
    thresholds = parse_range(sweep_range) if sweep else []
    settings = to_settings(options)
    gold = evaluate.load_labels(labels) if labels is not None else None
    # Read and represented once, for the run at the threshold and for the sweep.
    prepared = read_and_prepare(paths, settings)
    _, result = evaluate.evaluate_clusters(paths, settings, labels=gold, prepared=prepared)
    _eval_warnings(result.pop("warnings"))
    rows: list[dict[str, float]] = []
    if sweep:
        rows = evaluate.sweep_clusters(paths, settings, gold, thresholds, prepared=prepared)
        if plot is not None:
            evaluate.plot_sweep(rows, plot, title=f"stories: {result['backend']} backend")
    _show_evaluation(
        result, rows, sweep=sweep, json_out=json_out, table=evaluate.render_clusters_table
    )


def _show_evaluation(
    result: dict[str, Any],
    rows: list[dict[str, float]],
    *,
    sweep: bool,
    json_out: bool,
    table: Callable[[dict[str, Any]], str],
) -> None:
    """An evaluation's scores (and its sweep's rows) as JSON or as tables."""
    if json_out:
        _print_json({**result, "sweep": rows} if sweep else result)
        return
    write_stdout(table(result))
    if sweep:
        write_stdout("\n" + evaluate.render_sweep_table(rows))


def main() -> None:
    app(prog_name="dedup")
