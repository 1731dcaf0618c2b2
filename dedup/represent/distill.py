"""A static model distilled from a sentence transformer: every token of its tokenizer (and of an
optional vocabulary) run once through the transformer with model2vec, the token vectors reduced
by PCA to ``dims`` and weighted, and the table saved as a sentence-transformers directory
(``StaticEmbedding`` + ``Normalize``) that ``--model DIR`` loads like any other model.

With a corpus, the distilled table is then trained on it to reproduce the transformer's vector of
each text (:mod:`dedup.represent.learn`). A text's vector is then the mean of its tokens'
vectors: no transformer runs when it encodes.
Distilling runs offline on the local files of the model (the bundled one is converted first, as
for a run). The directory is written beside its target and renamed into place when it is done.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dedup.errors import InputError, ModelError, OutputError, one_line, os_reason

__all__ = [
    "DEFAULT_DIMS",
    "DISTILL_NOTE",
    "Corpus",
    "Distilled",
    "check_out",
    "distill_model",
    "read_vocabulary",
]

logger = logging.getLogger(__name__)

#: PCA dimensions of the token vectors unless asked otherwise (model2vec's own default).
DEFAULT_DIMS = 256

#: The file in a distilled directory that says where it came from and how it was made.
DISTILL_NOTE = "dedup-distill.json"


@dataclass(frozen=True)
class Corpus:
    """Texts to train on, as the static model will read them, and the transformer's vector of
    each (one row per text, as dedup embeds an article)."""

    texts: list[str]
    vectors: NDArray[np.float32]


@dataclass(frozen=True)
class Distilled:
    """What :func:`distill_model` made: where, from what, and at what cost."""

    directory: Path
    source: str
    dims: int
    tokens: int
    seconds: float
    size_bytes: int
    #: Texts the table was trained on (0: distilled only), and how alike the static model and
    #: the transformer found them before and after (see :mod:`dedup.represent.learn`).
    trained_on: int = 0
    agreement: tuple[float, float] | None = None


def read_vocabulary(path: Path) -> list[str]:
    """Words to add to the tokenizer's own, one a line (blank lines and duplicates dropped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else one_line(exc)
        raise InputError(f"cannot read vocabulary {path}: {reason}") from exc
    words = list(dict.fromkeys(w.strip() for w in text.splitlines() if w.strip()))
    if not words:
        raise InputError(f"vocabulary {path} has no words (one word a line)")
    return words


def check_out(out: Path) -> None:
    """An :class:`OutputError` unless the model can be written to ``out``."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a directory that is not empty"
        raise OutputError(f"cannot write the model to {out}: it is {what}")
    parent = out.absolute().parent
    if not parent.is_dir():
        raise OutputError(f"cannot write the model to {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the model to {out}: {parent} is not writable")


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """model2vec's progress bar and its tokenizer's chatter, off unless ``enabled``."""
    if enabled:
        yield
        return
    import functools
    import importlib

    from tqdm import tqdm

    # model2vec draws its bar with a tqdm it imported itself; tqdm reads TQDM_DISABLE once,
    # when it is imported, so the bar is turned off where model2vec looks it up.
    inference: Any = importlib.import_module("model2vec.distill.inference")
    bar = inference.tqdm
    inference.tqdm = functools.partial(tqdm, disable=True)
    loggers = [logging.getLogger(name) for name in ("model2vec", "skeletoken")]
    levels = [one.level for one in loggers]
    for one in loggers:
        one.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for one, level in zip(loggers, levels, strict=True):
            one.setLevel(level)
        inference.tqdm = bar


def _open_up(directory: Path) -> None:
    """The permissions a directory made by hand would have (mkdtemp makes it private)."""
    mask = os.umask(0)
    os.umask(mask)
    directory.chmod(0o777 & ~mask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~mask)


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def distill_model(
    model: str,
    out: Path,
    *,
    dims: int | None = DEFAULT_DIMS,
    vocabulary: list[str] | None = None,
    device: str = "cpu",
    progress: bool = False,
    corpus: Corpus | None = None,
) -> Distilled:
    """Distil a static model from the sentence-transformers ``model`` into the directory ``out``.

    ``dims`` is the number of PCA dimensions kept (None keeps the model's own); ``vocabulary``
    adds words to the tokenizer's vocabulary, each distilled as one token. ``out`` must not
    exist or be an empty directory. ``corpus``: texts and their transformer vectors to train the
    distilled table on (see :mod:`dedup.represent.learn`). Bad input is an :class:`InputError`,
    a model that cannot be loaded or distilled a :class:`ModelError`, an unwritable ``out`` an
    :class:`OutputError`.
    """
    if dims is not None and dims < 2:
        raise InputError(f"dimensions must be at least 2, not {dims}", setting="dims")
    check_out(out)
    from dedup.represent.transformer import load_encoder

    encoder = load_encoder(model, device=device, progress=progress, trainable=True)
    if encoder.static:
        raise InputError(f"model {model} is already static: distil from a transformer")
    auto_model = getattr(encoder.model[0], "auto_model", None)
    tokenizer = encoder.model.tokenizer
    if auto_model is None or tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"cannot distil model {model}: it is not a transformer with a fast tokenizer"
        )
    if dims is not None and dims > encoder.dim:
        raise InputError(
            f"model {model} has {encoder.dim} dimensions: cannot keep {dims}", setting="dims"
        )
    from model2vec.distill import distill_from_model

    started = time.perf_counter()
    try:
        with _quiet(progress):
            static = distill_from_model(
                model=auto_model,
                tokenizer=tokenizer,
                vocabulary=vocabulary,
                device=encoder.device,
                pca_dims=dims,
            )
    except Exception as exc:
        raise ModelError(f"cannot distil model {model}: {one_line(exc)}") from exc
    learnt = None
    if corpus is not None:
        from dedup.represent.learn import corpus_digest, learn

        with _quiet(progress):
            static, learnt = learn(static, corpus.texts, corpus.vectors)
    seconds = time.perf_counter() - started

    parent = out.absolute().parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write the model to {out}: {os_reason(exc)}") from exc
    try:
        static.save_pretrained(str(staging))
        made = int(static.embedding.shape[1])
        note = {
            "source": model,
            "dims": made,
            "tokens": int(static.embedding.shape[0]),
            "vocabulary_added": len(vocabulary or []),
            "seconds": round(seconds, 1),
            "tool": "model2vec",
            "model2vec": version("model2vec"),
        }
        if corpus is not None and learnt is not None:
            note["corpus"] = {"texts": learnt.texts, "sha256": corpus_digest(corpus.texts)}
            note["agreement"] = [
                round(learnt.agreement_before, 4),
                round(learnt.agreement_after, 4),
            ]
        (staging / DISTILL_NOTE).write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")
        _open_up(staging)
        if out.is_dir():
            out.rmdir()  # empty, checked above
        staging.replace(out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write the model to {out}: {os_reason(exc)}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("distilled %s into %s in %.1f s", model, out, seconds)
    return Distilled(
        directory=out,
        source=model,
        dims=made,
        tokens=int(static.embedding.shape[0]),
        seconds=seconds,
        size_bytes=_size(out),
        trained_on=0 if learnt is None else learnt.texts,
        agreement=None if learnt is None else (learnt.agreement_before, learnt.agreement_after),
    )
