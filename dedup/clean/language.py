"""Language identification: the language of a text, which paragraphs are in another language
than the article's, and each language's commonest words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from wordfreq import available_languages

from dedup.clean.frequency import commonest
from dedup.clean.paragraphs import _n_letters, _Para

# Fewer letters than this and a language guess is noise.
MIN_LANG_LETTERS = 20
# Least calibrated probability for a language guess.
MIN_LANG_CONFIDENCE = 0.5
# Characters of a text the language guesser reads: enough for a firm guess, and it is linear.
LANG_CHARS = 400
PARAGRAPH_LANG_CHARS = 200
# A paragraph is in another language when the article's language gets less than this share.
FOREIGN_MAX_PROBABILITY = 0.05
# A paragraph whose words are at least this share of the language's commonest words is in
# that language without asking the model.
NATIVE_COMMON_SHARE = 0.2

# --- commonest words -----------------------------------------------------------------------

#: Languages wordfreq has a frequency list for.
WORDFREQ_LANGUAGES = frozenset(available_languages())


@cache
def _stopwords(lang: str | None) -> frozenset[str]:
    """The commonest words of a language: shared by any two texts, so they prove nothing."""
    if lang not in WORDFREQ_LANGUAGES:
        return frozenset()
    return frozenset(w.casefold() for w in commonest(lang, 150))


# --- language ------------------------------------------------------------------------------

# py3langid labels that are not ISO 639-1 but belong to a language that has a 639-1 code.
_MACRO = {"arz": "ar", "ary": "ar", "wuu": "zh", "yue": "zh", "uzs": "uz", "gug": "gn"}
# Languages a guesser confuses on short texts: one of them is not "another language".
_CONFUSABLE = (
    frozenset({"hr", "sr", "bs", "sh"}),
    frozenset({"ms", "id"}),
    frozenset({"no", "nb", "nn", "da"}),
    frozenset({"gl", "pt"}),
    frozenset({"ca", "oc"}),
    frozenset({"en", "pcm"}),
    frozenset({"ar", "arz", "ary"}),
    frozenset({"zh", "wuu", "yue"}),
)


@cache
def _identifier() -> Any:
    # Loaded once: reading the model takes a while, and calibrated probabilities let us say
    # "unsure" instead of guessing.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _family(lang: str) -> frozenset[str]:
    for group in _CONFUSABLE:
        if lang in group:
            return group
    return frozenset({lang})


@cache
def _known_family(lang: str) -> frozenset[str]:
    """The language's family (:data:`_CONFUSABLE`), the languages the identifier knows."""
    return _family(lang) & set(_identifier().labels)


def _iso(label: str) -> str | None:
    label = _MACRO.get(label, label)
    return label if len(label) == 2 else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when the text is too short or unclear."""
    return _detect(text[:LANG_CHARS])


@lru_cache(maxsize=1024)
def _detect(text: str) -> str | None:
    # Memoised: cleaning asks twice for the same text when a page has no head chrome.
    if _n_letters(text) < MIN_LANG_LETTERS:
        return None
    ranked = _identifier().rank(text)
    label = str(ranked[0][0])
    # Languages the model confuses share their probability ("en" and Nigerian Pidgin).
    family = _family(label)
    if sum(prob for lang, prob in ranked if lang in family) < MIN_LANG_CONFIDENCE:
        return None
    return _iso(label)


@lru_cache(maxsize=1024)
def _base_lang(lang: str | None) -> str | None:
    """``en-US`` -> ``en``; None for what is not a language code."""
    if not lang:
        return None
    base = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return base if 2 <= len(base) <= 3 and base.isalpha() else None


class _Foreign:
    """Per-paragraph "is this in another language than the article's", computed lazily."""

    def __init__(self, paras: Sequence[_Para], lang: str | None) -> None:
        self._paras = paras
        self._family = _known_family(lang) if lang else frozenset()
        self._stop = _stopwords(lang)
        self._memo: dict[int, bool | None] = {}

    def __call__(self, i: int) -> bool | None:
        """True/False, or None when the paragraph is too short to tell."""
        if not self._family:
            return False
        if i not in self._memo:
            p = self._paras[i]
            if not p.has_letters(MIN_LANG_LETTERS):
                self._memo[i] = None
            elif self._native(p.key):
                self._memo[i] = False
            else:
                ranked = _identifier().rank(p.text[:PARAGRAPH_LANG_CHARS])
                top, top_p = ranked[0]
                own = sum(prob for label, prob in ranked if label in self._family)
                self._memo[i] = (
                    top not in self._family
                    and top_p >= MIN_LANG_CONFIDENCE
                    and own < FOREIGN_MAX_PROBABILITY
                )
        return self._memo[i]

    def _native(self, key: str) -> bool:
        """Plainly in the article's language: many of its commonest words (cheap, no model)."""
        if not self._stop:
            return False
        words = key.split()
        common = sum(1 for w in words if w in self._stop)
        return common >= 3 and common >= NATIVE_COMMON_SHARE * len(words)


def _lang_sample(title: str, paragraphs: Sequence[str]) -> str:
    sample = []
    size = 0
    for part in (title, *paragraphs):
        sample.append(part)
        size += len(part) + 1
        if size >= LANG_CHARS:
            break
    return "\n".join(sample)
