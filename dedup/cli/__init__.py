"""The command line: options -> Settings -> pipeline -> writers. Only this module prints.

Exit codes: 0 done; 1 the work failed (model, output, internal error); 2 a usage or input
error; 130 interrupted by SIGINT (Ctrl-C); 143 stopped by SIGTERM. Errors are one line
``Error: ...`` on stderr; ``-v`` adds the traceback of a failure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from typer.core import TyperGroup

from dedup import evaluate
from dedup.config import (
    DEFAULT_MAX_BYTES,
    MODEL_ENV,
    Backend,
    Neighbours,
    Settings,
    cache_root,
    default_model,
)
from dedup.errors import DedupError, OutputError, one_line, os_reason
from dedup.models import Report
from dedup.pipeline import read_and_prepare, run
from dedup.report import render_table, to_json
from dedup.report.html import DEDUP_PAGE_MARK, to_html
from dedup.report.outputs import check_writable, output_paths, write_outputs, write_text_atomic
from dedup.version import __version__

log = logging.getLogger("dedup")


class _OneLineErrors(TyperGroup):
    """Every failure, Click's usage errors included, ends as one ``Error: ...`` line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        previous = _catch_signals()
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:  # Click's usage errors, vendored by Typer
            _fail(exc.format_message(), exc.exit_code)
        except typer.Abort:
            _fail("aborted", 130)
        except _Interrupted as exc:
            _fail("interrupted", exc.exit_code)
        except DedupError as exc:
            _fail(str(exc), exc.exit_code)
        except _ReaderGone:
            # Nothing more can reach the reader; the interpreter must not try to flush again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(128 + 13)  # as if killed by SIGPIPE, like other tools in a pipeline
        except Exception as exc:  # a bug, not a user's mistake: say so, keep it one line
            if log.isEnabledFor(logging.INFO):  # -v: the traceback the message promises
                log.exception("internal error")
            _fail(
                f"internal error: {type(exc).__name__}: {one_line(exc)} (run with -v for details)",
                1,
            )
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


class _Interrupted(BaseException):
    """SIGINT or SIGTERM, raised where the program is, so that it unwinds and exits cleanly.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it and
    every ``finally`` (temporary files) runs; not a KeyboardInterrupt, which Typer would turn
    into a silent exit.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.exit_code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def _on_signal(signum: int, frame: object) -> None:
    raise _Interrupted(signum)


def _catch_signals() -> dict[int, Any]:
    """Route SIGINT, SIGTERM and SIGHUP to ``_Interrupted``; return the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set signal handlers
    previous: dict[int, Any] = {}
    # SIGHUP: the terminal closed under the run; it unwinds like Ctrl-C (exit 129).
    hangup = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
    for signum in (signal.SIGINT, signal.SIGTERM, *hangup):
        current = signal.getsignal(signum)
        # An ignored SIGINT (a background job of a shell) stays ignored.
        if current in (signal.SIG_DFL, signal.default_int_handler):
            previous[signum] = signal.signal(signum, _on_signal)
    return previous


def _fail(message: str, code: int) -> None:
    with contextlib.suppress(OSError):  # no terminal left to tell (SIGHUP): the code says it
        typer.echo(f"Error: {message}", err=True)
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
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


def _setup_logging(verbose: int) -> None:
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )


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


