"""A model-free lexical profile that crosses Latin-script languages.

Two articles in different languages share little vocabulary but much evidence: the names of
people, places and organisations (once accents are folded and ``Việt Nam`` meets ``Vietnam``),
acronyms, numbers and the day of the event. The profile keeps that evidence and weighs every
token by how rare it is in general language (``wordfreq``) and in the corpus, so that common
words weigh next to nothing and names weigh most. Non-Latin scripts are transliterated
(``anyascii``) so that names still meet across scripts where transliteration agrees.

Token kinds, each in its own namespace so they never collide:

* words: accent-folded, lower-cased; weight from rarity in the article's language;
* names: runs of capitalised words joined without spaces (``Tô Lâm`` -> ``tolam``,
  ``Hà Nội`` -> ``hanoi``), so compound spellings across languages meet;
* ``#`` numbers with thousands separators removed; short numbers weigh little;
* ``@`` day of the year (``@12-06``) from dates written in any of several languages;
* ``^`` acronyms written in capitals (``AI``, ``FPT``).

Occurrences in the title count more than in the lead, and the lead more than the tail.
The profile becomes a hashed sparse vector, weighted by the corpus' inverse document frequency
and L2-normalised, so the similarity of two profiles is a dot product.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from anyascii import anyascii
from sklearn.feature_extraction import FeatureHasher
from wordfreq import available_languages, zipf_frequency

from dedup.models import Article

LEXICAL_VERSION = "1"

N_FEATURES = 2**20
TITLE_WEIGHT = 2.0
LEAD_WEIGHT = 1.5
TAIL_WEIGHT = 0.5
LEAD_CHARS = 600
TAIL_CHARS = 4000
# Zipf frequency at and above which a word carries no weight (7 is "the"; 6 is "said").
COMMON_ZIPF = 6.0
# Least weight of a multi-word name, and of an acronym, however common in general language.
NAME_FLOOR = 0.3
MAX_NAME_WORDS = 4
ACRONYM_FLOOR = 0.3
# A capitalised word is a name when it is at least this rare; at a sentence start this also
# keeps ``The`` or ``Die`` out of names.
NAME_AT_START_RARITY = 0.3
# A lone capitalised word inside a sentence is a name when at least this rare: "Vietnam" and
# "Google" are, "Party" and "State" (and Vietnamese capitalised syllables of titles) are not.
SINGLE_NAME_RARITY = 0.15
DATE_WEIGHT = 1.0
UNKNOWN_LANGUAGE_RARITY = 0.5
# How far into the body the lead's event day is looked for.
EVENT_DAY_CHARS = 400

# Languages wordfreq has a frequency list for (wordfreq.available_languages()).
_WORDFREQ_LANGS = frozenset(available_languages())

_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)

_MONTHS: dict[str, int] = {}
for _names in (
    # en, de, es, fr, it, pt, nl, pl (nominative and genitive), tr, cs-free list
    "january february march april may june july august september october november december",
    "januar februar marz april mai juni juli august september oktober november dezember",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro",
    "januari februari maart april mei juni juli augustus september oktober november december",
    "styczen luty marzec kwiecien maj czerwiec lipiec sierpien wrzesien pazdziernik listopad "
    "grudzien",
    "stycznia lutego marca kwietnia maja czerwca lipca sierpnia wrzesnia pazdziernika listopada "
    "grudnia",
    "ocak subat mart nisan mayis haziran temmuz agustos eylul ekim kasim aralik",
):
    for _i, _name in enumerate(_names.split(), start=1):
        _MONTHS.setdefault(_name, _i)
for _abbr, _i in {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}.items():  # fmt: skip
    _MONTHS.setdefault(_abbr, _i)

_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:de\s+)?({_MONTH_ALT})\b\.?")
_MONTH_DAY = re.compile(rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![.,]?\d)")
_VI_DATE = re.compile(r"\b(\d{1,2})\s+thang\s+(\d{1,2})\b")
_ISO_DATE = re.compile(r"\b(19|20)\d\d-(\d\d)-(\d\d)\b")
_NUM_DATE_YEAR = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](?:19|20)?\d\d\b")
# Day and month without a year only after a word that announces a date (Vietnamese
# "ngày/sáng/chiều 6.12", German "am 6.12."), since bare "6.12" is as often a decimal.
_CUE_DATE = re.compile(
    r"\b(?:ngay|sang|chieu|toi|trua|dem|hom|am|vom|den|le|el|du|dnia|on|since|from)\s+"
    r"(\d{1,2})[/.](\d{1,2})\b(?![.,/]?\d)"
)
_MONTH_FIRST_LANGS = frozenset({"en"})
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_THOUSANDS = re.compile(r"(?<=\d)[.,'’](?=\d{3}\b)")


def fold(text: str) -> str:
    """Accent-fold and transliterate to ASCII, lower-cased: ``Tô Lâm`` -> ``to lam``."""
    return anyascii(text).lower()


@lru_cache(maxsize=200_000)
def rarity(word: str, lang: str | None) -> float:
    """0 for the commonest words of the language, 1 for words it does not know (names)."""
    if lang not in _WORDFREQ_LANGS:
        return UNKNOWN_LANGUAGE_RARITY
    zipf = zipf_frequency(word, lang)
    return min(1.0, max(0.0, (COMMON_ZIPF - zipf) / COMMON_ZIPF))


def _days(folded: str, lang: str | None) -> Iterable[str]:
    """Day-of-year tokens (``@MM-DD``) for every date written in the text, in text order."""
    found: list[tuple[int, int, int]] = []  # (position, month, day)
    for m in _ISO_DATE.finditer(folded):
        found.append((m.start(), int(m.group(2)), int(m.group(3))))
    for m in _DAY_MONTH.finditer(folded):
        found.append((m.start(), _MONTHS[m.group(2)], int(m.group(1))))
    for m in _MONTH_DAY.finditer(folded):
        found.append((m.start(), _MONTHS[m.group(1)], int(m.group(2))))
    for m in _VI_DATE.finditer(folded):
        found.append((m.start(), int(m.group(2)), int(m.group(1))))
    month_first = lang in _MONTH_FIRST_LANGS
    for pattern in (_NUM_DATE_YEAR, _CUE_DATE):
        for m in pattern.finditer(folded):
            a, b = int(m.group(1)), int(m.group(2))
            month, day = (a, b) if month_first and a <= 12 else (b, a)
            found.append((m.start(), month, day))
    for _, month, day in sorted(found):
        if 1 <= month <= 12 and 1 <= day <= 31:
            yield f"@{month:02d}-{day:02d}"


def day_of_year(month: int, day: int) -> int:
    """1..366 in a leap year, so 29 February has a place."""
    return dt.date(2024, month, min(day, _MONTH_DAYS[month - 1])).timetuple().tm_yday


def event_day(article: Article) -> int | None:
    """The day of the year the article's event happened, as its lead states it.

    The first date in the title and lead wins: news leads name the event's day ("On the
    afternoon of September 22", "Chiều 6.12"). Else the publication date. None when neither.
    Years are ignored because leads rarely give them.
    """
    head = f"{article.title}\n{article.text[:EVENT_DAY_CHARS]}"
    for token in _days(fold(head), article.lang):
        month, day = int(token[1:3]), int(token[4:6])
        return day_of_year(month, day)
    if article.published is not None:
        return day_of_year(article.published.month, article.published.day)
    return None


_GAP_BREAKS_SENTENCE = re.compile(r"[.!?…:;\"“”«»(\[—–]\s*$")


def _segment_tokens(segment: str, lang: str | None) -> Iterable[tuple[str, float, bool]]:
    """(token, strength, is_entity) for one line of text, before position weighting."""
    for day in _days(fold(segment), lang):
        yield day, DATE_WEIGHT, True

    run: list[str] = []

    def flush() -> Iterable[tuple[str, float, bool]]:
        # Every stretch of two to four words of a run, so that "NVIDIA Jensen Huang" meets
        # "Jensen Huang" and "Chủ tịch Tập đoàn" noise meets nothing in another language.
        for size in range(2, min(len(run), MAX_NAME_WORDS) + 1):
            for start in range(len(run) - size + 1):
                part = run[start : start + size]
                yield "".join(part), max(NAME_FLOOR, rarity(" ".join(part), lang)), True
        run.clear()

    prev_end = 0
    for m in _WORD.finditer(segment):
        raw = m.group(0)
        gap = segment[prev_end : m.start()]
        sentence_start = prev_end == 0 or bool(_GAP_BREAKS_SENTENCE.search(gap))
        prev_end = m.end()
        if gap.strip(" \t-'’"):
            yield from flush()

        if raw[0].isdigit():
            yield from flush()
            number = _THOUSANDS.sub("", raw).replace(",", ".")
            if number.replace(".", "").isdigit() and len(number) >= 3:
                yield "#" + number, 1.0 if len(number) >= 4 else 0.5, True
            continue

        word = fold(raw).replace("'", "").replace("’", "")
        if not word.isalnum() or not word.isascii():
            yield from flush()
            continue
        r = rarity(raw.lower(), lang)
        if raw.isupper() and 2 <= len(raw) <= 6 and raw.isalpha():
            yield "^" + word, max(ACRONYM_FLOOR, rarity(word, "en")), True
        if raw[0].isupper() and (not sentence_start or r >= NAME_AT_START_RARITY):
            run.append(word)
            if r >= SINGLE_NAME_RARITY:
                yield word, max(r, NAME_FLOOR), True
        else:
            yield from flush()
        if r > 0 and len(word) >= 2:
            yield word, r, False
    yield from flush()


def _weighted_segments(article: Article) -> Iterable[tuple[str, float]]:
    if article.title:
        yield article.title, TITLE_WEIGHT
    text = article.text
    yield text[:LEAD_CHARS], LEAD_WEIGHT
    if len(text) > LEAD_CHARS:
        yield text[LEAD_CHARS:TAIL_CHARS], 1.0
    if len(text) > TAIL_CHARS:
        yield text[TAIL_CHARS:], TAIL_WEIGHT


@dataclass(frozen=True, slots=True)
class Profile:
    """Token -> weight (sublinear term frequency times strength) in two parts.

    ``entities`` holds what crosses languages (names, acronyms, numbers, days); ``words`` holds
    every informative word, which only means something between articles in one language.
    """

    entities: dict[str, float]
    words: dict[str, float]


def profile(article: Article) -> Profile:
    tf: dict[tuple[str, bool], float] = defaultdict(float)
    strength: dict[tuple[str, bool], float] = {}
    for segment, position in _weighted_segments(article):
        for line in segment.split("\n"):
            for token, weight, entity in _segment_tokens(line, article.lang):
                key = (token, entity)
                tf[key] += position
                strength[key] = max(strength.get(key, 0.0), weight)
    parts: tuple[dict[str, float], dict[str, float]] = ({}, {})
    for (token, entity), count in tf.items():
        parts[0 if entity else 1][token] = (1.0 + math.log(count)) * strength[(token, entity)]
    return Profile(entities=parts[0], words=parts[1])


@dataclass(frozen=True, slots=True)
class LexicalVectors:
    """Hashed, IDF-weighted, L2-normalised rows: a dot product of two rows is a cosine."""

    entities: sp.csr_matrix
    words: sp.csr_matrix


def vectorize(rows: Sequence[Mapping[str, float]]) -> sp.csr_matrix:
    if not rows:
        return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
    hasher = FeatureHasher(n_features=N_FEATURES, input_type="dict", alternate_sign=False)
    matrix = sp.csr_matrix(hasher.transform(rows), dtype=np.float32)
    n = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=N_FEATURES)
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    matrix = matrix @ sp.diags(idf, format="csr")
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)


def lexical_vectors(profiles: Sequence[Profile]) -> LexicalVectors:
    return LexicalVectors(
        entities=vectorize([p.entities for p in profiles]),
        words=vectorize([p.words for p in profiles]),
    )


def shared_evidence(a: Profile, b: Profile, top: int = 8) -> list[tuple[str, float]]:
    """The entities two profiles share, strongest first: what linked them, for ``--explain``."""
    shared = [(t, a.entities[t] * b.entities[t]) for t in a.entities.keys() & b.entities.keys()]
    shared.sort(key=lambda kv: (-kv[1], kv[0]))
    return shared[:top]
