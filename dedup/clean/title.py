"""The title of a page: the given one unless it is chrome or a whole paragraph, else a
headline near the top, else one derived from the lead's first sentence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dedup.clean.paragraphs import (
    _DANGLING,
    _MARKER_START,
    _TERMINAL_PERIOD,
    _Para,
    _substantial,
)

# How far down the page the title and the lead are looked for (paragraphs).
HEAD_WINDOW = 8
# A derived title (from the lead's first sentence) is cut to about this many words.
TITLE_WORDS = 15

_DIGITS = re.compile(r"\d+")
_BREADCRUMB = re.compile(r"\s[»›>]\s")
# A dateline before the text: "HÀ NỘI —", "WASHINGTON (Reuters) -".
_DATELINE = re.compile(r"^([^—–\-]{2,40}?)\s+[—–-]{1,2}\s+")
_PAREN = re.compile(r"\([^)]*\)")
_CLAUSE_BREAK = re.compile(r"\s[—–-]\s|[,;:]\s")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'“‘(]?[^\W\d_])")


def _content_words(p: _Para, stop: frozenset[str]) -> set[str]:
    """The paragraph's words of letters, lower-cased, but one-letter and common ones: its key's
    words cut at their digits (the key is the words of the same text, case-folded)."""
    return {w for w in set(_without_digits(p.key).split()) if len(w) > 1} - stop


# The digits (\d) below U+0100 are ASCII's: a Latin-1 key loses them by a byte table.
_LATIN1_NO_DIGITS = bytes(0x20 if chr(b).isdecimal() else b for b in range(256))


def _without_digits(key: str) -> str:
    """The key with spaces for its digits, to be split into words of letters."""
    try:
        latin1 = key.encode("latin-1")
    except UnicodeEncodeError:
        return _DIGITS.sub(" ", key)
    return latin1.translate(_LATIN1_NO_DIGITS).decode("latin-1")


def _is_chrome_title(title: str, p: _Para) -> bool:
    """A menu word, a breadcrumb, a site name ending in a comma: never a headline."""
    return (
        p.chrome
        or p.boiler
        or _DANGLING.search(title) is not None
        or _BREADCRUMB.search(title) is not None
    )


def _is_paragraph_title(p: _Para) -> bool:
    """A first "line" that is a whole paragraph, not a headline."""
    return p.words > 40 or (p.words >= 15 and _TERMINAL_PERIOD.search(p.text) is not None)


def _repeats(key: str, later: Iterable[_Para]) -> bool:
    """Whether a line comes again (alone, or with a few words added, as in "<title> photo 1")."""
    n = len(key.split())
    for q in later:
        if q.key == key or (q.key.startswith(key + " ") and len(q.key.split()) - n <= 3):
            return True
    return False


def _derive_title(text: str) -> str:
    """A headline from a lead paragraph: its first sentence, without dateline, ~15 words."""
    m = _DATELINE.match(text)
    if m and _PAREN.sub("", m.group(1)).isupper():
        text = text[m.end() :]
    sentences = _SENTENCE_END.split(text)
    sentence = sentences[0].strip()
    # "Detmold. Washing machine seized." is one headline, not "Detmold".
    for more in sentences[1:]:
        if len(sentence.split()) >= 4:
            break
        sentence = f"{sentence} {more.strip()}"
    words = sentence.split()
    if len(words) <= TITLE_WORDS + 5:
        return sentence.rstrip(".")
    # Prefer the first clause boundary after 8 words to a cut mid-phrase.
    for m in _CLAUSE_BREAK.finditer(sentence):
        n = len(sentence[: m.start()].split())
        if 8 <= n <= TITLE_WORDS + 5:
            return sentence[: m.start()].rstrip(" ,;:")
    return " ".join(words[:TITLE_WORDS]).rstrip(" ,;:") + " …"


@dataclass(slots=True)
class _Title:
    text: str
    index: int | None  # the paragraph it came from, if any (removed from the body)
    derived: bool = False  # made from the lead, which stays in the body


def _choose_title(
    given: str, given_para: _Para | None, paras: Sequence[_Para], stop: frozenset[str]
) -> _Title:
    head = range(min(HEAD_WINDOW, len(paras)))
    content: dict[int, set[str]] = {}  # each paragraph's content words, found once

    def lead_words(after: int) -> set[str]:
        out: set[str] = set()
        taken = 0
        for j in range(after + 1, len(paras)):
            if _substantial(paras[j]):
                if j not in content:
                    content[j] = _content_words(paras[j], stop)
                out |= content[j]
                taken += 1
                if taken == 3:
                    break
        return out

    def score(p: _Para, at: int) -> float:
        words = _content_words(p, stop)
        overlap = len(words & lead_words(at)) / len(words) if words else 0.0
        return overlap + (1.0 if _repeats(p.key, paras[at + 1 :]) else 0.0)

    candidates = [(score(paras[i], i), i) for i in head if paras[i].headline]
    best = max(candidates, key=lambda c: (c[0], -c[1]), default=None)
    if best is not None and best[0] < 0.3:
        best = None
    chrome = True
    if not given:
        # No title given: the best headline near the top, or simply the first one.
        first = next((i for i in head if paras[i].headline), None)
        if best is None and first is not None:
            return _Title(paras[first].text, first)
    elif given_para is not None:
        if _is_paragraph_title(given_para):
            return _Title(_derive_title(given_para.text), None, derived=True)
        chrome = _is_chrome_title(given, given_para)
        if not chrome:
            # A plausible title stays unless a line near the top is clearly the headline:
            # the given one is a word or two, or starts like a section heading ("Related
            # content: World, Asia"), or shares nothing with the text while that line does.
            weak = given_para.words <= 2 or _MARKER_START.match(given_para.key) is not None
            unrelated = score(given_para, -1) == 0
            if best is None or not (weak or (unrelated and best[0] >= 0.5)):
                return _Title(given_para.text, None)
    if best is not None:
        return _Title(paras[best[1]].text, best[1])
    if chrome:
        for q in paras:
            if _substantial(q):
                return _Title(_derive_title(q.text), None, derived=True)
    return _Title(given, None)
