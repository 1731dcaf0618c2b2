"""The dev pairs' articles as one labelled corpus: every distinct text once, a story being the
texts joined by pairs graded "same story" (overall <= 1.5, bench/dev_stories.py). Texts that
no such pair joins are stories of their own, though they may tell one story with a text they
were never paired with: precision measured on it is a lower bound.

It asks whether a default that groups more (short items, many scripts) merges articles it
should not (docs/evaluation.md, "One scale"). Written where you say, never into the
repository (the texts are the outlets'). Run:

    .venv/bin/python bench/dev_corpus.py /tmp/dev_corpus
    .venv/bin/dedup evaluate clusters /tmp/dev_corpus/articles.jsonl \\
        --labels /tmp/dev_corpus/labels.csv
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from dev_stories import PAIRS, dev_stories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write articles.jsonl and labels.csv")
    parser.add_argument("--pairs", type=Path, default=PAIRS, help="the dev pairs file")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stories = dev_stories(args.pairs)
    with (
        (args.out / "articles.jsonl").open("w", encoding="utf-8") as articles,
        (args.out / "labels.csv").open("w", encoding="utf-8", newline="") as labels,
    ):
        table = csv.writer(labels)
        table.writerow(["id", "story"])
        for story, texts in stories.items():
            for t in texts:
                # A text without a headline break is all body (as `evaluate pairs` reads it).
                title, body = (t.title, t.body) if t.body else ("", t.title)
                row = {"id": t.id, "title": title, "text": body, "lang": t.lang}
                articles.write(json.dumps(row, ensure_ascii=False) + "\n")
                table.writerow([t.id, story])
    print(f"wrote {sum(len(t) for t in stories.values())} articles in {len(stories)} stories")


if __name__ == "__main__":
    main()
