"""How common a word is in general language: wordfreq's lists, held compactly.

wordfreq keeps each list it reads as a dict of every word (and the words again as a list):
about 45 MB a language in each process that reads one, 300 MB for the seven languages of the
bench corpus in each worker of the per-article pass. dedup needs two things of a list: its
commonest words, and one word's frequency. Here a list is read once per process and held as
its words' 64-bit hashes, sorted, each with its frequency band (10 bytes a word); the words
themselves are let go. A word is looked up as wordfreq looks it up (its tokenizer, digit runs
smashed, the tokens' frequencies combined and rounded the same way), so the values are
wordfreq's (tests/test_lexical.py checks them against ``zipf_frequency``). Two words sharing a
hash would share a band: with a million words looked up in a run against a list of 600,000,
about one run in thirty million.
"""

from __future__ import annotations

import math
from functools import cache
from itertools import chain
from typing import NamedTuple

import numpy as np
from wordfreq import (
    INFERRED_SPACE_FACTOR,
    cB_to_freq,
    freq_to_zipf,
    get_frequency_list,
    zipf_to_freq,
)
from wordfreq.language_info import get_language_info
from wordfreq.numbers import digit_freq, has_digit_sequence, smash_numbers
from wordfreq.tokens import lossy_tokenize

__all__ = ["commonest", "zipf"]

# The commonest words kept of each list (commonest() gives at most these).
COMMONEST_KEPT = 1000
# What wordfreq gives a word it does not know (its default minimum, Zipf 0).
_NO_FREQUENCY = zipf_to_freq(0.0)


class _List(NamedTuple):
    hashes: np.ndarray  # int64, sorted: each word's _hash()
    bands: np.ndarray  # uint16, the band of the word whose hash is at the same place
    commonest: tuple[str, ...]  # the first COMMONEST_KEPT words without a digit run
    plain: bool  # cut into words by a regular expression (not a tokenizer of its own)
    jieba: bool


@cache
def _list(lang: str) -> _List:
    """``lang``'s list as wordfreq matches the code to one ("best": large where there is one).
    Band ``b`` holds the words of frequency ``10 ** (-b / 100)``; a word in two bands counts
    in the later one, as in wordfreq's dict."""
    bands = get_frequency_list.__wrapped__(lang, "best")  # read past wordfreq's cache
    words = list(chain.from_iterable(bands))
    hashes = np.fromiter(map(_hash, words), dtype=np.int64, count=len(words))
    band = np.repeat(np.arange(len(bands), dtype=np.uint16), [len(b) for b in bands])
    order = np.lexsort((band, hashes))  # by hash, then band: the last of a run is the later
    hashes, band = hashes[order], band[order]
    last = np.ones(len(hashes), dtype=bool)
    last[:-1] = hashes[1:] != hashes[:-1]
    commonest = []
    for word in words:
        if not has_digit_sequence(word):
            commonest.append(word)
            if len(commonest) == COMMONEST_KEPT:
                break
    tokenizer = get_language_info(lang)["tokenizer"]
    return _List(
        hashes[last], band[last], tuple(commonest), tokenizer == "regex", tokenizer == "jieba"
    )


def _hash(word: str) -> int:
    """A word's 64-bit hash, of its UTF-8 bytes: ``hash(word)`` hashes the str's own storage,
    in which "a1" (one byte a character) and "\u3161" (two bytes) are the same bytes."""
    return hash(word.encode("utf-8", "surrogatepass"))


def commonest(lang: str, n: int) -> list[str]:
    """``lang``'s ``n`` commonest words (``n`` at most :data:`COMMONEST_KEPT`), as
    ``wordfreq.top_n_list`` gives them."""
    if n > COMMONEST_KEPT:
        raise ValueError(f"at most {COMMONEST_KEPT} commonest words are kept, not {n}")
    return list(_list(lang).commonest[:n])


def _frequency(table: _List, token: str) -> float | None:
    key = _hash(token)
    at = int(np.searchsorted(table.hashes, key))
    if at == len(table.hashes) or table.hashes[at] != key:
        return None
    return cB_to_freq(-int(table.bands[at]))


def zipf(word: str, lang: str) -> float:
    """``wordfreq.zipf_frequency(word, lang)``. Words of ASCII lower-case letters one space
    apart, in a language cut by a regular expression, skip the tokenizer (most of a cold
    profile's time): they are its tokens, which its preprocessing leaves as they are."""
    table = _list(lang)
    tokens = _plain_tokens(word) if table.plain else None
    if tokens is None:
        tokens = lossy_tokenize(word, lang)
    if not tokens:
        return round(freq_to_zipf(_NO_FREQUENCY), 2)
    one_over = 0.0
    for token in tokens:
        smashed = token if token.isalpha() else smash_numbers(token)  # no digit run: as is
        found = _frequency(table, smashed)
        if found is None:  # one unknown token makes the whole unknown
            return round(freq_to_zipf(_NO_FREQUENCY), 2)
        if smashed != token:
            found *= digit_freq(token)
        one_over += 1.0 / found
    freq = 1.0 / one_over
    if table.jieba:
        freq *= INFERRED_SPACE_FACTOR ** -(len(tokens) - 1)
    unrounded = max(freq, _NO_FREQUENCY)
    freq = round(unrounded, math.floor(-math.log(unrounded, 10)) + 3)
    return round(freq_to_zipf(freq), 2)


def _plain_tokens(word: str) -> list[str] | None:
    """The words of ``word`` (a word, or a name of words one space apart) when they are all
    ASCII lower-case letters, else None."""
    if not (word.isascii() and word.islower()):
        return None
    tokens = word.split(" ")
    return tokens if all(token.isalpha() for token in tokens) else None
