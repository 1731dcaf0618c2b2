"""The date an article's text gives, kept apart from its publication date and vetted.

``Article.published`` comes only from the record's date field or the page's metadata (both
read in :mod:`dedup.read`). A date the cleaner reads in the text is the article's
``inferred`` date, and ``inferred_from`` says where it was read:

* ``stamp``: a scraper's ``date 2024-12-06`` before the text;
* ``dateline``: a full date (with a year) in a short line before the lead (a byline,
  ``Published 6 December 2024 | 10:32``), or at the very start of the lead, after nothing or
  after a place and agency ending in a separator, and itself followed by a separator or the end
  of the line (``PORTO, 6/12/2024 - ...``, ``Berlin (dpa) 06.12.2024 – ...``,
  ``Hà Nội, ngày 6/12/2024 - ...``, ``Paris, le 6 décembre 2024 — ...``);
* ``text``: the first full date in the title and the first characters of the body, else in
  the lines before the lead, as :func:`dedup.clean.dates.find_date` reads it. Such a date is a
  birthday, a law's or an anniversary's as readily as the day of publication.

The rule (:func:`vetted`): the candidates are taken in the order above, and the first that
passes every check is the inferred date; there is none when

1. the article has a published date: the record or the page says when, the text adds nothing;
2. the date is after the run day: no article was published in the future;
3. the record says when it was crawled or downloaded (``date_download`` and the like, see
   :data:`dedup.read.record_dates.CRAWL_KEYS`) and the date is more than a day after that
   (the page's time zone may be ahead of the crawler's) or more than
   :data:`CRAWL_WINDOW_DAYS` before it;
4. a ``text`` date is before :data:`MIN_TEXT_YEAR`: a text naming such a day recalls history
   (the 1984 birthday of a footballer). A stamp or dateline may be older: it says when the
   article was written, whatever the article is.

Over a corpus (:func:`vet_corpus`), a ``text`` date is also dropped when it is more than
:data:`CORPUS_MARGIN_DAYS` from every firmer date of the corpus (published, stamp and dateline
ones), when the corpus has at least :data:`MIN_ANCHORS` of those: in a corpus of 2020 news, a
lead's "16.10.2004" is a date the article recalls. Nearness to one firmer date is enough, so
an archive of many years keeps its text dates, and a stray old dateline vouches only for
dates near its own.

A published date is the record's or the page's, with one check: one more than
:data:`PUBLISHED_GRACE_DAYS` after the run day is a typo or a clock gone wrong (2204 for 2024),
not a publication date (:func:`from_the_future`). The article is left undated, the value kept
in its ``meta`` as ``published_raw``, and the run warns: such a date must not move a store's
reference day centuries on and close every open story.

An inferred date is never a publication date: `--window-days`, the stories' date spans and the
HTML timeline use published dates only, unless ``Settings.trust_text_dates``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
from anyascii import anyascii

from dedup.clean.dates import find_date, find_mentions
from dedup.columns import ArticleColumns, ordinals_of, strings_of
from dedup.models import Article, DateSource
from dedup.read.record_dates import crawl_date

__all__ = [
    "CRAWL_WINDOW_DAYS",
    "MIN_TEXT_YEAR",
    "PUBLISHED_GRACE_DAYS",
    "from_the_future",
    "infer_date",
    "vet_corpus",
    "vetted",
]

#: A ``text`` date before this year is history the article mentions, not its own day.
MIN_TEXT_YEAR = 1990
#: An inferred date more than this many days before the record's crawl date is not the day
#: the article was published: crawlers fetch news within days, archives within the year.
CRAWL_WINDOW_DAYS = 366
#: A crawler's clock and the page's may be a day apart (time zones).
CRAWL_SLACK_DAYS = 1
#: A page in a time zone ahead of the machine's may be dated a day after its clock.
PUBLISHED_GRACE_DAYS = 1
#: A text date this far from every firmer date of its corpus is not the article's day.
CORPUS_MARGIN_DAYS = 366
#: The firmer dates a corpus needs before they say where its text dates may lie.
MIN_ANCHORS = 3

# A dateline's date starts this near the start of the lead...
DATELINE_CHARS = 60
# ...after at most this many words: a place and an agency ("WASHINGTON (AP) —").
DATELINE_WORDS = 6
# A line before the lead this short that holds a full date is a dateline (a byline, a stamp).
HEAD_LINE_WORDS = 12

# Words that introduce a dateline's date after the place, folded: Vietnamese "ngày", German
# "am"/"den", French "le", Spanish "el", Portuguese "em", Polish "dnia".
_DATELINE_CUES = frozenset({"ngay", "am", "den", "le", "el", "em", "dnia"})
# What ends a dateline's place or follows its date.
_SEPARATORS = ",:;.-–—|/()·،"
# After the date: an optional time and agency, then a separator or the end of the line.
_AFTER_DATE = re.compile(
    r"\s*(?:\d{1,2}[:h]\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?|uhr|gmt|utc|[A-Z]{2,4})?\s*)?"
    r"(?:\([^()]{1,40}\)\s*)?(?:[" + re.escape(_SEPARATORS) + r"]|$)",
    re.IGNORECASE,
)


def from_the_future(published: dt.date | None, today: dt.date) -> bool:
    """Whether a record's published date is after the run day by more than the grace that
    time zones ahead of the machine's clock need."""
    return published is not None and published > today + dt.timedelta(days=PUBLISHED_GRACE_DAYS)


