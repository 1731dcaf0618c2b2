"""Each article on its own, before the corpus is represented as a whole: cleaned, its event day
found and (for the lexical backends) its profile made, an article that breaks any of these a
recorded skip, never a lost run; the canonical order that makes stories independent of input
order; and exact copies, linked once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import NamedTuple, TypeVar

import numpy as np

from dedup.clean import NotAnArticle, clean_article
from dedup.columns import ArticleColumns
from dedup.config import Settings
from dedup.cores import in_processes, usable_cores
from dedup.errors import InputError, one_line
from dedup.models import Article, Skipped
from dedup.progress import Advance, Stages, give_back_freed_memory
from dedup.represent.days import stated_event_day
from dedup.represent.lexical import (
    LexicalCounts,
    LexicalVectors,
    Profile,
    lexical_counts,
    profile,
    weigh,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
_Failed = tuple[int, Skipped]  # an article's place in the input, and why it was skipped

#: From this many articles on, the per-article stages run on every core, ``PART`` at a time.
#: Below it a pool costs more than it saves (forking, and the pickled articles back and forth).
PARALLEL_MIN = 4_000
PART = 1_000


def _content(a: Article) -> bytes:
    """The SHA-1 of an article's title and text. surrogatepass: a lone surrogate (half an
    emoji) must not stop the run here, and two texts never give the same bytes."""
    return hashlib.sha1(a.full_text.encode("utf-8", "surrogatepass")).digest()


def _order_key(a: Article) -> tuple[str, str]:
    return _content(a).hex(), a.id


def canonical_order(articles: Sequence[Article]) -> list[Article]:
    """Sort by content, then id, so the same corpus in any order gives the same stories."""
    return sorted(articles, key=_order_key)


def copy_of(articles: Sequence[Article]) -> np.ndarray:
    """For each article, the first one with the same text, language and dates (itself if
    none): such copies have the same representations, so the same similarity to everything.
    The texts are told apart by their digests: each article's title and text made one string
    for the lookup, and held as the key, left holes in the heap (198 MiB at 10^5 articles)."""
    first: dict[tuple[bytes, str | None, object, object], int] = {}
    return np.array(
        [
            first.setdefault((_content(a), a.lang, a.published, a.inferred), k)
            for k, a in enumerate(articles)
        ],
        dtype=np.int64,
    )


class _Cleaned(NamedTuple):
    """One article through the stages that see it alone: cleaned, its event day found."""

    place: int  # in the order given: a failure is listed in that order
    article: Article
    day: int | None
    future: dt.date | None = None  # a published date after the run day, dropped


_NO_DAY = -1  # in Kept.days: no event day stated


class Kept(Sequence[_Cleaned]):
    """The articles kept by the stages that see each alone, as columns: a part's, as a worker
    sends it back (no article object crosses between processes), or the corpus', the parts'
    joined in canonical order. Row ``k`` is ``_Cleaned(places[k], articles[k], ...)``."""

    __slots__ = ("articles", "days", "futures", "places")

    def __init__(
        self,
        articles: ArticleColumns,
        places: np.ndarray,
        days: np.ndarray,
        futures: dict[int, dt.date],
    ) -> None:
        self.articles = articles
        self.places = places  # int64: each article's place in the input
        self.days = days  # int16: its stated event day, _NO_DAY for none
        self.futures = futures  # row: a published date after the run day, dropped

    @staticmethod
    def of(each: Sequence[_Cleaned]) -> Kept:
        return Kept(
            ArticleColumns.of([c.article for c in each]),
            np.array([c.place for c in each], dtype=np.int64),
            np.array([_NO_DAY if c.day is None else c.day for c in each], dtype=np.int16),
            {k: c.future for k, c in enumerate(each) if c.future is not None},
        )

    @staticmethod
    def joined(parts: Sequence[Kept], order: Sequence[int]) -> Kept:
        """The parts' rows one after another, then row ``r`` the ``order[r]``-th of them."""
        at = np.asarray(order, dtype=np.int64)
        offsets = np.cumsum([0, *(len(p) for p in parts)])
        futures = {
            int(s) + k: d
            for p, s in zip(parts, offsets, strict=False)
            for k, d in p.futures.items()
        }
        rank = np.empty(len(at), dtype=np.int64)
        rank[at] = np.arange(len(at))
        return Kept(
            ArticleColumns.concat([p.articles for p in parts]).take(at),
            np.concatenate([np.zeros(0, np.int64), *(p.places for p in parts)])[at],
            np.concatenate([np.zeros(0, np.int16), *(p.days for p in parts)])[at],
            {int(rank[k]): d for k, d in futures.items()},
        )

    @property
    def stated_days(self) -> list[int | None]:
        return [None if d == _NO_DAY else d for d in self.days.tolist()]

    def __len__(self) -> int:
        return len(self.places)

    def __getitem__(self, k: int) -> _Cleaned:  # type: ignore[override]
        day = int(self.days[k])
        return _Cleaned(
            int(self.places[k]),
            self.articles[k],
            None if day == _NO_DAY else day,
            self.futures.get(k if k >= 0 else len(self) + k),
        )


