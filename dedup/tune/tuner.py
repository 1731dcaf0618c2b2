"""`dedup tune` as a library call: labelled data in, a tuned and calibrated model directory out,
which ``--model`` runs like any other (see :mod:`dedup.represent.tuned`).

The labels are read and checked first (:mod:`dedup.tune.labels`); a part of them (``holdout``)
is set aside, the model is tuned on the rest (:mod:`dedup.tune.train`), then calibrated on
the part it never saw (:mod:`dedup.tune.calibrate`). The directory is built beside ``out``
and renamed into place whole: an interrupted run leaves no half model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dedup.config import Backend, Settings
from dedup.errors import InputError
from dedup.progress import Progress, Stages
from dedup.represent.calibration import for_directory
from dedup.represent.transformer import load_encoder
from dedup.represent.tuned import NOTE
from dedup.tune import labels as labelled
from dedup.tune.calibrate import calibrate
from dedup.tune.train import Example, Recipe, fine_tune
from dedup.version import __version__

DEFAULT_RECIPE = Recipe()
#: Held-out pairs fewer than this calibrate nothing: the base model's numbers are kept.
MIN_HELD = 8


@dataclass(frozen=True)
class Tuned:
    """What `dedup tune` made: where, from how many pairs, and the held-out figures."""

    directory: Path
    trained: int
    held_out: int
    figures: dict[str, Any] | None  # None: too few held out, the base's numbers kept


def tune(
    labels: Sequence[Path],
    out: Path,
    *,
    model: str,
    recipe: Recipe = DEFAULT_RECIPE,
    corpus: Sequence[str] = (),
    store: Path | None = None,
    judgements: Sequence[Path] = (),
    holdout: float = 0.2,
    device: str = "auto",
    progress: Progress | None = None,
) -> Tuned:
    """Tune ``model`` on ``labels`` (and report ``judgements``) and write it to ``out``."""
    out = Path(out)
    if out.exists():
        raise InputError(f"{out} already exists: name a new directory for the tuned model")
    if not 0.0 <= holdout < 1.0:
        raise InputError("holdout must be at least 0 and below 1", setting="holdout")
    given = labelled.read_labels(labels, judgements)
    examples = labelled.resolve(given, *_articles(given, corpus, store, model, device))
    labelled.check(examples)
    train, held = split(examples, holdout, recipe.seed)
    labelled.check(train)
    names = [Path(p).name for p in [*labels, *judgements]]
    return tune_examples(model, train, held, out, recipe, names, device, progress)


def tune_examples(
    model: str,
    train: Sequence[Example],
    held: Sequence[Example],
    out: Path,
    recipe: Recipe = DEFAULT_RECIPE,
    labels: Sequence[str] = (),
    device: str = "auto",
    progress: Progress | None = None,
) -> Tuned:
    """Tune ``model`` on ``train``, calibrate it on ``held`` (when there are enough) and
    write it to ``out``, built beside it and renamed into place whole."""
    stages = Stages(progress)
    encoder = load_encoder(model, device=device, trainable=True)
    base = for_directory(encoder.directory)
    prefix = encoder.prefix
    prefixed = [
        dataclasses.replace(e, text1=prefix + e.text1, text2=prefix + e.text2) for e in train
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        made = work / "model"
        with stages.stage("tune", recipe.steps(len(train))) as step:

            def told(done: int, steps: int, loss: float | None) -> None:
                step.advance(1)
                if loss is not None:
                    step.note = f"loss {loss:.3f}"

            fine_tune(encoder.model, prefixed, recipe, made, device=encoder.device, step_done=told)
        del encoder
        source = str(Path(model).expanduser().resolve()) if Path(model).exists() else model
        write_note(made, source, prefix, recipe, labels, len(train))
        figures = None
        if len(held) >= MIN_HELD:
            with stages.stage("calibrate", len(held)):
                name = f"{model}, tuned by dedup tune"
                figures = calibrate(made, held, base, name=name, device=device)
        made.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Tuned(out, len(train), len(held), figures)


def split(
    examples: Sequence[Example], holdout: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """The pairs to tune on and the ones held out to calibrate on, by a seeded shuffle."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n = math.floor(len(examples) * holdout)
    held = sorted(order[:n])
    kept = sorted(order[n:])
    return [examples[k] for k in kept], [examples[k] for k in held]


def _articles(
    given: labelled.Labels, corpus: Sequence[str], store: Path | None, model: str, device: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The articles labels name by id (cleaned) and, for a labelled corpus, their vectors."""
    if not given.needs_corpus:
        return {}, {}
    if not corpus and store is None:
        raise InputError(
            "these labels name articles by id: give the corpus they come from (--corpus) "
            "or the story store (--store)"
        )
    articles: dict[str, Any] = {}
    vectors: dict[str, Any] = {}
    if store is not None:
        from dedup.store import Store
        from dedup.store.view import articles_by_id

        ids = [i for p in given.by_id for i in (p.id1, p.id2)] + list(given.stories)
        with Store(store, create=False, writable=False) as opened:
            articles.update(articles_by_id(opened.connection, ids))
    if corpus:
        from dedup.pipeline import read_and_prepare

        backend: Backend = "dense" if given.stories else "lexical"  # vectors only to mine negatives
        prepared = read_and_prepare(corpus, Settings(backend=backend, model=model, device=device))
        articles.update({a.id: a for a in prepared.articles})
        dense = prepared.represented.reps.dense
        if dense is not None:
            vectors = {a.id: dense[k] for k, a in enumerate(prepared.articles)}
    if given.stories and not vectors:
        from dedup.represent import represent

        chosen = [articles[i] for i in sorted(given.stories) if i in articles]
        dense = represent(chosen, Settings(backend="dense", model=model, device=device)).reps.dense
        if dense is not None:
            vectors = {a.id: dense[k] for k, a in enumerate(chosen)}
    return articles, vectors


def write_note(
    directory: Path, base: str, prefix: str, recipe: Recipe, labels: Sequence[str], count: int
) -> None:
    """The note that makes ``directory`` a tuned model: its base, prefix and recipe."""
    note: dict[str, Any] = {
        "base": base,
        "prefix": prefix,
        "recipe": dataclasses.asdict(recipe),
        "labels": list(labels),
        "pairs": count,
        "dedup": __version__,
    }
    (directory / NOTE).write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")


__all__ = ["Tuned", "split", "tune", "tune_examples", "write_note"]