def vetted(
    date: dt.date, source: DateSource, *, today: dt.date, crawled: dt.date | None = None
) -> bool:
    """Whether a date read from an article's text may stand as its inferred date (checks 2-4
    of the module's rule; the first, a published date, is the caller's)."""
    if date > today:
        return False
    if crawled is not None and not (
        crawled - dt.timedelta(days=CRAWL_WINDOW_DAYS)
        <= date
        <= crawled + dt.timedelta(days=CRAWL_SLACK_DAYS)
    ):
        return False
    return source != "text" or date.year >= MIN_TEXT_YEAR


def infer_date(
    article: Article,
    *,
    stamp: dt.date | None,
    head_lines: Sequence[str],
    head_text: str,
    today: dt.date,
) -> tuple[dt.date, DateSource] | None:
    """The date the text of a cleaned ``article`` gives and where it was read, or None (see
    the module's rule). ``stamp``: a scraper's date stamp; ``head_lines``: the lines before
    the lead but the title; ``head_text``: those with the title."""
    if article.published is not None:
        return None
    crawled = crawl_date(article.meta)
    for date, source in _candidates(article, stamp, head_lines, head_text):
        if vetted(date, source, today=today, crawled=crawled):
            return date, source
    return None


def vet_corpus(articles: Sequence[Article]) -> Sequence[Article]:
    """The articles, a ``text`` inferred date dropped where it is far from every firmer date
    of the corpus (see the module's notes); the others unchanged. Columns stay columns: the
    dates are read from them, and only the blocks with a date dropped are copied."""
    published, inferred = ordinals_of(articles, "published"), ordinals_of(articles, "inferred")
    sources = strings_of(articles, "inferred_from")
    from_text = np.array([s == "text" for s in sources], dtype=bool)
    firm = np.where(published > 0, published, np.where(from_text, 0, inferred))
    anchors = np.sort(firm[firm > 0])
    if len(anchors) < MIN_ANCHORS:
        return articles if isinstance(articles, ArticleColumns) else list(articles)
    asked = np.flatnonzero(from_text & (inferred > 0))
    days = inferred[asked]
    k = np.searchsorted(anchors, days)
    below = np.abs(days - anchors[np.maximum(k - 1, 0)])
    above = np.abs(anchors[np.minimum(k, len(anchors) - 1)] - days)
    far = asked[np.minimum(below, above) > CORPUS_MARGIN_DAYS].tolist()
    if isinstance(articles, ArticleColumns):
        return articles.without_inferred(far)
    out = list(articles)
    for row in far:
        out[row] = replace(out[row], inferred=None, inferred_from=None)
    return out


def _candidates(
    article: Article, stamp: dt.date | None, head_lines: Sequence[str], head_text: str
) -> Iterator[tuple[dt.date, DateSource]]:
    """Dates from the text, strongest evidence first, each read only when asked for."""
    if stamp is not None:
        yield stamp, "stamp"
    lang = article.lang
    for line in head_lines:
        if len(line.split()) <= HEAD_LINE_WORDS:
            date = find_date(line, lang)
            if date is not None:
                yield date, "dateline"
    lead = article.text.split("\n", 1)[0]
    date = _dateline(lead, lang)
    if date is not None:
        yield date, "dateline"
    for text in (f"{article.title}\n{article.text}", head_text):
        date = find_date(text, lang)
        if date is not None:
            yield date, "text"


def _dateline(lead: str, lang: str | None) -> dt.date | None:
    """The date of a dateline at the start of ``lead``, or None."""
    for mention in find_mentions(lead[: DATELINE_CHARS + 40], lang):
        if mention.start > DATELINE_CHARS:
            return None
        date = mention.as_date()
        if date is None or mention.end is None:
            continue
        if _place(lead[: mention.start]) and _AFTER_DATE.match(lead, mention.end):
            return date
        return None  # the first full date near the start decides
    return None


def _place(prefix: str) -> bool:
    """Whether ``prefix`` is what comes before a dateline's date: nothing, or a place and
    agency (capitalised words, words in brackets, short connectors such as "de") ending in a
    separator, maybe followed by a word that introduces the date ("Hà Nội, ngày")."""
    words = prefix.split()
    if not words:
        return True
    if len(words) > DATELINE_WORDS:
        return False
    if _fold(words[-1]) in _DATELINE_CUES:
        words = words[:-1]
        if not words:  # "Am 6. Dezember 2024 hat ...": a sentence, not a dateline
            return False
    if words[-1][-1] not in _SEPARATORS:
        return False
    first = words[0].strip(_SEPARATORS)
    if first and first[0].islower():
        return False
    return all(_place_word(word) for word in words)


def _place_word(word: str) -> bool:
    core = word.strip(_SEPARATORS + "\"'«»“”")
    if not core or word.startswith("("):  # a separator, or an agency in brackets
        return True
    if core[0].isupper() or not core[0].islower():  # capitalised, or a script without case
        return True
    return len(core) <= 3  # "Rio de Janeiro", "Frankfurt am Main"


def _fold(word: str) -> str:
    return anyascii(word.strip(_SEPARATORS)).lower()
