"""A news corpus of any size with known stories and dates, assembled from the dev texts.

For the benchmarks at scale (bench/million.py): anyone can rebuild the same corpus from the
dev pairs with the same seed. Each story has:

* a base: one of the dev pairs' known stories (its texts, often in several languages);
* a day in the corpus' span, its articles on that day and the two after;
* its own matter: in each language, sentences of another dev text of that language (fixed
  per story and language), and a made-up name in its title, so that two stories with the same
  base are not the same story.

An article of the story takes one text of the base (in turn, so a story with texts in
several languages is told in several), keeps most of its sentences in order, interleaves
about a third from the story's own matter, and stops near ``--chars`` characters. Story sizes
follow a long tail, as in a feed: about 61% of the stories are a single article, a few run
to dozens. Outlets and web addresses are made up; ids are ``a0000001`` on.

    .venv/bin/python bench/news_corpus.py --articles 1000000 --out big.jsonl --labels big.csv

The labels (``id,story``) are what `dedup evaluate clusters --labels` reads. What the
labels call two stories may share a base text: within a few days of each other the stories
overlap by more than half their text, so scores against these labels are a lower bound.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from dev_stories import DevText, dev_stories

START = dt.date(2025, 1, 1)
SENTENCE_END = re.compile(r"(?<=[.!?؟。])\s+")
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "sa",
    "tu",
    "vek",
    "dor",
    "ina",
    "ul",
    "bra",
    "zen",
    "fo",
    "hal",
    "ti",
    "mor",
]


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in SENTENCE_END.split(text)) if s]


def name(number: int) -> str:
    """A made-up proper name, different for every number."""
    parts = []
    while True:
        number, rest = divmod(number, len(SYLLABLES))
        parts.append(SYLLABLES[rest])
        if number == 0:
            break
    return "".join(parts).capitalize() + "ov"


def story_size(rng: np.random.Generator) -> int:
    """A long tail, as in a feed: P(k) falls as 1/k^2 (Zipf), at most 60; about 61% of the
    stories are one article, the mean is about 2.8."""
    return int(min(60, rng.zipf(2.0)))


def article(
    base: DevText, matter: list[str], tag: str, chars: int, rng: np.random.Generator
) -> tuple[str, str]:
    """One article: ``base``'s title with the story's name, and a body of about ``chars``."""
    own = sentences(base.body) or sentences(base.title)
    body: list[str] = []
    size, i, j = 0, 0, 0
    while size < chars and (i < len(own) or j < len(matter)):
        take_own = i < len(own) and (j >= len(matter) or rng.random() < 0.67)
        if take_own:
            s, i = own[i], i + 1
            if rng.random() < 0.15:  # an outlet leaves out a sentence now and then
                continue
        else:
            s, j = matter[j], j + 1
        if not body:
            s = f"{tag}: {s}"
        body.append(s)
        size += len(s) + 1
    title = (base.title if base.body else own[0])[:200]
    return f"{title} ({tag})", " ".join(body)


def generate(
    n: int, chars: int, per_day: int, seed: int
) -> Iterator[tuple[dict[str, object], str]]:
    """``n`` records (JSON-ready) with their story names."""
    rng = np.random.default_rng(seed)
    bases = list(dev_stories().values())
    by_lang: dict[str, list[DevText]] = {}
    for texts in bases:
        for t in texts:
            by_lang.setdefault(t.lang, []).append(t)
    days = max(1, -(-n // per_day))
    made, story = 0, 0
    while made < n:
        story += 1
        tag = name(story)
        base = bases[int(rng.integers(len(bases)))]
        first = START + dt.timedelta(days=int(rng.integers(days)))
        matter: dict[str, list[str]] = {}
        for k in range(min(story_size(rng), n - made)):
            text = base[k % len(base)]
            if text.lang not in matter:
                pool = by_lang[text.lang]
                other = pool[int(rng.integers(len(pool)))]
                matter[text.lang] = sentences(f"{other.title}. {other.body}")
            title, body = article(text, matter[text.lang], tag, chars, rng)
            made += 1
            outlet = f"outlet{int(rng.integers(400)):03d}"
            record = {
                "id": f"a{made:07d}",
                "title": title,
                "text": body,
                "lang": text.lang,
                "published": (first + dt.timedelta(days=k % 3)).isoformat(),
                "source": f"{outlet}.example",
                "url": f"https://{outlet}.example/news/a{made:07d}",
            }
            yield record, f"s{story:07d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=1_000_000, help="how many (N)")
    parser.add_argument("--out", type=Path, required=True, help="the corpus, JSON lines")
    parser.add_argument("--labels", type=Path, help="the known stories, CSV id,story")
    parser.add_argument("--chars", type=int, default=1000, help="body length aimed at")
    parser.add_argument("--per-day", type=int, default=30_000, help="articles a day")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    total = 0
    with args.out.open("w", encoding="utf-8") as out:
        labels = args.labels.open("w", encoding="utf-8", newline="") if args.labels else None
        writer = csv.writer(labels) if labels else None
        if writer:
            writer.writerow(["id", "story"])
        for record, story in generate(args.articles, args.chars, args.per_day, args.seed):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            total += len(str(record["text"]))
            if writer:
                writer.writerow([record["id"], story])
        if labels:
            labels.close()
    print(
        f"{args.articles:,} articles, {total / max(1, args.articles):,.0f} characters of text "
        f"each on average, in {time.perf_counter() - start:.1f} s: {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
