"""Pair similarity: the representations of a corpus and the rule that combines them.

One rule serves whole blocks of rows (exact linking) and lists of pairs (scoring candidates,
stories, evaluation, ``--explain``), so every stage sees the same number for the same two
articles.

* ``dense``: cosine of the sentence embeddings after per-language centring (below).
* ``lexical`` and ``hybrid``: a fusion, ``intercept + sum(weight * feature)`` clipped to
  [0, 1], of cosines that each carry evidence of their own (:data:`FEATURES`): character
  3-5-grams of the title; names, numbers and days (entities); four-letter stems; for
  ``hybrid`` the centred dense cosine; and *gated* features (:func:`add_derived`), the
  geometric mean of the entity cosine and the stems' (or dense) cosine, and its square root.
  A gated feature is high only when the names, numbers and days agree as well as the words:
  two articles on one topic with other people, figures or days share stems but not
  entities, and are not one event. Across languages stems enter only gated; in one language
  also linearly, where the dev pairs say they tell stories apart best (their square root,
  which the fit would favour, lifts short texts that share a name or two too far). Pairs in
  one language and pairs across languages have a fusion each: across languages only evidence
  that crosses languages and scripts takes part (names, numbers, days, stems of
  accent-folded and transliterated words, the dense cosine), never character n-grams, which
  meet across languages only by chance. The weights are non-negative (more shared evidence
  never lowers a similarity), fitted on the SemEval-2022 dev pairs by ``bench/fit_fusion.py``
  and stored as plain numbers in ``dedup/data/calibration.json``. The clipped sum is then put on
  the story scale by a fitted logistic :class:`Curve` through (0, 0) and (1, 1): the dev
  pairs' grades rise steeply through the middle of the sum and level off at both ends, and a
  straight line cannot follow that. The curve is monotone, so it changes no ranking of pairs,
  mostly what the numbers say (average linkage averages the curved values): a fused
  similarity estimates ``(4 - overall) / 3``, up to scale, about 1 for the same story and 0
  for unrelated articles.

The rules that read the corpus or the pair beyond its two vectors (per-language centring, the
lift of short texts, the day discount) are in :mod:`dedup.represent.scale`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from dedup.represent.kernels import block_pairs, cross_dot, rowwise_dense, rowwise_dot
from dedup.represent.lexical import LexicalVectors
from dedup.represent.scale import day_factor, lift

Array = np.ndarray

# Pairs scored at once by ``Representations.pairs``: their features (a few floats a pair) stay
# small however many pairs; no row is gathered (the kernels read the rows in place).
PAIR_SLICE = 1 << 15

# The cosines of LexicalVectors' matrices, and the ones that also enter as square roots.
LEXICAL_MATRICES = ("title", "entities", "stems")
_ROOTED = ("entities", "stems")
DENSE_FEATURES = ("dense", "dense_centred")
# Evidence that holds only when the names, numbers and days agree too: the geometric mean of
# the entity cosine and another cosine (and its square root). Two articles on one topic with
# different people, figures or days share stems and title n-grams but not entities, and two
# meetings of the same people share entities but not what was said: an event needs both.
GATED = ("stems", "title", "dense_centred")
# In one language, stems also enter ungated, linearly: on the dev pairs they are the best
# single evidence, and in a fusion that keeps the gated ones beside them, more pairs above the
# threshold are one story (precision 0.43 against 0.40, recall 0.88 against 0.85, 5-fold CV).
_SAME = (
    "title",
    "stems",
    "entities_x_stems",
    "sqrt_entities_x_stems",
    "entities_x_title",
    "sqrt_entities_x_title",
)
_CROSS = ("entities", "sqrt_entities", "entities_x_stems")
_DENSE = ("entities_x_dense_centred", "dense_centred")
# The features each fusion may use: backend -> "same" / "cross" language -> names.
FEATURES: dict[str, dict[str, tuple[str, ...]]] = {
    "lexical": {"same": _SAME, "cross": _CROSS},
    "hybrid": {
        "same": (*_SAME, *_DENSE),
        "cross": (*_CROSS, *_DENSE),
    },
}


def add_derived(feats: dict[str, Array], wanted: Set[str] | None = None) -> dict[str, Array]:
    """Add to the cosines ``feats`` the features made of them: ``sqrt_NAME`` for each NAME of
    :data:`_ROOTED`, ``entities_x_NAME`` (geometric mean of the entity cosine and NAME's) and
    its square root ``sqrt_entities_x_NAME`` for each NAME of :data:`GATED`; only those in
    ``wanted`` (and what they are made of) when given. Returns ``feats``."""
    for name in _ROOTED:
        if name in feats and (wanted is None or f"sqrt_{name}" in wanted):
            feats[f"sqrt_{name}"] = np.sqrt(np.clip(feats[name], 0.0, None))
    if "entities" in feats:
        entities = np.clip(feats["entities"], 0.0, None)
        for name in GATED:
            gated_name, root_name = f"entities_x_{name}", f"sqrt_entities_x_{name}"
            if name not in feats or (wanted is not None and not {gated_name, root_name} & wanted):
                continue
            gated = np.sqrt(entities * np.clip(feats[name], 0.0, None))
            feats[gated_name] = gated
            if wanted is None or root_name in wanted:
                feats[root_name] = np.sqrt(gated)
    return feats


def sources_of(names: Set[str]) -> set[str]:
    """The cosines the features ``names`` are made of (``sqrt_entities_x_stems`` -> entities,
    stems)."""
    out: set[str] = set()
    for name in names:
        base = name.removeprefix("sqrt_")
        if base.startswith("entities_x_"):
            out |= {"entities", base.removeprefix("entities_x_")}
        else:
            out.add(base)
    return out


@dataclass(frozen=True)
class Linear:
    """``intercept + sum(weights[name] * feature[name])``: a linear model, in plain numbers."""

    intercept: float
    weights: Mapping[str, float]

    def __call__(self, features: Mapping[str, Array]) -> Array:
        total = np.full(np.shape(next(iter(features.values()))), self.intercept, np.float32)
        for name, weight in self.weights.items():
            total += np.float32(weight) * features[name].astype(np.float32)
        return total

    def contributions(self, features: Mapping[str, float]) -> dict[str, float]:
        """What each feature adds to the sum, for one pair."""
        return {name: weight * float(features[name]) for name, weight in self.weights.items()}


@dataclass(frozen=True)
class Curve:
    """A logistic curve through (0, 0) and (1, 1), steepest at ``centre``: the map from a
    fused sum to the story scale. It changes no ranking, only the spacing of the values."""

    steepness: float
    centre: float

    def __call__(self, x: Array) -> Array:
        k, c = self.steepness, self.centre
        low, high = float(expit(-k * c)), float(expit(k * (1.0 - c)))
        out = np.array(x, dtype=np.float32)  # a copy, changed in place below
        out -= np.float32(c)
        out *= np.float32(k)
        expit(out, out=out)  # in place, in float32: blocks of similarities are large
        out -= np.float32(low)
        out *= np.float32(1.0 / (high - low))
        return out


@dataclass(frozen=True)
class Fusion:
    """One linear model for pairs in one language, another for pairs across languages; their
    sum is clipped to [0, 1] and, with a ``curve``, put on the story scale.

    ``alone``: a linear model of the dense evidence alone, fitted on the pairs across
    languages; there the fused sum is the larger of it and ``cross``. Across languages, and
    above all across scripts, names and words meet only where transliteration agrees, so
    their absence says little: fitted together with them, the model's cosine counts for less
    wherever they are missing (short items in two scripts: one story, no shared word). With
    the larger of the two, shared names can only add to what the model sees. (Kept to pairs
    across scripts, it cost the dev pairs more than it saved: docs/evaluation.md.)"""

    same: Linear
    cross: Linear
    curve: Curve | None = None
    alone: Linear | None = None

    @property
    def needs(self) -> frozenset[str]:
        """The features the linear models weigh."""
        alone = frozenset() if self.alone is None else frozenset(self.alone.weights)
        return frozenset(self.same.weights) | frozenset(self.cross.weights) | alone

    def cross_model(self, features: Mapping[str, Array]) -> Linear:
        """The linear model that scores one pair (``features`` of length 1) across languages:
        ``alone`` where it says more than ``cross``, as :meth:`fused` takes the larger."""
        if self.alone is None:
            return self.cross
        return self.alone if self.alone(features)[0] > self.cross(features)[0] else self.cross

    def fused(self, features: Mapping[str, Array], same_lang: Array) -> Array:
        """The linear sum clipped to [0, 1], before the curve."""
        cross = self.cross(features)
        if self.alone is not None:
            cross = np.maximum(cross, self.alone(features))
        fused = np.where(same_lang, self.same(features), cross)
        return np.clip(fused, 0.0, 1.0).astype(np.float32)

    def __call__(self, features: Mapping[str, Array], same_lang: Array) -> Array:
        fused = self.fused(features, same_lang)
        return fused if self.curve is None else self.curve(fused)


@dataclass(frozen=True)
class Representations:
    """What the represent stage made of the corpus, row ``k`` for article ``k``.

    ``backend`` is the backend that ran: ``dense``, ``lexical`` or ``hybrid``. ``dense`` holds
    the raw embeddings (None when not kept: :func:`dedup.represent.represent`) and
    ``dense_centred`` the per-language centred ones (the raw ones when not given).
    """

    backend: str
    langs: Array  # int codes, one language per article; -1 unknown
    days: Array  # event day of the year (1..366) per article; -1 unknown
    dense: Array | None = None
    dense_centred: Array | None = None
    lexical: LexicalVectors | None = None
    # Per fused backend (lexical, hybrid), its fusion: see calibration for the fitted ones.
    fusions: Mapping[str, Fusion] | None = None
    # Per article, whether its day is stated in its text (else it is the publication date);
    # None: every known day is stated.
    stated: Array | None = None
    # Per article, the characters of its title and text (None: all long, nothing lifted), and
    # how much more the dense evidence of two short texts counts (see short_lift).
    lengths: Array | None = None
    short_lift: float = 0.0
    # Per article, how much of its language's mean is the corpus's own rather than the
    # model's prior (n / (n + CENTRING_PRIOR)): the lift trusts a centred cosine that much.
    # None: fully.
    centred_share: Array | None = None

    def __post_init__(self) -> None:
        if self.backend in ("dense", "hybrid") and not self.has_dense:
            raise ValueError(f"backend {self.backend} needs dense vectors")
        if self.backend in ("lexical", "hybrid") and self.lexical is None:
            raise ValueError(f"backend {self.backend} needs lexical vectors")
        if self.backend in ("lexical", "hybrid") and self.backend not in (self.fusions or {}):
            raise ValueError(f"backend {self.backend} needs its fusion")

    @property
    def n(self) -> int:
        return len(self.langs)

    @property
    def has_dense(self) -> bool:  # raw, centred or both
        return self.dense is not None or self.dense_centred is not None

    @property
    def fusion(self) -> Fusion | None:
        """The fusion the backend uses; None for ``dense``."""
        if self.backend == "dense":
            return None
        assert self.fusions is not None
        return self.fusions[self.backend]

    def _stated(self) -> Array:
        return np.ones(self.n, dtype=bool) if self.stated is None else self.stated

    def _centred(self) -> Array:
        centred = self.dense if self.dense_centred is None else self.dense_centred
        assert centred is not None, "no dense vectors"
        return centred

    @property
    def needed(self) -> frozenset[str]:
        """The features the backend's similarity is computed from."""
        return frozenset({"dense_centred"}) if self.fusion is None else self.fusion.needs

    def _features(
        self,
        dense_cos: Callable[[Array], Array],
        sparse_cos: Callable[[sp.csr_matrix], Array],
        pair_max: Callable[[Array], Array],
        wanted: Set[str] | None,
    ) -> dict[str, Array]:
        """The features ``wanted`` (every one when None) and the cosines they are made of;
        ``pair_max`` gives, from a value per article, the larger of each pair's two."""
        sources = None if wanted is None else sources_of(wanted)
        feats: dict[str, Array] = {}
        if self.lexical is not None:
            for name in LEXICAL_MATRICES:
                if sources is None or name in sources:
                    feats[name] = sparse_cos(getattr(self.lexical, name))
        if self.has_dense:
            if self.dense is not None and (sources is None or "dense" in sources):
                feats["dense"] = dense_cos(self.dense)
            elif sources is not None and "dense" in sources:
                raise ValueError("the raw dense vectors were not kept: the centred ones alone")
            if sources is None or "dense_centred" in sources:
                # Without centred vectors (a caller's own Representations) they are the raw ones.
                centred = self.dense_centred
                if centred is None and "dense" in feats:
                    feats["dense_centred"] = feats["dense"]
                else:
                    feats["dense_centred"] = dense_cos(self._centred())
                if self.short_lift and self.lengths is not None:
                    share = self.centred_share
                    smaller = None if share is None else -pair_max(-share)
                    times = lift(self.short_lift, pair_max(self.lengths), smaller)
                    feats["dense_centred"] = np.minimum(feats["dense_centred"] * times, 1.0)
        return add_derived(feats, wanted)

    def _similarity(self, feats: Mapping[str, Array], same_lang: Array, day: Array) -> Array:
        fusion = self.fusion
        base = feats["dense_centred"] if fusion is None else fusion(feats, same_lang)
        return np.asarray(base * day, dtype=np.float32)

    def block(self, rows: Array, cols: Array | None = None) -> Array:
        """Similarities of the articles ``rows`` to the articles ``cols`` (default: all)."""

        def pick(m: Any) -> Any:  # a copy only when there are columns to pick
            return m if cols is None else m[cols]

        langs = pick(self.langs)
        same = (self.langs[rows][:, None] == langs[None, :]) & (self.langs[rows][:, None] >= 0)
        feats = self._features(
            lambda m: m[rows] @ pick(m).T,
            lambda m: (m[rows] @ pick(m).T).toarray(),
            lambda v: np.maximum(v[rows][:, None], pick(v)[None, :]),
            self.needed,
        )
        stated = self._stated()
        day = day_factor(
            self.days[rows][:, None],
            pick(self.days)[None, :],
            stated[rows][:, None] & pick(stated)[None, :],
        )
        return self._similarity(feats, same, day)

    @property
    def search_vectors(self) -> Array:
        """The dense vectors a nearest-neighbour search runs on: the language-centred ones,
        whose cosine is the dense similarity and a fused similarity's dense evidence."""
        return self._centred()

    def dense_floor(self, floor: float) -> Array:
        """Per article, the cosine of :attr:`search_vectors` below which a candidate search
        may stop looking for its pairs: ``floor`` over the most its pairs' dense evidence is
        lifted (:func:`~dedup.represent.scale.lift` at its own length; 1 for a long article).

        For ``dense`` it is exact: the similarity is that cosine, lifted, times a day discount
        of at most 1. For ``hybrid`` it is a heuristic: the fitted fusion adds lexical
        evidence, so a pair with a weaker dense cosine but strong shared names may still reach
        ``floor``; such pairs can be missed by the approximate search (never by the exact
        one). ``lexical`` has no dense vectors: no bound (-1)."""
        if floor <= 0 or self.backend == "lexical":  # a discount can raise a negative value
            return np.full(self.n, -1.0, dtype=np.float32)
        if not self.short_lift or self.lengths is None:
            return np.full(self.n, floor, dtype=np.float32)
        return np.asarray(floor / lift(self.short_lift, self.lengths), dtype=np.float32)

    def features(
        self,
        i: Sequence[int] | Array,
        j: Sequence[int] | Array,
        wanted: Set[str] | None = None,
    ) -> dict[str, Array]:
        """The features of the pairs ``(i[k], j[k])`` by name (:data:`FEATURES`): those
        ``wanted``, by default every one the representations allow (for fitting and
        explaining); and ``same_lang`` and ``day_factor``."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        feats = self._features(
            lambda m: rowwise_dense(m, i, j),
            lambda m: rowwise_dot(m, i, j),
            lambda v: np.maximum(v[i], v[j]),
            wanted,
        )
        feats["same_lang"], feats["day_factor"] = self._pair_context(i, j)
        return feats

    def _pair_context(self, i: Array, j: Array) -> tuple[Array, Array]:
        """Whether each pair is in one language, and its day discount."""
        stated = self._stated()
        day = day_factor(self.days[i], self.days[j], stated[i] & stated[j])
        return (self.langs[i] == self.langs[j]) & (self.langs[i] >= 0), day

    def pairs(self, i: Sequence[int] | Array, j: Sequence[int] | Array) -> Array:
        """Similarities of the pairs ``(i[k], j[k])``, scored :data:`PAIR_SLICE` at a time."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if len(i) > PAIR_SLICE:
            return np.concatenate(
                [
                    self.pairs(i[s : s + PAIR_SLICE], j[s : s + PAIR_SLICE])
                    for s in range(0, len(i), PAIR_SLICE)
                ]
            )
        feats = self.features(i, j, self.needed)
        return self._similarity(feats, feats["same_lang"], feats["day_factor"])

    def cross(self, left: Array, left_at: Array, right: Array, right_at: Array) -> Array:
        """The similarities :meth:`pairs` gives the pairs of every block ``k``,
        ``left[left_at[k]:left_at[k + 1]]`` by ``right[right_at[k]:right_at[k + 1]]`` (block
        after block, row by row), each left row read once for all its pairs, nothing gathered."""
        blocks = [np.asarray(a, dtype=np.int64) for a in (left, left_at, right, right_at)]
        i, j = block_pairs(*blocks)
        feats = self._features(
            lambda m: rowwise_dense(m, i, j),
            lambda m: cross_dot(m, *blocks),
            lambda v: np.maximum(v[i], v[j]),
            self.needed,
        )
        return self._similarity(feats, *self._pair_context(i, j))

    def components(self, i: int, j: int) -> tuple[dict[str, float], float, float]:
        """What each signal adds to the fused sum of articles ``i`` and ``j`` (the fusion's
        ``intercept`` included), that sum clipped to [0, 1], and the similarity before the day
        discount (the sum on the fusion's curve; for dense, the cosine all along)."""
        feats = self.features([i], [j])
        fusion = self.fusion
        if fusion is None:
            value = float(feats["dense_centred"][0])
            return {"dense_centred": value}, value, value
        linear = fusion.same if bool(feats["same_lang"][0]) else fusion.cross_model(feats)
        parts = linear.contributions({k: float(v[0]) for k, v in feats.items()})
        parts = {"intercept": linear.intercept, **parts}
        same_lang = feats["same_lang"]
        return parts, float(fusion.fused(feats, same_lang)[0]), float(fusion(feats, same_lang)[0])

    def rows(self, idx: Array) -> Representations:
        """The representations of the articles ``idx`` alone (corpus statistics, centring and
        IDF, stay those of the whole corpus)."""

        def take(m: Any) -> Any:
            return None if m is None else m[idx]

        lexical = self.lexical
        if lexical is not None:
            lexical = type(lexical)(*(getattr(lexical, f.name)[idx] for f in fields(lexical)))
        return dataclasses.replace(
            self,
            langs=self.langs[idx],
            days=self.days[idx],
            dense=take(self.dense),
            dense_centred=take(self.dense_centred),
            lexical=lexical,
            stated=take(self.stated),
            lengths=take(self.lengths),
            centred_share=take(self.centred_share),
        )

    def matrix(self, idx: Sequence[int] | Array) -> Array:
        """The full similarity matrix among the articles ``idx`` (a story, a component)."""
        idx = np.asarray(idx, dtype=np.int64)
        m = self.block(idx, idx)  # matrix products: no gathered copy per pair
        m = (m + m.T) / 2
        np.fill_diagonal(m, 1.0)
        return np.asarray(m, dtype=np.float32)
