"""A model `dedup tune` made: a directory that ``--model`` runs like any other.

`dedup tune` writes a LoRA adapter (peft's ``adapter_config.json`` and
``adapter_model.safetensors``, a few MB) or a whole sentence-transformers model, and beside
it :data:`NOTE`: the model it was tuned from (``base``), the prefix its texts were given, the
recipe, what it was tuned on, and its own calibration table (the same shape as a model's
table in ``data/calibration.json``). An adapter is loaded onto its base and merged into it, so
it encodes as fast as the base.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from dedup.errors import ModelError, one_line

#: The note every directory `dedup tune` writes holds.
NOTE = "dedup-tuned.json"
ADAPTER_CONFIG = "adapter_config.json"
#: The adapter that ships with dedup: the bundled model tuned on news pairs.
SHIPPED = Path(__file__).resolve().parent.parent / "data" / "news-adapter"


def note(directory: Path | None) -> dict[str, Any] | None:
    """The note of a tuned model ``directory``; None when it is not one."""
    if directory is None:
        return None
    try:
        found = json.loads((directory / NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or not isinstance(found.get("base"), str):
        return None
    return found


def shipped_base() -> str:
    """The model the shipped news adapter was tuned from; ModelError when it is missing."""
    found = note(SHIPPED)
    if found is None or not is_adapter(SHIPPED):
        raise ModelError(f"the news adapter is missing from this install of dedup ({SHIPPED})")
    return str(found["base"])


def is_adapter(directory: Path) -> bool:
    return (directory / ADAPTER_CONFIG).is_file()


def merge_adapter(st: Any, directory: Path) -> None:
    """Load the LoRA adapter in ``directory`` onto ``st`` (its base, loaded) and merge it in:
    the model then has the base's shape and speed."""
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise ModelError(
            f"cannot load the tuned model {directory}: it is an adapter, and peft is not "
            "installed (pip install peft)"
        ) from exc
    transformer = st[0]
    try:
        with warnings.catch_warnings():  # peft asks transformers a deprecated question
            warnings.simplefilter("ignore", FutureWarning)
            adapted = PeftModel.from_pretrained(transformer.model, str(directory))
            transformer.model = adapted.merge_and_unload()
    except Exception as exc:
        raise ModelError(
            f"cannot load the adapter in {directory} onto its base: {one_line(exc)}"
        ) from exc


__all__ = ["NOTE", "SHIPPED", "is_adapter", "merge_adapter", "note", "shipped_base"]
