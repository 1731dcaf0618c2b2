"""A static model's token ids: what its tokenizer gives each text, found once per distinct word.

A static model's time is nearly all its tokenizer's: 0.86 ms of CPU for a 1,200-character bench
article (``tokenizers``' unigram search over every word of every text). But news repeats its
words: 20,000 bench articles hold 75,000 distinct ones. :class:`TokenIds` splits a text at
whitespace in Python, looks each word up in a store of the ids the tokenizer gave it, asks the
tokenizer only for words it has not seen (all of a batch's at once), and lays the ids end to
end (:func:`dedup.represent.kernels.word_ids`), cut where the tokenizer's own truncation cuts.

That is the tokenizer's answer only where the tokenizer never looks across whitespace, so the
word path is taken only when each of these holds, and the whole text goes to the tokenizer
otherwise:

* the tokenizer's layout: a normaliser of :data:`WORDWISE_NORMALIZERS` (or a replacement of
  spaces by a space), pre-tokenizers of :data:`WORDWISE_PRE_TOKENIZERS`, truncation from the
  right if any, added tokens matched on the raw text;
* checked on the tokenizer when it is loaded: words with a whitespace character between them
  give each word's ids end to end; a character that fails (the bundled model's tokenizer drops
  a vertical tab and joins the words beside it) sends every text holding it to the tokenizer;
* no added token (``<unk>``, ``<s>``) in the text: the tokenizer cuts those out first;
* no word that would join the whitespace beside it into one grapheme, which a SentencePiece
  normaliser reads as one: a word that starts with a combining mark, a format character or an
  emoji modifier, or ends with a prepended mark; nor one holding the word marker (``▁``).

The ids are the tokenizer's, checked on 10^5 bench articles and the dev texts in 44 languages
(``tests/test_static_ids.py`` checks them on the bundled model's tokenizer). The store keeps at
most :data:`WORD_STORE` words (about 150 bytes each) and :data:`STORE_IDS` token ids (8 bytes
each: a text of Chinese, Japanese or Thai has few, long words) and starts over past either.
"""

from __future__ import annotations

import json
import re
import unicodedata
from array import array
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np

from dedup.represent.kernels import word_ids

