"""How far two runs' stories agree: pairwise precision, recall and F1 of the second run's
stories against the first's (same-story pairs of articles), over the articles both hold.

Issue 24 asks that a change which keeps the algorithm keep the stories (F1 >= 0.99 between the
code before and after it); bench/million.py --before writes both runs' reports side by side.

    .venv/bin/python bench/same_stories.py BEFORE/report.json AFTER/report.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from dedup.evaluate.scores import score_clusters


def stories(path: Path) -> dict[str, str]:
    """Article id -> story id, from a run's report.json (every story, every member)."""
    with path.open(encoding="utf-8") as file:
        report = json.load(file)
    return {m["id"]: story["id"] for story in report["stories"] for m in story["members"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path, help="report.json of the reference run")
    parser.add_argument("second", type=Path, help="report.json of the run compared with it")
    args = parser.parse_args()
    first, second = stories(args.first), stories(args.second)
    scores = score_clusters(first, second, dict.fromkeys(first))
    multi = lambda s: sum(1 for n in Counter(s.values()).values() if n > 1)  # noqa: E731
    print(
        json.dumps(
            {
                "articles": len(set(first) & set(second)),
                "stories": [len(set(first.values())), len(set(second.values()))],
                "stories_of_two_or_more": [multi(first), multi(second)],
                "pairwise_precision": round(scores.pairwise_precision, 4),
                "pairwise_recall": round(scores.pairwise_recall, 4),
                "pairwise_f1": round(scores.pairwise_f1, 4),
                "ari": round(scores.ari, 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
