"""The command line: the Typer app and its commands, options -> Settings -> pipeline -> writers.
Only this package prints.

The shell around the commands (one-line errors, exit codes, signals, standard output) is
:mod:`dedup.cli.shell`; the options they share are declared in :mod:`dedup.cli.options`.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dedup.cli.distill import distill_cmd
from dedup.cli.evaluate import evaluate_app
from dedup.cli.options import (
    CLUSTER_OPTIONS,
    AllStoriesOpt,
    ExplainOpt,
    HtmlOpt,
    JsonOpt,
    OutOpt,
    PathsArg,
    QuietOpt,
    RepresentativesOpt,
    SettingValues,
    StoreOpt,
    VerboseOpt,
    setting_options,
    to_settings,
)
from dedup.cli.shell import (
    Command,
    OneLineErrors,
    help_without_a_command,
    setup_logging,
    write_stdout,
)
from dedup.cli.store import store_app
from dedup.cli.targets import check_file_output, outputs, store_files
from dedup.cli.tune import tune_cmd
from dedup.version import __version__

if TYPE_CHECKING:
    from dedup.models import Report
    from dedup.progress import Progress

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
    help_without_a_command(ctx)


def _warn(report: Report, quiet: int) -> None:
    if quiet > 1:  # -qq: errors only
        return
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


_STDIN_FORMAT_NAMES = {
    "jsonl": "JSONL",
    "csv": "CSV",
    "text": "articles separated by blank lines",
}


#: Narrower than this, the table is drawn this wide and the terminal wraps it.
MIN_TABLE_WIDTH = 30


def _table_width() -> int:
    """The terminal's width ($COLUMNS first; 100 when standard output is no terminal), at
    least :data:`MIN_TABLE_WIDTH`."""
    return max(MIN_TABLE_WIDTH, shutil.get_terminal_size((100, 24)).columns)


def _say_what_was_left_out(view: Report, options: SettingValues, *, out: bool, html: bool) -> None:
    """Name the flags that left stories out of the files written (``--out``, ``--html``); the
    table and ``--json`` say it themselves."""
    from dedup.report.text import selection_note

    if view.selection is None or not (out or html):
        return
    min_size = view.selection.min_size
    flags = {
        "min_size": "--multi-only"
        if options["multi_only"] and min_size == 2
        else f"--min-size {min_size}",
        "limit": f"--limit {view.selection.limit}",
    }
    whole = " report.json keeps every story." if out else ""
    typer.echo(f"{selection_note(view, flags)}{whole}", err=True)


# What the views of `dedup cluster`'s report show (see dedup.report.view).
VIEW_OPTIONS = ("min_size", "limit", "multi_only")


@app.command(
    cls=Command,
    epilog="Example: dedup cluster samples/ --out out/  |  cat feed.jsonl | dedup cluster - --json",
)
@setting_options(*CLUSTER_OPTIONS, *VIEW_OPTIONS)
def cluster(
    paths: PathsArg,
    *,
    options: SettingValues,
    json_out: JsonOpt = False,
    out: OutOpt = None,
    html: HtmlOpt = None,
    representatives: RepresentativesOpt = None,
    explain: ExplainOpt = False,
    store: StoreOpt = None,
    all_stories: AllStoriesOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Group articles into stories and report them."""
    setup_logging(verbose, quiet)
    if all_stories and store is None:
        raise typer.BadParameter("--all-stories needs --store", param_hint="--all-stories")
    if explain and store is not None:
        raise typer.BadParameter("a store's report has no evidence yet", param_hint="--explain")
    settings = to_settings(options, explain=explain)
    targets = outputs(out, html, representatives, store=store, cache=settings.cache)
    if store is not None:  # the store and its journal are never input
        targets += store_files(store)
    settings = dataclasses.replace(settings, outputs=tuple(map(str, targets)))
    from dedup.cli.display import progress_display
    from dedup.pipeline import run
    from dedup.report.outputs import check_writable
    from dedup.report.view import select

    # Every output checked before any expensive work.
    if out is not None:
        check_writable(out)
    if html is not None:
        check_file_output(html, "--html", paths)
    if representatives is not None:
        check_file_output(representatives, "--representatives", paths)
    typing_in = "-" in paths and sys.stdin is not None and sys.stdin.isatty()
    if typing_in and not quiet:
        what = _STDIN_FORMAT_NAMES[settings.stdin_format]
        typer.echo(f"Reading {what} from standard input; end it with Ctrl-D.", err=True)
    # No display over what is typed in; it goes before the report reaches stdout.
    with progress_display(not quiet and not typing_in) as progress:
        if store is None:
            report = run(paths, settings, progress=progress)
        else:
            from dedup.store import Store
            from dedup.stream import run_into_store

            with Store(store) as opened:
                report = run_into_store(
                    paths, settings, opened, all_stories=all_stories, progress=progress
                )
        _warn(report, quiet)
        view = select(report, min_size=settings.min_size, limit=settings.limit)
        _write_files(report, view, out, html, representatives, quiet, progress)
    if quiet < 2:
        _say_what_was_left_out(view, options, out=out is not None, html=html is not None)
    _print_report(view, json_out)


