"""What one segment of an article's text gives its lexical profile (:mod:`dedup.represent.lexical`),
word by word: the entities (names, acronyms, numbers, days) and the words for the stems.

The words are cut once per line (``re.split`` keeps the gaps between them, which tell where a
sentence or a run of names ends), and what each word gives is found once per word and language
(:class:`Words`): most words are lower-case, and give no entity of their own; they only end a
run of names, so only the capitalised words and the numbers are visited one by one.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from functools import cache
from itertools import compress, pairwise
from typing import NamedTuple

from dedup.clean import WORDFREQ_LANGUAGES
from dedup.clean.dates import month_days
from dedup.clean.fold import fold
from dedup.clean.frequency import zipf
from dedup.errors import one_line

__all__ = ["Words", "rarity", "segment_tokens", "words_of"]

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
# The same words, kept with the gaps between them by re.split: gap, word, gap, ..., gap.
_WORD_CUT = re.compile(f"({_WORD.pattern})")
_DIGIT = re.compile(r"\d", re.ASCII)


@cache
def _has_word_list(lang: str) -> bool:
    """Whether wordfreq can look words of ``lang`` up here. It has lists for Chinese, Japanese
    and Korean, but splits their text into words with optional packages (jieba, MeCab) that
    dedup does not install: without them, those languages count as unknown, never as a
    failed run."""
    if lang not in WORDFREQ_LANGUAGES:
        return False
    try:
        zipf("a", lang)
    except Exception as exc:  # ModuleNotFoundError, or a tokenizer's dictionary missing
        log.info("no word frequencies for %s: %s", lang, one_line(exc))
        return False
    return True


def rarity(word: str, lang: str | None) -> float:
    """0 for the commonest words of the language, 1 for words it does not know (names)."""
    known = _rarities.get(lang)
    if known is None:
        known = _rarities[lang] = {}
    found = known.get(word)
    if found is None:
        if sum(map(len, _rarities.values())) >= _RARITIES_KEPT:
            for table in _rarities.values():
                table.clear()
        found = known[word] = _rarity(word, lang)
    return found


# Each language's words' rarities, as they are found: plain dicts of strings and floats, which
# the garbage collector leaves alone (an lru_cache's 200,000 links it walked at each full
# collection). Emptied when they hold _RARITIES_KEPT words between them.
_rarities: dict[str | None, dict[str, float]] = {}
_RARITIES_KEPT = 200_000


def _rarity(word: str, lang: str | None) -> float:
    if lang is None or not _has_word_list(lang):
        return UNKNOWN_LANGUAGE_RARITY
    return min(1.0, max(0.0, (COMMON_ZIPF - zipf(word, lang)) / COMMON_ZIPF))


_GAP_BREAKS_SENTENCE = re.compile(r"[.!?…:;\"“”«»(\[—–]\s*$")


class _Name(NamedTuple):
    """A capitalised word as written, looked up once per word and language: what the
    profile's entities need of it."""

    word: str  # accent-folded, apostrophes dropped
    acronym: tuple[str, float] | None  # ("^fpt", strength) for a word in capitals
    capital: bool  # else only an acronym ("中AB": its first letter has no case)
    bold: bool  # rare enough to be a name even at a sentence's start
    single: tuple[str, float] | None  # the word as a name on its own, when rare enough


class _Number(NamedTuple):
    token: tuple[str, float]  # ("#2030", strength)


# A word that gives no entity of its own and ends a run of names: most words.
_PLAIN = 0
_Entry = _Name | _Number | int
# A word's stems, each with the root of its rarity: one, none, or a pair of syllables each.
_Stems = tuple[tuple[str, float], ...]


class Words:
    """Per language, what each word as written gives the profile, found once: its entity
    entry (:data:`_PLAIN` for most words) and its stems. The tables of all languages hold
    :data:`MOST` words between them (as many as the caches they replace): when they are full,
    they are emptied."""

    MOST = 1 << 19

    def __init__(self, lang: str | None) -> None:
        self.lang = lang
        self.entries: dict[str, _Entry] = {}
        self.stems: dict[str, _Stems] = {}
        _TABLES.append(self)

    def _make_room(self) -> None:
        if sum(len(t.entries) + len(t.stems) for t in _TABLES) > self.MOST:
            for table in _TABLES:
                table.entries.clear()
                table.stems.clear()

    def entries_of(self, words: list[str]) -> list[_Entry]:
        found: list[_Entry | None] = list(map(self.entries.get, words))
        if None in found:
            self._make_room()
            for k, raw in enumerate(words):
                if found[k] is None:
                    found[k] = self.entries[raw] = _entry(raw, self.lang)
        return found  # type: ignore[return-value]  # no None is left

    def stems_of(self, words: list[str]) -> list[_Stems]:
        found: list[_Stems | None] = list(map(self.stems.get, words))
        if None in found:
            self._make_room()
            for k, raw in enumerate(words):
                if found[k] is None:
                    found[k] = self.stems[raw] = _stems(raw, self.lang)
        return found  # type: ignore[return-value]  # no None is left


_TABLES: list[Words] = []


@cache
def words_of(lang: str | None) -> Words:
    """The table of a language's words (one per process)."""
    return Words(lang)


def _entry(raw: str, lang: str | None) -> _Entry:
    first = raw[0]
    if first.isdigit():
        number = _THOUSANDS.sub("", raw).replace(",", ".")
        if number.replace(".", "").isdigit() and len(number) >= 3:
            return _Number(("#" + number, 1.0 if len(number) >= 4 else 0.5))
        return _PLAIN
    capital = first.isupper()
    if not capital and not raw.isupper():
        return _PLAIN
    word = fold(raw).replace("'", "").replace("’", "")
    if not word.isalnum() or not word.isascii():
        return _PLAIN
    acronym = None
    if raw.isupper() and 2 <= len(raw) <= 6 and raw.isalpha():
        acronym = ("^" + word, max(ACRONYM_FLOOR, rarity(word, "en")))
    if not capital:
        return _PLAIN if acronym is None else _Name(word, acronym, False, False, None)
    rare = rarity(raw.lower(), lang)
    single = (word, max(rare, NAME_FLOOR)) if rare >= SINGLE_NAME_RARITY else None
    return _Name(word, acronym, True, rare >= NAME_AT_START_RARITY, single)


