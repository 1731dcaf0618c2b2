"""The evaluate commands: labelled pairs and labelled corpora scored as `dedup cluster` would
make them, with a sweep of thresholds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import typer

from dedup.cli.eval_options import (
    DEFAULT_RANGE,
    EvalJsonOpt,
    LabelsOpt,
    PairsFileArg,
    PlotOpt,
    RangeOpt,
    SweepOpt,
    parse_range,
)
from dedup.cli.options import (
    CLUSTER_OPTIONS,
    PathsArg,
    QuietOpt,
    SettingValues,
    VerboseOpt,
    setting_options,
    to_settings,
)
from dedup.cli.shell import (
    Command,
    command_group,
    print_json,
    setup_logging,
    write_stdout,
)

evaluate_app = command_group(
    "Measure story detection on labelled data, and see which threshold suits it.",
    "dedup evaluate pairs pairs.jsonl --sweep --plot sweep.png",
)


def _eval_warnings(warnings: Sequence[str], quiet: int) -> None:
    if quiet > 1:  # -qq: errors only
        return
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
    quiet: QuietOpt = 0,
) -> None:
    """Score the similarity of labelled article pairs (SemEval-2022 Task 8 style)."""
    setup_logging(verbose, quiet)
    thresholds = parse_range(sweep_range) if sweep else []
    settings = to_settings(options)
    import numpy as np

    from dedup import evaluate
    from dedup.cli.display import progress_display

    pairs = evaluate.load_pairs(file)
    with progress_display(not quiet) as progress:
        sims, ran, model_name, warnings = evaluate.pair_similarities(
            pairs, settings, progress=progress
        )
    result = evaluate.score_pair_file(pairs, sims, ran, model_name, warnings)
    _eval_warnings(result.pop("warnings"), quiet)
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
    quiet: QuietOpt = 0,
) -> None:
    """Cluster as `dedup cluster` does and score the stories against gold stories."""
    setup_logging(verbose, quiet)
    thresholds = parse_range(sweep_range) if sweep else []
    settings = to_settings(options)
    from dedup import evaluate
    from dedup.cli.display import progress_display
    from dedup.pipeline import read_and_prepare

    gold = evaluate.load_labels(labels) if labels is not None else None
    rows: list[dict[str, float]] = []
    with progress_display(not quiet) as progress:
        # Read and represented once, for the run at the threshold and for the sweep.
        prepared = read_and_prepare(paths, settings, progress=progress)
        _, result = evaluate.evaluate_clusters(
            paths, settings, labels=gold, prepared=prepared, progress=progress
        )
        _eval_warnings(result.pop("warnings"), quiet)
        if sweep:
            rows = evaluate.sweep_clusters(
                paths, settings, gold, thresholds, prepared=prepared, progress=progress
            )
    if sweep and plot is not None:
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
    from dedup import evaluate

    if json_out:
        print_json({**result, "sweep": rows} if sweep else result)
        return
    write_stdout(table(result))
    if sweep:
        write_stdout("\n" + evaluate.render_sweep_table(rows))
