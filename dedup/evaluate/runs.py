"""The evaluation runs: labelled pairs and labelled corpora taken through the stages of
``dedup cluster`` (dedup.pipeline), and scored."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dedup.clean import clean_corpus
from dedup.config import Settings
from dedup.errors import InputError
from dedup.evaluate.data import Pair
from dedup.evaluate.scores import rounded, score_clusters, score_pairs
from dedup.group import group
from dedup.link import AnyLinks, Links, resolve_method
from dedup.models import Article, Report
from dedup.pipeline import (
    Prepared,
    labels_for,
    link,
    read_and_prepare,
    report_from,
)
from dedup.progress import Advance, Progress, Stages
from dedup.represent import represent
from dedup.represent.encoder import Encoder
from dedup.represent.similarity import Representations

log = logging.getLogger(__name__)

Array = np.ndarray

# A headline is split off a text that has none only when it ends this early (as the corpus
# reader does for a first line).
HEADLINE_MAX_CHARS = 200


# --------------------------------------------------------------------------------------
# Pairs
# --------------------------------------------------------------------------------------


def _headline(title: str, text: str) -> tuple[str, str]:
    """Title and body. Pair texts often start with the headline, ended by a line break or two
    spaces; split it off so it weighs as a title does in ``dedup cluster``."""
    if title:
        return title, text
    stripped = text.strip()
    cuts = [k for k in (stripped.find("\n"), stripped.find("  ")) if 0 < k <= HEADLINE_MAX_CHARS]
    if not cuts:
        return "", stripped
    cut = min(cuts)
    return stripped[:cut].strip(), stripped[cut:].strip()


@dataclass(frozen=True)
class PairRepresentations:
    """The representations of a pairs file's articles, and which rows each pair joins."""

    reps: Representations
    i: Array
    j: Array
    usable: Array  # False where an article of the pair had no usable text
    model: str | None
    warnings: tuple[str, ...]

    def similarities(self, backend: str | None = None) -> Array:
        """Similarity per pair (NaN where unusable), by ``backend`` (default: the one that ran).

        Another backend needs what it combines: ``dense`` and ``lexical`` are both available
        from a ``hybrid`` run, so one embedding pass scores all three.
        """
        reps = self.reps if backend is None else dataclasses.replace(self.reps, backend=backend)
        sims = np.full(len(self.usable), np.nan, dtype=np.float64)
        if self.usable.any():
            sims[self.usable] = reps.pairs(self.i, self.j)
        return sims


def represent_pairs(
    pairs: Sequence[Pair],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
) -> PairRepresentations:
    """Read the pairs' articles as ``dedup cluster`` would: clean, then represent.
    ``progress`` is told of each stage as it goes (see :mod:`dedup.progress`)."""
    stages = Stages(progress)
    cleaned, ends = clean_pairs(pairs, stages)
    row = {a.id: k for k, a in enumerate(cleaned)}
    represented = represent(cleaned, settings, encoder=encoder, stages=stages)
    reps, model, warnings = represented.reps, represented.model, list(represented.warnings)
    usable = np.array([a in row and b in row for a, b in ends], dtype=bool)
    i = np.array([row[a] for (a, _), ok in zip(ends, usable, strict=True) if ok], dtype=np.int64)
    j = np.array([row[b] for (_, b), ok in zip(ends, usable, strict=True) if ok], dtype=np.int64)
    lost = [pair.id for pair, ok in zip(pairs, usable, strict=True) if not ok]
    if lost:
        shown = ", ".join(lost[:5]) + (", ..." if len(lost) > 5 else "")
        warnings.append(
            f"{len(lost)} pairs left out: an article had no usable text after cleaning ({shown})"
        )
    return PairRepresentations(reps, i, j, usable, model, tuple(warnings))