def _names(run: list[str], lang: str | None, out: list[tuple[str, float]]) -> None:
    """The names of a run of two or more capitalised words: every stretch of two to four of
    them, so that "NVIDIA Jensen Huang" meets "Jensen Huang" and "Chủ tịch Tập đoàn" noise
    meets nothing in another language."""
    for size in range(2, min(len(run), MAX_NAME_WORDS) + 1):
        for start in range(len(run) - size + 1):
            part = run[start : start + size]
            out.append(("".join(part), max(NAME_FLOOR, rarity(" ".join(part), lang))))


def _gap(gap: str) -> tuple[bool, bool]:
    """Whether a gap between two words ends a sentence, and whether it ends a run of names."""
    kind = _GAPS.get(gap)
    if kind is None:
        if len(_GAPS) > _GAPS_KEPT:
            _GAPS.clear()
        kind = _GAPS[gap] = (
            _GAP_BREAKS_SENTENCE.search(gap) is not None,
            bool(gap.strip(" \t-'’")),
        )
    return kind


_GAPS: dict[str, tuple[bool, bool]] = {}
_GAPS_KEPT = 1 << 14


def _line_entities(
    parts: list[str], entries: list[_Entry], lang: str | None, out: list[tuple[str, float]]
) -> None:
    """(entity, strength) of one line of text, before position weighting, added to ``out``:
    ``parts`` is the line cut at its words (gap, word, gap, ..., word, gap), ``entries`` its
    words' entries. Only the capitalised words and numbers are visited: any other word only
    ends a run of names, which the gap in their places tells."""
    run: list[str] = []  # a run of names; a lone word gives no name of more than one word
    last = -2
    for k in compress(range(len(entries)), entries):
        entry = entries[k]
        if run and k != last + 1:
            if len(run) > 1:
                _names(run, lang, out)
            run = []
        last = k
        gap = parts[2 * k]
        if k and gap == " ":
            sentence_start = False  # the common case, a word after one space
        else:
            ends_sentence, ends_run = _gap(gap)
            sentence_start = k == 0 or ends_sentence
            if run and ends_run:
                if len(run) > 1:
                    _names(run, lang, out)
                run = []
        if isinstance(entry, _Number):
            if len(run) > 1:
                _names(run, lang, out)
            run = []
            out.append(entry.token)
            continue
        assert isinstance(entry, _Name)  # _PLAIN is never visited
        if entry.acronym is not None:
            out.append(entry.acronym)
        if entry.capital and (not sentence_start or entry.bold):
            run.append(entry.word)
            if entry.single is not None:
                out.append(entry.single)
        elif run:
            if len(run) > 1:
                _names(run, lang, out)
            run = []
    if len(run) > 1:
        _names(run, lang, out)


def segment_tokens(segment: str, lang: str | None) -> tuple[list[tuple[str, float]], list[str]]:
    """(entity, strength) of a segment of text, line by line, before position weighting; and
    the segment's words, for its stems."""
    out: list[tuple[str, float]] = []
    words: list[str] = []
    table = words_of(lang)
    folded = fold(segment)
    dated = _DIGIT.search(folded) is not None
    # Folding keeps "\n" and makes none: the folded lines are the lines folded.
    for line, folded_line in zip(segment.split("\n"), folded.split("\n"), strict=True):
        if dated:
            out += [(f"@{m:02d}-{d:02d}", DATE_WEIGHT) for m, d in month_days(folded_line, lang)]
        parts = _WORD_CUT.split(line)
        line_words = parts[1::2]
        if line_words:
            _line_entities(parts, table.entries_of(line_words), lang, out)
            words += line_words
    return out, words


def _stems(raw: str, lang: str | None) -> _Stems:
    """(stem, root of its rarity) of one word as written, if any. Stems weigh the square root
    of their word's rarity: the commonest words of the language (Vietnamese syllables of
    titles, English function words) weigh nothing, which a tiny corpus' IDF cannot ensure,
    while common content words keep some weight, which the dev pairs reward (Pearson 0.687
    against 0.674 for plain rarity). A run of a script written without spaces gives the
    stems of :func:`_syllable_pairs`."""
    if _UNSPACED.search(raw):
        root = math.sqrt(UNKNOWN_LANGUAGE_RARITY)
        return tuple((pair, root) for pair in _syllable_pairs(raw))
    word = fold(raw)
    if len(word) >= STEM_MIN_CHARS and word.isalpha():
        return ((word[:STEM_CHARS], math.sqrt(rarity(raw.lower(), lang))),)
    return ()


def _syllable_pairs(run: str) -> Iterable[str]:
    """Stems for a run of a script written without spaces (Chinese, Japanese, Thai, Lao,
    Khmer, Burmese), where a "word" of the regular expression is a whole clause: every pair
    of adjacent characters, transliterated (``俄羅斯`` and ``俄罗斯`` both give ``e-luo``,
    ``luo-si``), so that two texts meet on what they say, not on one stem per clause. Their
    rarity is unknown here (no word list that installs without optional tokenizers): the
    corpus' IDF weighs them."""
    syllables = [fold(ch) or ch for ch in run if not ch.isspace()]
    for a, b in pairwise(syllables):
        yield f"{a}-{b}"
