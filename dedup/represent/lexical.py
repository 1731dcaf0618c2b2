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

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher

from dedup.clean.fold import fold
from dedup.models import Article
from dedup.progress import GIVE_BACK_BYTES, Advance
from dedup.represent.tokens import rarity, segment_tokens, words_of

__all__ = [
    "LexicalCounts",
    "LexicalVectors",
    "Profile",
    "fold",
    "lexical_counts",
    "lexical_vectors",
    "profile",
    "rarity",
    "shared_evidence",
    "weigh",
]

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


def profile(article: Article) -> Profile:
    # Counts are sums of position weights (halves), exact in any order: a word's count is
    # added once per distinct word, times its occurrences. Tokens keep their first places.
    tf: dict[str, float] = {}
    strength: dict[str, float] = {}
    stem_tf: dict[str, float] = {}
    stem_strength: dict[str, float] = {}
    table = words_of(article.lang)
    for segment, position in _weighted_segments(article):
        tokens, words = segment_tokens(segment, article.lang)
        counts = Counter(words)
        for made, n in zip(table.stems_of(list(counts)), counts.values(), strict=True):
            for stem, root in made:
                old = stem_tf.get(stem)
                if old is None:
                    stem_tf[stem] = position * n
                    stem_strength[stem] = root
                else:
                    stem_tf[stem] = old + position * n
                    if root > stem_strength[stem]:
                        stem_strength[stem] = root
        for token, weight in tokens:
            old = tf.get(token)
            if old is None:
                tf[token] = position
                strength[token] = weight
            else:
                tf[token] = old + position
                if weight > strength[token]:
                    strength[token] = weight
    log = math.log
    entities = {token: (1.0 + log(count)) * strength[token] for token, count in tf.items()}
    # Sublinear counts; position weights make them fractional: once in the tail counts 0.5.
    stems = {
        stem: (1.0 + log(count) if count >= 1.0 else count) * stem_strength[stem]
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
    def stack(
        parts: list[LexicalCounts],
        order: Sequence[int] | None = None,
        *,
        give_back: Callable[[], None] | None = None,
    ) -> LexicalCounts:
        """The parts' rows one under another, in order; with ``order``, row ``r`` is the
        ``order[r]``-th of them (a permutation: the corpus' canonical order), each part's rows
        put straight in their places, no copy of the whole made to reorder it. Empties
        ``parts``, each part freed once copied: the stacked rows and one part are held at
        once, not every row twice (a million articles' title n-grams are gigabytes).
        ``give_back`` is called each time the parts freed reach :data:`GIVE_BACK_BYTES`:
        counts that came from other processes lie in holes of the heap, which the allocator
        keeps unless told (at 10^6 articles the stacked rows grew beside 3 GB so held)."""
        parts.reverse()  # taken from the end: the first part first
        fields = ("entities", "stems", "title")
        rows = sum(p.title.shape[0] for p in parts)
        cols = {f: getattr(parts[0], f).shape[1] if parts else N_FEATURES for f in fields}
        # each row's number of entries, in the rows' new order
        lengths = {f: _row_lengths([getattr(p, f) for p in reversed(parts)]) for f in fields}
        where = np.arange(rows, dtype=np.int64)  # the row each of the parts' rows goes to
        if order is not None:
            ranked = np.asarray(order, dtype=np.int64)
            where[ranked] = np.arange(rows, dtype=np.int64)
            lengths = {f: n[ranked] for f, n in lengths.items()}
        nnz = {f: int(n.sum()) for f, n in lengths.items()}
        # scipy keeps indices and indptr in one type: 32 bits while they fit
        index = {f: np.int32 if nnz[f] < 2**31 else np.int64 for f in fields}
        data = {f: np.empty(nnz[f], np.float32) for f in fields}
        indices = {f: np.empty(nnz[f], index[f]) for f in fields}
        indptr = {f: np.concatenate([[0], np.cumsum(lengths[f])]).astype(index[f]) for f in fields}
        row = freed = 0
        while parts:
            part = parts.pop()
            to = where[row : row + part.title.shape[0]]
            for f in fields:
                m = getattr(part, f)
                freed += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
                # each entry's place: its row's start there, plus its place in its row
                start = indptr[f][to].astype(np.int64) - m.indptr[:-1]
                place = np.repeat(start, np.diff(m.indptr)) + np.arange(m.nnz)
                data[f][place] = m.data
                indices[f][place] = m.indices
            row += len(to)
            del part, m
            if give_back is not None and freed >= GIVE_BACK_BYTES:
                give_back()
                freed = 0
        return LexicalCounts(
            *(
                sp.csr_matrix((data[f], indices[f], indptr[f]), shape=(rows, cols[f]))
                for f in fields
            )
        )


def _row_lengths(matrices: list[sp.csr_matrix]) -> np.ndarray:
    """The number of entries of each row of ``matrices``, one under another."""
    return np.concatenate([np.zeros(0, np.int64), *(np.diff(m.indptr) for m in matrices)])


def _idf_normalise(counts: sp.csr_matrix, *, drop_common: bool = False) -> sp.csr_matrix:
    """Sublinear term frequency, smoothed corpus IDF, L2-normalised rows.

    ``drop_common``: in a corpus of at least :data:`COMMON_MIN_ARTICLES`, a term found in more
    than :data:`COMMON_FRACTION` of the articles weighs nothing. A name every article has (a
    feed whose titles all start "Headline", an outlet's name in every footer) tells no story
    from another; smoothed IDF alone still gives it full weight where it is the only name.

    Scales ``counts`` in place (float32; a million articles' title n-grams are gigabytes), a
    run of rows at a time (:data:`WEIGH_ENTRIES` entries): only that run's temporaries beside
    it. Each row's sum of squares is numpy's, row by row, as scipy's row sums take it, so the
    rows are the same to the bit however they are cut.
    """
    matrix = sp.csr_matrix(counts, dtype=np.float32, copy=False)
    n = matrix.shape[0]
    runs = _row_runs(matrix.indptr)
    df = np.zeros(matrix.shape[1], dtype=np.int64)
    for a, b in pairwise(runs):  # bincount takes its input as int64: a copy of the indices
        df += np.bincount(matrix.indices[matrix.indptr[a] : matrix.indptr[b]], minlength=len(df))
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    if drop_common and n >= COMMON_MIN_ARTICLES:
        idf[df > COMMON_FRACTION * n] = 0.0
    for a, b in pairwise(runs):
        lo, hi = matrix.indptr[a], matrix.indptr[b]
        matrix.data[lo:hi] *= idf[matrix.indices[lo:hi]]
    matrix.eliminate_zeros()  # in place
    matrix.sort_indices()
    for a, b in pairwise(_row_runs(matrix.indptr)):
        lo, hi = matrix.indptr[a], matrix.indptr[b]
        data, lengths = matrix.data[lo:hi], np.diff(matrix.indptr[a : b + 1])
        norms = np.zeros(b - a, dtype=np.float32)
        filled = np.flatnonzero(lengths)
        if len(filled):
            starts = (matrix.indptr[a:b] - lo)[filled]
            norms[filled] = np.add.reduceat(data**2, starts)
        norms = np.sqrt(norms)
        norms[norms == 0] = 1.0
        data *= np.repeat((1.0 / norms).astype(np.float32), lengths)
    return matrix


#: Entries of a matrix :func:`_idf_normalise` scales at a time (16 MB of float32).
WEIGH_ENTRIES = 1 << 22


def _row_runs(indptr: np.ndarray) -> list[int]:
    """Where runs of whole rows of about :data:`WEIGH_ENTRIES` entries start, and the end."""
    ends = np.searchsorted(indptr, np.arange(WEIGH_ENTRIES, int(indptr[-1]), WEIGH_ENTRIES))
    return [0, *sorted(set(ends.tolist()) - {0, len(indptr) - 1}), len(indptr) - 1]


def _hash(rows: Sequence[Mapping[str, float]]) -> sp.csr_matrix:
    hasher = FeatureHasher(n_features=N_FEATURES, input_type="dict", alternate_sign=False)
    return sp.csr_matrix(hasher.transform(rows), dtype=np.float32)


# A title's character 3-5-grams, inside its words, each word padded with a space either side:
# what HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5)) counts. Here each distinct
# word is cut once (words repeat from title to title) and the counts are hashed as a dict,
# each distinct n-gram once: the same counts as the vectoriser's (tests/test_lexical.py),
# several times quicker.
_GRAM_HASHER = FeatureHasher(
    n_features=N_FEATURES, input_type="dict", alternate_sign=False, dtype=np.float32
)
_grams: dict[str, tuple[str, ...]] = {}
_GRAMS_KEPT = 1 << 14  # about 20 MB of n-grams


def _word_grams(word: str) -> tuple[str, ...]:
    """scikit-learn's ``char_wb`` n-grams of one word, 3 to 5 characters: a word shorter than
    an n-gram counts once, whole. (A tuple of strings: the garbage collector stops tracking
    it, and a full collection does not walk the thousands kept.)"""
    padded = f" {word} "
    size = len(padded)
    grams = []
    for n in (3, 4, 5):
        if size <= n:
            grams.append(padded)
            break
        grams += [padded[i : i + n] for i in range(size - n + 1)]
    return tuple(grams)


def _char_grams(text: str) -> Counter[str]:
    words = text.split()
    if len(_grams) > _GRAMS_KEPT:
        _grams.clear()
    for word in words:
        if word not in _grams:
            _grams[word] = _word_grams(word)
    return Counter(chain.from_iterable(map(_grams.__getitem__, words)))


def _char_counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Character 3-5-grams (within words) of accent-folded texts, counts sublinear."""
    grams = [_char_grams(fold(t)) for t in texts]
    counts = sp.csr_matrix(_GRAM_HASHER.transform(grams), dtype=np.float32)
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
