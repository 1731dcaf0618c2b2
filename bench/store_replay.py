"""The story store against one batch run: agreement of the stories, and the cost of a day.

The corpus: the article texts of the SemEval-2022 dev pairs, with known stories (the
connected groups of pairs rated 1.5 or closer: "very similar"; every other text a story of
its own), dated over six weeks: each story starts on a day of its own and its articles come on
that day and the two after it. Two measurements, the lexical backend (no model), in-process:

1. **Replay.** The corpus fed day by day into an empty store (`dedup.add_to_store`, one run
   per day), against one batch run over the whole corpus with the same window
   (`--window-days`, the store's default 7): pairwise precision, recall and F1 of the store's
   partition against the batch's (and of both against the known stories).
2. **Cost of a day.** A store of N older articles (the corpus repeated with changed ids,
   each copy's text marked so it is no exact copy, dated weeks before: closed by the
   horizon), then the corpus' first 447 articles in the five days before the measured day
   (the open stories), then 1,000 new articles on one day: the seconds of that run, against
   a batch run over the same 1,000 plus the open stories' articles.

    .venv/bin/python bench/store_replay.py [--archive N] [--out FILE.json]
    .venv/bin/python bench/store_replay.py --replay-only --backend auto   # the default backend
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

from dev_stories import dev_stories

from dedup import Article, Settings, Store, add_to_store
from dedup.pipeline import cluster_articles, labels_for

START = dt.date(2024, 3, 1)
WEEKS = 6
SETTINGS = Settings(backend="lexical", cache=None)


def known_corpus() -> tuple[list[Article], dict[str, str]]:
    """The dev texts, each with a day, and their known stories (article id -> story)."""
    articles, story = [], {}
    for root, texts in dev_stories().items():
        first = int(hashlib.sha1(root.encode()).hexdigest(), 16) % (WEEKS * 7)
        for k, t in enumerate(texts):
            day = START + dt.timedelta(days=first + k % 3)
            articles.append(Article(t.id, t.title, t.body, lang=t.lang, published=day))
            story[t.id] = root
    return articles, story


def pair_set(labels: dict[str, str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = {}
    for a, s in labels.items():
        groups.setdefault(s, []).append(a)
    return {p for g in groups.values() for p in combinations(sorted(g), 2)}


def scores(found: dict[str, str], reference: dict[str, str]) -> dict[str, float]:
    f, r = pair_set(found), pair_set(reference)
    tp = len(f & r)
    precision = tp / len(f) if f else 1.0
    recall = tp / len(r) if r else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def by_day(articles: Iterable[Article]) -> list[list[Article]]:
    days: dict[dt.date, list[Article]] = {}
    for a in articles:
        assert a.published is not None
        days.setdefault(a.published, []).append(a)
    return [days[d] for d in sorted(days)]


def replay(
    articles: list[Article], known: dict[str, str], tmp: Path, backend: str = "lexical"
) -> dict[str, object]:
    settings = dataclasses.replace(SETTINGS, window_days=7, backend=backend)
    if backend != "lexical":
        settings = dataclasses.replace(settings, cache=Settings().cache)  # vectors once
    start = time.perf_counter()
    batch = labels_for(cluster_articles(articles, settings))
    batch_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with Store(tmp / "replay.db") as store:
        for day in by_day(articles):
            add_to_store(day, settings, store)
        stored = {m.article.id: s.id for s in store.stories() for m in s.members}
    return {
        "articles": len(articles),
        "days": len(by_day(articles)),
        "store_vs_batch": scores(stored, batch),
        "batch_vs_known": scores(batch, known),
        "store_vs_known": scores(stored, known),
        "batch_seconds": round(batch_seconds, 2),
        "replay_seconds": round(time.perf_counter() - start, 2),
    }


def archive(articles: list[Article], n: int) -> list[Article]:
    """``n`` older articles: the corpus again and again, ids and texts marked per copy, dated
    in the weeks before the corpus (so the horizon closes them)."""
    out = []
    for k in range(n):
        a = articles[k % len(articles)]
        copy = k // len(articles)
        day = START - dt.timedelta(days=30 + (k * 97) % 360)
        out.append(
            dataclasses.replace(
                a, id=f"old{copy}-{a.id}", text=f"{a.text} (archive {copy})", published=day
            )
        )
    return out


def cost(articles: list[Article], n: int, tmp: Path) -> dict[str, object]:
    settings = dataclasses.replace(SETTINGS, window_days=7)
    new = sorted(articles, key=lambda a: (a.published, a.id))
    # A day of 1,000: the corpus' last 1,000 articles, moved to its last day; the rest came
    # in the days before it, inside the window: the open part of the store.
    last = START + dt.timedelta(days=WEEKS * 7)
    day = [dataclasses.replace(a, published=last) for a in new[-1000:]]
    open_part = [
        dataclasses.replace(a, published=last - dt.timedelta(days=1 + k % 5))
        for k, a in enumerate(new[:-1000])
    ]
    with Store(tmp / "cost.db") as store:
        start = time.perf_counter()
        add_to_store(archive(articles, n), settings, store)
        build = time.perf_counter() - start
        for batch in by_day(open_part):  # the open stories, each day as it came
            add_to_store(batch, settings, store)
        start = time.perf_counter()
        add_to_store(day, settings, store)
        stored = time.perf_counter() - start
        (opened,) = store.connection.execute(
            "SELECT count(*) FROM articles a JOIN stories s ON s.id = a.story"
            " WHERE s.merged_into IS NULL AND s.last_day >= ?",
            (last.toordinal() - 7,),
        ).fetchone()
        total = store.connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    start = time.perf_counter()
    cluster_articles([*day, *open_part], settings)
    batch = time.perf_counter() - start
    return {
        "archive": n,
        "store_articles": total,
        "open_articles_after": opened,
        "open_articles_before": len(open_part),
        "new": len(day),
        "build_archive_seconds": round(build, 2),
        "store_run_seconds": round(stored, 2),
        "batch_seconds": round(batch, 2),
        "ratio": round(stored / batch, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=int, default=20_000, help="older articles (N)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--backend", default="lexical", help="the replay's backend (the cost stays lexical)"
    )
    parser.add_argument("--replay-only", action="store_true", help="skip the cost of a day")
    args = parser.parse_args()
    articles, known = known_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}",
            "replay": replay(articles, known, Path(tmp), args.backend),
        }
        if not args.replay_only:
            result["cost"] = cost(articles, args.archive, Path(tmp))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