PathsArg = Annotated[
    list[str],
    typer.Argument(help="Files, directories (read recursively), or - for JSONL on stdin."),
]
BackendOpt = Annotated[
    Backend,
    typer.Option(
        "--backend",
        "-b",
        help="auto: dense + lexical when the model loads, else lexical alone.",
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=f"Sentence-transformers model name or local directory [env {MODEL_ENV}].",
    ),
]
DeviceOpt = Annotated[str, typer.Option(help="auto (cuda, then mps, then cpu), cpu, cuda, mps.")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option(help="Similarity at which articles tell one story [default: per backend]."),
]
RelatedOpt = Annotated[
    float | None,
    typer.Option(
        help="Mean similarity at which two stories are related [default: 0.45 x the threshold]."
    ),
]
BatchOpt = Annotated[int, typer.Option(help="Texts per encoding batch.")]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="On the CPU, run the model as int8 ONNX (exported once and cached): about twice "
        "as fast, similarities within about 0.01 (see docs/benchmarks.md).",
    ),
]
NeighboursOpt = Annotated[
    Neighbours,
    typer.Option(
        help="Candidate pairs: exact (all pairs, in blocks), ann (approximate nearest "
        "neighbours of the dense vectors), auto (ann from 20,000 articles)."
    ),
]
WindowOpt = Annotated[
    int | None,
    typer.Option(
        "--window-days",
        help="Never compare two articles whose published dates are further apart than this.",
    ),
]
MaxBytesOpt = Annotated[int, typer.Option(help="Skip input files larger than this many bytes.")]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Log progress; -vv debug.")
]


CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        metavar="DIR",
        help="Keep embeddings in this directory (default: the user's cache directory).",
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the embedding cache.")
]


