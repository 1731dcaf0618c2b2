"""A model-free lexical profile that crosses Latin-script languages.

Two articles in different languages share little vocabulary but much evidence: the names of
people, places and organisations (once accents are folded and ``Việt Nam`` meets ``Vietnam``),
acronyms, numbers and the day of the event. The profile keeps that evidence and weighs every
token by how rare it is in general language (``wordfreq``) and in the corpus, so that common
words weigh next to nothing and names weigh most. Non-Latin scripts are transliterated
(``anyascii``) so that names still meet across scripts where transliteration agrees.

Token kinds, each in its own namespace so they never collide:

* names: runs of capitalised words joined without spaces (``Tô Lâm`` -> ``tolam``,
  ``Hà Nội`` -> ``hanoi``), so compound spellings across languages meet;
* ``#`` numbers with thousands separators removed; short numbers weigh little;
* ``@`` day of the year (``@12-06``) from dates written in any of several languages
  (:mod:`dedup.clean.dates`);
* ``^`` acronyms written in capitals (``AI``, ``FPT``).

Occurrences in the title count more than in the lead, and the lead more than the tail.
The profile becomes a hashed sparse vector, weighted by the corpus' inverse document frequency
and L2-normalised, so the similarity of two profiles is a dot product.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from anyascii import anyascii
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from wordfreq import zipf_frequency

from dedup.clean import WORDFREQ_LANGUAGES
from dedup.clean.dates import find_mentions
from dedup.errors import one_line
from dedup.models import Article
from dedup.progress import Advance

N_FEATURES = 2**20
TITLE_WEIGHT = 2.0
LEAD_WEIGHT = 1.5
TAIL_WEIGHT = 0.5
LEAD_CHARS = 600
# The title's character n-grams come from the text's start when there is no title.
TITLE_FALLBACK_CHARS = 150
# See _idf_normalise: names in more than half of a corpus of 20 or more weigh nothing.
COMMON_MIN_ARTICLES = 20
COMMON_FRACTION = 0.5
TAIL_CHARS = 4000
# Prefix length of the language-free stems, and the shortest word that gives one.
STEM_CHARS = 4
STEM_MIN_CHARS = 3
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

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)

# Scripts written without spaces between words: Han, kana, Thai, Lao, Khmer, Myanmar.
_UNSPACED = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1780-\u17ff\u1000-\u109f]"
)

_THOUSANDS = re.compile(r"(?<=\d)[.,'’](?=\d{3}\b)")


def fold(text: str) -> str:
    """Accent-fold and transliterate to ASCII, lower-cased: ``Tô Lâm`` -> ``to lam``."""
    return (text if text.isascii() else anyascii(text)).lower()  # anyascii keeps ASCII


@lru_cache(maxsize=400_000)
def _fold_word(word: str) -> str:
    """:func:`fold` of one word; the words of a corpus repeat, so each is folded once."""
    return fold(word)


@cache
def _has_word_list(lang: str) -> bool:
    """Whether wordfreq can look words of ``lang`` up here. It has lists for Chinese, Japanese
    and Korean, but splits their text into words with optional packages (jieba, MeCab) that
    dedup does not install: without them, those languages count as unknown, never as a
    failed run."""
    if lang not in WORDFREQ_LANGUAGES:
        return False
    try:
        zipf_frequency("a", lang)
    except Exception as exc:  # ModuleNotFoundError, or a tokenizer's dictionary missing
        log.info("no word frequencies for %s: %s", lang, one_line(exc))
        return False
    return True


@lru_cache(maxsize=200_000)
def rarity(word: str, lang: str | None) -> float:
    """0 for the commonest words of the language, 1 for words it does not know (names)."""
    if lang is None or not _has_word_list(lang):
        return UNKNOWN_LANGUAGE_RARITY
    zipf = zipf_frequency(word, lang)
    return min(1.0, max(0.0, (COMMON_ZIPF - zipf) / COMMON_ZIPF))


def _days(text: str, lang: str | None) -> Iterable[str]:
    """Day-of-year tokens (``@MM-DD``) for every date written in the text, in text order."""
    for mention in find_mentions(text, lang):
        yield f"@{mention.month:02d}-{mention.day:02d}"


_GAP_BREAKS_SENTENCE = re.compile(r"[.!?…:;\"“”«»(\[—–]\s*$")


class _Word(NamedTuple):
    """What the profile needs of one word as written, looked up once per word and language."""

    word: str  # accent-folded, apostrophes dropped; "" when not a plain ASCII word
    rarity: float  # of the word as written, lower-cased, in its language
    acronym: tuple[str, float] | None  # ("^fpt", strength) for a word in capitals
    capital: bool


@lru_cache(maxsize=1 << 18)
def _word(raw: str, lang: str | None) -> _Word:
    word = _fold_word(raw).replace("'", "").replace("’", "")
    if not word.isalnum() or not word.isascii():
        return _Word("", 0.0, None, False)
    acronym = None
    if raw.isupper() and 2 <= len(raw) <= 6 and raw.isalpha():
        acronym = ("^" + word, max(ACRONYM_FLOOR, rarity(word, "en")))
    return _Word(word, rarity(raw.lower(), lang), acronym, raw[0].isupper())


def _segment_tokens(segment: str, lang: str | None) -> Iterable[tuple[str, float]]:
    """(entity, strength) for one line of text, before position weighting."""
    for day in _days(segment, lang):
        yield day, DATE_WEIGHT

    run: list[str] = []

    def flush() -> Iterable[tuple[str, float]]:
        # Every stretch of two to four words of a run, so that "NVIDIA Jensen Huang" meets
        # "Jensen Huang" and "Chủ tịch Tập đoàn" noise meets nothing in another language.
        for size in range(2, min(len(run), MAX_NAME_WORDS) + 1):
            for start in range(len(run) - size + 1):
                part = run[start : start + size]
                yield "".join(part), max(NAME_FLOOR, rarity(" ".join(part), lang))
        run.clear()

    prev_end = 0
    for m in _WORD.finditer(segment):
        raw = m.group(0)
        start = m.start()
        if prev_end and start == prev_end + 1 and segment[prev_end] == " ":
            sentence_start = False  # the common case, a word after one space
        else:
            gap = segment[prev_end:start]
            sentence_start = prev_end == 0 or bool(_GAP_BREAKS_SENTENCE.search(gap))
            if run and gap.strip(" \t-'’"):
                yield from flush()
        prev_end = m.end()

        if raw[0].isdigit():
            if run:
                yield from flush()
            number = _THOUSANDS.sub("", raw).replace(",", ".")
            if number.replace(".", "").isdigit() and len(number) >= 3:
                yield "#" + number, 1.0 if len(number) >= 4 else 0.5
            continue

        w = _word(raw, lang)
        if not w.word:
            if run:
                yield from flush()
            continue
        if w.acronym is not None:
            yield w.acronym
        if w.capital and (not sentence_start or w.rarity >= NAME_AT_START_RARITY):
            run.append(w.word)
            if w.rarity >= SINGLE_NAME_RARITY:
                yield w.word, max(w.rarity, NAME_FLOOR)
        elif run:
            yield from flush()
    if run:
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

    ``entities`` holds what crosses languages (names, acronyms, numbers, days); ``stems`` holds
    the first ``STEM_CHARS`` letters of every accent-folded word, a crude stemmer that needs no
    language: ``Regierung``/``Regierungen``, ``Merkels``/``Merkel`` and
    ``Präsident``/``president`` meet, inflection and compounds weigh less.
    """

    entities: dict[str, float]
    stems: dict[str, float]


