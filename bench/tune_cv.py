"""Cross-validate `dedup tune` on the SemEval-2022 dev pairs: each fold's model tuned on the
other four folds, its fusion fitted on those four, and scored on the fold it never saw.

For each fold: the recipe tunes the bundled model on the training folds' pairs (texts as dedup
cleans them), the tuned model embeds every dev article, and the hybrid fusion is fitted on the
training folds' features (dedup.tune.fit) and predicts the held-out fold. Figures: Pearson of
the fused hybrid similarity and of the centred cosine alone, all and per language pair, beside
the untuned model's by the same folds. Models go to --work (one directory per fold, reused on a
rerun). Run:

    .venv/bin/python bench/tune_cv.py --rank 16 --lr 2e-4 --epochs 2 --tokens 128
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dedup import evaluate
from dedup.config import Settings
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.tune import examples, fit
from dedup.tune.train import Recipe
from dedup.tune.tuner import tune_examples

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"


def features(model: str, pairs: list[evaluate.Pair]) -> dict[str, np.ndarray]:
    dev = evaluate.represent_pairs(pairs, Settings(backend="hybrid", model=model))
    assert dev.usable.all(), "the folds assume every pair is usable"
    return {k: np.asarray(v) for k, v in dev.reps.features(dev.i, dev.j).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank; 0 = full fine-tune")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--folds", type=int, nargs="*", default=None, help="only these folds")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tune_cv"))
    args = parser.parse_args()
    recipe = Recipe(
        epochs=args.epochs,
        learning_rate=args.lr,
        lora_rank=args.rank,
        max_tokens=args.tokens,
        batch_size=args.batch,
    )
    tag = f"r{args.rank}-lr{args.lr:g}-e{args.epochs}-t{args.tokens}-b{args.batch}"
    work = args.work / tag
    pairs = evaluate.load_pairs(DEV)
    target = np.array([(4.0 - p.overall) / 3.0 for p in pairs])
    keys = np.array([f"{p.lang1}-{p.lang2}" for p in pairs])
    folds = fit.folds_of(len(pairs))
    base = features(BUNDLED_MODEL, pairs)
    per_fold = []
    for k, (train, _test) in enumerate(folds):
        if args.folds is not None and k not in args.folds:
            continue
        out = work / f"fold{k}"
        if not out.exists():
            start = time.time()
            chosen = examples.from_pairs([pairs[i] for i in train])
            tune_examples(BUNDLED_MODEL, chosen, [], out, recipe, [f"{DEV.name}, fold {k} out"])
            print(f"fold {k}: tuned in {time.time() - start:.0f} s", flush=True)
        per_fold.append((k, features(str(out), pairs)))
    if len(per_fold) != len(folds):
        rows = np.concatenate([folds[k][1] for k, _ in per_fold])
        print("partial:", [k for k, _ in per_fold])
    else:
        rows = np.arange(len(pairs))
    used = [folds[k] for k, _ in per_fold]
    tuned_pred = np.zeros(len(pairs))
    cos_tuned = np.zeros(len(pairs))
    for (_, f), (train, test) in zip(per_fold, used, strict=True):
        tuned_pred[test] = fit.cross_validated("hybrid", f, target, [(train, test)])[test]
        cos_tuned[test] = (f["dense_centred"] * f["day_factor"])[test]
    base_pred = fit.cross_validated("hybrid", base, target, used)
    out = {
        "recipe": tag,
        "hybrid_tuned": fit.pearson_by_pair(tuned_pred[rows], target[rows], keys[rows]),
        "hybrid_untuned": fit.pearson_by_pair(base_pred[rows], target[rows], keys[rows]),
        "centred_cosine_tuned": fit.pearson_by_pair(cos_tuned[rows], target[rows], keys[rows]),
        "centred_cosine_untuned": fit.pearson_by_pair(
            (base["dense_centred"] * base["day_factor"])[rows], target[rows], keys[rows]
        ),
    }
    print(json.dumps(out, indent=1), flush=True)
    (work / "cv.json").write_text(json.dumps(out, indent=1) + "\n")
    np.save(work / "pred.npy", tuned_pred)


if __name__ == "__main__":
    sys.exit(main())
