"""The one call the CLI makes: read -> clean -> represent -> link -> group -> report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import BinaryIO, NamedTuple

import numpy as np

from dedup.clean.dating import vet_corpus
from dedup.columns import dates_of, strings_of
from dedup.config import Settings
from dedup.cores import forked_now, usable_cores
from dedup.errors import InputError
from dedup.group import Group, describe, group, related_pairs, scale_warning, story_order
from dedup.link import AnyLinks, date_ordinals, find_links
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story
from dedup.prepare import (
    canonical_order,
    clean_stage,
    copy_of,
    future_dates_note,
    skipped_note,
)
from dedup.progress import Advance, Progress, Stages
from dedup.read import read_corpus
from dedup.read.records import DEFAULT_FIELDS
from dedup.report.explain import explain_report
from dedup.represent import Represented, load_model, represent
from dedup.represent.cache import Embedded
from dedup.represent.distill import Corpus
from dedup.represent.encoder import Encoder
from dedup.represent.lexical import LexicalVectors
from dedup.represent.ray_engine import ray_session
from dedup.represent.scale import language_names
from dedup.spread import prepare_on_ray
from dedup.version import __version__

log = logging.getLogger(__name__)


def run(
    inputs: Sequence[str],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> Report:
    """Read ``inputs`` (files, directories, ``-`` for stdin in ``settings.stdin_format``) and
    group them into stories. ``progress`` is told of each stage as it goes (see
    :mod:`dedup.progress`)."""
    # Handed over in a list that report_from empties: the run's representations are freed
    # once grouped (see report_from), not held by this frame while the report is made.
    handed = [
        read_and_prepare(
            inputs, settings, encoder=encoder, stdin=stdin, progress=progress, raw=False
        )
    ]
    return report_from(handed, settings, inputs=inputs, progress=progress)


def read_and_prepare(
    inputs: Sequence[str],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    raw: bool = True,
) -> Prepared:
    """Read ``inputs`` and :func:`prepare` them. A local run on several cores forks the
    workers of its per-article pass before it reads (:func:`dedup.cores.forked_now`)."""
    stages = Stages(progress)
    local = settings.engine == "local" and any(name != "-" for name in inputs)
    with forked_now(usable_cores() if local else 1) as pool:
        articles, skipped, notes = read_stage(inputs, settings, stdin, stages)
        prepared = _prepare(
            articles, settings, skipped, encoder, stages, owned=True, pool=pool, raw=raw
        )
    return prepared._replace(notes=tuple(notes))


def read_stage(
    inputs: Sequence[str],
    settings: Settings,
    stdin: BinaryIO | None,
    stages: Stages,
    *,
    content_ids: bool = False,
) -> tuple[list[Article], list[Skipped], list[str]]:
    """The read stage: ``inputs`` as ``settings`` say to read them (size limit, fields, the
    format of standard input), never the run's own outputs; ``content_ids`` for a store's
    runs (see :func:`dedup.read.read_corpus`). Returns also the warnings of reading."""
    if not inputs:
        raise InputError("no input given: name files, directories, or - for standard input")
    notes: list[str] = []
    with stages.stage("read") as step:
        articles, skipped = read_corpus(
            inputs,
            max_bytes=settings.max_bytes,
            stdin=stdin,
            outputs=settings.outputs,
            progress=step.advance,
            fields=DEFAULT_FIELDS.naming(settings.fields),
            stdin_format=settings.stdin_format,
            content_ids=content_ids,
            notes=notes,
        )
        step.note = skipped_note(len(skipped))
    return articles, skipped, notes


class Prepared(NamedTuple):
    """A corpus made ready to group at any threshold: what `dedup cluster` and
    `dedup evaluate clusters --sweep` share, so that a sweep scores what a run would make."""

    articles: Sequence[Article]  # cleaned, in canonical order (as columns in a run); rows
    skipped: list[Skipped]  # read's skips, then the articles that broke a stage
    represented: Represented
    copy_of: np.ndarray  # per article, the first one it is an exact copy of (or itself)
    timings: Mapping[str, float]  # the seconds of the stages so far, by name
    notes: tuple[str, ...] = ()  # the warnings of reading (a field named for a key none has)


def prepare(
    articles: Sequence[Article],
    settings: Settings,
    *,
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    progress: Progress | None = None,
    raw: bool = True,
) -> Prepared:
    """Clean each article (one that breaks a stage becomes a skip), order them canonically,
    represent them, and find their exact copies. InputError when nothing usable is left.
    ``raw``: keep the raw dense vectors (see :func:`dedup.represent.represent`)."""
    return _prepare(articles, settings, skipped, encoder, Stages(progress), raw=raw)


def _prepare(
    articles: Sequence[Article],
    settings: Settings,
    skipped: Sequence[Skipped],
    encoder: Encoder | None,
    stages: Stages,
    *,
    owned: bool = False,
    pool: ProcessPoolExecutor | None = None,
    raw: bool = True,
) -> Prepared:
    """``owned``, ``pool``: see :func:`clean_stage`."""
    if settings.engine == "ray":
        given = articles if owned and isinstance(articles, list) else list(articles)
        return _prepare_on_ray(given, settings, skipped, encoder, stages, raw=raw)
    each, _, lexical, every_skip = clean_stage(
        articles, settings, skipped, stages, owned=owned, pool=pool
    )
    return prepare_cleaned(
        each.articles,
        each.stated_days,
        settings,
        skipped=every_skip,
        encoder=encoder,
        stages=stages,
        lexical=lexical,
        notes=future_dates_note(each),
        raw=raw,
    )


def _prepare_on_ray(
    articles: list[Article],
    settings: Settings,
    skipped: Sequence[Skipped],
    encoder: Encoder | None,
    stages: Stages,
    *,
    raw: bool = True,
) -> Prepared:
    """:func:`prepare` with the per-article stages and the embedding in one map on the Ray
    cluster (:mod:`dedup.spread`). The model is loaded here first, as the represent stage
    would (its fallbacks included): the workers load the one that loaded, and the cache is
    asked in its key space. Empties ``articles``."""
    loaded: list[str] = []
    # The cluster first: one that cannot be reached is said before a model is loaded.
    with ray_session(settings.ray_address):
        if settings.backend == "lexical":
            encoder = None
        elif encoder is None:
            encoder, loaded = load_model(settings, stages)
            if encoder is None:  # no model could load: the lexical backend alone, as locally
                settings = dataclasses.replace(settings, backend="lexical")
        spread = prepare_on_ray(articles, settings, skipped, stages, encoder)
    return prepare_cleaned(
        spread.each.articles,
        spread.each.stated_days,
        settings,
        skipped=spread.skipped,
        encoder=encoder,
        stages=stages,
        lexical=spread.lexical,
        notes=[*future_dates_note(spread.each), *loaded],
        embedded=spread.embedded,
        raw=raw,
    )


def prepare_cleaned(
    articles: Sequence[Article],
    stated_days: Sequence[int | None],
    settings: Settings,
    *,
    skipped: list[Skipped],
    encoder: Encoder | None,
    stages: Stages,
    lexical: LexicalVectors | None,
    notes: Sequence[str] = (),
    embedded: Embedded | None = None,
    raw: bool = True,
) -> Prepared:
    """:func:`prepare` from articles already cleaned, in canonical order, with their lexical
    vectors (None for the dense backend); ``notes``: warnings of the stages before, first
    among the run's warnings; ``embedded``: their vectors, already made (the ray engine's),
    which are the represent stage's to overwrite; ``raw``: see :func:`prepare`."""
    cleaned = vet_corpus(articles)  # dates read from texts, against each other
    represented = represent(
        cleaned,
        settings,
        encoder=encoder,
        stages=stages,
        lexical=lexical,
        stated_days=list(stated_days),
        embedded=embedded,
        raw=raw,
    )
    if notes:
        represented = dataclasses.replace(represented, warnings=(*notes, *represented.warnings))
    return Prepared(cleaned, skipped, represented, copy_of(cleaned), dict(stages.timings))


