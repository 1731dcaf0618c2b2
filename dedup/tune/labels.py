"""Labelled data as `dedup tune` reads it: every shape it takes, to pairs of articles and a
similarity in [0, 1].

* **graded pairs**: the SemEval shape, ``overall`` from 1 (same story) to 4 (unrelated), with
  the two texts (``text1``, ``text2``; as ``dedup evaluate pairs`` reads them) or the ids of
  two articles of a corpus (``id1``, ``id2``);
* **binary pairs**: ``same_story`` (true/false, 1/0, yes/no) with two texts or two ids;
* **a labelled corpus**: ``id,story`` (as ``dedup evaluate clusters --labels`` reads it) beside
  its articles (``--corpus``): positive pairs within each story, and hard negatives, each
  article's nearest articles of other stories by the model being tuned;
* **judgements** from report.html (``--judgements``): an article marked as not of its story is
  a negative pair with each of the story's other members; two stories marked as one give
  positive pairs across them. Their texts come from the corpus or the story store they were
  made from, by id.

Every file is read whole and checked before anything is trained: an unreadable file, an id no
corpus holds, too few pairs or pairs all on one side are one-line errors.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dedup.errors import InputError
from dedup.evaluate.data import Pair, load_labels, load_pairs, read_records
from dedup.models import Article
from dedup.tune.examples import GRADES, from_pairs, grade_score
from dedup.tune.train import Example

#: Fewer labelled pairs than this cannot tune and calibrate a model.
MIN_PAIRS = 8
#: At most this many pairs from one story (or one judgement): a big story must not be most
#: of what the model learns.
PER_STORY = 20
#: Hard negatives mined per article of a labelled corpus.
NEGATIVES = 2
SEED = 0
#: Rows of the similarity matrix made at once while mining negatives.
BLOCK = 1024

_TRUE = {"1", "true", "yes", "same", "y"}
_FALSE = {"0", "false", "no", "different", "n"}


@dataclass(frozen=True)
class ById:
    """A labelled pair of two articles named by id; their texts come from a corpus."""

    id1: str
    id2: str
    score: float
    where: str


@dataclass
class Labels:
    """What the labels files gave: pairs with texts, pairs by id, labelled stories."""

    texts: list[Example]
    by_id: list[ById]
    stories: dict[str, str]  # article id -> story, from labelled corpora

    @property
    def needs_corpus(self) -> bool:
        return bool(self.by_id or self.stories)


def read_labels(paths: Sequence[Path], judgements: Sequence[Path] = ()) -> Labels:
    """Read every labels file by its shape (see the module), and the judgements files."""
    out = Labels([], [], {})
    for path in paths:
        _read_one(Path(path), out)
    for path in judgements:
        out.by_id.extend(read_judgements(Path(path)))
    return out


def _read_one(path: Path, out: Labels) -> None:
    first = next(iter(read_records(path, "labels", ())), None)
    if first is None:
        raise InputError(f"no labels in {path}")
    keys = set(first[1])
    if "verdict" in keys:
        out.by_id.extend(read_judgements(path))
    elif "overall" in keys and {"text1", "text2"} <= keys:
        pairs = load_pairs(path)
        for pair in pairs:
            if not GRADES[0] <= pair.overall <= GRADES[1]:
                raise InputError(
                    f"{path}: pair {pair.id}: overall must be a number from 1 to 4, "
                    f"got {pair.overall:g}"
                )
        out.texts.extend(from_pairs(pairs))
    elif "overall" in keys or "same_story" in keys:
        texts: list[Pair] = []
        for where, record in read_records(path, "labels", ()):
            score = _score(where, record)
            if "id1" in record and "id2" in record:
                out.by_id.append(ById(str(record["id1"]), str(record["id2"]), score, where))
            elif "text1" in record and "text2" in record:
                texts.append(
                    Pair(
                        where, str(record["text1"]), str(record["text2"]), None, None, 4 - 3 * score
                    )
                )
            else:
                raise InputError(f"{where}: a labelled pair needs text1 and text2, or id1 and id2")
        if texts:
            out.texts.extend(from_pairs(texts))
    elif {"id", "story"} <= keys:
        for article, story in load_labels(path).items():
            if out.stories.get(article, story) != story:
                raise InputError(f"{path}: id {article!r} has two stories")
            out.stories[article] = story
    else:
        raise InputError(
            f"{path}: not labels dedup tune reads: give graded pairs (overall), binary pairs "
            "(same_story), a labelled corpus (id,story) or judgements (verdict)"
        )


def _score(where: str, record: Mapping[str, object]) -> float:
    if "overall" in record:
        try:
            overall = float(str(record["overall"]))
        except ValueError:
            raise InputError(f"{where}: overall must be a number from 1 to 4") from None
        if not 1.0 <= overall <= 4.0:
            raise InputError(f"{where}: overall must be a number from 1 to 4, got {overall:g}")
        return grade_score(overall)
    value = str(record["same_story"]).strip().lower()
    if value in _TRUE:
        return 1.0
    if value in _FALSE:
        return 0.0
    raise InputError(f"{where}: same_story must be true or false, got {record['same_story']!r}")


def read_judgements(path: Path) -> list[ById]:
    """The verdicts report.html downloads (JSON lines) as pairs by id."""
    rng = random.Random(SEED)
    out: list[ById] = []
    for where, record in read_records(path, "judgements", (("verdict",),)):
        verdict = record["verdict"]
        if verdict == "not_in_story":
            article, others = record.get("article"), record.get("with")
            if not isinstance(article, str) or not isinstance(others, list) or not _ids(others):
                raise InputError(f"{where}: not_in_story needs an article id and a with list")
            for other in _capped([(article, o) for o in others if o != article], rng):
                out.append(ById(other[0], other[1], 0.0, where))
        elif verdict == "same_story":
            sides = record.get("articles")
            if not (isinstance(sides, list) and len(sides) == 2 and all(map(_ids, sides))):
                raise InputError(f"{where}: same_story needs articles: two lists of ids")
            cross = [(a, b) for a in sides[0] for b in sides[1] if a != b]
            out.extend(ById(a, b, 1.0, where) for a, b in _capped(cross, rng))
        else:
            raise InputError(f"{where}: unknown verdict {verdict!r} (not_in_story or same_story)")
    return out


def _ids(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _capped(pairs: list[tuple[str, str]], rng: random.Random) -> list[tuple[str, str]]:
    return pairs if len(pairs) <= PER_STORY else rng.sample(pairs, PER_STORY)


def resolve(
    labels: Labels, articles: Mapping[str, Article], vectors: Mapping[str, np.ndarray]
) -> list[Example]:
    """Every labelled pair with its texts: ``articles`` (cleaned, by id) give those named by
    id; ``vectors`` (the model's, by id) find a labelled corpus's hard negatives."""
    out = list(labels.texts)
    missing = sorted({i for p in labels.by_id for i in (p.id1, p.id2) if i not in articles})
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(
            f"{len(missing)} labelled ids are in no corpus given (or had no usable text): {shown}"
        )
    out.extend(
        Example(articles[p.id1].full_text, articles[p.id2].full_text, p.score) for p in labels.by_id
    )
    if labels.stories:
        out.extend(_corpus_examples(labels.stories, articles, vectors))
    return out


def _corpus_examples(
    stories: Mapping[str, str], articles: Mapping[str, Article], vectors: Mapping[str, np.ndarray]
) -> Iterable[Example]:
    rng = random.Random(SEED)
    ids = sorted(i for i in stories if i in articles and i in vectors)
    if not ids:
        raise InputError("no article of the labelled corpus is in the corpus given")
    members: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        members[stories[i]].append(i)
    for story in sorted(members):
        within = [(a, b) for k, a in enumerate(members[story]) for b in members[story][k + 1 :]]
        for a, b in _capped(within, rng):
            yield Example(articles[a].full_text, articles[b].full_text, 1.0)
    matrix = np.stack([vectors[i] for i in ids])
    label = np.array([stories[i] for i in ids])
    seen: set[tuple[int, int]] = set()
    for start in range(0, len(ids), BLOCK):  # a block of rows at a time: never n x n at once
        sims = matrix[start : start + BLOCK] @ matrix.T
        sims[label[start : start + BLOCK, None] == label[None, :]] = -np.inf  # other stories
        nearest = np.argsort(-sims, axis=1)[:, :NEGATIVES]
        for offset, row in enumerate(range(start, start + len(sims))):
            for near in nearest[offset].tolist():
                key = (min(row, near), max(row, near))
                if np.isfinite(sims[offset, near]) and key not in seen:
                    seen.add(key)
                    yield Example(articles[ids[row]].full_text, articles[ids[near]].full_text, 0.0)


def check(examples: Sequence[Example]) -> None:
    """Refuse labels that cannot tune a model: too few, or all on one side."""
    if len(examples) < MIN_PAIRS:
        raise InputError(f"too few labelled pairs to tune: {len(examples)} (at least {MIN_PAIRS})")
    scores = {round(e.score, 6) for e in examples}
    if len(scores) < 2:
        side = "the same story" if scores.pop() >= 0.5 else "different stories"
        raise InputError(f"every labelled pair is {side}: give pairs of both kinds to tune on")


__all__ = ["ById", "Labels", "check", "read_judgements", "read_labels", "resolve"]
