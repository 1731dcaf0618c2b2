"""Measure dedup against labelled data: graded article pairs, or articles labelled by story.

Pairs (SemEval-2022 Task 8 style): each pair has an ``overall`` grade, 1 (same story) to 4
(unrelated). The task's official figure is the Pearson correlation of the similarity with
``-overall``; a pair is "same story" when ``overall <= 1.5``, which gives ROC-AUC and the
threshold with the best F1. Both articles of every pair go through the very stages of
``dedup cluster`` (clean, represent), so the corpus-level statistics are those of the file.

Stories: a corpus whose articles carry a gold story label is clustered as ``dedup cluster``
would cluster it and scored with pairwise precision/recall/F1 (Miranda et al. 2018), B-cubed
(Bagga and Baldwin 1998; Amigo et al. 2009), ARI, AMI and the recall of cross-language pairs.

Conventions: precision over no predicted pair, and recall over no gold pair, are 1.0 (nothing
claimed, nothing missed); F1 is 0.0 when precision and recall are both 0.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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

from dedup.clean import clean_corpus
from dedup.config import Settings
from dedup.errors import DedupError, InputError, OutputError
from dedup.group import group
from dedup.link import Links, resolve_method
from dedup.models import Article, Report
from dedup.pipeline import (
    Prepared,
    labels_for,
    link,
    read_and_prepare,
    report_from,
)
from dedup.represent import represent
from dedup.represent.encoder import Encoder
from dedup.represent.similarity import Representations

log = logging.getLogger(__name__)

Array = np.ndarray

# A pair is "same story" when its mean grade is at most this (the README of the eval data).
SAME_STORY_MAX = 1.5
DIGITS = 4
# A headline is split off a text that has none only when it ends this early (as the corpus
# reader does for a first line).
HEADLINE_MAX_CHARS = 200
PAIR_KEYS = ("n", "pearson", "spearman", "auc", "threshold", "precision", "recall", "f1")
PAIR_REQUIRED = (("pair_id", "id"), ("text1",), ("text2",), ("overall",))
LABEL_REQUIRED = (("id",), ("story",))
PLOT_FORMATS = {".png": "png", ".svg": "svg"}


# --------------------------------------------------------------------------------------
# Pairs: loading
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two articles and their graded similarity: ``overall`` 1 same story ... 4 unrelated."""

    id: str
    text1: str
    text2: str
    lang1: str | None
    lang2: str | None
    overall: float
    title1: str = ""
    title2: str = ""


def _allow_long_csv_fields() -> None:
    # Article bodies easily pass csv's default limit of 131,072 characters per field.
    with contextlib.suppress(OverflowError):
        csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def _missing(present: Iterable[str], required: Sequence[tuple[str, ...]]) -> list[str]:
    """The required keys absent from ``present``; each requirement lists accepted spellings."""
    have = set(present)
    return [names[0] for names in required if not have.intersection(names)]