def link(
    prepared: Prepared,
    settings: Settings,
    threshold: float,
    floor: float,
    *,
    progress: Advance | None = None,
    spill: str | None = None,
) -> AnyLinks:
    """The pairs at or above ``floor`` (``threshold``: the grouping one, which the approximate
    search keeps complete). Exact copies are linked once, by their first: a story of 10,000
    copies is one node, not 50 million links. ``progress`` is called with the number of
    articles done (copies at once). ``spill``: where the approximate search streams its pairs
    through files (:mod:`dedup.link.pairs`), so that neither they nor the links are held
    whole; without it, in memory."""
    reps, articles, copy_of = prepared.represented.reps, prepared.articles, prepared.copy_of
    originals = np.flatnonzero(copy_of == np.arange(len(articles)))
    if progress is not None and len(originals) < len(articles):
        progress(len(articles) - len(originals))
    return find_links(
        reps,
        floor=floor,
        method=settings.neighbours,
        k=settings.neighbour_k,
        complete_at=threshold,
        dates=date_ordinals(dates_of(articles, text_dates=settings.trust_text_dates)[originals]),
        window_days=settings.window_days,
        progress=progress,
        among=None if len(originals) == len(articles) else originals,
        spill=spill,
    )


def cluster_articles(
    articles: Sequence[Article],
    settings: Settings,
    *,
    inputs: Sequence[str] = (),
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    progress: Progress | None = None,
) -> Report:
    """Group already-read articles into stories and report them; ``inputs``: what they were
    read from, for the report."""
    handed = [
        prepare(articles, settings, skipped=skipped, encoder=encoder, progress=progress, raw=False)
    ]
    return report_from(handed, settings, inputs=inputs, progress=progress)