#: Distinct words kept with their ids; past it the store is emptied and filled again.
WORD_STORE = 1 << 20
#: Token ids kept for those words, 64 MB; past it the store is emptied and filled again too.
STORE_IDS = 1 << 23
#: Words told to the tokenizer in one text when the store learns them.
LEARN_WORDS = 1024
#: Normalisers that change a text character by character (a SentencePiece table by grapheme).
WORDWISE_NORMALIZERS = frozenset(
    {"Precompiled", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "StripAccents", "BertNormalizer"}
    | {"Strip"}
)
#: Pre-tokenizers that cut at whitespace and within words, never across.
WORDWISE_PRE_TOKENIZERS = frozenset(
    {"WhitespaceSplit", "Whitespace", "BertPreTokenizer", "Metaspace"}
)
#: What ``str.split()`` cuts at: Unicode's White_Space and four separators (U+001C-U+001F).
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Characters that join the character after them, a space included, into one grapheme (Unicode's
# Prepend) and are not format characters (those are found by their category).
_PREPEND = frozenset(
    "\u0d4e\U000111c2\U000111c3\U0001193f\U00011941\U00011a3a\U00011a84\U00011a85\U00011a86"
    "\U00011a87\U00011a88\U00011a89\U00011d46\U00011f02"
)
_CHECKED_WORDS = (("a", "b"), ("Hà", "Nội"), ("12", "km"), ("東京", "2024"))


def _wordwise_normalizer(spec: Any) -> bool:
    if spec is None:
        return True
    kind = spec.get("type")
    if kind == "Sequence":
        return all(_wordwise_normalizer(one) for one in spec.get("normalizers", []))
    if kind == "Replace":  # runs of spaces made one, as the bundled model's tokenizer does
        pattern = spec.get("pattern", {})
        text = pattern.get("String", pattern.get("Regex", ""))
        return bool(text) and set(text) <= set(" {}0123456789,+") and spec.get("content") == " "
    return kind in WORDWISE_NORMALIZERS


def _wordwise_pre_tokenizer(spec: Any) -> bool:
    if spec is None:
        return False  # the model would read the whole text as one piece
    if spec.get("type") == "Sequence":
        return all(_wordwise_pre_tokenizer(one) for one in spec.get("pretokenizers", []))
    if spec.get("type") == "Metaspace":
        return spec.get("split", True) is True
    return spec.get("type") in WORDWISE_PRE_TOKENIZERS


def _markers(spec: Any) -> set[str]:
    if spec is None:
        return set()
    if spec.get("type") == "Sequence":
        return set().union(*(_markers(one) for one in spec.get("pretokenizers", [])))
    return {str(spec["replacement"])} if spec.get("type") == "Metaspace" else set()


def _spaced(text: str) -> bool:
    return not text or any(c.isspace() for c in text)


def _joins_whitespace(word: str) -> bool:
    """Whether ``word`` may make one grapheme with the whitespace before or after it."""
    first, last = word[0], word[-1]
    category = unicodedata.category(first)
    return (
        category[0] == "M"
        or category == "Cf"
        or "\U0001f3fb" <= first <= "\U0001f3ff"  # emoji modifiers
        or first in "\uff9e\uff9f"  # halfwidth sound marks
        or unicodedata.category(last) == "Cf"
        or last in _PREPEND
    )


class TokenIds:
    """The token ids a ``tokenizers.Tokenizer`` gives texts without special tokens, found word by
    word where that gives the same ids. It takes the tokenizer over: its truncation and padding
    are turned off, and the truncation (from the right) is applied here."""

    def __init__(self, tokenizer: Any) -> None:
        spec = {  # each part's own JSON: the whole tokenizer's holds its vocabulary
            part: None if getattr(tokenizer, part) is None
            else json.loads(getattr(tokenizer, part).__getstate__())
            for part in ("normalizer", "pre_tokenizer")
        }  # fmt: skip
        truncation = tokenizer.truncation
        self.limit = int(truncation["max_length"]) if truncation else 1 << 62
        self._tokenizer = tokenizer  # its truncation is done here: words are learnt many at once
        tokenizer.no_truncation()
        tokenizer.no_padding()
        added = list(tokenizer.get_added_tokens_decoder().values())
        self._markers = _markers(spec.get("pre_tokenizer"))
        self.wordwise = (
            (truncation is None or truncation.get("direction", "right") == "right")
            and _wordwise_normalizer(spec.get("normalizer"))
            and _wordwise_pre_tokenizer(spec.get("pre_tokenizer"))
            and not any(t.normalized or _spaced(t.content) for t in added)
        )
        failing = self._not_splitting() if self.wordwise else []
        self.wordwise = self.wordwise and " " not in failing
        whole = [re.escape(t.content) for t in added] + [re.escape(c) for c in failing]
        self._whole = re.compile("|".join(whole)) if whole else None
        self.forget()

    def _ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def count(self, texts: Sequence[str]) -> list[int]:
        """How many token ids each text has (at most :attr:`limit`)."""
        return [min(len(ids), self.limit) for ids in self._ids(list(texts))]

    def _not_splitting(self) -> list[str]:
        """The whitespace characters at which words apart do not give each word's ids."""
        alone = self._ids([w for pair in _CHECKED_WORDS for w in pair])
        apart = [alone[2 * k] + alone[2 * k + 1] for k in range(len(_CHECKED_WORDS))]
        texts = [
            text
            for c in PYTHON_WHITESPACE
            for a, b in _CHECKED_WORDS
            for text in (a + c + b, c + a + c + c + b + c)
        ]
        found = self._ids(texts)
        per_space = 2 * len(_CHECKED_WORDS)
        return [
            c
            for n, c in enumerate(PYTHON_WHITESPACE)
            if any(
                ids != apart[k // 2]
                for k, ids in enumerate(found[n * per_space : (n + 1) * per_space])
            )
        ]

    def forget(self) -> None:
        """Empty the store of words (it fills again as texts come)."""
        self._index: dict[str, int] = {}
        self._pool = array("q")
        self._starts = array("q")
        self._lengths = array("q")

    def _learn(self, words: list[str]) -> None:
        """Put ``words`` in the store with the ids the tokenizer gives each alone (length -1
        for a word a text cannot be cut at). The words are told to the tokenizer
        :data:`LEARN_WORDS` at a time, one space apart, and each token goes to the word its
        first character is in: a call per word costs more than the word's tokens."""
        index, pool, starts, lengths = self._index, self._pool, self._starts, self._lengths
        fine = []
        for word in words:
            index[word] = len(starts)
            starts.append(0)
            if _joins_whitespace(word) or any(m in word for m in self._markers):
                lengths.append(-1)
            else:
                lengths.append(0)
                fine.append(word)
        chunks = [fine[at : at + LEARN_WORDS] for at in range(0, len(fine), LEARN_WORDS)]
        texts = [" ".join(chunk) for chunk in chunks]
        found = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        for chunk, encoding in zip(chunks, found, strict=True):
            begins = np.cumsum([0] + [len(w) + 1 for w in chunk[:-1]])
            first = np.fromiter((o[0] for o in encoding.offsets), np.int64, len(encoding.ids))
            owner = np.searchsorted(begins, first, side="right") - 1
            counts = np.bincount(owner, minlength=len(chunk)).tolist()
            ids = encoding.ids
            if len(owner) and (np.diff(owner) < 0).any():  # out of order: one word at a time
                counts = []
                ids = []
                for one in self._ids(chunk):
                    counts.append(len(one))
                    ids += one
            at = 0
            for word, count in zip(chunk, counts, strict=True):
                starts[index[word]], lengths[index[word]] = len(pool), count
                pool.extend(ids[at : at + count])
                at += count

    def parts(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The ids of ``texts`` as at most two parts ``(rows, ids, offsets)``: the texts
        ``rows`` (indices into ``texts``), their ids end to end, and each one's offsets."""
        whole = list(range(len(texts))) if not self.wordwise else []
        if self.wordwise:
            if len(self._index) > WORD_STORE or len(self._pool) > STORE_IDS:
                self.forget()
            index, awkward = self._index, self._whole
            lookup = index.get
            rows: list[int] = []
            cut: list[list[int | None]] = []
            unknown: list[tuple[int, list[str]]] = []
            for r, text in enumerate(texts):
                if awkward is not None and awkward.search(text):
                    whole.append(r)
                    continue
                words = text.split()
                codes = list(map(lookup, words))
                if None in codes:
                    unknown.append((len(cut), words))
                rows.append(r)
                cut.append(codes)
            if unknown:
                self._learn(list({w for _, words in unknown for w in words if w not in index}))
                for at, words in unknown:
                    cut[at] = list(map(index.__getitem__, words))
            if rows:
                bounds = np.zeros(len(rows) + 1, dtype=np.int64)
                np.cumsum([len(codes) for codes in cut], out=bounds[1:])
                ids, offsets, refused = word_ids(
                    np.frombuffer(self._pool, dtype=np.int64),
                    np.frombuffer(self._starts, dtype=np.int64),
                    np.frombuffer(self._lengths, dtype=np.int64),
                    np.fromiter(chain.from_iterable(cut), np.int64, int(bounds[-1])),
                    bounds,
                    self.limit,
                )
                took = np.asarray(rows, dtype=np.int64)
                whole += took[refused].tolist()
                kept = ~refused  # a refused text has no ids: its offsets are dropped
                yield took[kept], ids, np.concatenate([offsets[:1], offsets[1:][kept]])
        if whole:
            whole.sort()
            found = [ids[: self.limit] for ids in self._ids([texts[r] for r in whole])]
            offsets = np.zeros(len(whole) + 1, dtype=np.int64)
            np.cumsum([len(ids) for ids in found], out=offsets[1:])
            ids = np.fromiter(chain.from_iterable(found), np.int64, int(offsets[-1]))
            yield np.asarray(whole, dtype=np.int64), ids, offsets
