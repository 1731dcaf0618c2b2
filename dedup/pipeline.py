"""The one call the CLI makes: read -> clean -> represent -> link -> group -> report."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO, NamedTuple

import numpy as np

from dedup.clean import NotAnArticle, clean_article
from dedup.config import Settings
from dedup.errors import InputError, one_line
from dedup.group import describe, group, related_pairs, story_order
from dedup.link import Links, date_ordinals, find_links
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story
from dedup.read import read_corpus
from dedup.report.explain import explain_report
from dedup.represent import Represented, represent
from dedup.represent.days import stated_event_day
from dedup.represent.encoder import Encoder
from dedup.represent.lexical import Profile, profile
from dedup.store import Entry, Store, text_hash
from dedup.version import __version__

log = logging.getLogger(__name__)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def _order_key(a: Article) -> tuple[str, str]:
    # surrogatepass: a lone surrogate (half an emoji) must not stop the run here.
    return hashlib.sha1(a.full_text.encode("utf-8", "surrogatepass")).hexdigest(), a.id


def canonical_order(articles: Sequence[Article]) -> list[Article]:
    """Sort by content, then id, so the same corpus in any order gives the same stories."""
    return sorted(articles, key=_order_key)


def _copy_of(articles: Sequence[Article]) -> np.ndarray:
    """For each article, the first one with the same text, language and date (itself if none):
    such copies have the same representations, so the same similarity to everything."""
    first: dict[tuple[str, str | None, object], int] = {}
    return np.array(
        [first.setdefault((a.full_text, a.lang, a.published), k) for k, a in enumerate(articles)],
        dtype=np.int64,
    )


class _Cleaned(NamedTuple):
    """One article through the stages that see it alone: cleaned, profiled, its day found."""

    article: Article
    profile: Profile | None
    day: int | None


def _clean_each(
    articles: Sequence[Article], lexical: bool, skipped: list[Skipped]
) -> list[_Cleaned]:
    """Each article cleaned, its lexical profile made (when ``lexical``) and its event day
    found. An article that makes any of these fail is skipped with the stage and the error:
    whatever it holds, it must not cost the other articles their run."""
    out: list[_Cleaned] = []
    for article in articles:
        stage = "cleaning"
        try:
            cleaned = clean_article(article)
            stage = "the lexical profile"
            made = profile(cleaned) if lexical else None
            stage = "finding its event day"
            out.append(_Cleaned(cleaned, made, stated_event_day(cleaned)))
        except NotAnArticle as exc:
            skipped.append(Skipped(article.origin or article.id, str(exc)))
        except Exception as exc:  # one article's failure, whatever it is
            log.debug("article %s failed in %s", article.id, stage, exc_info=True)
            reason = f"{stage} failed: {type(exc).__name__}: {one_line(exc)}"
            skipped.append(Skipped(article.origin or article.id, reason))
    log.debug("cleaned %d articles", len(out))
    return out


def run(
    inputs: Sequence[str],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
) -> Report:
    """Read ``inputs`` (files, directories, ``-`` for JSONL on stdin) and group them into
    stories."""
    timer = _Timer()
    prepared = read_and_prepare(inputs, settings, encoder=encoder, stdin=stdin, timer=timer)
    return report_from(prepared, settings, inputs=inputs, timer=timer)


def read_and_prepare(
    inputs: Sequence[str],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
    timer: _Timer | None = None,
) -> Prepared:
    """Read ``inputs`` and :func:`prepare` them."""
    if not inputs:
        raise InputError("no input given: name files, directories, or - for JSONL on stdin")
    timer = timer or _Timer()
    with timer.stage("read"):
        articles, skipped = read_corpus(
            inputs, max_bytes=settings.max_bytes, stdin=stdin, outputs=settings.outputs
        )
    return prepare(articles, settings, skipped=skipped, encoder=encoder, timer=timer)


class Prepared(NamedTuple):
    """A corpus made ready to group at any threshold: what `dedup cluster` and
    `dedup evaluate clusters --sweep` share, so that a sweep scores what a run would make."""

    articles: list[Article]  # cleaned, in canonical order; rows of the representations
    skipped: list[Skipped]  # read's skips, then the articles that broke a stage
    represented: Represented
    copy_of: np.ndarray  # per article, the first one it is an exact copy of (or itself)


def prepare(
    articles: Sequence[Article],
    settings: Settings,
    *,
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    timer: _Timer | None = None,
) -> Prepared:
    """Clean each article (one that breaks a stage becomes a skip), order them canonically,
    represent them, and find their exact copies. InputError when nothing usable is left."""
    timer = timer or _Timer()
    skipped = list(skipped)
    with timer.stage("clean"):
        each = _clean_each(articles, _lexical(settings), skipped)
    return _prepare_cleaned(each, settings, skipped=skipped, encoder=encoder, timer=timer)


def _lexical(settings: Settings) -> bool:
    return settings.backend != "dense"  # every other backend may need the profiles


def _prepare_cleaned(
    cleaned_each: Sequence[_Cleaned],
    settings: Settings,
    *,
    skipped: list[Skipped],
    encoder: Encoder | None,
    timer: _Timer,
) -> Prepared:
    """:func:`prepare` from the articles cleaned one by one."""
    lexical = _lexical(settings)
    each = sorted(cleaned_each, key=lambda c: _order_key(c.article))
    cleaned = [c.article for c in each]
    if not cleaned:
        detail = (
            f" ({len(skipped)} inputs skipped; first: {skipped[0].origin}: {skipped[0].reason})"
            if skipped
            else ""
        )
        raise InputError(f"no usable article in the input{detail}")
    represented = represent(
        cleaned,
        settings,
        encoder=encoder,
        timer=timer,
        profiles=[c.profile for c in each if c.profile] if lexical else None,
        stated_days=[c.day for c in each],
    )
    return Prepared(cleaned, skipped, represented, _copy_of(cleaned))


def link(prepared: Prepared, settings: Settings, threshold: float, floor: float) -> Links:
    """The pairs at or above ``floor`` (``threshold``: the grouping one, which the approximate
    search keeps complete). Exact copies are linked once, by their first: a story of 10,000
    copies is one node, not 50 million links."""
    reps, articles, copy_of = prepared.represented.reps, prepared.articles, prepared.copy_of
    originals = np.flatnonzero(copy_of == np.arange(len(articles)))
    found = find_links(
        reps if len(originals) == len(articles) else reps.rows(originals),
        floor=floor,
        method=settings.neighbours,
        k=settings.neighbour_k,
        complete_at=threshold,
        dates=date_ordinals([articles[k].published for k in originals]),
        window_days=settings.window_days,
    )
    return Links(originals[found.i], originals[found.j], found.sim)


def cluster_articles(
    articles: Sequence[Article],
    settings: Settings,
    *,
    inputs: Sequence[str] = (),
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    timer: _Timer | None = None,
) -> Report:
    """Group already-read articles into stories and report them; ``inputs``: what they were
    read from, for the report."""
    timer = timer or _Timer()
    prepared = prepare(articles, settings, skipped=skipped, encoder=encoder, timer=timer)
    return report_from(prepared, settings, inputs=inputs, timer=timer)


def report_from(
    prepared: Prepared,
    settings: Settings,
    *,
    inputs: Sequence[str] = (),
    timer: _Timer | None = None,
) -> Report:
    """The stories of a prepared corpus at the settings' thresholds, as a report that names
    ``inputs``, what the corpus was read from."""
    timer = timer or _Timer()
    cleaned, skipped, copy_of = prepared.articles, prepared.skipped, prepared.copy_of
    represented = prepared.represented
    reps, model, calibration = represented.reps, represented.model, represented.calibration
    warnings = list(represented.warnings)  # a prepared corpus may be reported more than once
    if settings.neighbours == "ann" and reps.dense is None:
        warnings.append("approximate neighbours need dense vectors: linked exactly instead")
    threshold = settings.threshold_for(reps.backend, calibration.thresholds)
    related_floor = settings.related_for(reps.backend, calibration.thresholds)
    with timer.stage("link"):
        links = link(
            prepared, settings, threshold, settings.link_floor(reps.backend, calibration.thresholds)
        )
    with timer.stage("group"):
        labels = group(reps, links, threshold, copy_of)
        groups = describe(reps, labels, copy_of)
        related = related_pairs(reps, labels, links, related_floor, threshold)

    def tie_key(g: int) -> tuple[object, ...]:
        members = [cleaned[k] for k in groups[g].members]
        dates = [a.published.isoformat() for a in members if a.published]
        crossing = len({a.lang for a in members if a.lang}) > 1
        return (not crossing, min(dates) if dates else "9999", int(groups[g].members.min()))

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
            )
        )
    rank_of = {sid: int(sid[1:]) for sid in story_id.values()}
    related_out = []
    for a, b, sim in related:
        first, second = sorted((story_id[a], story_id[b]), key=rank_of.__getitem__)
        related_out.append(Related(first, second, round(sim, 6)))
    related_out.sort(key=lambda r: (rank_of[r.a], rank_of[r.b]))
    info = RunInfo(
        version=__version__,
        backend=reps.backend,
        model=model,
        threshold=threshold,
        related_threshold=related_floor,
        inputs=tuple(inputs),
        timings=dict(timer.timings),
        warnings=tuple(warnings),
    )
    log.info("%d articles -> %d stories", len(cleaned), len(stories))
    report = Report(tuple(stories), tuple(related_out), tuple(skipped), info)
    if settings.explain:
        report = dataclasses.replace(report, explanations=explain_report(report, reps, cleaned))
    return report


def run_into_store(
    inputs: Sequence[str],
    settings: Settings,
    store: Store,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
    all_stories: bool = False,
) -> Report:
    """Read ``inputs`` and :func:`add_to_store` what they hold."""
    if not inputs:
        raise InputError("no input given: name files, directories, or - for JSONL on stdin")
    timer = _Timer()
    with timer.stage("read"):
        articles, skipped = read_corpus(
            inputs, max_bytes=settings.max_bytes, stdin=stdin, outputs=settings.outputs
        )
    if not articles:
        prepare([], settings, skipped=skipped)  # the one "no usable article" error
    return add_to_store(
        articles,
        settings,
        store,
        inputs=inputs,
        skipped=skipped,
        encoder=encoder,
        all_stories=all_stories,
        timer=timer,
    )


def add_to_store(
    articles: Sequence[Article],
    settings: Settings,
    store: Store,
    *,
    inputs: Sequence[str] = (),
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    all_stories: bool = False,
    timer: _Timer | None = None,
) -> Report:
    """Add ``articles`` (as read) to ``store`` in one transaction: each joins a story of the
    store or a new one (see :mod:`dedup.store`). The report holds the stories the run changed
    (every live story with ``all_stories``), each with its status."""
    timer = timer or _Timer()
    settings = dataclasses.replace(settings, window_days=store.window(settings))
    skipped = list(skipped)
    lexical = _lexical(settings)
    with timer.stage("clean"):
        each = _clean_each(articles, lexical, skipped)
    hashes = {a.id: text_hash(a) for a in articles}
    entries = [Entry(c.article, c.profile, c.day, hashes[c.article.id]) for c in each]
    if not entries:
        prepare([], settings, skipped=skipped)  # the one "no usable article" error
    with store.intake(entries, settings) as intake:
        if not intake.new:
            return intake.file(
                [],
                None,
                np.zeros(0, np.int64),
                Links.empty(),
                settings,
                inputs=inputs,
                skipped=skipped,
                timings=timer.timings,
                all_stories=all_stories,
            )
        with timer.stage("clean"):  # a store kept by a dense run has no lexical profiles
            ready = [
                _Cleaned(
                    e.article, (e.profile or profile(e.article)) if lexical else None, e.stated
                )
                for e in intake.to_prepare
            ]
        prepared = _prepare_cleaned(ready, settings, skipped=skipped, encoder=encoder, timer=timer)
        calibration = prepared.represented.calibration
        backend = prepared.represented.reps.backend
        with timer.stage("link"):
            links = link(
                prepared,
                settings,
                settings.threshold_for(backend, calibration.thresholds),
                settings.link_floor(backend, calibration.thresholds),
            )
        with timer.stage("store"):
            return intake.file(
                prepared.articles,
                prepared.represented,
                prepared.copy_of,
                links,
                settings,
                inputs=inputs,
                skipped=prepared.skipped,
                timings=timer.timings,
                all_stories=all_stories,
            )


def labels_for(report: Report) -> dict[str, str]:
    """Article id -> story id: the membership a report states."""
    return {m.article.id: s.id for s in report.stories for m in s.members}


__all__ = [
    "Prepared",
    "add_to_store",
    "canonical_order",
    "cluster_articles",
    "labels_for",
    "link",
    "prepare",
    "read_and_prepare",
    "report_from",
    "run",
    "run_into_store",
]
