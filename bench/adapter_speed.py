"""The news adapter beside the bundled model it was tuned from: texts encoded per second.

The adapter is merged into its base when it loads (dedup.represent.tuned), so the model that
runs has the base's shape: the goal (issue 25) is encoding speed within 5% of the untuned
model. Both run dedup's own path (dedup.represent.encoder.embed_articles) over the same first
``--sample`` distinct dev texts, in one process, loaded before their clocks start, in
alternating rounds (base, adapter, base, adapter, ...) so that a noisy neighbour on the shared
cores hits both; the figure is each model's median over ``--rounds`` and their ratio.

    .venv/bin/python bench/adapter_speed.py [--sample 120] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from static_speed import dev_articles

from dedup.config import BUNDLED_MODEL, NEWS_MODEL
from dedup.represent.encoder import embed_articles
from dedup.represent.transformer import load_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    articles = dev_articles(args.sample)
    encoders = {name: load_encoder(name, device="cpu") for name in (BUNDLED_MODEL, NEWS_MODEL)}
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(args.rounds):
        for name, encoder in encoders.items():
            start = time.perf_counter()
            embed_articles(encoder, articles)
            seconds[name].append(time.perf_counter() - start)
    median = {name: statistics.median(s) for name, s in seconds.items()}
    rate = {name: round(len(articles) / m, 2) for name, m in median.items()}
    print(
        json.dumps(
            {
                "articles": len(articles),
                "seconds": seconds,
                "articles_per_second": rate,
                "adapter_over_base": round(rate[NEWS_MODEL] / rate[BUNDLED_MODEL], 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
