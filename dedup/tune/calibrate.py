"""A tuned model's own numbers, fitted on labelled pairs it was not tuned on.

The fusion is fitted on the held-out pairs' features as ``bench/fit_fusion.py`` fits the
shipped ones (:mod:`dedup.tune.fit`); the centring priors are the model's mean vector over
the held-out articles, whole and cut to their first sentence; the short-text lift is the base
model's. Then each backend's threshold is the one with the best "same story" F1 on the same
pairs, scored exactly as ``dedup cluster`` scores them with the new fusion in place.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dedup.config import Settings
from dedup.evaluate.data import Pair
from dedup.evaluate.runs import represent_pairs
from dedup.evaluate.scores import SAME_STORY_MAX, sweep_pairs
from dedup.represent.calibration import Calibration
from dedup.represent.transformer import load_encoder
from dedup.represent.tuned import NOTE
from dedup.tune.examples import first_sentence, grade_score
from dedup.tune.fit import Fitted, pearson_by_pair
from dedup.tune.train import Example

#: The thresholds looked at, as `dedup evaluate --sweep` steps them.
GRID = [round(0.01 * k, 2) for k in range(20, 91)]


def as_pairs(examples: Sequence[Example]) -> list[Pair]:
    return [
        Pair(f"held-{k}", e.text1, e.text2, None, None, 4.0 - 3.0 * e.score)
        for k, e in enumerate(examples)
    ]


def best_threshold(sims: np.ndarray, overall: np.ndarray) -> tuple[float, float]:
    """The threshold with the best "same story" F1 (as `dedup evaluate pairs --sweep` scores
    it), the lowest on a tie, and that F1."""
    best = max(sweep_pairs(sims, overall, GRID), key=lambda row: row["f1"])
    return best["threshold"], best["f1"]


def new_table(
    name: str, dense: np.ndarray, short: np.ndarray, fitted: Fitted, base: Calibration
) -> dict[str, Any]:
    """A tuned model's table: its means over texts whole (``dense``) and short, its fusion,
    the base model's lift, and the base's thresholds until its own are chosen."""
    return {
        "name": name,
        "dense": {
            "mean": [round(float(x), 6) for x in dense.mean(axis=0)],
            "mean_short": [round(float(x), 6) for x in short.mean(axis=0)],
            "short_lift": base.short_lift,
            "threshold": base.thresholds["dense"],
        },
        "hybrid": {"fusion": fitted.spec(), "threshold": base.thresholds["hybrid"]},
    }


def calibrate(
    directory: Path, held: Sequence[Example], base: Calibration, *, name: str, device: str
) -> dict[str, Any]:
    """Fit ``directory``'s table on ``held`` and write it into its note; returns the figures."""
    pairs = as_pairs(held)
    settings = Settings(backend="hybrid", model=str(directory), device=device)
    encoder = load_encoder(str(directory), device=device)  # loaded once for the three passes
    first = represent_pairs(pairs, settings, encoder=encoder)
    overall = np.array([p.overall for p, ok in zip(pairs, first.usable, strict=True) if ok])
    target = np.array([grade_score(o) for o in overall])
    feats = {k: np.asarray(v) for k, v in first.reps.features(first.i, first.j).items()}
    fitted = Fitted("hybrid", feats, target, np.ones(len(target), dtype=bool))
    cut = [
        dataclasses.replace(p, text1=first_sentence("", p.text1), text2=first_sentence("", p.text2))
        for p in pairs
    ]
    dense = first.reps.dense
    dense_only = dataclasses.replace(settings, backend="dense")
    short = represent_pairs(cut, dense_only, encoder=encoder).reps.dense
    assert dense is not None and short is not None
    table = new_table(name, dense, short, fitted, base)
    _store(directory, table)
    again = represent_pairs(pairs, settings, encoder=encoder)  # vectors from the cache
    same = overall <= SAME_STORY_MAX  # as `dedup evaluate pairs` counts a same-story pair
    figures: dict[str, Any] = {"pairs": len(target), "same_story": int(same.sum())}
    keys = np.array(["all"] * len(target))
    for backend in ("dense", "hybrid"):
        sims = again.similarities(backend)[again.usable]
        figures[backend] = {"pearson": pearson_by_pair(sims, target, keys)["all"]}
        if same.any() and (~same).any():
            threshold, f1 = best_threshold(sims, overall)
            table[backend]["threshold"] = threshold
            figures[backend].update(threshold=threshold, f1=round(f1, 4))
        else:  # no positive (or no negative) held out: nothing to choose a threshold by
            figures[backend].update(threshold=table[backend]["threshold"], f1=None)
    table["held_out"] = figures
    _store(directory, table)
    return figures


def _store(directory: Path, table: dict[str, Any]) -> None:
    path = directory / NOTE
    note = json.loads(path.read_text(encoding="utf-8"))
    note["calibration"] = table
    path.write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")