def build_settings(
    paths: Sequence[str],
    *,
    model: str | None,
    cache: Path | None,
    no_cache: bool,
    **options: Any,
) -> Settings:
    """Settings from a command's options; ``options`` are Settings fields by name."""
    if no_cache and cache is not None:
        raise typer.BadParameter("give --cache DIR or --no-cache, not both", param_hint="--cache")
    return Settings(
        inputs=tuple(paths),
        model=model or default_model(),
        cache=None if no_cache else (cache or cache_root()),
        progress=sys.stderr.isatty(),
        **options,
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


@app.command(
    epilog="Example: dedup cluster samples/ --out out/  |  cat feed.jsonl | dedup cluster - --json"
)
def cluster(
    paths: PathsArg,
    backend: BackendOpt = "auto",
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    threshold: ThresholdOpt = None,
    related_threshold: RelatedOpt = None,
    batch_size: BatchOpt = 32,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    fast: FastOpt = False,
    max_bytes: MaxBytesOpt = DEFAULT_MAX_BYTES,
    neighbours: NeighboursOpt = "auto",
    window_days: WindowOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the JSON report on stdout.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write report.json, report.md, stories.jsonl and report.html into this directory."
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(help="Write the HTML report (one page that works offline) to this file."),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also show the evidence that linked each story and related pair: shared"
            " names, numbers and days, and what each signal adds to the similarity.",
        ),
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Group articles into stories and report them."""
    _setup_logging(verbose)
    settings = build_settings(
        paths,
        model=model,
        cache=cache,
        no_cache=no_cache,
        backend=backend,
        device=device,
        threshold=threshold,
        related_threshold=related_threshold,
        batch_size=batch_size,
        max_bytes=max_bytes,
        fast=fast,
        neighbours=neighbours,
        window_days=window_days,
        explain=explain,
        outputs=tuple(str(p) for p in _outputs(out, html)),
    )
    if out is not None:
        check_writable(out)  # before any expensive work
    if html is not None:
        if html.is_dir():
            raise OutputError(f"cannot write {html}: it is a directory")
        check_writable(html.parent)
        _refuse_overwriting_an_article(html, paths)
    if "-" in paths and sys.stdin is not None and sys.stdin.isatty():
        typer.echo("Reading JSONL from standard input; end it with Ctrl-D.", err=True)
    report = run(settings)
    _warn(report)
    if out is not None:
        written = write_outputs(report, out)
        typer.echo(f"Wrote {', '.join(str(p) for p in written)}", err=True)
    if html is not None:
        write_text_atomic(html, to_html(report))
        typer.echo(f"Wrote {html}", err=True)
    if json_out:
        _out(to_json(report), nl=False)
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        color = sys.stdout is not None and sys.stdout.isatty()
        _out(render_table(report, width=max(80, width), color=color), nl=False)


evaluate_app = typer.Typer(
    cls=_OneLineErrors,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Measure story detection on labelled data, and see which threshold suits it.",
    epilog="Example: dedup evaluate pairs pairs.jsonl --sweep --plot sweep.png",
)
app.add_typer(evaluate_app, name="evaluate")

SweepOpt = Annotated[
    bool, typer.Option("--sweep", help="Also score a range of thresholds (see --range).")
]
RangeOpt = Annotated[
    str, typer.Option("--range", help="Thresholds to sweep as START:STOP:STEP, STOP included.")
]
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


class _ReaderGone(Exception):
    """The reader of standard output went away (``dedup ... | head``): stop, quietly."""


def _out(text: str, *, nl: bool = True) -> None:
    """Write to standard output and flush: a closed or failing stdout is an OutputError, never
    a silent success; a reader that closed the pipe ends the run quietly (exit 141)."""
    if sys.stdout is None:
        raise OutputError("cannot write the report: standard output is closed")
    try:
        sys.stdout.write(text + ("\n" if nl else ""))
        sys.stdout.flush()
    except BrokenPipeError:
        raise _ReaderGone from None
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {os_reason(exc)}") from exc


def _print_json(doc: object) -> None:
    _out(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False))


def _eval_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        typer.echo(f"Warning: {warning}", err=True)


@evaluate_app.command(
    "pairs",
    epilog="Example: dedup evaluate pairs ../shared/eval/semeval2022_pairs_dev.jsonl "
    "--backend lexical --json",
)
def evaluate_pairs_cmd(
    file: Annotated[
        Path, typer.Argument(help="JSONL or CSV: text1, text2, lang1, lang2, overall.")
    ],
    backend: BackendOpt = "auto",
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    batch_size: BatchOpt = 32,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    fast: FastOpt = False,
    json_out: EvalJsonOpt = False,
    sweep: SweepOpt = False,
    sweep_range: RangeOpt = "0.02:0.98:0.04",
    plot: PlotOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Score the similarity of labelled article pairs (SemEval-2022 Task 8 style)."""
    _setup_logging(verbose)
    thresholds = parse_range(sweep_range) if sweep else []
    settings = build_settings(
        [str(file)],
        model=model,
        cache=cache,
        no_cache=no_cache,
        backend=backend,
        device=device,
        batch_size=batch_size,
        fast=fast,
    )
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
    _out(evaluate.render_pairs_table(result))
    if sweep:
        _out("\n" + evaluate.render_sweep_table(rows))


@evaluate_app.command(
    "clusters",
    epilog="Example: dedup evaluate clusters samples/articles --labels samples/labels.csv",
)
def evaluate_clusters_cmd(
    paths: PathsArg,
    labels: Annotated[
        Path | None,
        typer.Option(help="Gold stories: CSV id,story (or JSON); else the records' story field."),
    ] = None,
    backend: BackendOpt = "auto",
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    threshold: ThresholdOpt = None,
    related_threshold: RelatedOpt = None,
    batch_size: BatchOpt = 32,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    fast: FastOpt = False,
    neighbours: NeighboursOpt = "auto",
    window_days: WindowOpt = None,
    max_bytes: MaxBytesOpt = DEFAULT_MAX_BYTES,
    json_out: EvalJsonOpt = False,
    sweep: SweepOpt = False,
    sweep_range: RangeOpt = "0.02:0.98:0.04",
    plot: PlotOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Cluster as `dedup cluster` does and score the stories against gold stories."""
    _setup_logging(verbose)
    thresholds = parse_range(sweep_range) if sweep else []
    settings = build_settings(
        paths,
        model=model,
        cache=cache,
        no_cache=no_cache,
        backend=backend,
        device=device,
        threshold=threshold,
        related_threshold=related_threshold,
        batch_size=batch_size,
        max_bytes=max_bytes,
        fast=fast,
        neighbours=neighbours,
        window_days=window_days,
    )
    gold = evaluate.load_labels(labels) if labels is not None else None
    # Read and represented once, for the run at the threshold and for the sweep.
    prepared = read_and_prepare(settings)
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
    _out(evaluate.render_clusters_table(result))
    if sweep:
        _out("\n" + evaluate.render_sweep_table(rows))


def main() -> None:
    app(prog_name="dedup")
