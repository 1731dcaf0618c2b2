"""A static model's embedding on every core against one process, on the same cleaned articles
in one process: `embed_cached` without a cache, its slices spread over a forked process per
core (`represent/cache.py`, `spread_over`) or all embedded here, and whether both give the same
vectors. The spread runs first, with this process' word store empty (cold: each worker asks
the tokenizer for the words of its slices), then one process (cold too: the workers' words
went with them), then both again with this process' store warm from the second run.

    .venv/bin/python bench/static_spread.py CORPUS --model STATIC_DIR [--articles N]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("corpus")
    parser.add_argument("--model", required=True)
    parser.add_argument("--articles", type=int, default=None, help="the first N (default all)")
    args = parser.parse_args()

    from dedup.config import Settings
    from dedup.pipeline import read_stage
    from dedup.prepare import clean_stage
    from dedup.progress import Stages
    from dedup.represent import cache
    from dedup.represent.transformer import load_encoder

    settings = Settings(backend="hybrid", window_days=7, max_bytes=1 << 40)
    stages = Stages(None)
    read, skipped, _ = read_stage([args.corpus], settings, None, stages)
    read = read[: args.articles]
    each, _, _, _ = clean_stage(read, settings, skipped, stages, owned=True)
    articles = each.articles  # as a run holds them: columns
    encoder = load_encoder(args.model, device="cpu")
    spread_min = cache.SPREAD_MIN_SLICES
    figures, vectors = {}, {}
    for store, order in (("cold", ("spread", "one process")), ("warm", ("one process", "spread"))):
        for how in order:
            cache.SPREAD_MIN_SLICES = spread_min if how == "spread" else 1 << 62
            start = time.perf_counter()
            vectors[how] = cache.embed_cached(encoder, articles, None).vectors
            figures[f"{how}, {store}"] = round(time.perf_counter() - start, 2)
    workers = cache.spread_over(encoder, -(-len(articles) // cache.SLICE))
    print(json.dumps({
        "articles": len(articles),
        "processes_spread_over": workers,
        "seconds": figures,
        "same_vectors": bool(np.array_equal(vectors["spread"], vectors["one process"])),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
