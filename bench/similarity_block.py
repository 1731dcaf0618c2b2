"""Time the similarity of every article to every other, with only the features the backend's
fusion weighs (what dedup does) beside every feature computed (what it did before).

The corpus is the dev pairs' 1,466 texts, cleaned and represented as ``dedup cluster`` does
(lexical backend), copied ``--copies`` times to reach a size where the n x n work dominates.
``--backend hybrid`` adds random 384-dimensional unit vectors as the dense ones (their values
do not matter here, only the work: no model needed).
Each way runs ``--repeat`` times over all rows in slices of 256 (``Representations.block``);
the best time counts. The two ways must give the same similarities, else the run fails.

    .venv/bin/python bench/similarity_block.py --copies 4
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from dedup.clean import clean_corpus
from dedup.config import Settings
from dedup.models import Article
from dedup.represent import represent
from dedup.represent.scale import centre_by_language
from dedup.represent.similarity import Representations

DEV = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "eval"
    / "semeval2022_pairs_dev.jsonl"
)
SLICE = 256


class EveryFeature(Representations):
    """Representations that compute every feature, as before the fusion's needs were used."""

    @property
    def needed(self) -> None:  # type: ignore[override]
        return None


def articles(copies: int) -> list[Article]:
    out = []
    with DEV.open(encoding="utf-8") as src:
        for line in src:
            pair = json.loads(line)
            for k in ("1", "2"):
                out.append(
                    Article(
                        id=f"{pair['pair_id']}:{k}",
                        title="",
                        text=pair[f"text{k}"],
                        lang=pair[f"lang{k}"],
                    )
                )
    cleaned = clean_corpus(out, keep_all=True)
    return [dataclasses.replace(a, id=f"{a.id}#{r}") for r in range(copies) for a in cleaned]


def best_of(reps: Representations, repeat: int) -> tuple[float, np.ndarray]:
    times, last = [], np.zeros(0)
    for _ in range(repeat):
        start = time.perf_counter()
        last = np.concatenate(
            [reps.block(np.arange(s, min(s + SLICE, reps.n))) for s in range(0, reps.n, SLICE)]
        )
        times.append(time.perf_counter() - start)
    return min(times), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("lexical", "hybrid"), default="lexical")
    args = parser.parse_args()
    corpus = articles(args.copies)
    reps = represent(corpus, Settings(backend="lexical", cache=None)).reps
    if args.backend == "hybrid":
        rng = np.random.default_rng(0)
        dense = rng.standard_normal((reps.n, 384)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        centred = centre_by_language(dense, reps.langs)
        reps = dataclasses.replace(reps, backend="hybrid", dense=dense, dense_centred=centred)
    every = EveryFeature(**{f.name: getattr(reps, f.name) for f in dataclasses.fields(reps)})
    needed_s, needed = best_of(reps, args.repeat)
    every_s, everything = best_of(every, args.repeat)
    if not np.array_equal(needed, everything):
        raise SystemExit(
            f"the two ways disagree: max difference {np.abs(needed - everything).max():g}"
        )
    print(f"{reps.n:,} articles ({reps.backend}), all rows against all, best of {args.repeat}:")
    print(f"  every feature   {every_s:.2f} s")
    print(
        f"  needed features {needed_s:.2f} s  ({every_s / needed_s:.2f}x faster, same similarities)"
    )


if __name__ == "__main__":
    main()
