"""The command line: the Typer app and its commands, options -> Settings -> pipeline -> writers.
Only this package prints.

The shell around the commands (one-line errors, exit codes, signals, standard output) is
:mod:`dedup.cli.shell`; the options they share are declared in :mod:`dedup.cli.options`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from dedup.cli.options import (
    DEFAULT_RANGE,
    EvalJsonOpt,
    ExplainOpt,
    HtmlOpt,
    JsonOpt,
    LabelsOpt,
    OutOpt,
    PairsFileArg,
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
from dedup.cli.shell import Command, OneLineErrors, setup_logging, write_stdout
from dedup.errors import OutputError
from dedup.version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from dedup.models import Report

# The pipeline, numpy, scikit-learn, torch and the report writers are imported by the commands
# that use them, not here: `dedup --help`, `--version` and shell completion stay quick.

app = typer.Typer(
    cls=OneLineErrors,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Find the same news story told by different outlets in different languages.",
    epilog="Example: dedup cluster articles/ --out report/",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dedup {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Find the same news story told by different outlets in different languages."""
    _help_without_a_command(ctx)


def _help_without_a_command(ctx: typer.Context) -> None:
    """A group called with no command prints its help and succeeds, as ``--help`` does."""
    if ctx.invoked_subcommand is None:
        write_stdout(ctx.get_help())


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
    from dedup.report.outputs import output_paths

    return (output_paths(out) if out is not None else []) + ([html] if html is not None else [])


_STDIN_FORMAT_NAMES = {
    "jsonl": "JSONL",
    "csv": "CSV",
    "text": "articles separated by blank lines",
}


def _refuse_overwriting_an_article(target: Path, inputs: Sequence[str]) -> None:
    """An existing page that dedup did not write, named by --html and among the inputs, is an
    article: writing the report there would destroy it."""
    from dedup.report.html import DEDUP_PAGE_MARK

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
    "stdin_format",
    "fields",
    "text_field",
    "title_field",
    "date_field",
    "id_field",
)


@app.command(
    cls=Command,
    epilog="Example: dedup cluster samples/ --out out/  |  cat feed.jsonl | dedup cluster - --json",
)
@setting_options(*CLUSTER_OPTIONS)
def cluster(
    paths: PathsArg,
    *,
    options: SettingValues,
    json_out: JsonOpt = False,
    out: OutOpt = None,
    html: HtmlOpt = None,
    explain: ExplainOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Group articles into stories and report them."""
    setup_logging(verbose)
    settings = to_settings(options, explain=explain, outputs=tuple(map(str, _outputs(out, html))))
    from dedup.pipeline import run
    from dedup.report import render_table, to_json
    from dedup.report.html import to_html
    from dedup.report.outputs import check_writable, write_outputs, write_text_atomic

    if out is not None:
        check_writable(out)  # before any expensive work
    if html is not None:
        if html.is_dir():
            raise OutputError(f"cannot write {html}: it is a directory")
        check_writable(html.parent)
        _refuse_overwriting_an_article(html, paths)
    if "-" in paths and sys.stdin is not None and sys.stdin.isatty():
        what = _STDIN_FORMAT_NAMES[settings.stdin_format]
        typer.echo(f"Reading {what} from standard input; end it with Ctrl-D.", err=True)
    report = run(paths, settings)
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


evaluate_app = typer.Typer(
    cls=OneLineErrors,
    rich_markup_mode=None,
    help="Measure story detection on labelled data, and see which threshold suits it.",
    epilog="Example: dedup evaluate pairs pairs.jsonl --sweep --plot sweep.png",
)
evaluate_app.callback(invoke_without_command=True)(_help_without_a_command)
app.add_typer(evaluate_app, name="evaluate")


def _print_json(doc: object) -> None:
    write_stdout(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False))


def _eval_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        typer.echo(f"Warning: {warning}", err=True)


@evaluate_app.command(
    "pairs",
    cls=Command,
    epilog="Example: dedup evaluate pairs ../shared/eval/semeval2022_pairs_dev.jsonl "
    "--backend lexical --json",
)
@setting_options("backend", "model", "device", "batch_size", "cache", "no_cache", "fast")
def evaluate_pairs_cmd(
    file: PairsFileArg,
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
    import numpy as np

    from dedup import evaluate

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
    if json_out:
        _print_json({**result, "sweep": rows} if sweep else result)
        return
    write_stdout(evaluate.render_pairs_table(result))
    if sweep:
        write_stdout("\n" + evaluate.render_sweep_table(rows))


@evaluate_app.command(
    "clusters",
    cls=Command,
    epilog="Example: dedup evaluate clusters samples/articles --labels samples/labels.csv",
)
@setting_options(*CLUSTER_OPTIONS)
def evaluate_clusters_cmd(
    paths: PathsArg,
    labels: LabelsOpt = None,
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
    from dedup import evaluate
    from dedup.pipeline import read_and_prepare

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
    if json_out:
        _print_json({**result, "sweep": rows} if sweep else result)
        return
    write_stdout(evaluate.render_clusters_table(result))
    if sweep:
        write_stdout("\n" + evaluate.render_sweep_table(rows))


def main() -> None:
    app(prog_name="dedup")