def report_from(
    given: Prepared | list[Prepared],
    settings: Settings,
    *,
    inputs: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    """The stories of a prepared corpus at the settings' thresholds, as a report that names
    ``inputs``, what the corpus was read from. Its ``run.timings`` are those of the stages
    that made ``prepared`` and of linking and grouping.

    ``given`` as a list of one (emptied here) hands the corpus over: its representations and
    links are let go of once it is grouped, before the report's stories make an object of
    every article (at 10^6 articles the vectors and lexical rows are gigabytes); unless
    ``settings.explain``, which reads them after. Given as itself, it is left whole, to be
    reported again (a sweep)."""
    prepared = given.pop() if isinstance(given, list) else given
    stages = Stages(progress, dict(prepared.timings))
    cleaned, skipped, copy_of = prepared.articles, prepared.skipped, prepared.copy_of
    represented = prepared.represented
    reps, model, calibration = represented.reps, represented.model, represented.calibration
    # A new list: a prepared corpus may be reported more than once.
    warnings = [*prepared.notes, *represented.warnings]
    if settings.neighbours == "ann" and not reps.has_dense:
        warnings.append("approximate neighbours need dense vectors: linked exactly instead")
    threshold = settings.threshold_for(reps.backend, calibration.thresholds)
    related_floor = settings.related_for(reps.backend, calibration.thresholds)
    floor = settings.link_floor(reps.backend, calibration.thresholds)
    with stages.stage("link", len(cleaned)) as step:
        # A run's links, once grouped, are read again only for related stories: through files
        # under TMPDIR, so that the search's candidates and the links are never held whole.
        links = link(
            prepared, settings, threshold, floor, progress=step.advance, spill=tempfile.gettempdir()
        )
        step.note = f"{len(links):,} pairs"
    with stages.stage("group") as step:
        labels = group(reps, links, threshold, copy_of, floor=floor)
        groups = describe(reps, labels, copy_of)
        related = related_pairs(reps, labels, links, related_floor, threshold)
        if (
            scale := scale_warning(reps.langs, labels, language_names(strings_of(cleaned, "lang")))
        ) is not None:
            warnings.append(scale)
        step.what = f"{len(groups):,} stories of {len(cleaned):,} articles"
        backend, explained = reps.backend, reps if settings.explain else None
        del links, reps, represented, prepared  # the last hold on them when handed over
    with stages.stage("report", len(groups), unit="stories") as step:
        stories, related_out = _stories(
            cleaned, groups, labels, related, step.advance, settings.trust_text_dates
        )
        info = RunInfo(
            version=__version__,
            backend=backend,
            model=model,
            threshold=threshold,
            related_threshold=related_floor,
            inputs=tuple(inputs),
            timings=dict(stages.timings),  # the report's own stage is not over
            warnings=tuple(warnings),
            trust_text_dates=settings.trust_text_dates,
        )
        report = Report(tuple(stories), tuple(related_out), tuple(skipped), info)
        if explained is not None:
            report = dataclasses.replace(
                report, explanations=explain_report(report, explained, cleaned)
            )
    return report


def _stories(
    cleaned: Sequence[Article],
    groups: Sequence[Group],
    labels: np.ndarray,
    related: Sequence[tuple[int, int, float]],
    advance: Advance,
    text_dates: bool,
) -> tuple[list[Story], list[Related]]:
    """The groups as stories ``S1``, ``S2``... in story order, and the related pairs by their
    stories' ranks; ``text_dates``: dates read from texts count in the stories' date spans."""

    # Only an order among equals: a date read from the text places a story as well as a
    # published one (and keeps story ids what they were), though it is shown as neither.
    dates = dates_of(cleaned, text_dates=True)
    langs = strings_of(cleaned, "lang")

    def tie_key(g: int) -> tuple[object, ...]:
        members = groups[g].members
        known = dates[members]
        known = known[known > 0]
        first = dt.date.fromordinal(int(known.min())).isoformat() if len(known) else "9999"
        crossing = len({langs[k] for k in members.tolist() if langs[k]}) > 1
        return (not crossing, first, int(members.min()))

    order = story_order(groups, [tie_key(g) for g in range(len(groups))])
    story_id: dict[int, str] = {}
    stories: list[Story] = []
    for rank, g in enumerate(order, start=1):
        grp = groups[g]
        sid = f"S{rank}"
        story_id[int(labels[grp.members[0]])] = sid
        stories.append(
            Story(
                id=sid,
                members=tuple(
                    Member(cleaned[int(k)], round(float(s), 6))
                    for k, s in zip(grp.members, grp.centre_similarity, strict=True)
                ),
                cohesion_min=grp.cohesion_min,
                cohesion_mean=grp.cohesion_mean,
                similarities=tuple(
                    tuple(round(float(x), 4) + 0.0 for x in row) for row in grp.sims
                ),
                text_dates=text_dates,
            )
        )
        advance(1)
    rank_of = {sid: int(sid[1:]) for sid in story_id.values()}
    related_out = []
    for a, b, sim in related:
        first, second = sorted((story_id[a], story_id[b]), key=rank_of.__getitem__)
        related_out.append(Related(first, second, round(sim, 6)))
    related_out.sort(key=lambda r: (rank_of[r.a], rank_of[r.b]))
    return stories, related_out


def training_corpus(inputs: Sequence[str], model: str, device: str) -> Corpus:
    """The articles of ``inputs`` read and cleaned as a run reads them, exact copies once, as
    the texts a static model reads and the vectors the transformer ``model`` gives them: what
    `dedup distill` trains a static model on."""
    prepared = read_and_prepare(inputs, Settings(backend="dense", model=model, device=device))
    dense = prepared.represented.reps.dense
    if dense is None:  # the dense backend always has them
        raise InputError(f"model {model} gave no vectors for the corpus")
    first = np.flatnonzero(prepared.copy_of == np.arange(len(prepared.articles)))
    return Corpus([prepared.articles[k].full_text for k in first.tolist()], dense[first])


def labels_for(report: Report) -> dict[str, str]:
    """Article id -> story id: the membership a report states."""
    return {m.article.id: s.id for s in report.stories for m in s.members}


__all__ = [
    "Prepared",
    "canonical_order",
    "cluster_articles",
    "labels_for",
    "link",
    "prepare",
    "read_and_prepare",
    "report_from",
    "run",
    "training_corpus",
]
