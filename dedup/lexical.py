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
* ``@`` day of the year (``@12-06``) from dates written in any of several languages
  (:mod:`dedup.dates`);
* ``^`` acronyms written in capitals (``AI``, ``FPT``).

Occurrences in the title count more than in the lead, and the lead more than the tail.
The profile becomes a hashed sparse vector, weighted by the corpus' inverse document frequency
and L2-normalised, so the similarity of two profiles is a dot product.
"""

from __future__ import annotations

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

from dedup.dates import day_of_year, find_mentions
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


def _days(text: str, lang: str | None) -> Iterable[str]:
    """Day-of-year tokens (``@MM-DD``) for every date written in the text, in text order."""
    for mention in find_mentions(text, lang):
        yield f"@{mention.month:02d}-{mention.day:02d}"


def event_day(article: Article) -> int | None:
    """The day of the year the article's event happened, as its lead states it.

    The first date in the title and lead wins: news leads name the event's day ("On the
    afternoon of September 22", "Chiều 6.12"). Else the publication date. None when neither.
    Years are ignored because leads rarely give them.
    """
    head = f"{article.title}\n{article.text[:EVENT_DAY_CHARS]}"
    mentions = find_mentions(head, article.lang)
    if mentions:
        return day_of_year(mentions[0].month, mentions[0].day)
    if article.published is not None:
        return day_of_year(article.published.month, article.published.day)
    return None


_GAP_BREAKS_SENTENCE = re.compile(r"[.!?…:;\"“”«»(\[—–]\s*$")


def _segment_tokens(segment: str, lang: str | None) -> Iterable[tuple[str, float, bool]]:
    """(token, strength, is_entity) for one line of text, before position weighting."""
    for day in _days(segment, lang):
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
