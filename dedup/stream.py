"""A stream of runs into a story store: each run's articles are cleaned on their own, the store
sorts them (new, replaced, already there) and hands back its open stories' articles, and the
new and open articles are represented and linked together, as one batch run over them would
be, before the store files them (see :mod:`dedup.store`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import nullcontext
from typing import BinaryIO

import numpy as np

from dedup.config import Settings
from dedup.link import Links
from dedup.models import Article, Report, Skipped
from dedup.pipeline import link, prepare_cleaned, read_stage
from dedup.prepare import canonical_order, clean_stage, future_dates_note
from dedup.progress import Progress, Stages
from dedup.represent.encoder import Encoder
from dedup.represent.lexical import lexical_vectors, profile
from dedup.represent.ray_engine import ray_session
from dedup.spread import prepare_on_ray
from dedup.store import Entry, Store, text_hash


def run_into_store(
    inputs: Sequence[str],
    settings: Settings,
    store: Store,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
    all_stories: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Read ``inputs`` and :func:`add_to_store` what they hold. A record without an id of its
    own gets its URL, else a hash of its content: never its place in the input, which the
    next run's input gives to another article."""
    stages = Stages(progress)
    articles, skipped, notes = read_stage(inputs, settings, stdin, stages, content_ids=True)
    report = _add(articles, settings, store, inputs, skipped, encoder, all_stories, stages)
    if not notes:
        return report
    run = dataclasses.replace(report.run, warnings=(*notes, *report.run.warnings))
    return dataclasses.replace(report, run=run)


def add_to_store(
    articles: Sequence[Article],
    settings: Settings,
    store: Store,
    *,
    inputs: Sequence[str] = (),
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    all_stories: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Add ``articles`` (as read) to ``store`` in one transaction: each joins a story of the
    store or a new one (see :mod:`dedup.store`). The report holds the stories the run changed
    (every live story with ``all_stories``), each with its status."""
    stages = Stages(progress)
    return _add(articles, settings, store, inputs, skipped, encoder, all_stories, stages)


def _add(
    articles: Sequence[Article],
    settings: Settings,
    store: Store,
    inputs: Sequence[str],
    skipped: Sequence[Skipped],
    encoder: Encoder | None,
    all_stories: bool,
    stages: Stages,
) -> Report:
    settings = dataclasses.replace(settings, window_days=store.window(settings))
    # one Ray for both maps: per article, then what is new embedded
    ray = ray_session(settings.ray_address) if settings.engine == "ray" else nullcontext()
    with ray:
        return _add_cleaned(
            articles, settings, store, inputs, skipped, encoder, all_stories, stages
        )


def _add_cleaned(
    articles: Sequence[Article],
    settings: Settings,
    store: Store,
    inputs: Sequence[str],
    skipped: Sequence[Skipped],
    encoder: Encoder | None,
    all_stories: bool,
    stages: Stages,
) -> Report:
    """:func:`_add`, each article cleaned and profiled where the engine says: the store must
    see them cleaned before it can say which are new, so only those new are embedded, after."""
    lexical = settings.backend != "dense"
    if settings.engine == "ray":
        spread = prepare_on_ray(list(articles), settings, skipped, stages, None, vectors=False)
        each, profiles, every_skip = spread.each, spread.profiles, spread.skipped
    else:
        each, profiles, _, every_skip = clean_stage(
            articles, settings, skipped, stages, vectors=False
        )
    hashes = {a.id: text_hash(a) for a in articles}
    made = profiles if profiles is not None else [None] * len(each)
    entries = [
        Entry(c.article, p, c.day, hashes[articles[c.place].id])
        for c, p in zip(each, made, strict=True)
    ]
    early = future_dates_note(each)  # dropped before the store sets the run's day
    with store.intake(entries, settings) as intake:
        if not intake.new:
            return intake.file(
                [],
                None,
                np.zeros(0, np.int64),
                Links.empty(),
                settings,
                inputs=inputs,
                skipped=every_skip,
                timings=stages.timings,
                all_stories=all_stories,
                warnings=early,
            )
        order = {
            id(a): k for k, a in enumerate(canonical_order([e.article for e in intake.to_prepare]))
        }
        ready = sorted(intake.to_prepare, key=lambda e: order[id(e.article)])
        vectors = None
        if lexical:  # a store kept by a dense run has no lexical profiles
            with stages.stage("lexical", len(ready)):
                found = [e.profile or profile(e.article) for e in ready]
                vectors = lexical_vectors([e.article for e in ready], found)
        prepared = prepare_cleaned(
            [e.article for e in ready],
            [e.stated for e in ready],
            settings,
            skipped=every_skip,
            encoder=encoder,
            stages=stages,
            lexical=vectors,
            raw=False,  # the store keeps no vectors: the centred ones link and group
        )
        calibration = prepared.represented.calibration
        backend = prepared.represented.reps.backend
        with stages.stage("link"):
            links = link(
                prepared,
                settings,
                settings.threshold_for(backend, calibration.thresholds),
                settings.link_floor(backend, calibration.thresholds),
            )
        assert isinstance(links, Links)  # not spilled: a store's run holds them to file them
        with stages.stage("store"):
            return intake.file(
                prepared.articles,
                prepared.represented,
                prepared.copy_of,
                links,
                settings,
                inputs=inputs,
                skipped=prepared.skipped,
                timings=stages.timings,
                all_stories=all_stories,
                warnings=early,
            )