def future_dates_note(each: Kept) -> list[str]:
    """The warning for the published dates cleaning dropped as after the run day (one for
    all of them), or none."""
    if not each.futures:
        return []
    first = min(each.futures, key=lambda k: each.articles[k].id)
    return [
        f"{len(each.futures)} article(s) dated after today, which is no publication date: left"
        f" undated (first: {each.articles[first].id}, {each.futures[first]})"
    ]


def _attempt(name: str, stage: str, make: Callable[[], T]) -> T | Skipped:
    """``make()``, or the skip that says why it failed for the article called ``name``:
    whatever one article holds, it must not cost the other articles their run."""
    try:
        return make()
    except NotAnArticle as exc:
        return Skipped(name, str(exc))
    except Exception as exc:  # one article's failure, whatever it is
        log.debug("article %s failed in %s", name, stage, exc_info=True)
        return Skipped(name, f"{stage} failed: {type(exc).__name__}: {one_line(exc)}")


def _name(article: Article) -> str:
    return article.origin or article.id


def _clean_part(part: Sequence[tuple[int, Article]]) -> tuple[list[_Cleaned], list[_Failed]]:
    """Each article cleaned and its event day found; one that makes either fail is a skip."""
    out: list[_Cleaned] = []
    failed: list[_Failed] = []
    for place, article in part:
        cleaned = _attempt(_name(article), "cleaning", partial(clean_article, article))
        if isinstance(cleaned, Skipped):
            failed.append((place, cleaned))
            continue
        day = _attempt(_name(article), "finding its event day", partial(stated_event_day, cleaned))
        if isinstance(day, Skipped):
            failed.append((place, day))
        else:
            future = article.published if cleaned.published != article.published else None
            out.append(_Cleaned(place, cleaned, day, future))
    return out, failed


def _profile_part(
    part: Sequence[tuple[Article, int]], vectors: bool
) -> tuple[list[int], list[Profile] | LexicalCounts, list[_Failed]]:
    """The lexical profile of each cleaned article (with its place, for a skip), one that makes
    it fail a skip: where in ``part`` the profiled articles are, and their profiles or, with
    ``vectors``, the profiles' hashed counts. (The articles themselves are not sent back from
    a worker: the caller has them. Cleaning keeps the id and origin that name a skip.)"""
    kept: list[int] = []
    profiles: list[Profile] = []
    failed: list[_Failed] = []
    for k, (article, place) in enumerate(part):
        made = _attempt(_name(article), "the lexical profile", partial(profile, article))
        if isinstance(made, Skipped):
            failed.append((place, made))
        else:
            kept.append(k)
            profiles.append(made)
    if vectors:
        return kept, lexical_counts([part[k][0] for k in kept], profiles), failed
    return kept, profiles, failed


class Part(NamedTuple):
    """A part of the corpus through :func:`prepare_part`: the articles kept (in the part's
    order) with their canonical sort keys and, for the lexical backends, their profiles'
    hashed counts (one row each) or the profiles themselves; and the articles that broke a
    stage."""

    kept: Kept
    order: list[tuple[str, str]]
    lexical: LexicalCounts | list[Profile] | None
    failed: list[_Failed]


def prepare_part(part: Sequence[tuple[int, Article]], lexical: bool, vectors: bool = True) -> Part:
    """Every stage that sees an article alone, for one part of the corpus (each article with
    its place in it): cleaned, its event day found and, with ``lexical``, its profile made
    (with ``vectors``, its hashed counts in place of it); an article that breaks one of them a
    skip. What a distributed engine's worker runs (:mod:`dedup.spread`): the same part
    functions as :func:`clean_stage`'s pool."""
    kept, failed = _clean_part(part)
    made = None
    if lexical:
        where, made, lost = _profile_part([(c.article, c.place) for c in kept], vectors)
        kept = [kept[k] for k in where]
        failed += lost
    return Part(Kept.of(kept), [_order_key(c.article) for c in kept], made, failed)


def every_skip(
    each: Sequence[_Cleaned], skipped: Sequence[Skipped], failed: list[_Failed]
) -> list[Skipped]:
    """Read's skips, then the articles that broke a stage in the order they were given;
    InputError when no article is left (``each``: the articles kept)."""
    _check_usable(each, skipped, failed)
    return _all_skipped(skipped, failed)


