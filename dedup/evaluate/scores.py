"""The metrics: how similarities rank graded pairs (correlations, ROC-AUC, the best-F1
threshold, a sweep), and how a clustering matches gold stories (pairwise, B-cubed, ARI, AMI).

Conventions: precision over no predicted pair, and recall over no gold pair, are 1.0 (nothing
claimed, nothing missed); F1 is 0.0 when precision and recall are both 0.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    pair_confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
)
from sklearn.metrics.cluster import contingency_matrix

from dedup.errors import InputError

log = logging.getLogger(__name__)

Array = np.ndarray

# A pair is "same story" when its mean grade is at most this (the README of the eval data).
SAME_STORY_MAX = 1.5
DIGITS = 4


# --------------------------------------------------------------------------------------
# Pairs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairScores:
    """How well similarities rank graded pairs. ``None`` where a figure is undefined."""

    n: int
    pearson: float | None
    spearman: float | None
    auc: float | None
    threshold: float | None
    precision: float | None
    recall: float | None
    f1: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _f1(precision: Array | float, recall: Array | float) -> Array:
    p = np.asarray(precision, dtype=np.float64)
    r = np.asarray(recall, dtype=np.float64)
    total = p + r
    return np.divide(2 * p * r, total, out=np.zeros_like(total), where=total > 0)


def _correlation(x: Array, y: Array, spearman: bool) -> float | None:
    # A constant side has no correlation; scipy would warn and return NaN.
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    result = stats.spearmanr(x, y) if spearman else stats.pearsonr(x, y)
    value = float(result.statistic)
    return value if math.isfinite(value) else None


def _check_scored(sims: Array, overall: Array) -> tuple[Array, Array]:
    s = np.asarray(sims, dtype=np.float64).ravel()
    o = np.asarray(overall, dtype=np.float64).ravel()
    if s.shape != o.shape:
        raise ValueError(f"{len(s)} similarities for {len(o)} grades")
    if not (np.isfinite(s).all() and np.isfinite(o).all()):
        raise ValueError("similarities and grades must be finite")
    return s, o


def score_pairs(sims: Array, overall: Array, same_story_max: float = SAME_STORY_MAX) -> PairScores:
    """Pearson and Spearman of ``sims`` with ``-overall``, ROC-AUC of same story
    (``overall <= same_story_max``) against the rest, and the threshold with the best F1."""
    s, o = _check_scored(sims, overall)
    n = len(s)
    same = o <= same_story_max
    pearson = _correlation(s, -o, spearman=False)
    spearman = _correlation(s, -o, spearman=True)
    # ROC-AUC needs both classes.
    auc = float(roc_auc_score(same, s)) if 0 < same.sum() < n else None
    threshold = precision = recall = f1 = None
    if same.any():
        p, r, t = precision_recall_curve(same, s)
        # The last point (precision 1, recall 0) has no threshold.
        p, r = p[:-1], r[:-1]
        scores = _f1(p, r)
        # Thresholds rise along the curve: of equal F1, take the last, the higher threshold.
        best = int(np.flatnonzero(scores >= scores.max() - 1e-12)[-1])
        threshold, precision, recall, f1 = (
            float(t[best]),
            float(p[best]),
            float(r[best]),
            float(scores[best]),
        )
    return PairScores(n, pearson, spearman, auc, threshold, precision, recall, f1)


def _precision_recall(tp: float, predicted: float, gold: float) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / gold if gold else 1.0
    return precision, recall, float(_f1(precision, recall))


def sweep_pairs(
    sims: Array,
    overall: Array,
    thresholds: Sequence[float],
    same_story_max: float = SAME_STORY_MAX,
) -> list[dict[str, float]]:
    """Precision, recall and F1 of "same story" when ``sim >= threshold``, per threshold."""
    s, o = _check_scored(sims, overall)
    same = o <= same_story_max
    rows = []
    for threshold in thresholds:
        predicted = s >= threshold
        tp = float((predicted & same).sum())
        precision, recall, f1 = _precision_recall(tp, float(predicted.sum()), float(same.sum()))
        rows.append(
            {"threshold": float(threshold), "precision": precision, "recall": recall, "f1": f1}
        )
    return rows


def rounded(value: Any) -> Any:
    """``value`` with every float in it rounded to :data:`DIGITS` places (dicts, lists)."""
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# Stories
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterScores:
    """How a clustering matches gold stories. ``cross_language_recall`` is ``None`` when no
    gold story has articles in two languages."""

    n: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    ari: float
    ami: float
    cross_language_recall: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _pairs_among(counts: Iterable[int]) -> int:
    return sum(c * (c - 1) // 2 for c in counts)


def _cross_language_pairs(groups: Iterable[Mapping[str, int]]) -> int:
    """Pairs of different known languages inside each group (language -> count)."""
    total = 0
    for by_lang in groups:
        total += _pairs_among([sum(by_lang.values())]) - _pairs_among(by_lang.values())
    return total


def score_clusters(
    gold: Mapping[str, str], predicted: Mapping[str, str], langs: Mapping[str, str | None]
) -> ClusterScores:
    """Score ``predicted`` (article id -> story) against ``gold`` over the ids in both."""
    ids = sorted(set(gold) & set(predicted))
    dropped_gold = len(gold) - len(ids)
    dropped_pred = len(predicted) - len(ids)
    if dropped_gold or dropped_pred:
        log.warning(
            "scored %d articles: %d labelled ids are not among the clustered articles, "
            "%d clustered articles have no label",
            len(ids),
            dropped_gold,
            dropped_pred,
        )
    if not ids:
        example = next(iter(gold), "")
        raise InputError(
            f"none of the {len(gold)} labelled ids is among the clustered articles "
            f"(a label id: {example!r}; ids of articles: {', '.join(sorted(predicted)[:3])})"
        )
    g = [gold[i] for i in ids]
    p = [predicted[i] for i in ids]
    n = len(ids)

    # Pairwise counts from the contingency table, not from the n^2 pairs: sklearn counts
    # ordered pairs, so each unordered pair twice.
    (_, fp), (fn, tp) = pair_confusion_matrix(g, p)
    pw_p, pw_r, pw_f1 = _precision_recall(float(tp), float(tp + fp), float(tp + fn))

    # B-cubed: each item's precision is the share of its predicted story in its gold story,
    # its recall the share of its gold story in its predicted story; averaged over items.
    table = contingency_matrix(g, p, sparse=True).tocoo()
    gold_sizes = np.bincount(table.row, weights=table.data)
    pred_sizes = np.bincount(table.col, weights=table.data)
    cells = table.data.astype(np.float64)
    b3_p = float((cells**2 / pred_sizes[table.col]).sum() / n)
    b3_r = float((cells**2 / gold_sizes[table.row]).sum() / n)
    b3_f1 = float(_f1(b3_p, b3_r))

    by_gold: dict[str, Counter[str]] = {}
    by_cell: dict[tuple[str, str], Counter[str]] = {}
    for i, gs, ps in zip(ids, g, p, strict=True):
        lang = langs.get(i)
        if lang:
            by_gold.setdefault(gs, Counter())[lang] += 1
            by_cell.setdefault((gs, ps), Counter())[lang] += 1
    cross_gold = _cross_language_pairs(by_gold.values())
    cross_found = _cross_language_pairs(by_cell.values())
    cross = cross_found / cross_gold if cross_gold else None

    return ClusterScores(
        n=n,
        pairwise_precision=pw_p,
        pairwise_recall=pw_r,
        pairwise_f1=pw_f1,
        bcubed_precision=b3_p,
        bcubed_recall=b3_r,
        bcubed_f1=b3_f1,
        ari=float(adjusted_rand_score(g, p)),
        ami=float(adjusted_mutual_info_score(g, p)),
        cross_language_recall=cross,
    )


__all__ = [
    "DIGITS",
    "SAME_STORY_MAX",
    "ClusterScores",
    "PairScores",
    "rounded",
    "score_clusters",
    "score_pairs",
    "sweep_pairs",
]
