"""SemHash (https://github.com/MinishLab/semhash) over a JSON-lines news corpus with a static
model, the baseline bench/million.py --semhash runs beside dedup: every article's title and
text embedded with the model (model2vec), then deduplicated at SemHash's default threshold.

    .venv/bin/python bench/semhash_run.py CORPUS.jsonl MODEL_DIR

Prints how many articles SemHash kept and how many it found duplicates of another; stage
lines in dedup's ``-v`` format (``INFO dedup.progress: NAME: ... in S s``) so bench/million.py
reads their seconds the same way.
"""

from __future__ import annotations

import json
import sys
import time

from model2vec import StaticModel
from semhash import SemHash


def stage(name: str, start: float) -> float:
    now = time.perf_counter()
    print(f"INFO dedup.progress: {name}: done in {now - start:.1f} s", file=sys.stderr)
    return now


def main() -> None:
    corpus, model_dir = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    with open(corpus, encoding="utf-8") as lines:
        texts = [
            f"{record.get('title') or ''}\n{record.get('text') or ''}"
            for record in map(json.loads, lines)
        ]
    start = stage("read", start)
    model = StaticModel.from_pretrained(model_dir)
    start = stage("load model", start)
    semhash = SemHash.from_records(records=texts, model=model)
    start = stage("embed and index", start)
    result = semhash.self_deduplicate()
    stage("deduplicate", start)
    print(
        f"{len(result.selected):,} kept, {len(result.filtered):,} duplicates of another",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
