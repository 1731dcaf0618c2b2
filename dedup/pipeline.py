"""The one call the CLI makes: read -> clean -> represent -> link -> group -> report."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import BinaryIO, NamedTuple, TypeVar

import numpy as np

from dedup.clean import NotAnArticle, clean_article
from dedup.clean.dating import vet_corpus
from dedup.config import Settings
from dedup.errors import InputError, one_line
from dedup.group import Group, describe, group, related_pairs, story_order
from dedup.link import Links, date_ordinals, find_links
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story
from dedup.progress import Advance, Progress, Stages
from dedup.read import read_corpus
from dedup.read.records import DEFAULT_FIELDS
from dedup.report.explain import explain_report
from dedup.represent import Represented, represent
from dedup.represent.days import stated_event_day
from dedup.represent.encoder import Encoder
from dedup.represent.lexical import LexicalVectors, Profile, lexical_vectors, profile
from dedup.version import __version__

log = logging.getLogger(__name__)

T = TypeVar("T")


def _order_key(a: Article) -> tuple[str, str]:
    # surrogatepass: a lone surrogate (half an emoji) must not stop the run here.
    return hashlib.sha1(a.full_text.encode("utf-8", "surrogatepass")).hexdigest(), a.id


def canonical_order(articles: Sequence[Article]) -> list[Article]:
    """Sort by content, then id, so the same corpus in any order gives the same stories."""
    return sorted(articles, key=_order_key)


def _copy_of(articles: Sequence[Article]) -> np.ndarray:
    """For each article, the first one with the same text, language and dates (itself if
    none): such copies have the same representations, so the same similarity to everything."""
    first: dict[tuple[str, str | None, object, object], int] = {}
    return np.array(
        [
            first.setdefault((a.full_text, a.lang, a.published, a.inferred), k)
            for k, a in enumerate(articles)
        ],
        dtype=np.int64,
    )


class _Cleaned(NamedTuple):
    """One article through the stages that see it alone: cleaned, its event day found."""

    place: int  # in the order given: a failure is listed in that order
    article: Article
    day: int | None


def _attempt(article: Article, stage: str, make: Callable[[], T]) -> T | Skipped:
    """``make()``, or the skip that says why it failed for ``article``: whatever one article
    holds, it must not cost the other articles their run."""
    try:
        return make()
    except NotAnArticle as exc:
        return Skipped(article.origin or article.id, str(exc))
    except Exception as exc:  # one article's failure, whatever it is
        log.debug("article %s failed in %s", article.id, stage, exc_info=True)
        reason = f"{stage} failed: {type(exc).__name__}: {one_line(exc)}"
        return Skipped(article.origin or article.id, reason)


def _clean_each(
    articles: Sequence[Article], failed: list[tuple[int, Skipped]], advance: Advance
) -> list[_Cleaned]:
    """Each article cleaned and its event day found; one that makes either fail is a skip."""
    out: list[_Cleaned] = []
    for index, article in enumerate(articles):
        cleaned = _attempt(article, "cleaning", partial(clean_article, article))
        if isinstance(cleaned, Skipped):
            failed.append((index, cleaned))
        else:
            day = _attempt(article, "finding its event day", partial(stated_event_day, cleaned))
            if isinstance(day, Skipped):
                failed.append((index, day))
            else:
                out.append(_Cleaned(index, cleaned, day))
        advance(1)
    log.debug("cleaned %d articles", len(out))
    return out


def _profile_each(
    each: Sequence[_Cleaned],
    raw: Sequence[Article],
    failed: list[tuple[int, Skipped]],
    advance: Advance,
) -> tuple[list[_Cleaned], list[Profile]]:
    """The lexical profile of each cleaned article; one that makes it fail is a skip."""
    kept: list[_Cleaned] = []
    profiles: list[Profile] = []
    for c in each:
        made = _attempt(raw[c.place], "the lexical profile", partial(profile, c.article))
        if isinstance(made, Skipped):
            failed.append((c.place, made))
        else:
            kept.append(c)
            profiles.append(made)
        advance(1)
    return kept, profiles


def _skipped_note(n: int) -> str:
    return f"{n:,} skipped" if n else ""


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
    prepared = read_and_prepare(inputs, settings, encoder=encoder, stdin=stdin, progress=progress)
    return report_from(prepared, settings, inputs=inputs, progress=progress)


def read_and_prepare(
    inputs: Sequence[str],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """Read ``inputs`` and :func:`prepare` them."""
    if not inputs:
        raise InputError("no input given: name files, directories, or - for standard input")
    stages = Stages(progress)
    with stages.stage("read") as step:
        articles, skipped = read_corpus(
            inputs,
            max_bytes=settings.max_bytes,
            stdin=stdin,
            outputs=settings.outputs,
            progress=step.advance,
            fields=DEFAULT_FIELDS.naming(settings.fields),
            stdin_format=settings.stdin_format,
        )
        step.note = _skipped_note(len(skipped))
    return _prepare(articles, settings, skipped, encoder, stages)


class Prepared(NamedTuple):
    """A corpus made ready to group at any threshold: what `dedup cluster` and
    `dedup evaluate clusters --sweep` share, so that a sweep scores what a run would make."""

    articles: list[Article]  # cleaned, in canonical order; rows of the representations
    skipped: list[Skipped]  # read's skips, then the articles that broke a stage
    represented: Represented
    copy_of: np.ndarray  # per article, the first one it is an exact copy of (or itself)
    timings: Mapping[str, float]  # the seconds of the stages so far, by name


def prepare(
    articles: Sequence[Article],
    settings: Settings,
    *,
    skipped: Sequence[Skipped] = (),
    encoder: Encoder | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """Clean each article (one that breaks a stage becomes a skip), order them canonically,
    represent them, and find their exact copies. InputError when nothing usable is left."""
    return _prepare(articles, settings, skipped, encoder, Stages(progress))


def _prepare(
    articles: Sequence[Article],
    settings: Settings,
    skipped: Sequence[Skipped],
    encoder: Encoder | None,
    stages: Stages,
) -> Prepared:
    each, _, lexical, every_skip = clean_stage(articles, settings, skipped, stages)
    return prepare_cleaned(
        [c.article for c in each],
        [c.day for c in each],
        settings,
        skipped=every_skip,
        encoder=encoder,
        stages=stages,
        lexical=lexical,
    )


def clean_stage(
    articles: Sequence[Article],
    settings: Settings,
    skipped: Sequence[Skipped],
    stages: Stages,
    *,
    vectors: bool = True,
) -> tuple[list[_Cleaned], list[Profile] | None, LexicalVectors | None, list[Skipped]]:
    """Each article cleaned, its event day found and (for the lexical backends) its profile
    made, in canonical order; the lexical vectors of them all when ``vectors``; and every skip
    so far. InputError when no article is left."""
    failed: list[tuple[int, Skipped]] = []  # by the article's place in ``articles``
    with stages.stage("clean", len(articles)) as step:
        each = sorted(
            _clean_each(articles, failed, step.advance), key=lambda c: _order_key(c.article)
        )
        step.count, step.note = len(each), _skipped_note(len(failed))
    _check_usable(each, skipped, failed)
    profiles = lexical = None
    if settings.backend != "dense":  # every other backend compares the lexical vectors
        with stages.stage("lexical", len(each)) as step:
            before = len(failed)
            each, profiles = _profile_each(each, articles, failed, step.advance)
            step.count, step.note = len(each), _skipped_note(len(failed) - before)
            _check_usable(each, skipped, failed)
            if vectors:
                lexical = lexical_vectors([c.article for c in each], profiles)
    return each, profiles, lexical, _all_skipped(skipped, failed)


def prepare_cleaned(
    articles: Sequence[Article],
    stated_days: Sequence[int | None],
    settings: Settings,
    *,
    skipped: list[Skipped],
    encoder: Encoder | None,
    stages: Stages,
    lexical: LexicalVectors | None,
) -> Prepared:
    """:func:`prepare` from articles already cleaned, in canonical order, with their lexical
    vectors (None for the dense backend)."""
    cleaned = vet_corpus(list(articles))  # dates read from texts, against each other
    represented = represent(
        cleaned,
        settings,
        encoder=encoder,
        stages=stages,
        lexical=lexical,
        stated_days=list(stated_days),
    )
    return Prepared(cleaned, skipped, represented, _copy_of(cleaned), dict(stages.timings))


def _all_skipped(skipped: Sequence[Skipped], failed: list[tuple[int, Skipped]]) -> list[Skipped]:
    """Read's skips, then the articles that broke a stage in the order they were given."""
    return [*skipped, *(skip for _, skip in sorted(failed, key=lambda f: f[0]))]