def _print_report(view: Report, json_out: bool) -> None:
    """On standard output, the JSON or the table of ``view``: the stories it shows, and what
    it left out (the JSON's ``selection``, a line under the table's summary)."""
    from dedup.report import render_table, to_json

    if json_out:
        write_stdout(to_json(view), nl=False)
    else:
        color = sys.stdout is not None and sys.stdout.isatty()
        write_stdout(render_table(view, width=_table_width(), color=color), nl=False)


def _write_files(
    report: Report,
    view: Report,
    out: Path | None,
    html: Path | None,
    representatives: Path | None,
    quiet: int,
    progress: Progress | None,
) -> None:
    """Write the files asked for: ``--out`` (report.json with every story, the rest the
    ``view``), ``--html`` (the view) and ``--representatives`` (every story); each said unless
    quiet."""
    from dedup.progress import Stages
    from dedup.report.html import to_html
    from dedup.report.outputs import output_paths, write_outputs, write_text_atomic
    from dedup.report.representatives import to_representatives

    total = (len(output_paths(out)) if out is not None else 0) + (html is not None)
    total += representatives is not None
    if not total:
        return

    def said(what: str) -> None:
        if not quiet:
            typer.echo(f"Wrote {what}", err=True)

    with Stages(progress).stage("write", total, unit="files") as step:
        if out is not None:
            written = write_outputs(view, out)  # report.json: every story
            step.advance(len(written))
            said(", ".join(str(p) for p in written))
        if html is not None:
            write_text_atomic(html, to_html(view))
            step.advance()
            said(str(html))
        if representatives is not None:
            write_text_atomic(representatives, to_representatives(report))
            step.advance()
            said(str(representatives))


@app.command(
    "report",
    cls=Command,
    epilog="Example: dedup report --store stories.db --since 2024-09-01 --out report/",
)
def report_cmd(
    store: StoreOpt = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            envvar="DEDUP_SINCE",
            help="Only stories with an article dated on or after DATE (YYYY-MM-DD); undated"
            " stories count from the run that last changed them.",
        ),
    ] = None,
    changed: Annotated[
        bool,
        typer.Option(
            "--changed",
            envvar="DEDUP_CHANGED",
            help="Only the stories the store's last run changed.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    out: OutOpt = None,
    html: HtmlOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Report the stories of a story store, without new input."""
    setup_logging(verbose, quiet)
    import datetime as dt

    from dedup.report.outputs import check_writable
    from dedup.store import Store

    if store is None:
        raise typer.BadParameter("name the story store to report", param_hint="--store")
    outputs(out, html, None, store=store)
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
        check_file_output(html, "--html", ())  # no input to overwrite
    with Store(store, create=False, writable=False) as opened:
        report = opened.report(since=day, changed_only=changed)
    _warn(report, quiet)
    _write_files(report, report, out, html, None, quiet, None)
    _print_report(report, json_out)


app.command(
    "distill",
    cls=Command,
    epilog="Example: dedup distill --out static-e5/  &&  dedup cluster samples/ -m static-e5/",
)(distill_cmd)
app.command(
    "tune",
    cls=Command,
    epilog="Example: dedup tune pairs.csv --out tuned/  &&  dedup cluster feed/ -m tuned/",
)(tune_cmd)
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(store_app, name="store")


def main() -> None:
    app(prog_name="dedup")
