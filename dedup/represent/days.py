"""The day of the year each article's event happened, which every backend weighs: the first
date its title or lead states, else its publication date, else the date its text gives (its
inferred date: a day of the year to compare, never a publication date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from dedup.clean.dates import day_of_year, month_days
from dedup.clean.fold import fold
from dedup.columns import dates_of
from dedup.models import Article

__all__ = ["EVENT_DAY_CHARS", "event_days", "stated_event_day"]

# How far into the body the lead's event day is looked for.
EVENT_DAY_CHARS = 400


def stated_event_day(article: Article) -> int | None:
    """The first day of the year the title or lead states, or None."""
    head = f"{article.title}\n{article.text[:EVENT_DAY_CHARS]}"
    # The first of dedup.clean.dates.find_mentions(head), without the offsets it would map
    # back from the folded text.
    mentions = month_days(fold(head), article.lang)
    return day_of_year(*mentions[0]) if mentions else None


def event_days(
    articles: Sequence[Article], stated_days: Sequence[int | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per article, the day of the year its event happened (-1 when unknown), and whether its
    title or lead states that day (else it is the publication or the inferred date).

    The first date in the title and lead wins: news leads name the event's day ("On the
    afternoon of September 22", "Chiều 6.12"). Else the publication date, else the date read
    from the text (a stamp or dateline before the lead, say). Years are ignored
    because leads rarely give them. ``stated_days``: each article's :func:`stated_event_day`,
    when already found.
    """
    days = np.full(len(articles), -1, dtype=np.int32)
    stated = np.zeros(len(articles), dtype=bool)
    if stated_days is None:
        stated_days = [stated_event_day(article) for article in articles]
    known = dates_of(articles, text_dates=True).tolist()  # published, else inferred
    for k, day in enumerate(stated_days):
        if day is not None:
            days[k], stated[k] = day, True
        elif known[k]:
            date = dt.date.fromordinal(known[k])
            days[k] = day_of_year(date.month, date.day)
    return days, stated
