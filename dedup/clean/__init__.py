"""Cleaning: normalise scraped article text, drop boilerplate, find the language and the date.

Scraped pages carry text that must not steer similarity: related-headline lists, repeated photo
captions, share widgets, publisher footers, crawler notices and sidebars in another language.
The rules are generic (no outlet names, no per-site lists) and work on paragraph units:
every non-empty line of the text is one paragraph.

The shape of a page the rules assume::

    [head chrome]  title  [head chrome]  LEAD  body ...  LAST BODY  [tail: lists, footers]

* the **title** is the reader's first line unless that line is chrome (a menu word, a
  breadcrumb, a site name) or a whole paragraph; then a headline-like line near the top that
  is repeated later or shares the most words with the lead, or else the lead's first sentence;
* the **lead** is the first prose paragraph near the top that shares words with the title;
  whatever comes before it (bylines, "copy link", crawler notices) is head chrome;
* the **tail** starts at a bare section marker ("Related", "Tin liên quan", "Mehr zum Thema"),
  at a run of headlines each followed by a byline or category label, or at a block in another
  language than the article's that fills most of the rest; after the last prose paragraph
  before it, everything is tail chrome (sign-offs, footers, share widgets);
* inside the body, duplicate paragraphs, repeats of the title, photo credits, widget lines,
  short paragraphs with addresses/e-mails/URLs and captions in another language are dropped.

What each paragraph looks like is read in :mod:`dedup.clean.paragraphs`, the title chosen in
:mod:`dedup.clean.title`, the tail found in :mod:`dedup.clean.tail`, the language told in
:mod:`dedup.clean.language`, dates read in :mod:`dedup.clean.dates` and the one the text gives
(never its publication date) inferred in :mod:`dedup.clean.dating`; this module puts them
together and drops what is not body.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from dedup.clean.dates import find_date, find_mentions
from dedup.clean.dating import from_the_future, infer_date, vet_corpus
from dedup.clean.language import (
    WORDFREQ_LANGUAGES,
    _base_lang,
    _Foreign,
    _lang_sample,
    _stopwords,
    detect_language,
)
from dedup.clean.paragraphs import (
    _analyse,
    _n_words,
    _normalise_line,
    _Para,
    _substantial,
    split_paragraphs,
)
from dedup.clean.tail import _language_cut, _list_start, _marker_cut
from dedup.clean.title import _choose_title, _is_paragraph_title
from dedup.models import Article
from dedup.progress import Advance

log = logging.getLogger(__name__)

# "date 2024-12-06" stamps some scrapers put before the text.
_DATE_STAMP = re.compile(r"^date\s+(\d{4}-\d{1,2}-\d{1,2})\b[\s:|,-]*", re.IGNORECASE)


@dataclass(slots=True)
class _Cleaned:
    title: str
    paragraphs: list[str]
    head_text: str  # the title and the text before the lead: datelines and crawl stamps
    head_lines: list[str]  # the lines before the lead but the title's
    uncleaned: list[str]  # every paragraph, for when the rules would leave nothing
    stamp: dt.date | None


def _strip_stamp(line: str) -> tuple[str, dt.date | None]:
    m = _DATE_STAMP.match(line)
    if not m:
        return line, None
    mentions = find_mentions(m.group(1), None)
    return line[m.end() :], mentions[0].as_date() if mentions else None


def _clean(title: str, text: str, lang: str | None) -> _Cleaned:
    title, stamp = _strip_stamp(_normalise_line(title))
    lines = split_paragraphs(text)
    if lines:
        lines[0], body_stamp = _strip_stamp(lines[0])
        stamp = stamp or body_stamp
        if not lines[0]:
            lines.pop(0)
    paras = [_analyse(line) for line in lines]
    given_para = _analyse(title) if title else None
    if lang is None:
        lang = detect_language(_lang_sample(title, lines))
    stop = _stopwords(lang)

    chosen = _choose_title(title, given_para, paras, stop)
    if given_para is not None and chosen.index is None and _is_paragraph_title(given_para):
        # The reader took a whole paragraph for the title: it is the lead, put it back.
        paras.insert(0, given_para)
        lines.insert(0, title)
    same = given_para is not None and chosen.text == title
    title_para = given_para if same and given_para is not None else _analyse(chosen.text)

    start = 0 if chosen.index is None else chosen.index + 1
    firsts = [i for i in range(len(paras)) if _substantial(paras[i])]
    # The lead: the first prose paragraph after the title; what comes before it is chrome.
    lead = next((i for i in firsts if i >= start), firsts[0] if firsts else None)
    if lead is None:
        # No prose at all (a brief): every line that is not chrome is body.
        lead = next((i for i, p in enumerate(paras) if not (p.chrome or p.boiler)), len(paras))
        substantial = [i for i, p in enumerate(paras) if not (p.chrome or p.boiler)]
    else:
        substantial = firsts
    head_text = "\n".join([title, *lines[:lead]])
    head_lines = [line for i, line in enumerate(lines[:lead]) if i != chosen.index]

    end = len(paras)
    end = min(end, _marker_cut(paras, lead, end))
    end = min(end, _list_start(paras, lead, end))
    foreign = _Foreign(paras, _base_lang(lang))
    end = min(end, _language_cut(paras, lead, end, foreign))
    last = max((i for i in substantial if lead <= i < end), default=lead - 1)

    kept: list[str] = []
    # A derived title is the lead's own first sentence: the lead stays.
    title_key = "" if chosen.derived else title_para.key
    seen = _Seen()
    if title_key:
        seen.add(title_key)
    for i in range(lead, last + 1):
        p = paras[i]
        if i == chosen.index or not p.text or p.chrome or p.boiler or p.marker:
            continue
        if (title_key and _is_title_repeat(title_key, p.key)) or seen.has(p):
            continue
        if p.caption and i != lead and foreign(i):
            continue
        kept.append(p.text)
        seen.add(p.key)
    return _Cleaned(chosen.text, kept, head_text, head_lines, lines, stamp)


def _is_title_repeat(title_key: str, key: str) -> bool:
    if key == title_key:
        return True
    n = len(title_key.split())
    return n >= 6 and key.startswith(title_key + " ") and len(key.split()) - n <= 3


def _pairs(key: str) -> set[tuple[str, str]]:
    return set(pairwise(key.split()))


class _Seen:
    """The keys of the paragraphs kept so far, indexed by pairs of adjacent words: a key can
    only be inside a kept one that has all its word pairs, so a caption is compared with the
    kept paragraphs holding its rarest pair, not with all of them (a 2 MB article of 21,000
    paragraphs was quadratic here). The index is made when a caption first asks for it: most
    articles have none."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.kept: list[str] = []
        self.padded: list[str] = []
        self.by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.indexed = 0

    def add(self, key: str) -> None:
        self.keys.add(key)
        self.kept.append(key)
        self.padded.append(f" {key} ")

    def _index(self) -> None:
        for k in range(self.indexed, len(self.kept)):
            for pair in _pairs(self.kept[k]):
                self.by_pair[pair].append(k)
        self.indexed = len(self.kept)

    def has(self, p: _Para) -> bool:
        """Seen before, or (for a short paragraph such as a caption) inside what was seen."""
        if not p.key:
            return False
        if p.key in self.keys:
            return True
        if 4 <= p.words <= 40:
            padded = f" {p.key} "
            pairs = _pairs(p.key)
            if not pairs:  # a one-word key: no pair to look it up by
                return any(padded in kept for kept in self.padded)
            self._index()
            postings = min((self.by_pair.get(pair, []) for pair in pairs), key=len)
            return any(padded in self.padded[k] for k in postings)
        return False


