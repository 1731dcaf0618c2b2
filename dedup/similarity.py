"""Pair similarity: the representations of a corpus and the rule that combines them.

One rule serves whole blocks of rows (exact linking) and lists of pairs (scoring candidates,
stories, evaluation), so every stage sees the same number for the same two articles.

* ``dense``: cosine of the sentence embeddings.
* ``lexical``: between articles in one language, the mean of the entity and the word cosine;
  across languages, the entity cosine alone, since words of two languages meet only by chance
  and would dilute the evidence that does cross (names, numbers, days).
* ``hybrid``: the mean of ``dense`` and ``lexical``.

Whatever the backend, two articles whose leads name different days of the event are
discounted by the gap: ``1 / (1 + DAY_GAP_PENALTY * gap_days)``. Two meetings of the same people
on consecutive days are two stories; articles with no stated day are not discounted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from dedup.lexical import LexicalVectors

Array = np.ndarray

LEXICAL_ENTITY_WEIGHT = 0.5
DAY_GAP_PENALTY = 2.0
DAYS_IN_YEAR = 366
HYBRID_DENSE_WEIGHT = 0.5


def _rowwise_dot(m: sp.csr_matrix, i: Array, j: Array) -> Array:
    return np.asarray(m[i].multiply(m[j]).sum(axis=1), dtype=np.float32).ravel()


@dataclass(frozen=True)
class Representations:
    """What the represent stage made of the corpus, row ``k`` for article ``k``.

    ``backend`` is the backend that ran: ``dense``, ``lexical`` or ``hybrid``.
    """

    backend: str
    langs: Array  # int codes, one language per article; -1 unknown
    days: Array  # event day of the year (1..366) per article; -1 unknown
    dense: Array | None = None
    lexical: LexicalVectors | None = None

    def __post_init__(self) -> None:
        if self.backend in ("dense", "hybrid") and self.dense is None:
            raise ValueError(f"backend {self.backend} needs dense vectors")
        if self.backend in ("lexical", "hybrid") and self.lexical is None:
            raise ValueError(f"backend {self.backend} needs lexical vectors")

    @property
    def n(self) -> int:
        return len(self.langs)

    def _combine(
        self,
        dense: Array | None,
        ent: Array | None,
        words: Array | None,
        same_lang: Array,
        day_a: Array,
        day_b: Array,
    ) -> Array:
        base = self._base(dense, ent, words, same_lang)
        return np.asarray(base * _day_factor(day_a, day_b), dtype=np.float32)

    def _base(
        self, dense: Array | None, ent: Array | None, words: Array | None, same_lang: Array
    ) -> Array:
        lexical: Array | None = None
        if ent is not None and words is not None:
            within = LEXICAL_ENTITY_WEIGHT * ent + (1.0 - LEXICAL_ENTITY_WEIGHT) * words
            lexical = np.where(same_lang, within, ent)
        if self.backend == "dense":
            assert dense is not None
            return dense.astype(np.float32)
        if self.backend == "lexical":
            assert lexical is not None
            return lexical.astype(np.float32)
        assert dense is not None and lexical is not None
        return (HYBRID_DENSE_WEIGHT * dense + (1 - HYBRID_DENSE_WEIGHT) * lexical).astype(
            np.float32
        )

    def block(self, rows: Array, cols: Array | None = None) -> Array:
        """Similarities of the articles ``rows`` to the articles ``cols`` (default: all)."""

        def pick(m: Any) -> Any:  # a copy only when there are columns to pick
            return m if cols is None else m[cols]

        dense = ent = words = None
        if self.backend != "lexical":
            assert self.dense is not None
            dense = self.dense[rows] @ pick(self.dense).T
        if self.backend != "dense":
            assert self.lexical is not None
            ent = (self.lexical.entities[rows] @ pick(self.lexical.entities).T).toarray()
            words = (self.lexical.words[rows] @ pick(self.lexical.words).T).toarray()
        langs = pick(self.langs)
        same = self.langs[rows][:, None] == langs[None, :]
        same &= self.langs[rows][:, None] >= 0
        return self._combine(
            dense, ent, words, same, self.days[rows][:, None], pick(self.days)[None, :]
        )

    def dense_floor(self, floor: float) -> float:
        """The lowest dense cosine a pair can have and still reach ``floor`` (``floor > 0``).

        The day discount only lowers a positive similarity, and a lexical similarity is at
        most 1; so a dense candidate search may stop at this cosine without missing a pair.
        """
        if floor <= 0:  # a discount can raise a negative similarity: no bound
            return -1.0
        if self.backend == "dense":
            return floor
        if self.backend == "hybrid":
            return (floor - (1 - HYBRID_DENSE_WEIGHT)) / HYBRID_DENSE_WEIGHT
        return -1.0

    def pairs(self, i: Sequence[int] | Array, j: Sequence[int] | Array) -> Array:
        """Similarities of the pairs ``(i[k], j[k])``."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        dense = ent = words = None
        if self.backend != "lexical":
            assert self.dense is not None
            dense = np.einsum("ij,ij->i", self.dense[i], self.dense[j])
        if self.backend != "dense":
            assert self.lexical is not None
            ent = _rowwise_dot(self.lexical.entities, i, j)
            words = _rowwise_dot(self.lexical.words, i, j)
        same = (self.langs[i] == self.langs[j]) & (self.langs[i] >= 0)
        return self._combine(dense, ent, words, same, self.days[i], self.days[j])

    def matrix(self, idx: Sequence[int] | Array) -> Array:
        """The full similarity matrix among the articles ``idx`` (a story, a component)."""
        idx = np.asarray(idx, dtype=np.int64)
        ii, jj = np.meshgrid(idx, idx, indexing="ij")
        m = self.pairs(ii.ravel(), jj.ravel()).reshape(len(idx), len(idx))
        np.fill_diagonal(m, 1.0)
        return np.asarray((m + m.T) / 2, dtype=np.float32)


def _day_factor(a: Array, b: Array) -> Array:
    if not ((a > 0).any() and (b > 0).any()):  # no pair has both days: skip the n x m work
        return np.ones(1, dtype=np.float32)
    gap = np.abs(a - b)
    gap = np.minimum(gap, DAYS_IN_YEAR - gap)  # December 31 and January 1 are one day apart
    known = (a > 0) & (b > 0)
    return np.where(known, 1.0 / (1.0 + DAY_GAP_PENALTY * gap), 1.0).astype(np.float32)


def language_codes(langs: Sequence[str | None]) -> Array:
    """Small ints for language tags (sorted, so the same corpus gives the same codes)."""
    names = sorted({lang for lang in langs if lang})
    code = {name: k for k, name in enumerate(names)}
    return np.array([code[lang] if lang else -1 for lang in langs], dtype=np.int32)