def clean_pairs(
    pairs: Sequence[Pair], stages: Stages | None = None
) -> tuple[list[Article], list[tuple[str, str]]]:
    """The pairs' distinct articles, cleaned as ``dedup cluster`` cleans (one that has no
    usable text left out), and the ids of each pair's two articles."""
    # One article per distinct text: articles recur across pairs, and a repeat would count
    # twice in the corpus statistics (IDF) that `dedup cluster` would count once.
    articles: dict[tuple[str, str, str | None], Article] = {}
    ends: list[tuple[str, str]] = []
    for pair in pairs:
        ids = []
        for side, title, text, lang in (
            (1, pair.title1, pair.text1, pair.lang1),
            (2, pair.title2, pair.text2, pair.lang2),
        ):
            head, body = _headline(title, text)
            key = (head, body, lang)
            if key not in articles:
                articles[key] = Article(
                    id=f"{pair.id}:{side}",
                    title=head,
                    text=body,
                    lang=lang,
                    origin=f"pair {pair.id}",
                )
            ids.append(articles[key].id)
        ends.append((ids[0], ids[1]))
    stages = stages or Stages(None)
    with stages.stage("clean", len(articles)) as step:
        cleaned = clean_corpus(list(articles.values()), keep_all=True, progress=step.advance)
    if not cleaned:
        raise InputError("no pair has an article with usable text")
    return cleaned, ends


def pair_similarities(
    pairs: Sequence[Pair],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
) -> tuple[Array, str, str | None, list[str]]:
    """The similarity of every pair, as ``dedup cluster`` would compute it.

    Returns ``(sims, backend, model, warnings)``: ``sims[k]`` for ``pairs[k]`` (NaN when one of
    its articles had no usable text), the backend that ran and its model name.
    """
    pr = represent_pairs(pairs, settings, encoder=encoder, progress=progress)
    return pr.similarities(), pr.reps.backend, pr.model, list(pr.warnings)


def evaluate_pairs(
    pairs: Sequence[Pair], settings: Settings, *, encoder: Encoder | None = None
) -> dict[str, Any]:
    """Scores over all pairs and per language pair (``"de-en"`` as the file gives it)."""
    sims, backend, model, warnings = pair_similarities(pairs, settings, encoder=encoder)
    return score_pair_file(pairs, sims, backend, model, warnings)


def score_pair_file(
    pairs: Sequence[Pair], sims: Array, backend: str, model: str | None, warnings: Sequence[str]
) -> dict[str, Any]:
    """The result of :func:`evaluate_pairs` from similarities already computed."""
    overall = np.array([p.overall for p in pairs], dtype=np.float64)
    keys = np.array([f"{p.lang1 or 'und'}-{p.lang2 or 'und'}" for p in pairs])
    scored = np.isfinite(sims)
    if not scored.any():
        raise InputError("no pair could be scored: no article had usable text after cleaning")
    result: dict[str, Any] = score_pairs(sims[scored], overall[scored]).to_dict()
    result["by_language_pair"] = {
        key: score_pairs(sims[scored & (keys == key)], overall[scored & (keys == key)]).to_dict()
        for key in sorted(set(keys[scored].tolist()))
    }
    result.update(backend=backend, model=model, warnings=list(warnings))
    out: dict[str, Any] = rounded(result)
    return out


# --------------------------------------------------------------------------------------
# Stories
# --------------------------------------------------------------------------------------


def _gold_labels(articles: Iterable[Article], labels: Mapping[str, str] | None) -> dict[str, str]:
    if labels is not None:
        return dict(labels)
    # The reader keeps a record's extra fields in meta under their own spelling.
    found = {
        a.id: value.strip()
        for a in articles
        for key, value in a.meta.items()
        if key.lower() == "story" and value.strip()
    }
    if not found:
        raise InputError(
            "no gold stories: pass a labels file (columns id, story) or give the records "
            "a story field"
        )
    return found


def evaluate_clusters(
    inputs: Sequence[str],
    settings: Settings,
    *,
    labels: Mapping[str, str] | None,
    encoder: Encoder | None = None,
    prepared: Prepared | None = None,
    progress: Progress | None = None,
) -> tuple[Report, dict[str, Any]]:
    """Cluster ``inputs`` exactly as ``dedup cluster`` does and score it against gold stories
    (``labels``, else the records' ``story`` field). ``prepared``: the corpus already read
    and represented (by :func:`dedup.pipeline.read_and_prepare`), to be grouped only."""
    prepared = prepared or read_and_prepare(inputs, settings, encoder=encoder, progress=progress)
    report = report_from(prepared, settings, inputs=inputs, progress=progress)
    articles = [m.article for s in report.stories for m in s.members]
    gold = _gold_labels(articles, labels)
    predicted = labels_for(report)
    warnings = list(report.run.warnings)
    missing = len(set(gold) - set(predicted))
    if missing:
        warnings.append(f"{missing} labelled ids are not among the clustered articles")
    unlabelled = len(set(predicted) - set(gold))
    if unlabelled:
        warnings.append(f"{unlabelled} clustered articles have no gold story and are not scored")
    scores = score_clusters(gold, predicted, {a.id: a.lang for a in articles})
    result = scores.to_dict()
    result.update(
        backend=report.run.backend,
        model=report.run.model,
        threshold=report.run.threshold,
        stories=len(report.stories),
        warnings=warnings,
    )
    out: dict[str, Any] = rounded(result)
    return report, out


