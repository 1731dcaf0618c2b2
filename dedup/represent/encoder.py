"""Dense representation: the encoder protocol, and the pooling that turns each article into one
unit vector.

* :class:`Encoder`, a small protocol (texts in, L2-normalised float32 rows out, plus a token
  counter) so that any model, or a fake one in tests, plugs in; the sentence-transformers
  adapter is in :mod:`dedup.represent.transformer`;
* :func:`embed_articles`, which pools the chunks of long articles so that nothing is silently
  truncated and the title and lead carry most of the weight (see its docstring).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from dedup.models import Article
from dedup.progress import Advance

__all__ = [
    "MAX_CHUNKS",
    "POOLING_VERSION",
    "Encoder",
    "article_chunks",
    "chunk_weight",
    "embed_articles",
    "normalise_rows",
]

logger = logging.getLogger(__name__)

#: Bump whenever :func:`embed_articles` gives different vectors for the same model and text
#: (chunking, weights, cap, prefix rule). Embedding caches key on it.
POOLING_VERSION = "lead-weighted-chunks-1"

#: At most this many chunks per article: the title+lead chunk and up to seven body chunks.
#: Text past the cap is not embedded (logged), so one enormous page costs bounded time.
MAX_CHUNKS = 8
# No tokenizer gives more tokens than this per character (a subword marker and a few byte
# tokens for a character it does not know): a text this many times shorter than the window
# fits it uncounted.
MAX_TOKENS_PER_CHAR = 8

_PARAGRAPH_RE = re.compile(r"\s*\n\s*")
# A sentence ends with terminal punctuation and whitespace; CJK full stops need no space.
_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")

FloatArray = NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised vectors and counts their tokens.

    An encoder may also have a ``fingerprint`` string naming everything its vectors depend on
    (weights, precision); caches key on
    :func:`dedup.represent.fingerprint.encoder_fingerprint`, which falls back to ``name`` when
    it has none.
    """

    name: str
    dim: int
    max_tokens: int

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Advance | None = None
    ) -> FloatArray:
        """Return an ``(len(texts), dim)`` float32 array whose rows have unit L2 norm.

        ``progress``, when given, may be called with the number of texts done as batches
        end (an encoder that never calls it is fine: the caller counts the rest when it
        returns). The encoder draws no progress of its own."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return each text's length in the model's tokens, special tokens excluded."""
        ...


def chunk_weight(index: int) -> float:
    """Weight of chunk ``index`` of an article: 1.0 for title+lead, ``0.5 / (1 + k)`` after.

    The k-th body chunk (k = 1, 2, ...) weighs 0.25, 0.167, 0.125, ...; the seven body chunks
    allowed by :data:`MAX_CHUNKS` weigh 0.86 together, less than the title and lead alone.
    """
    return 1.0 if index == 0 else 0.5 / (1 + index)


def _window(encoder: Encoder) -> int:
    # The adapter knows how many tokens its special tokens and prefix take; others do not.
    window = getattr(encoder, "window", None)
    return max(1, int(window) if isinstance(window, int) else int(encoder.max_tokens))


def _split_long(
    text: str, tokens: int, window: int, count: Callable[[Sequence[str]], list[int]]
) -> list[tuple[str, int]]:
    """Cut one sentence longer than the window into pieces that fit, between words if possible."""
    parts = max(2, math.ceil(tokens / window))
    words = text.split()
    if len(words) >= parts:
        size = math.ceil(len(words) / parts)
        groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    else:  # scripts written without spaces
        size = math.ceil(len(text) / parts)
        groups = [text[i : i + size] for i in range(0, len(text), size)]
    pieces: list[tuple[str, int]] = []
    for group, n in zip(groups, count(groups), strict=True):
        if n <= window or len(group) <= 1:
            pieces.append((group, n))
        else:
            pieces.extend(_split_long(group, n, window, count))
    return pieces


def _units(article: Article) -> list[tuple[str, str]]:
    """The article as (separator, sentence) pairs in reading order, the title first."""
    units: list[tuple[str, str]] = []
    for text in (article.title, article.text):
        for paragraph in _PARAGRAPH_RE.split(text):
            sentences = [s.strip() for s in _SENTENCE_RE.split(paragraph) if s.strip()]
            # A chunk drops the separator of its first unit, so the very first one does not matter.
            units.extend((" " if j else "\n\n", s) for j, s in enumerate(sentences))
    return units