# A page of at least this many paragraphs, none longer than MENU_WORDS words, is a menu: links
# and labels ("Home", "Sport", "Contact us"), not one sentence of an article.
MENU_PARAGRAPHS = 3
MENU_WORDS = 3


def _menu(paragraphs: Sequence[str]) -> bool:
    return len(paragraphs) >= MENU_PARAGRAPHS and all(_n_words(p) <= MENU_WORDS for p in paragraphs)


class NotAnArticle(ValueError):
    """What was read holds no article: its every paragraph is navigation or boilerplate (a
    site's home page, a cookie wall). The run skips it with this reason."""


def clean_article(
    article: Article, *, keep_all: bool = False, today: dt.date | None = None
) -> Article:
    """The article with boilerplate removed, its title refined, its language set and the date
    its text gives inferred (:mod:`dedup.clean.dating`; never after ``today``, the run day).
    Its ``published`` date stays the one its record or page gave, unless it is after
    ``today`` (:func:`~dedup.clean.dating.from_the_future`): then it is none, and the value
    is kept in ``meta`` as ``published_raw``.

    Raises :class:`NotAnArticle` when nothing but navigation or boilerplate is left; with
    ``keep_all`` (a labelled text that must be scored whatever it holds) it keeps every
    paragraph instead."""
    given_lang = article.lang
    cleaned = _clean(article.title, article.text, _base_lang(given_lang))
    body = "\n\n".join(cleaned.paragraphs)
    title = cleaned.title
    if (not body and cleaned.uncleaned) or _menu(cleaned.paragraphs):
        if not keep_all:
            raise NotAnArticle("no article text: navigation or boilerplate only")
        body = "\n\n".join(cleaned.uncleaned)
        title = title or _normalise_line(article.title)
    lang = given_lang or detect_language(_lang_sample(title, body.split("\n\n")))
    out = replace(article, title=title, text=body, lang=lang, inferred=None, inferred_from=None)
    today = today or dt.date.today()
    if from_the_future(out.published, today):
        meta = {**out.meta, "published_raw": out.meta.get("published_raw", str(out.published))}
        out = replace(out, published=None, meta=meta)
    found = infer_date(
        out,
        stamp=cleaned.stamp,
        head_lines=cleaned.head_lines,
        head_text=cleaned.head_text,
        today=today,
    )
    if found is not None:
        out = replace(out, inferred=found[0], inferred_from=found[1])
    return out


def clean_corpus(
    articles: Sequence[Article],
    *,
    keep_all: bool = False,
    today: dt.date | None = None,
    progress: Advance | None = None,
) -> list[Article]:
    """Every article cleaned, in the same order (see :func:`clean_article` for ``keep_all``
    and ``today``), their inferred dates vetted against each other's
    (:func:`dedup.clean.dating.vet_corpus`). ``progress`` is called with 1 as each article is
    cleaned."""
    today = today or dt.date.today()
    out: list[Article] = []
    for article in articles:
        out.append(clean_article(article, keep_all=keep_all, today=today))
        if progress is not None:
            progress(1)
    out = list(vet_corpus(out))
    log.debug("cleaned %d articles", len(out))
    return out


__all__ = [
    "WORDFREQ_LANGUAGES",
    "NotAnArticle",
    "clean_article",
    "clean_corpus",
    "detect_language",
    "find_date",
    "split_paragraphs",
]