def _stem_tokens(segment: str, lang: str | None) -> Iterable[tuple[str, float]]:
    """(stem, rarity of its word). Stems weigh the square root of their word's rarity: the
    commonest words of the language (Vietnamese syllables of titles, English function words)
    weigh nothing, which a tiny corpus' IDF cannot ensure, while common content words keep
    some weight, which the dev pairs reward (Pearson 0.687 against 0.674 for plain rarity)."""
    for m in _WORD.finditer(segment):
        raw = m.group(0)
        stem = _stem(raw, lang)
        if stem is _UNSPACED_RUN:
            yield from _syllable_pairs(raw)
        elif stem is not None:
            yield stem


_UNSPACED_RUN = ("", 0.0)


@lru_cache(maxsize=1 << 18)
def _stem(raw: str, lang: str | None) -> tuple[str, float] | None:
    """(stem, rarity) of one word as written; None for none; :data:`_UNSPACED_RUN` for a run
    of a script written without spaces."""
    if _UNSPACED.search(raw):
        return _UNSPACED_RUN
    word = _fold_word(raw)
    if len(word) >= STEM_MIN_CHARS and word.isalpha():
        return word[:STEM_CHARS], rarity(raw.lower(), lang)
    return None


def _syllable_pairs(run: str) -> Iterable[tuple[str, float]]:
    """Stems for a run of a script written without spaces (Chinese, Japanese, Thai, Lao,
    Khmer, Burmese), where a "word" of the regular expression is a whole clause: every pair
    of adjacent characters, transliterated (``俄羅斯`` and ``俄罗斯`` both give ``e-luo``,
    ``luo-si``), so that two texts meet on what they say, not on one stem per clause. Their
    rarity is unknown here (no word list that installs without optional tokenizers): the
    corpus' IDF weighs them."""
    syllables = [fold(ch) or ch for ch in run if not ch.isspace()]
    for a, b in pairwise(syllables):
        yield f"{a}-{b}", UNKNOWN_LANGUAGE_RARITY


