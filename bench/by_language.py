"""Pairwise precision and recall of a labelled corpus per language pair, at the default
settings (or the options given): which languages a run groups across, and which it misses.

    .venv/bin/python bench/by_language.py ../shared/eval/itn_dev/itn.jsonl \\
        --labels ../shared/eval/itn_dev/labels.csv [--top 15] [--threshold T]

A pair of articles counts for the pair of their languages (sorted: ``en-ru``); only language
pairs with at least ``--min-pairs`` same-story pairs in the labels are listed, most first.
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from pathlib import Path

from dedup import evaluate
from dedup.config import Settings
from dedup.pipeline import labels_for, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="the labelled corpus (a file or folder)")
    parser.add_argument("--labels", type=Path, required=True, help="id,story CSV (or JSON)")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--min-pairs", type=int, default=50)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    gold = evaluate.load_labels(args.labels)
    report = run([args.corpus], Settings(threshold=args.threshold))
    found = labels_for(report)
    lang = {m.article.id: m.article.lang or "und" for s in report.stories for m in s.members}
    ids = sorted(i for i in found if i in gold)
    truth, hits, said = Counter(), Counter(), Counter()
    for a, b in itertools.combinations(ids, 2):
        key = "-".join(sorted((lang[a], lang[b])))
        same, grouped = gold[a] == gold[b], found[a] == found[b]
        truth[key] += same
        said[key] += grouped
        hits[key] += same and grouped
    print(f"threshold {report.run.threshold:.2f}, {len(ids)} labelled articles")
    print(f"{'pair':8} {'gold':>6} {'recall':>7} {'precision':>9}")
    for key, n in truth.most_common(args.top):
        if n < args.min_pairs:
            break
        precision = hits[key] / said[key] if said[key] else float("nan")
        print(f"{key:8} {n:6d} {hits[key] / n:7.3f} {precision:9.3f}")


if __name__ == "__main__":
    main()
