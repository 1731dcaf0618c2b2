"""Each article on its own, before the corpus is represented as a whole: cleaned, its event day
found and (for the lexical backends) its profile made, an article that breaks any of these a
recorded skip, never a lost run; the canonical order that makes stories independent of input
order; and exact copies, linked once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple, TypeVar

import numpy as np

from dedup.clean import NotAnArticle, clean_article
from dedup.config import Settings
from dedup.errors import InputError, one_line
from dedup.models import Article, Skipped
from dedup.progress import Advance, Stages
from dedup.represent.days import stated_event_day
from dedup.represent.lexical import LexicalVectors, Profile, lexical_vectors, profile

log = logging.getLogger(__name__)

T = TypeVar("T")


def _order_key(a: Article) -> tuple[str, str]:
    # surrogatepass: a lone surrogate (half an emoji) must not stop the run here.
    return hashlib.sha1(a.full_text.encode("utf-8", "surrogatepass")).hexdigest(), a.id


def canonical_order(articles: Sequence[Article]) -> list[Article]:
    """Sort by content, then id, so the same corpus in any order gives the same stories."""
    return sorted(articles, key=_order_key)


def copy_of(articles: Sequence[Article]) -> np.ndarray:
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


def skipped_note(n: int) -> str:
    return f"{n:,} skipped" if n else ""


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
        step.count, step.note = len(each), skipped_note(len(failed))
    _check_usable(each, skipped, failed)
    profiles = lexical = None
    if settings.backend != "dense":  # every other backend compares the lexical vectors
        with stages.stage("lexical", len(each)) as step:
            before = len(failed)
            each, profiles = _profile_each(each, articles, failed, step.advance)
            step.count, step.note = len(each), skipped_note(len(failed) - before)
            _check_usable(each, skipped, failed)
            if vectors:
                lexical = lexical_vectors([c.article for c in each], profiles)
    return each, profiles, lexical, _all_skipped(skipped, failed)


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
