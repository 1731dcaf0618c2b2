"""Cross-validate a static model tuned on the SemEval-2022 dev pairs (CoSENT), the tuning inside
each fold: each fold's table is tuned on the other four folds' pairs, its hybrid fusion fitted
on those four, and scored on the fold it never saw; beside the untuned table by the same folds.

Only the rows of the tokens the training texts hold are tuned, with a weight per token, from the
distilled table (``--static``, a `dedup distill` directory). Each fold's model is written to
``--work`` with the base's note, so that it runs with the base's calibration (its mean and
short-text prior), and embedded with an embedding cache of its own. Run:

    .venv/bin/python bench/static_pairs_cv.py --static static-e5/ [--epochs 4] [--lr 2e-3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dedup import evaluate
from dedup.config import Settings
from dedup.evaluate.runs import clean_pairs
from dedup.tune import fit

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"
SCALE = 20.0  # CoSENT's scale, as sentence-transformers has it


def features(model: str, pairs: list[evaluate.Pair], cache: Path) -> dict[str, np.ndarray]:
    os.environ["DEDUP_CACHE_DIR"] = str(cache)  # a fold's model shares its base's cache key
    dev = evaluate.represent_pairs(pairs, Settings(backend="hybrid", model=model))
    assert dev.usable.all(), "the folds assume every pair is usable"
    return {k: np.asarray(v) for k, v in dev.reps.features(dev.i, dev.j).items()}


def tune_rows(
    table: np.ndarray,
    ids: list[list[int]],
    pairs: list[tuple[int, int, float]],
    epochs: int,
    lr: float,
) -> np.ndarray:
    torch.manual_seed(0)
    seen = np.unique(
        np.fromiter((t for k in {a for p in pairs for a in p[:2]} for t in ids[k]), np.int64)
    )
    local = {
        k: torch.from_numpy(np.searchsorted(seen, np.asarray(ids[k], np.int64)))
        for p in pairs
        for k in p[:2]
    }
    rows = torch.nn.Parameter(torch.from_numpy(table[seen].astype(np.float32)))
    weights = torch.nn.Parameter(torch.ones(len(seen)))
    optimiser = torch.optim.AdamW([rows, weights], lr=lr, weight_decay=0.01)

    def embed(texts: list[int]) -> torch.Tensor:
        flat = torch.cat([local[k] for k in texts])
        owner = torch.repeat_interleave(
            torch.arange(len(texts)), torch.tensor([len(local[k]) for k in texts])
        )
        summed = torch.zeros(len(texts), rows.shape[1]).index_add_(
            0, owner, rows[flat] * weights[flat, None]
        )
        return torch.nn.functional.normalize(summed, dim=1)

    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(pairs))
        for start in range(0, len(order), 32):
            batch = [pairs[i] for i in order[start : start + 32]]
            cos = (embed([p[0] for p in batch]) * embed([p[1] for p in batch])).sum(dim=1) * SCALE
            gold = torch.tensor([p[2] for p in batch])
            diff = (
                cos[None, :] - cos[:, None]
            )  # [i, j] = cos_j - cos_i, counted where gold_i > gold_j
            diff = diff - (1 - (gold[:, None] > gold[None, :]).float()) * 1e12
            loss = torch.logsumexp(torch.cat([torch.zeros(1), diff.flatten()]), dim=0)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    tuned = table.astype(np.float32, copy=True)
    tuned[seen] = (rows * weights[:, None]).detach().numpy()
    return tuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--static", required=True)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/static_pairs_cv"))
    args = parser.parse_args()
    from model2vec import StaticModel

    base = StaticModel.from_pretrained(args.static)
    pairs = evaluate.load_pairs(DEV)
    cleaned, ends = clean_pairs(pairs)
    row = {a.id: k for k, a in enumerate(cleaned)}
    ids = base.tokenize([a.full_text for a in cleaned])
    graded = [
        (row[a], row[b], 1.0 - (p.overall - 1.0) / 3.0)
        for p, (a, b) in zip(pairs, ends, strict=True)
    ]
    target = np.array([(4.0 - p.overall) / 3.0 for p in pairs])
    keys = np.array([f"{p.lang1}-{p.lang2}" for p in pairs])
    folds = fit.folds_of(len(pairs))
    work = args.work / f"e{args.epochs}-lr{args.lr:g}"
    untuned = features(args.static, pairs, work / "cache-base")
    pred = np.zeros(len(pairs))
    # The fusion fitted on the training folds' untuned features: the tuned table has seen those
    # pairs, so its own features there overstate what the dense evidence is worth.
    pred_kept = np.zeros(len(pairs))
    cosine = np.zeros(len(pairs))
    for k, (train, test) in enumerate(folds):
        start = time.time()
        out = work / f"fold{k}"
        shutil.rmtree(out, ignore_errors=True)
        table = tune_rows(
            np.asarray(base.embedding), ids, [graded[i] for i in train], args.epochs, args.lr
        )
        StaticModel(
            vectors=table.astype(np.float16),
            tokenizer=base.tokenizer,
            config=base.config,
            normalize=base.normalize,
        ).save_pretrained(str(out))
        shutil.copy(Path(args.static) / "dedup-distill.json", out / "dedup-distill.json")
        f = features(str(out), pairs, work / f"cache{k}")
        pred[test] = fit.cross_validated("hybrid", f, target, [(train, test)])[test]
        mask = np.zeros(len(pairs), dtype=bool)
        mask[train] = True
        pred_kept[test] = fit.Fitted("hybrid", untuned, target, mask).predict(f)[test]
        cosine[test] = (f["dense_centred"] * f["day_factor"])[test]
        print(f"fold {k}: {time.time() - start:.0f} s", flush=True)
    figures = {
        "recipe": work.name,
        "hybrid_tuned": fit.pearson_by_pair(pred, target, keys),
        "hybrid_tuned_untuned_fusion": fit.pearson_by_pair(pred_kept, target, keys),
        "hybrid_untuned": fit.pearson_by_pair(
            fit.cross_validated("hybrid", untuned, target, folds), target, keys
        ),
        "centred_cosine_tuned": fit.pearson_by_pair(cosine, target, keys),
        "centred_cosine_untuned": fit.pearson_by_pair(
            untuned["dense_centred"] * untuned["day_factor"], target, keys
        ),
    }
    print(json.dumps(figures, indent=1), flush=True)
    (work / "cv.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