def _sublinear(count: float) -> float:
    # Position weights make counts fractional: a word seen once in the tail counts 0.5.
    return 1.0 + math.log(count) if count >= 1.0 else count


def profile(article: Article) -> Profile:
    tf: dict[str, float] = defaultdict(float)
    strength: dict[str, float] = {}
    stem_tf: dict[str, float] = defaultdict(float)
    stem_strength: dict[str, float] = defaultdict(float)
    for segment, position in _weighted_segments(article):
        for stem, weight in _stem_tokens(segment, article.lang):
            stem_tf[stem] += position
            stem_strength[stem] = max(stem_strength[stem], math.sqrt(weight))
        for line in segment.split("\n"):
            for token, weight in _segment_tokens(line, article.lang):
                tf[token] += position
                strength[token] = max(strength.get(token, 0.0), weight)
    entities = {token: (1.0 + math.log(count)) * strength[token] for token, count in tf.items()}
    stems = {
        stem: _sublinear(count) * stem_strength[stem]
        for stem, count in stem_tf.items()
        if stem_strength[stem] > 0
    }
    return Profile(entities=entities, stems=stems)


@dataclass(frozen=True, slots=True)
class LexicalVectors:
    """Hashed, IDF-weighted, L2-normalised rows: a dot product of two rows is a cosine.

    ``entities`` and ``stems`` come from the profile; ``title`` holds character
    3-5-grams (within words) of the accent-folded title, which match inflected and compound
    forms (German, Polish, Turkish) that whole words miss.
    """

    entities: sp.csr_matrix
    stems: sp.csr_matrix
    title: sp.csr_matrix


@dataclass(frozen=True, slots=True)
class LexicalCounts:
    """The rows of :class:`LexicalVectors` before the corpus weighs them: hashed counts
    (profile weights, and character n-gram counts of the titles). Made a part of the corpus
    at a time (in each worker of a parallel run), stacked, then weighed once for the whole."""

    entities: sp.csr_matrix
    stems: sp.csr_matrix
    title: sp.csr_matrix

    @staticmethod
    def stack(parts: Sequence[LexicalCounts]) -> LexicalCounts:
        if len(parts) == 1:
            return parts[0]
        return LexicalCounts(
            *(
                sp.vstack([getattr(p, f) for p in parts], format="csr")
                for f in ("entities", "stems", "title")
            )
        )


