"""A static model (a token table, as `dedup distill` writes one) run without torch.

A static sentence-transformers model is a ``StaticEmbedding`` (a text's vector is the mean of
its tokens' rows) and at most a ``Normalize``. Loading it through sentence-transformers costs
torch and transformers, about 420 MB of memory and 5 s before the first article, for a mean
of table rows; here the table is read with safetensors into numpy, the text cut by the
model's own fast tokenizer (``tokenizers``, in Rust, on every core; once per distinct word
where that gives the same ids, :mod:`dedup.represent.token_ids`), and each text's rows
summed by a compiled loop (:func:`dedup.represent.kernels.bag_means`). The vectors are
sentence-transformers' to float32 rounding for a float32 table; a float16 one (as model2vec
writes it) is summed in float32 here where torch sums in float16, a cosine of at least
0.99999 between the two (0.9999998 at worst over 5,000 bench articles with the 10^5 bench's
model). Both carry the same fingerprint, so a cache filled by either serves both. As there, the
tokenizer's own truncation holds: a model distilled from E5 reads the first 512 tokens of a
text (its title and lead, about 300 words), as its calibration was fitted.

:func:`static_layout` tells such a directory from any other, from its ``modules.json``; the
model is loaded by :class:`StaticEncoder`, which :func:`dedup.represent.transformer.load_encoder`
returns for it unless the caller needs the torch model itself (``dedup tune``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dedup.errors import ModelError, one_line
from dedup.progress import Advance
from dedup.represent import tuned
from dedup.represent.encoder import FloatArray, normalise_rows
from dedup.represent.fingerprint import model_fingerprint
from dedup.represent.kernels import bag_means
from dedup.represent.model_files import weights_identity
from dedup.represent.token_ids import TokenIds

#: A static model has no window of its own: a text's vector is the mean over the tokens its
#: tokenizer gives (which may truncate). A text of more tokens than this is chunked, like any
#: long text, so that one huge record cannot hold a batch hostage.
STATIC_MAX_TOKENS = 100_000
#: Texts tokenized per call: the per-call work is most of a static model's time.
STATIC_BATCH = 1024

_STATIC = "StaticEmbedding"
_NORMALIZE = "Normalize"


def static_layout(directory: Path) -> bool:
    """Whether ``directory`` holds a static model this module runs: its ``modules.json`` a
    ``StaticEmbedding`` at the top, then at most a ``Normalize``."""
    try:
        modules = json.loads((directory / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        first_path = str(modules[0].get("path", ""))
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False
    return (
        bool(kinds)
        and kinds[0] == _STATIC
        and first_path in ("", ".")
        and all(k == _NORMALIZE for k in kinds[1:])
        and (directory / "tokenizer.json").is_file()
        and (directory / "model.safetensors").is_file()
    )


def _table(directory: Path) -> np.ndarray:
    """The token table, one row per token id (a model2vec layout folded the way
    sentence-transformers folds it: ``embeddings[mapping[id]] * weights[id]``): float16 when
    the file holds it so and nothing is folded (:func:`bag_means` reads it exactly, at half the
    memory of a float32 copy: 122 MiB for the 10^5 bench's model), else float32."""
    from safetensors.numpy import load_file

    weights = load_file(str(directory / "model.safetensors"))
    if "embedding.weight" in weights:
        table = weights["embedding.weight"]
    else:
        table = weights["embeddings"]
        if "mapping" in weights:
            table = table[weights["mapping"].astype(np.int64)]
        if "weights" in weights:
            table = table.astype(np.float32) * weights["weights"].astype(np.float32)[:, None]
    if table.ndim != 2:
        raise ValueError(f"its token table has {table.ndim} dimensions, not 2")
    kept = table.dtype if table.dtype == np.float16 else np.float32
    return np.ascontiguousarray(table, dtype=kept)


class StaticEncoder:
    """An :class:`~dedup.represent.encoder.Encoder` for a static model directory (see
    :func:`static_layout`): the attributes :class:`~dedup.represent.transformer.
    SentenceTransformerEncoder` has for one, the same vectors, no torch."""

    static = True
    precision = "fp32"
    device = "cpu"

    def __init__(self, model: str, directory: Path) -> None:
        from tokenizers import Tokenizer

        self.name = model
        self.directory: Path | None = directory
        try:  # the tokenizer's truncation holds (see the module's note), applied by TokenIds
            self._ids = TokenIds(Tokenizer.from_file(str(directory / "tokenizer.json")))
            self._table = _table(directory)
        except Exception as exc:
            raise ModelError(f"cannot load model {model}: {one_line(exc)}") from exc
        made = tuned.note(directory)
        self.prefix = str(made.get("prefix", "")) if made is not None else ""
        self.max_tokens = STATIC_MAX_TOKENS
        self.dim = int(self._table.shape[1])
        prefix_tokens = self.count_tokens([self.prefix])[0] if self.prefix else 0
        self.window = max(1, self.max_tokens - prefix_tokens)
        self.fingerprint = model_fingerprint(
            model, weights_identity(str(directory)), self.prefix, self.max_tokens, self.precision
        )

    def __repr__(self) -> str:
        return f"StaticEncoder(name={self.name!r}, dim={self.dim}, prefix={self.prefix!r})"

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Advance | None = None
    ) -> FloatArray:
        """Each text's mean token row (with the prefix), L2-normalised, float32."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = max(batch_size, STATIC_BATCH)
        for start in range(0, len(texts), step):
            batch = [self.prefix + t for t in texts[start : start + step]]
            for rows, ids, offsets in self._ids.parts(batch):
                part = np.zeros((len(rows), self.dim), dtype=np.float32)
                bag_means(self._table, ids, offsets, part)
                out[start + rows] = part
            if progress is not None:
                progress(len(batch))
        return normalise_rows(out)  # as sentence-transformers asked to normalise

    def forget_words(self) -> None:
        """Empty the store of words' token ids (refilled as texts come): after a corpus
        embedded a share here and the rest in forked workers, a store of up to 2^20 words
        held for the rest of the run is memory no later stage uses."""
        self._ids.forget()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in the model's tokens (no special tokens in a static model)."""
        if not texts:
            return []
        return self._ids.count(texts)
