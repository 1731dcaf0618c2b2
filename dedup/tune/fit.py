"""Fitting a model's fusion: how its features become one similarity, cross-validated.

For a fused backend, two non-negative ridge regressions of the target (a similarity in
[0, 1]) on the features of :data:`dedup.represent.similarity.FEATURES`: one on the pairs in
one language, one on the pairs across languages; across languages also the dense cosine alone
(:attr:`~dedup.represent.similarity.Fusion.alone`), the larger of the two counting. Each
penalty is chosen by an inner 5-fold cross-validation. Then one logistic curve from the
clipped sum to the target, by least squares. :func:`fit_backend` also scores the whole recipe
by an outer cross-validation, exactly as dedup scores (fused, clipped, on the curve,
discounted by the day gap). ``bench/fit_fusion.py`` fits the shipped tables with it;
`dedup tune` the tuned model's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from dedup.represent.similarity import FEATURES, Curve

ALPHAS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
FOLDS = 5
SEED = 0
# Across languages, the dense evidence alone (Fusion.alone), fitted on the same pairs as "cross".
ALONE = ("dense_centred",)
# Lower and upper bounds of the logistic's (a, b, steepness, centre).
CURVE_BOUNDS = ([-1.0, 0.0, 0.1, -1.0], [1.0, 2.0, 100.0, 2.0])

Array = np.ndarray


def _ridge(x: Array, y: Array, alpha: float) -> Ridge:
    return Ridge(alpha=alpha, positive=True).fit(x, y)


def fit(x: Array, y: Array) -> tuple[Ridge, float]:
    """A non-negative ridge, its penalty the one with the least inner-CV squared error."""
    folds = list(KFold(min(FOLDS, len(y)), shuffle=True, random_state=SEED).split(x))

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
    out = np.zeros(len(same))
    if same.any():
        out[same] = models["same"].predict(xs["same"][same])
    if (~same).any():
        cross = models["cross"].predict(xs["cross"][~same])
        if "alone" in models:
            cross = np.maximum(cross, models["alone"].predict(xs["alone"][~same]))
        out[~same] = cross
    return np.clip(out, 0.0, 1.0)


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
    return np.asarray((x if curve is None else curve(x)) * day)


def pearson_by_pair(pred: Array, y: Array, keys: Array) -> dict[str, float]:
    """Pearson's r over all pairs and per language pair (``keys``, like ``de-en``)."""

    def r(a: Array, b: Array) -> float:
        return round(float(pearsonr(a, b)[0]), 4) if len(a) > 2 and np.std(a) > 0 else 0.0

    out = {"all": r(pred, y)}
    for key in sorted(set(keys.tolist())):
        rows = keys == key
        out[key] = r(pred[rows], y[rows])
    return out


def feature_names(backend: str) -> dict[str, tuple[str, ...]]:
    """The features of each part of ``backend``'s fusion (``alone`` where a model runs)."""
    names = dict(FEATURES[backend])
    if "dense_centred" in names["cross"]:
        names["alone"] = ALONE
    return names


class Fitted:
    """One backend's fusion fitted on some pairs: ``predict`` others, ``spec`` as JSON."""

    def __init__(self, backend: str, feats: Mapping[str, Array], target: Array, rows: Array):
        self.names = feature_names(backend)
        same = feats["same_lang"].astype(bool)
        xs = self._xs(feats)
        parts = {"same": same, "cross": ~same, "alone": ~same}
        self.models: dict[str, Ridge] = {}
        self.alphas: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        for part in self.names:
            take = rows & parts[part]
            if take.sum() < 2:
                raise ValueError(f"too few {part}-language pairs to fit ({int(take.sum())})")
            self.models[part], self.alphas[part] = fit(xs[part][take], target[take])
            self.counts[part] = int(take.sum())
        sub = {p: x[rows] for p, x in xs.items()}
        self.curve = fit_curve(fused(self.models, sub, same[rows]), target[rows])

    def _xs(self, feats: Mapping[str, Array]) -> dict[str, Array]:
        return {
            part: np.stack([feats[n] for n in names], axis=1).astype(np.float64)
            for part, names in self.names.items()
        }

    def predict(self, feats: Mapping[str, Array], curve: bool = True) -> Array:
        same = feats["same_lang"].astype(bool)
        return predict(
            self.models, self.curve if curve else None, self._xs(feats), same, feats["day_factor"]
        )

    def spec(self) -> dict[str, Any]:
        """The fusion as ``data/calibration.json`` holds it (read by calibration.fusion_from)."""
        out: dict[str, Any] = {}
        for part, model in self.models.items():
            out[part] = {
                "intercept": round(float(model.intercept_), 6),
                "weights": {
                    n: round(float(w), 6)
                    for n, w in zip(self.names[part], model.coef_, strict=True)
                    if w > 0
                },
                "alpha": self.alphas[part],
                "pairs": self.counts[part],
            }
        out["curve"] = {"steepness": self.curve.steepness, "centre": self.curve.centre}
        return out


def cross_validated(
    backend: str,
    feats: Sequence[Mapping[str, Array]] | Mapping[str, Array],
    target: Array,
    folds: Sequence[tuple[Array, Array]],
    curve: bool = True,
) -> Array:
    """Each pair's prediction by the recipe fitted on the other folds. ``feats`` is one set of
    features, or one per fold (a model tuned per fold: its features, fitted and scored)."""
    pred = np.zeros(len(target))
    for k, (train, test) in enumerate(folds):
        f = feats if isinstance(feats, Mapping) else feats[k]
        rows = np.zeros(len(target), dtype=bool)
        rows[train] = True
        fitted = Fitted(backend, f, target, rows)
        pred[test] = fitted.predict({n: v[test] for n, v in f.items()}, curve)
    return pred


def folds_of(n: int, k: int = FOLDS, seed: int = SEED) -> list[tuple[Array, Array]]:
    """The outer folds every cross-validated figure uses: shuffled, seeded."""
    return [(a, b) for a, b in KFold(k, shuffle=True, random_state=seed).split(np.arange(n))]