def _read_records(
    path: Path, what: str, required: Sequence[tuple[str, ...]]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(where, record)`` for every record of a CSV or JSONL file; ``where`` is ``path:line``.

    ``required`` keys must be CSV columns, or keys of every JSON record.
    """
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            if path.suffix.lower() == ".csv":
                _allow_long_csv_fields()
                reader = csv.DictReader(fh)
                try:
                    missing = _missing(reader.fieldnames or (), required)
                    if missing:
                        raise InputError(f"{path}: missing column {', '.join(missing)}")
                    for row in reader:
                        yield f"{path}:{reader.line_num}", row
                except csv.Error as exc:
                    raise InputError(f"{path}:{reader.line_num}: bad CSV: {exc}") from exc
                return
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: not valid JSON: {exc.msg}") from exc
                if not isinstance(record, dict):
                    raise InputError(f"{where}: expected a JSON object")
                missing = _missing(record, required)
                if missing:
                    raise InputError(f"{where}: missing {', '.join(missing)}")
                yield where, record
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _lang(value: Any) -> str | None:
    text = _text(value).strip()
    return text or None


def load_pairs(path: Path) -> list[Pair]:
    """Graded pairs from JSONL or CSV with ``pair_id`` (or ``id``), ``text1``, ``text2``,
    ``overall`` and optionally ``lang1``, ``lang2``, ``title1``, ``title2``."""
    path = Path(path)
    pairs: list[Pair] = []
    seen: set[str] = set()
    for where, record in _read_records(path, "pairs", PAIR_REQUIRED):
        pair_id = _text(record.get("pair_id", record.get("id"))).strip()
        if not pair_id:
            raise InputError(f"{where}: empty pair_id")
        if pair_id in seen:
            raise InputError(f"{where}: pair_id {pair_id!r} appears twice")
        seen.add(pair_id)
        try:
            overall = float(record["overall"])
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: overall must be a number, got {record['overall']!r}"
            ) from None
        if not math.isfinite(overall):
            raise InputError(f"{where}: overall must be a finite number")
        pairs.append(
            Pair(
                id=pair_id,
                text1=_text(record["text1"]),
                text2=_text(record["text2"]),
                lang1=_lang(record.get("lang1")),
                lang2=_lang(record.get("lang2")),
                overall=overall,
                title1=_text(record.get("title1")).strip(),
                title2=_text(record.get("title2")).strip(),
            )
        )
    if not pairs:
        raise InputError(f"no pairs in {path}")
    return pairs


# --------------------------------------------------------------------------------------
# Pairs: similarities and scores
# --------------------------------------------------------------------------------------


def _headline(title: str, text: str) -> tuple[str, str]:
    """Title and body. Pair texts often start with the headline, ended by a line break or two
    spaces; split it off so it weighs as a title does in ``dedup cluster``."""
    if title:
        return title, text
    stripped = text.strip()
    cuts = [k for k in (stripped.find("\n"), stripped.find("  ")) if 0 < k <= HEADLINE_MAX_CHARS]
    if not cuts:
        return "", stripped
    cut = min(cuts)
    return stripped[:cut].strip(), stripped[cut:].strip()


@dataclass(frozen=True)
class PairRepresentations:
    """The representations of a pairs file's articles, and which rows each pair joins."""

    reps: Representations
    i: Array
    j: Array
    usable: Array  # False where an article of the pair had no usable text
    model: str | None
    warnings: tuple[str, ...]

    def similarities(self, backend: str | None = None) -> Array:
        """Similarity per pair (NaN where unusable), by ``backend`` (default: the one that ran).

        Another backend needs what it combines: ``dense`` and ``lexical`` are both available
        from a ``hybrid`` run, so one embedding pass scores all three.
        """
        reps = self.reps if backend is None else dataclasses.replace(self.reps, backend=backend)
        sims = np.full(len(self.usable), np.nan, dtype=np.float64)
        if self.usable.any():
            sims[self.usable] = reps.pairs(self.i, self.j)
        return sims


def represent_pairs(
    pairs: Sequence[Pair], settings: Settings, *, encoder: Encoder | None = None
) -> PairRepresentations:
    """Read the pairs' articles as ``dedup cluster`` would: clean, then represent."""
    # One article per distinct text: articles recur across pairs, and a repeat would count
    # twice in the corpus statistics (IDF) that `dedup cluster` would count once.
    articles: dict[tuple[str, str, str | None], Article] = {}
    ends: list[tuple[str, str]] = []
    for pair in pairs:
        ids = []
        for side, title, text, lang in (
            (1, pair.title1, pair.text1, pair.lang1),
            (2, pair.title2, pair.text2, pair.lang2),
        ):
            head, body = _headline(title, text)
            key = (head, body, lang)
            if key not in articles:
                articles[key] = Article(
                    id=f"{pair.id}:{side}",
                    title=head,
                    text=body,
                    lang=lang,
                    origin=f"pair {pair.id}",
                )
            ids.append(articles[key].id)
        ends.append((ids[0], ids[1]))
    cleaned = clean_corpus(list(articles.values()))
    if not cleaned:
        raise InputError("no pair has an article with usable text")
    row = {a.id: k for k, a in enumerate(cleaned)}
    represented = represent(cleaned, settings, encoder=encoder)
    reps, model, warnings = represented.reps, represented.model, list(represented.warnings)
    usable = np.array([a in row and b in row for a, b in ends], dtype=bool)
    i = np.array([row[a] for (a, _), ok in zip(ends, usable, strict=True) if ok], dtype=np.int64)
    j = np.array([row[b] for (_, b), ok in zip(ends, usable, strict=True) if ok], dtype=np.int64)
    lost = [pair.id for pair, ok in zip(pairs, usable, strict=True) if not ok]
    if lost:
        shown = ", ".join(lost[:5]) + (", ..." if len(lost) > 5 else "")
        warnings.append(
            f"{len(lost)} pairs left out: an article had no usable text after cleaning ({shown})"
        )
    return PairRepresentations(reps, i, j, usable, model, tuple(warnings))


def pair_similarities(
    pairs: Sequence[Pair], settings: Settings, *, encoder: Encoder | None = None
) -> tuple[Array, str, str | None, list[str]]:
    """The similarity of every pair, as ``dedup cluster`` would compute it.

    Returns ``(sims, backend, model, warnings)``: ``sims[k]`` for ``pairs[k]`` (NaN when one of
    its articles had no usable text), the backend that ran and its model name.
    """
    pr = represent_pairs(pairs, settings, encoder=encoder)
    return pr.similarities(), pr.reps.backend, pr.model, list(pr.warnings)


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


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def evaluate_pairs(
    pairs: Sequence[Pair], settings: Settings, *, encoder: Encoder | None = None
) -> dict[str, Any]:
    """Scores over all pairs and per language pair (``"de-en"`` as the file gives it)."""
    sims, backend, model, warnings = pair_similarities(pairs, settings, encoder=encoder)
    return score_pair_file(pairs, sims, backend, model, warnings)


def score_pair_file(
    pairs: Sequence[Pair], sims: Array, backend: str, model: str | None, warnings: Sequence[str]
) -> dict[str, Any]:
    """The result of :func:`evaluate_pairs` from similarities already computed."""
    overall = np.array([p.overall for p in pairs], dtype=np.float64)
    keys = np.array([f"{p.lang1 or 'und'}-{p.lang2 or 'und'}" for p in pairs])
    scored = np.isfinite(sims)
    if not scored.any():
        raise InputError("no pair could be scored: no article had usable text after cleaning")
    result: dict[str, Any] = score_pairs(sims[scored], overall[scored]).to_dict()
    result["by_language_pair"] = {
        key: score_pairs(sims[scored & (keys == key)], overall[scored & (keys == key)]).to_dict()
        for key in sorted(set(keys[scored].tolist()))
    }
    result.update(backend=backend, model=model, warnings=list(warnings))
    out: dict[str, Any] = _rounded(result)
    return out


# --------------------------------------------------------------------------------------
# Stories: scores
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


def load_labels(path: Path) -> dict[str, str]:
    """Gold stories, article id -> story: CSV (``id,story``), a JSON object (id -> story)
    or JSONL (``{"id": ..., "story": ...}`` a line)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".jsonl"):
        raise InputError(f"labels file must be .csv, .json or .jsonl: {path}")
    labels: dict[str, str] = {}

    def add(where: str, article: Any, story: Any) -> None:
        key, value = _text(article).strip(), _text(story).strip()
        if not key:
            raise InputError(f"{where}: empty id")
        if not value:  # an unlabelled article: not scored
            return
        if labels.get(key, value) != value:
            raise InputError(f"{where}: id {key!r} has two stories, {labels[key]!r} and {value!r}")
        labels[key] = value

    if suffix == ".json":
        if not path.is_file():
            raise InputError(f"labels file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a JSON object of id -> story ({exc})") from exc
        except OSError as exc:
            raise InputError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object of id -> story")
        for article, story in data.items():
            if isinstance(story, (dict, list)):
                raise InputError(f"{path}: the story of {article!r} must be a string")
            add(str(path), article, story)
    else:
        for where, record in _read_records(path, "labels", LABEL_REQUIRED):
            add(where, record["id"], record["story"])
    if not labels:
        raise InputError(f"no labels in {path}")
    return labels


# --------------------------------------------------------------------------------------
# Stories: running the clustering
# --------------------------------------------------------------------------------------


def _gold_labels(articles: Iterable[Article], labels: Mapping[str, str] | None) -> dict[str, str]:
    if labels is not None:
        return dict(labels)
    # The reader keeps a record's extra fields in meta under their own spelling.
    found = {
        a.id: value.strip()
        for a in articles
        for key, value in a.meta.items()
        if key.lower() == "story" and value.strip()
    }
    if not found:
        raise InputError(
            "no gold stories: pass a labels file (columns id, story) or give the records "
            "a story field"
        )
    return found


def evaluate_clusters(
    inputs: Sequence[str],
    settings: Settings,
    *,
    labels: Mapping[str, str] | None,
    encoder: Encoder | None = None,
    prepared: Prepared | None = None,
) -> tuple[Report, dict[str, Any]]:
    """Cluster ``inputs`` exactly as ``dedup cluster`` does and score it against gold stories
    (``labels``, else the records' ``story`` field). ``prepared``: the corpus already read
    and represented (by :func:`dedup.pipeline.read_and_prepare`), to be grouped only."""
    settings = dataclasses.replace(settings, inputs=tuple(inputs))
    prepared = prepared or read_and_prepare(settings, encoder=encoder)
    report = report_from(prepared, settings)
    articles = [m.article for s in report.stories for m in s.members]
    gold = _gold_labels(articles, labels)
    predicted = labels_for(report)
    warnings = list(report.run.warnings)
    missing = len(set(gold) - set(predicted))
    if missing:
        warnings.append(f"{missing} labelled ids are not among the clustered articles")
    unlabelled = len(set(predicted) - set(gold))
    if unlabelled:
        warnings.append(f"{unlabelled} clustered articles have no gold story and are not scored")
    scores = score_clusters(gold, predicted, {a.id: a.lang for a in articles})
    result = scores.to_dict()
    result.update(
        backend=report.run.backend,
        model=report.run.model,
        threshold=report.run.threshold,
        stories=len(report.stories),
        warnings=warnings,
    )
    out: dict[str, Any] = _rounded(result)
    return report, out


def sweep_clusters(
    inputs: Sequence[str],
    settings: Settings,
    labels: Mapping[str, str] | None,
    thresholds: Sequence[float],
    *,
    encoder: Encoder | None = None,
    prepared: Prepared | None = None,
) -> list[dict[str, float]]:
    """Cluster scores per grouping threshold, from one pass of reading and embedding (or from
    ``prepared``, a corpus already read and represented)."""
    if not thresholds:
        raise InputError("no threshold to sweep")
    for t in thresholds:
        if not -1.0 <= t <= 1.0:
            raise InputError(f"threshold must be between -1 and 1, got {t}")
    if prepared is None:
        settings = dataclasses.replace(settings, inputs=tuple(inputs))
        prepared = read_and_prepare(settings, encoder=encoder)
    # What `dedup cluster` makes of the corpus (cleaning, order, representations, copies), and
    # its links at each threshold with the same options, so each row is what a run at that
    # threshold gives.
    cleaned = prepared.articles
    gold = _gold_labels(cleaned, labels)
    langs = {a.id: a.lang for a in cleaned}
    reps, calibration = prepared.represented.reps, prepared.represented.calibration
    notes = prepared.represented.warnings
    for note in notes:  # e.g. the model could not load: the thresholds are then lexical ones
        log.warning("%s", note)

    def floor_at(t: float) -> float:  # what `dedup cluster --threshold t` links down to
        at_t = dataclasses.replace(settings, threshold=t)
        return min(at_t.related_for(reps.backend, calibration.thresholds), t)

    # An exact search finds every pair above its floor: link once at the lowest floor and keep,
    # at each threshold, the pairs above its own. An approximate one depends on the threshold.
    exact = resolve_method(reps, settings.neighbours) == "exact"
    lowest = (
        link(prepared, settings, min(thresholds), min(floor_at(t) for t in thresholds))
        if exact
        else None
    )
    rows: list[dict[str, float]] = []
    for t in thresholds:
        if lowest is not None:
            keep = lowest.sim >= floor_at(t)
            links = Links(lowest.i[keep], lowest.j[keep], lowest.sim[keep])
        else:
            links = link(prepared, settings, t, floor_at(t))
        story = group(reps, links, t, prepared.copy_of)
        predicted = {a.id: str(int(k)) for a, k in zip(cleaned, story, strict=True)}
        scores = score_clusters(gold, predicted, langs)
        rows.append(
            {
                "threshold": float(t),
                "precision": scores.pairwise_precision,
                "recall": scores.pairwise_recall,
                "f1": scores.pairwise_f1,
                "bcubed_precision": scores.bcubed_precision,
                "bcubed_recall": scores.bcubed_recall,
                "bcubed_f1": scores.bcubed_f1,
                "ari": scores.ari,
                "ami": scores.ami,
                "stories": float(len(set(predicted.values()))),
            }
        )
    return rows


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{DIGITS}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _footer(result: Mapping[str, Any]) -> str:
    model = result.get("model")
    return f"backend: {result.get('backend')}" + (f", model: {model}" if model else "")


def render_pairs_table(result: Mapping[str, Any]) -> str:
    """The overall scores, then one row per language pair."""
    header = ["pair", "n", "pearson", "spearman", "auc", "threshold", "P", "R", "F1"]

    def row(name: str, scores: Mapping[str, Any]) -> list[Any]:
        return [name] + [scores.get(k) for k in PAIR_KEYS]

    rows = [row("all", result)]
    by_pair = result.get("by_language_pair", {})
    rows += [row(key, by_pair[key]) for key in sorted(by_pair)]
    return _table(header, rows) + "\n\n" + _footer(result)


def render_clusters_table(result: Mapping[str, Any]) -> str:
    """Pairwise and B-cubed precision/recall/F1, then ARI, AMI and cross-language recall."""
    prf = _table(
        ["", "precision", "recall", "F1"],
        [
            ["pairwise"] + [result.get(f"pairwise_{k}") for k in ("precision", "recall", "f1")],
            ["B-cubed"] + [result.get(f"bcubed_{k}") for k in ("precision", "recall", "f1")],
        ],
    )
    other = _table(
        ["", "value"],
        [
            ["ARI", result.get("ari")],
            ["AMI", result.get("ami")],
            ["cross-language recall", result.get("cross_language_recall")],
        ],
    )
    summary = (
        f"{result.get('n')} labelled articles, {result.get('stories')} stories found "
        f"at threshold {_cell(result.get('threshold'))}; {_footer(result)}"
    )
    return f"{prf}\n\n{other}\n\n{summary}"


def render_sweep_table(rows: Sequence[Mapping[str, float]]) -> str:
    """One line per threshold, a column per figure (those of the first row, in its order)."""
    if not rows:
        return ""
    header = list(rows[0])
    body = [
        [int(r[k]) if k == "stories" and r.get(k) is not None else r.get(k) for k in header]
        for r in rows
    ]
    return _table(header, body)


def plot_sweep(rows: Sequence[Mapping[str, float]], path: Path, *, title: str) -> None:
    """Precision, recall and F1 against the threshold, as PNG or SVG (by ``path``'s suffix)."""
    path = Path(path)
    fmt = PLOT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"plot must be .png or .svg, got {path.name}")
    if not rows:
        raise InputError("nothing to plot: the sweep has no rows")
    try:
        # Figure without pyplot: no global backend state, Agg renders the PNG.
        from matplotlib.figure import Figure
    except ImportError:
        raise DedupError("--plot needs matplotlib: pip install 'dedup[plot]'") from None
    ordered = sorted(rows, key=lambda r: r["threshold"])
    x = [r["threshold"] for r in ordered]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for key, label in (("precision", "precision"), ("recall", "recall"), ("f1", "F1")):
        ax.plot(x, [r[key] for r in ordered], marker="o", markersize=3, label=label)
    ax.set(xlabel="threshold", ylabel="score", title=title, ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    # SVG carries a date by default; leave it out so the same sweep writes the same file.
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
    tmp_name = ""
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as fh:
            tmp_name = fh.name
            fig.savefig(fh, format=fmt, metadata=metadata)
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise OutputError(f"cannot write plot {path}: {exc.strerror or exc}") from exc
    log.info("wrote %s", path)


__all__ = [
    "ClusterScores",
    "Pair",
    "PairScores",
    "evaluate_clusters",
    "evaluate_pairs",
    "load_labels",
    "load_pairs",
    "pair_similarities",
    "plot_sweep",
    "render_clusters_table",
    "render_pairs_table",
    "render_sweep_table",
    "score_clusters",
    "score_pairs",
    "sweep_clusters",
    "sweep_pairs",
]