def _check_usable(
    each: Sequence[_Cleaned], skipped: Sequence[Skipped], failed: list[tuple[int, Skipped]]
) -> None:
    """InputError when no article is left, saying how many were skipped and the first why."""
    if each:
        return
    every = _all_skipped(skipped, failed)
    detail = (
        f" ({len(every)} inputs skipped; first: {every[0].origin}: {every[0].reason})"
        if every
        else ""
    )
    raise InputError(f"no usable article in the input{detail}")


def link(
    prepared: Prepared,
    settings: Settings,
    threshold: float,
    floor: float,
    *,
    progress: Advance | None = None,
) -> Links:
    """The pairs at or above ``floor`` (``threshold``: the grouping one, which the approximate
    search keeps complete). Exact copies are linked once, by their first: a story of 10,000
    copies is one node, not 50 million links. ``progress`` is called with the number of
    articles done (copies at once)."""
    reps, articles, copy_of = prepared.represented.reps, prepared.articles, prepared.copy_of
    originals = np.flatnonzero(copy_of == np.arange(len(articles)))
    if progress is not None and len(originals) < len(articles):
        progress(len(articles) - len(originals))
    found = find_links(
        reps if len(originals) == len(articles) else reps.rows(originals),
        floor=floor,
        method=settings.neighbours,
        k=settings.neighbour_k,
        complete_at=threshold,
        dates=date_ordinals(
            [articles[k].date(text_dates=settings.trust_text_dates) for k in originals]
        ),
        window_days=settings.window_days,
        progress=progress,
    )
    return Links(originals[found.i], originals[found.j], found.sim)


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
    prepared = prepare(articles, settings, skipped=skipped, encoder=encoder, progress=progress)
    return report_from(prepared, settings, inputs=inputs, progress=progress)