def sweep_clusters(
    inputs: Sequence[str],
    settings: Settings,
    labels: Mapping[str, str] | None,
    thresholds: Sequence[float],
    *,
    encoder: Encoder | None = None,
    prepared: Prepared | None = None,
    progress: Progress | None = None,
) -> list[dict[str, float]]:
    """Cluster scores per grouping threshold, from one pass of reading and embedding (or from
    ``prepared``, a corpus already read and represented)."""
    if not thresholds:
        raise InputError("no threshold to sweep")
    for t in thresholds:
        if not -1.0 <= t <= 1.0:
            raise InputError(f"threshold must be between -1 and 1, got {t}")
    if prepared is None:
        prepared = read_and_prepare(inputs, settings, encoder=encoder, progress=progress)
    with Stages(progress).stage("sweep", len(thresholds), unit="thresholds") as step:
        return _sweep(prepared, settings, labels, thresholds, step.advance)


def _sweep(
    prepared: Prepared,
    settings: Settings,
    labels: Mapping[str, str] | None,
    thresholds: Sequence[float],
    advance: Advance,
) -> list[dict[str, float]]:
    # What `dedup cluster` makes of the corpus (cleaning, order, representations, copies), and
    # its links at each threshold with the same options, so each row is what a run at that
    # threshold gives.
    cleaned = prepared.articles
    gold = _gold_labels(cleaned, labels)
    langs = {a.id: a.lang for a in cleaned}
    reps, calibration = prepared.represented.reps, prepared.represented.calibration
    notes = prepared.represented.warnings
    for note in notes:  # e.g. the model could not load: the thresholds are then lexical ones
        log.warning("%s", note)

    def floor_at(t: float) -> float:  # what `dedup cluster --threshold t` links down to
        return dataclasses.replace(settings, threshold=t).link_floor(
            reps.backend, calibration.thresholds
        )

    # An exact search finds every pair above its floor: link once at the lowest floor and keep,
    # at each threshold, the pairs above its own. An approximate one depends on the threshold.
    exact = resolve_method(reps, settings.neighbours) == "exact"
    lowest = (
        link(prepared, settings, min(thresholds), min(floor_at(t) for t in thresholds))
        if exact
        else None
    )
    rows: list[dict[str, float]] = []
    for t in thresholds:
        if isinstance(lowest, Links):  # linked in memory: not spilled
            keep = lowest.sim >= floor_at(t)
            links: AnyLinks = Links(lowest.i[keep], lowest.j[keep], lowest.sim[keep])
        else:
            links = link(prepared, settings, t, floor_at(t))
        story = group(reps, links, t, prepared.copy_of, floor=floor_at(t))
        predicted = {a.id: str(int(k)) for a, k in zip(cleaned, story, strict=True)}
        scores = score_clusters(gold, predicted, langs)
        rows.append(
            {
                "threshold": float(t),
                "precision": scores.pairwise_precision,
                "recall": scores.pairwise_recall,
                "f1": scores.pairwise_f1,
                "bcubed_precision": scores.bcubed_precision,
                "bcubed_recall": scores.bcubed_recall,
                "bcubed_f1": scores.bcubed_f1,
                "ari": scores.ari,
                "ami": scores.ami,
                "stories": float(len(set(predicted.values()))),
            }
        )
        advance(1)
    return rows


__all__ = [
    "PairRepresentations",
    "evaluate_clusters",
    "evaluate_pairs",
    "pair_similarities",
    "represent_pairs",
    "score_pair_file",
    "sweep_clusters",
]