def _idf_normalise(counts: sp.csr_matrix, *, drop_common: bool = False) -> sp.csr_matrix:
    """Sublinear term frequency, smoothed corpus IDF, L2-normalised rows.

    ``drop_common``: in a corpus of at least :data:`COMMON_MIN_ARTICLES`, a term found in more
    than :data:`COMMON_FRACTION` of the articles weighs nothing. A name every article has (a
    feed whose titles all start "Headline", an outlet's name in every footer) tells no story
    from another; smoothed IDF alone still gives it full weight where it is the only name.

    Scales ``counts`` in place (float32; a million articles' title n-grams are gigabytes):
    only the squares of one row at a time beside it.
    """
    matrix = sp.csr_matrix(counts, dtype=np.float32, copy=False)
    n = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    if drop_common and n >= COMMON_MIN_ARTICLES:
        idf[df > COMMON_FRACTION * n] = 0.0
    matrix.data *= idf[matrix.indices]
    matrix.eliminate_zeros()
    matrix.sort_indices()
    squares = sp.csr_matrix((matrix.data**2, matrix.indices, matrix.indptr), shape=matrix.shape)
    norms = np.sqrt(np.asarray(squares.sum(axis=1)).ravel())
    del squares
    norms[norms == 0] = 1.0
    matrix.data *= np.repeat((1.0 / norms).astype(np.float32), np.diff(matrix.indptr))
    return matrix


def _hash(rows: Sequence[Mapping[str, float]]) -> sp.csr_matrix:
    hasher = FeatureHasher(n_features=N_FEATURES, input_type="dict", alternate_sign=False)
    return sp.csr_matrix(hasher.transform(rows), dtype=np.float32)


_CHAR_HASHER = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(3, 5),
    n_features=N_FEATURES,
    alternate_sign=False,
    norm=None,
    lowercase=False,
    dtype=np.float32,
)


def _char_counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Character 3-5-grams (within words) of accent-folded texts, counts sublinear."""
    counts = sp.csr_matrix(_CHAR_HASHER.transform([fold(t) for t in texts]), dtype=np.float32)
    counts.data = 1.0 + np.log(counts.data)
    return counts


def lexical_counts(articles: Sequence[Article], profiles: Sequence[Profile]) -> LexicalCounts:
    """The hashed counts of ``articles`` with their ``profiles``, not yet weighed."""
    if not articles:
        empty = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
        return LexicalCounts(empty, empty, empty)
    return LexicalCounts(
        entities=_hash([p.entities for p in profiles]),
        stems=_hash([p.stems for p in profiles]),
        title=_char_counts([a.title or a.text[:TITLE_FALLBACK_CHARS] for a in articles]),
    )


def weigh(counts: LexicalCounts) -> LexicalVectors:
    """The corpus' lexical rows from its counts: IDF over the whole corpus, each row normalised.
    Consumes ``counts`` (scaled in place)."""
    return LexicalVectors(
        entities=_idf_normalise(counts.entities, drop_common=True),
        stems=_idf_normalise(counts.stems),
        title=_idf_normalise(counts.title),
    )


def lexical_vectors(
    articles: Sequence[Article],
    profiles: Sequence[Profile] | None = None,
    *,
    progress: Advance | None = None,
) -> LexicalVectors:
    """The corpus' lexical rows; ``profiles`` when the articles' profiles are already made.
    ``progress`` is called with 1 as each article's profile is made."""
    if profiles is None:
        made: list[Profile] = []
        for article in articles:
            made.append(profile(article))
            if progress is not None:
                progress(1)
        profiles = made
    return weigh(lexical_counts(articles, profiles))


def shared_evidence(a: Profile, b: Profile, top: int = 8) -> list[tuple[str, float]]:
    """The entities two profiles share, strongest first: what linked them, for ``--explain``."""
    shared = [(t, a.entities[t] * b.entities[t]) for t in a.entities.keys() & b.entities.keys()]
    shared.sort(key=lambda kv: (-kv[1], kv[0]))
    return shared[:top]