def report_from(
    prepared: Prepared,
    settings: Settings,
    *,
    inputs: Sequence[str] = (),
    progress: Progress | None = None,
) -> Report:
    """The stories of a prepared corpus at the settings' thresholds, as a report that names
    ``inputs``, what the corpus was read from. Its ``run.timings`` are those of the stages
    that made ``prepared`` and of linking and grouping."""
    stages = Stages(progress, dict(prepared.timings))
    cleaned, skipped, copy_of = prepared.articles, prepared.skipped, prepared.copy_of
    represented = prepared.represented
    reps, model, calibration = represented.reps, represented.model, represented.calibration
    warnings = list(represented.warnings)  # a prepared corpus may be reported more than once
    if settings.neighbours == "ann" and reps.dense is None:
        warnings.append("approximate neighbours need dense vectors: linked exactly instead")
    threshold = settings.threshold_for(reps.backend, calibration.thresholds)
    related_floor = settings.related_for(reps.backend, calibration.thresholds)
    with stages.stage("link", len(cleaned)) as step:
        links = link(
            prepared,
            settings,
            threshold,
            settings.link_floor(reps.backend, calibration.thresholds),
            progress=step.advance,
        )
        step.note = f"{len(links.i):,} pairs"
    with stages.stage("group") as step:
        labels = group(reps, links, threshold, copy_of)
        groups = describe(reps, labels, copy_of)
        related = related_pairs(reps, labels, links, related_floor, threshold)
        step.what = f"{len(groups):,} stories of {len(cleaned):,} articles"
    with stages.stage("report", len(groups), unit="stories") as step:
        stories, related_out = _stories(
            cleaned, groups, labels, related, step.advance, settings.trust_text_dates
        )
        info = RunInfo(
            version=__version__,
            backend=reps.backend,
            model=model,
            threshold=threshold,
            related_threshold=related_floor,
            inputs=tuple(inputs),
            timings=dict(stages.timings),  # the report's own stage is not over
            warnings=tuple(warnings),
            trust_text_dates=settings.trust_text_dates,
        )
        report = Report(tuple(stories), tuple(related_out), tuple(skipped), info)
        if settings.explain:
            report = dataclasses.replace(report, explanations=explain_report(report, reps, cleaned))
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

    def tie_key(g: int) -> tuple[object, ...]:
        members = [cleaned[k] for k in groups[g].members]
        # Only an order among equals: a date read from the text places a story as well as a
        # published one (and keeps story ids what they were), though it is shown as neither.
        found = (a.date(text_dates=True) for a in members)
        dates = [d.isoformat() for d in found if d is not None]
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
]