def _workers(n: int) -> int:
    """Processes for the per-article stages of ``n`` articles: every core this process may
    use, for a corpus big enough to repay starting them."""
    if n < PARALLEL_MIN:
        return 1
    return max(1, min(usable_cores(), -(-n // PART)))


def _in_parts(
    work: Callable[[Sequence[A]], R],
    items: list[A],
    advance: Advance,
    pool: ProcessPoolExecutor | None = None,
) -> Iterator[R]:
    """``work`` over ``items`` a part at a time, in order: in a pool of processes when there
    are enough items (:func:`dedup.cores.in_processes`; ``pool``: workers forked before the
    items were read, :func:`dedup.cores.forked_now`). Empties ``items``, and lets go of each
    part once its result is given: what the parts hold is freed as the work goes, unless the
    caller keeps it."""
    parts: list[list[A] | None] = [items[k : k + PART] for k in range(0, len(items), PART)]
    workers = _workers(len(items))
    items.clear()

    def done(k: int) -> None:
        size = len(parts[k] or ())
        parts[k] = None
        advance(size)

    if workers > 1:
        yield from in_processes(work, parts, workers, done, pool=pool)  # type: ignore[arg-type]
        return
    if pool is not None:
        pool.shutdown()  # too few items to repay them
    for k, part in enumerate(parts):
        assert part is not None
        yield work(part)
        done(k)


def skipped_note(n: int) -> str:
    return f"{n:,} skipped" if n else ""


def clean_stage(
    articles: Sequence[Article],
    settings: Settings,
    skipped: Sequence[Skipped],
    stages: Stages,
    *,
    vectors: bool = True,
    owned: bool = False,
    pool: ProcessPoolExecutor | None = None,
) -> tuple[Kept, list[Profile] | None, LexicalVectors | None, list[Skipped]]:
    """Each article cleaned, its event day found and (for the lexical backends) its profile
    made, in canonical order; the lexical vectors of them all when ``vectors`` (then no
    profiles: a million articles' profiles would not fit in memory, their counts do); and
    every skip so far. InputError when no article is left. A big corpus goes through
    :func:`prepare_part` on every core, a part at a time (:data:`PARALLEL_MIN`): each article
    is sent to a worker once, and comes back cleaned with its profile's counts.

    ``owned``: ``articles`` is a list the caller has no further use for; it is emptied, so
    that each article as read is freed once cleaned (a million of them are gigabytes).
    ``pool``: workers forked before the articles were read (:func:`dedup.cores.forked_now`),
    which the pass uses if it runs in processes, and shuts down either way."""
    lexical = settings.backend != "dense"  # every other backend compares the lexical vectors
    with stages.stage("clean", len(articles)) as step:
        places = list(enumerate(articles))
        if owned and isinstance(articles, list):
            articles.clear()
        work = partial(prepare_part, lexical=lexical, vectors=vectors)
        parts = list(_in_parts(work, places, step.advance, pool))
        each, ranked, failed = in_canonical_order(parts)
        step.count, step.note = len(each), skipped_note(len(failed))
    _check_usable(each, skipped, failed)
    profiles, made = None, None
    if lexical:
        with stages.stage("lexical", len(each)) as step:
            profiles, made = lexical_in_order(parts, ranked)
            step.advance(len(each))
    return each, profiles, made, _all_skipped(skipped, failed)


def in_canonical_order(parts: Sequence[Part]) -> tuple[Kept, list[int], list[_Failed]]:
    """The articles the parts kept, in canonical order; where each was among them (the parts'
    kept articles one after another); and every failure."""
    order = [k for p in parts for k in p.order]
    ranked = sorted(range(len(order)), key=order.__getitem__)
    del order
    return (
        Kept.joined([p.kept for p in parts], ranked),
        ranked,
        [f for p in parts for f in p.failed],
    )


def lexical_in_order(
    parts: list[Part], ranked: Sequence[int]
) -> tuple[list[Profile] | None, LexicalVectors | None]:
    """The parts' profiles, or the corpus' lexical vectors weighed from their counts (as the
    parts hold one or the other; neither without a lexical backend), in the order ``ranked``
    gives (:func:`in_canonical_order`). Lets go of each part's counts once they are placed,
    the heap's freed pages given back as they are stacked (:func:`give_back_freed_memory`)."""
    made = [p.lexical for p in parts if p.lexical is not None]
    for k, part in enumerate(parts):
        parts[k] = part._replace(lexical=None)
    if not made:
        return None, None
    if isinstance(made[0], LexicalCounts):
        counts = [m for m in made if isinstance(m, LexicalCounts)]
        made.clear()
        vectors = weigh(LexicalCounts.stack(counts, ranked, give_back=give_back_freed_memory))
        return None, vectors
    listed = [p for m in made if isinstance(m, list) for p in m]
    return [listed[k] for k in ranked], None


def _all_skipped(skipped: Sequence[Skipped], failed: list[_Failed]) -> list[Skipped]:
    """Read's skips, then the articles that broke a stage in the order they were given."""
    return [*skipped, *(skip for _, skip in sorted(failed, key=lambda f: f[0]))]


def _check_usable(
    each: Sequence[_Cleaned], skipped: Sequence[Skipped], failed: list[_Failed]
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
