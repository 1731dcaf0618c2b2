"""What makes a cached vector stale: the one place that names what an encoder's vectors depend
on, and makes the embedding cache's keys from it.

A vector's key is made of the model's identity (:func:`encoder_fingerprint`: its name, a digest
of its files, its precision; plus its prefix, window and dimension), the pooling rules
(:data:`dedup.represent.encoder.POOLING_VERSION`) and the cleaned text that is embedded. Change
any of them and the key changes, so a cache never hands back a vector made another way. The
text-preparation version needs no field of its own: a change in cleaning changes the cleaned
text, hence the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from dedup.models import Article
from dedup.represent.encoder import POOLING_VERSION, Encoder

__all__ = [
    "article_keys",
    "encoder_fingerprint",
    "keys_in_space",
    "model_fingerprint",
    "vector_space",
]


def model_fingerprint(
    model: str, weights: str, prefix: str, max_tokens: int, precision: str
) -> str:
    """A loaded model's fingerprint: its name, a digest of its weights' identity
    (:func:`dedup.represent.model_files.weights_identity`), prefix and window, and the precision
    it runs in (``fp32``, ``fp16``, ``onnx-int8``)."""
    setup = f"{weights}\n{prefix}\n{max_tokens}".encode()
    return f"{model}@{hashlib.sha256(setup).hexdigest()[:16]}/{precision}"


def encoder_fingerprint(encoder: Encoder) -> str:
    """What an encoder's vectors depend on: its ``fingerprint`` if it has one, else its name."""
    fingerprint = getattr(encoder, "fingerprint", None)
    return fingerprint if isinstance(fingerprint, str) and fingerprint else encoder.name


def vector_space(encoder: Encoder, precision: str | None = None) -> bytes:
    """The 32-byte digest every key of ``encoder``'s vectors starts from: its fingerprint,
    prefix, window and dimension, and the pooling rules. ``precision``: the space of the same
    model run in that precision elsewhere (on another engine's devices) instead of its own."""
    fingerprint = encoder_fingerprint(encoder)
    own = getattr(encoder, "precision", None)
    if precision is not None and isinstance(own, str) and fingerprint.endswith(f"/{own}"):
        fingerprint = f"{fingerprint[: -len(own)]}{precision}"
    parts = (
        fingerprint,
        str(getattr(encoder, "prefix", "")),
        str(getattr(encoder, "window", encoder.max_tokens)),
        str(encoder.dim),
        POOLING_VERSION,
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


def article_keys(encoder: Encoder, articles: Sequence[Article]) -> list[bytes]:
    """One 32-byte key per article: model identity, pooling rules and embedded text."""
    return keys_in_space(vector_space(encoder), articles)


def keys_in_space(space: bytes, articles: Sequence[Article]) -> list[bytes]:
    """One 32-byte key per article in the key space ``space`` (see :func:`vector_space`)."""
    keys = []
    for article in articles:
        digest = hashlib.blake2b(space, digest_size=32)
        digest.update(article.title.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
        digest.update(article.text.encode("utf-8", "surrogatepass"))
        keys.append(digest.digest())
    return keys