def _pack(units: Sequence[tuple[str, str, int]], window: int) -> tuple[list[str], bool]:
    """Fill chunks with whole units in order; returns the chunks and whether the cap cut text."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for separator, text, n in units:
        # One token of slack per join: tokenizers may spend one on the separator.
        cost = n + (1 if current else 0)
        if current and used + cost > window:
            chunks.append("".join(current))
            if len(chunks) == MAX_CHUNKS:
                return chunks, True
            current, used, cost = [], 0, n
        current.append(f"{separator}{text}" if current else text)
        used += cost
    if current:
        chunks.append("".join(current))
    return chunks, False


def article_chunks(encoder: Encoder, articles: Sequence[Article]) -> list[list[str]]:
    """The texts :func:`embed_articles` encodes for each article (see there for the rules)."""
    window = _window(encoder)
    full = [a.full_text for a in articles]
    result: list[list[str]] = [[text] for text in full]
    # Only a text that could outgrow the window is counted: a static model's window is 100,000
    # tokens, and tokenizing a million articles once more to learn they fit is most of its time.
    maybe = [i for i, text in enumerate(full) if len(text) * MAX_TOKENS_PER_CHAR > window]
    lengths = encoder.count_tokens([full[i] for i in maybe])
    long_ids = [i for i, n in zip(maybe, lengths, strict=True) if n > window]
    if not long_ids:
        return result

    per_article = [_units(articles[i]) for i in long_ids]
    flat = [text for units in per_article for _, text in units]
    counts = iter(encoder.count_tokens(flat))
    capped = 0
    for i, units in zip(long_ids, per_article, strict=True):
        sized: list[tuple[str, str, int]] = []
        for separator, text in units:
            n = next(counts)
            if n <= window:
                sized.append((separator, text, n))
                continue
            for k, (piece, m) in enumerate(_split_long(text, n, window, encoder.count_tokens)):
                sized.append((separator if k == 0 else " ", piece, m))
        chunks, cut = _pack(sized, window)
        result[i] = chunks
        capped += cut
    if capped:
        logger.info(
            "%d article(s) need more than %d chunks of %d tokens: their text past the cap "
            "is not embedded",
            capped,
            MAX_CHUNKS,
            window,
        )
    return result


def embed_articles(
    encoder: Encoder,
    articles: Sequence[Article],
    *,
    batch_size: int = 32,
    progress: Advance | None = None,
) -> FloatArray:
    """One L2-normalised float32 row per article, long articles pooled over chunks.

    An article that fits the model's window (``encoder.window`` when the encoder has it:
    ``max_tokens`` minus special and prefix tokens; else ``max_tokens``) is one chunk: title
    and body. A longer one is cut, in reading order and on sentence and paragraph boundaries
    (a sentence longer than the window between words), into chunks that fit, by the model's
    own token count: the first chunk is the title and lead, the next ones the rest of the body.
    At most :data:`MAX_CHUNKS` chunks are kept; text beyond them is not embedded, and that is
    logged. The article's vector is the weighted mean of its chunk vectors with the weights of
    :func:`chunk_weight` (1.0 for title+lead, then 0.25, 0.167, ...), normalised again, so the
    title and lead decide most of it. All chunks of all articles are encoded in one batched call.

    ``progress`` is called with the number of articles done, batch by batch (an article's
    share of a batch is its share of the chunks), ``len(articles)`` in all.
    """
    if not articles:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    chunks = article_chunks(encoder, articles)
    texts = [text for article in chunks for text in article]
    owner = np.repeat(np.arange(len(chunks)), [len(c) for c in chunks])
    weights = np.array(
        [chunk_weight(k) for article in chunks for k in range(len(article))], dtype=np.float32
    )
    logger.debug("embedding %d articles as %d chunks", len(articles), len(texts))
    counted = _ArticlesDone(len(articles), len(texts), progress)
    vectors = encoder.encode(
        texts, batch_size=batch_size, progress=None if progress is None else counted
    )
    counted.finish()
    pooled = np.zeros((len(articles), vectors.shape[1]), dtype=np.float32)
    np.add.at(pooled, owner, vectors * weights[:, None])
    return normalise_rows(pooled)


class _ArticlesDone:
    """Texts done -> articles done: called with the texts of each batch, it tells ``progress``
    the whole articles those texts amount to, pro rata, so that the articles told add up to
    ``articles`` exactly by :meth:`finish`."""

    def __init__(self, articles: int, texts: int, progress: Advance | None) -> None:
        self.articles, self.texts, self.progress = articles, texts, progress
        self.texts_done = 0
        self.told = 0

    def __call__(self, n: int) -> None:
        self.texts_done = min(self.texts, self.texts_done + n)
        self._tell(self.articles * self.texts_done // max(1, self.texts))

    def finish(self) -> None:
        self._tell(self.articles)

    def _tell(self, articles_done: int) -> None:
        if self.progress is not None and articles_done > self.told:
            self.progress(articles_done - self.told)
            self.told = articles_done


def normalise_rows(matrix: FloatArray) -> FloatArray:
    """Unit rows in float32; a zero or non-finite row becomes zeros, never NaN."""
    matrix = np.nan_to_num(matrix.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0)
    return (matrix / safe).astype(np.float32, copy=False)
