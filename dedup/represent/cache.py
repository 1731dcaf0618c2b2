"""The embedding cache: every article is embedded once per model, across runs.

A vector is stored under the key :mod:`dedup.represent.fingerprint` makes: the model's identity,
the pooling rules and the cleaned text that is embedded.

The store is one SQLite file in write-ahead-log mode, so

* a run killed midway keeps every slice of vectors it committed and loses only the slice in
  flight (a transaction that never committed leaves no trace);
* two runs may share the cache: readers never block, writers wait for each other
  (``busy_timeout``), and writing a key twice is harmless (``INSERT OR IGNORE``; same key,
  same vector).

A cache that cannot be opened or written (a read-only directory, a corrupt file, a lock held
too long) never fails a run: the run embeds without it and says why in its warnings.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dedup.columns import rows_of
from dedup.cores import forks, in_processes, usable_cores
from dedup.errors import one_line
from dedup.models import Article
from dedup.progress import Advance
from dedup.represent.encoder import Encoder, embed_articles
from dedup.represent.fingerprint import article_keys, keys_in_space, vector_space

__all__ = [
    "CACHE_FILE",
    "SLICE",
    "CacheUnavailable",
    "Embedded",
    "EmbeddingCache",
    "SliceEmbedder",
    "cache_paths",
    "cached_vectors",
    "copy_repeats",
    "embed_cached",
    "embed_locally",
    "place_found",
    "precision_note",
]

log = logging.getLogger(__name__)

#: The file inside the cache directory; its name carries the layout version of the table.
CACHE_FILE = "embeddings-v1.sqlite3"
#: The folders dedup keeps beside it: the bundled model converted, ONNX exports.
CACHE_FOLDERS = ("models", "onnx")
#: Articles embedded, then committed, at a time: the most a killed run can lose.
SLICE = 256
#: Seconds a writer waits for another run's write to finish before giving up on the cache.
BUSY_TIMEOUT = 30.0
# SQLite allows 32,766 parameters per statement since 3.32; stay well below.
_LOOKUP_BATCH = 900

FloatArray = NDArray[np.float32]

#: Embeds slices of articles: given them (each at most :data:`SLICE` long) and a progress
#: callback, yields ``(slice number, its vectors, the precision they were made in)`` in any
#: order, as each slice is done (:func:`embed_locally`, or an engine such as
#: :mod:`dedup.represent.ray_engine`). The precision is the encoder's ``precision`` (``fp32``,
#: ``fp16``, ``onnx-int8``), None when it has none.
SliceEmbedder = Callable[
    [Sequence[Sequence[Article]], Advance | None], Iterator[tuple[int, FloatArray, str | None]]
]


class CacheUnavailable(Exception):
    """The cache cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class Embedded:
    """What :func:`embed_cached` gives: one vector per article, why the cache was dropped if
    it was, and how many articles were found in it rather than embedded."""

    vectors: FloatArray
    warnings: tuple[str, ...] = ()
    found: int = 0


def cache_paths(directory: Path) -> tuple[list[Path], list[Path]]:
    """dedup's own in the cache ``directory``: the database with its journals, and the folders
    of :data:`CACHE_FOLDERS`. Nothing else there is the cache's (``DEDUP_CACHE_DIR=.`` leaves
    the working directory the user's)."""
    home = Path(directory).expanduser()
    database = home / CACHE_FILE
    files = [database, *(Path(f"{database}{end}") for end in ("-wal", "-shm", "-journal"))]
    return files, [home / folder for folder in CACHE_FOLDERS]


class EmbeddingCache:
    """Vectors by key in ``directory/embeddings-v1.sqlite3``; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory).expanduser() / CACHE_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise CacheUnavailable(f"cannot open {self.path}: {one_line(exc)}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"
            )
            # A model's identity from its files (model_files.local_model_identity) -> the key space
            # and width of its vectors, so a run can find them without loading the model.
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS encoders "
                "(identity TEXT PRIMARY KEY, space BLOB NOT NULL, dim INTEGER NOT NULL)"
            )
        except sqlite3.Error as exc:
            self._db.close()
            raise CacheUnavailable(f"cannot use {self.path}: {one_line(exc)}") from exc

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def get(self, keys: Iterable[bytes], dim: int) -> dict[bytes, FloatArray]:
        """The stored vectors of ``keys`` that are present and whole (``dim`` float32)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[bytes, FloatArray] = {}
        size = dim * 4
        try:
            for start in range(0, len(wanted), _LOOKUP_BATCH):
                batch = wanted[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch
                )
                for key, blob in rows:
                    # Anything else (another width, another SQLite type) is not ours: embed it
                    # again.
                    if isinstance(key, bytes) and isinstance(blob, bytes) and len(blob) == size:
                        found[bytes(key)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"cannot read {self.path}: {one_line(exc)}") from exc
        return found

    def remember(self, identity: str, encoder: Encoder) -> None:
        """Note that the model known by ``identity`` loads as ``encoder``."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO encoders VALUES (?, ?, ?)",
                (identity, vector_space(encoder), encoder.dim),
            )
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"cannot write {self.path}: {one_line(exc)}") from exc

    def recall(self, identity: str) -> tuple[bytes, int] | None:
        """The key space and width noted for ``identity``, if any."""
        try:
            row = self._db.execute(
                "SELECT space, dim FROM encoders WHERE identity = ?", (identity,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"cannot read {self.path}: {one_line(exc)}") from exc
        if row is None or not isinstance(row[0], bytes) or not isinstance(row[1], int):
            return None  # nothing noted, or not by dedup: the model is loaded instead
        return bytes(row[0]), int(row[1])

    def put(self, keys: Sequence[bytes], vectors: FloatArray) -> None:
        """Store ``vectors[k]`` under ``keys[k]`` in one transaction."""
        rows = [
            (key, np.ascontiguousarray(row, dtype="<f4").tobytes())
            for key, row in zip(keys, vectors, strict=True)
        ]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise CacheUnavailable(f"cannot write {self.path}: {one_line(exc)}") from exc


#: Slices each process must have before a static model's slices are spread over the cores
#: (16 slices: 4,096 articles, where the per-article pool starts too).
SPREAD_MIN_SLICES = 16

# What a forked worker embeds: the encoder, the batch size and the slices, left here by the
# process that forks it, read in place (never pickled).
_spread: tuple[Encoder, int, Sequence[Sequence[Article]]] | None = None


def _embed_slice(number: int) -> FloatArray:
    assert _spread is not None, "a slice embedded outside embed_locally's processes"
    encoder, batch_size, slices = _spread
    return embed_articles(encoder, slices[number], batch_size=batch_size)


def spread_over(encoder: Encoder, slices: int) -> int:
    """Processes the local engine embeds ``slices`` slices in: one per usable core for a
    static model (its encoding is Python on one core, with no threads of its own) with enough
    slices; one (this process) for any other model, whose library uses every core itself,
    and where processes are not forked (their slices are read in place)."""
    if not getattr(encoder, "static", False) or not forks():
        return 1
    return max(1, min(usable_cores(), slices // SPREAD_MIN_SLICES))


def embed_locally(encoder: Encoder, batch_size: int) -> SliceEmbedder:
    """The local engine: the slices on this machine, with ``encoder``: in turn in this
    process or, where :func:`spread_over` says, shared between this process and a forked one
    for each other core, which reads its slices in place (:func:`dedup.cores.in_processes`).
    The vectors are the same either way: each slice is embedded alone."""
    precision = getattr(encoder, "precision", None)

    def embed(
        slices: Sequence[Sequence[Article]], progress: Advance | None
    ) -> Iterator[tuple[int, FloatArray, str | None]]:
        workers = spread_over(encoder, len(slices))
        if workers == 1:
            for number, part in enumerate(slices):
                vectors = embed_articles(encoder, part, batch_size=batch_size, progress=progress)
                yield number, vectors, precision
            return
        global _spread
        _spread = (encoder, batch_size, slices)

        def done(number: int) -> None:
            if progress is not None:
                progress(len(slices[number]))

        try:
            spread = in_processes(_embed_slice, range(len(slices)), workers, done, here=True)
            for number, vectors in enumerate(spread):
                yield number, vectors, precision
        finally:
            _spread = None
            forget = getattr(encoder, "forget_words", None)
            if forget is not None:  # this process embedded a share of the slices too
                forget()

    return embed


def embed_cached(
    encoder: Encoder,
    articles: Sequence[Article],
    cache_dir: Path | None,
    *,
    batch_size: int = 32,
    progress: Advance | None = None,
    identity: str | None = None,
    engine: SliceEmbedder | None = None,
) -> Embedded:
    """:func:`~.encoder.embed_articles`, reading and filling the cache in ``cache_dir``.

    Articles already in the cache are not embedded; the others are embedded :data:`SLICE` at a
    time, each slice committed as it arrives, and an article whose text appears twice is
    embedded once. ``cache_dir=None`` embeds everything without a cache. A cache that fails is
    dropped for the rest of the run with a line in the result's ``warnings``. ``identity`` (from
    :func:`~dedup.represent.model_files.local_model_identity`) is noted beside the vectors, so that
    :func:`cached_vectors` can find them next time without loading the model. ``progress`` is
    called with the number of articles done: those found in the cache at once, the others as
    they are embedded. ``engine`` embeds the slices (default: :func:`embed_locally`, on this
    machine; ``encoder`` still makes the keys and is noted under ``identity``); a slice made in
    another key space than ``encoder``'s (another precision on the engine's devices) is stored
    under its own keys, with a warning.
    """
    if engine is None:  # one call, unless a static model's slices are spread over the cores
        if not articles or (
            cache_dir is None and spread_over(encoder, -(-len(articles) // SLICE)) == 1
        ):
            return Embedded(
                embed_articles(encoder, articles, batch_size=batch_size, progress=progress)
            )
    elif not articles:
        return Embedded(np.zeros((0, encoder.dim), dtype=np.float32))
    notes: list[str] = []
    cache: EmbeddingCache | None = None
    if cache_dir is not None:
        try:
            cache = EmbeddingCache(cache_dir)
        except CacheUnavailable as exc:
            notes.append(f"embedding cache unusable ({exc}); embedded without it")
            if engine is None:
                return Embedded(
                    embed_articles(encoder, articles, batch_size=batch_size, progress=progress),
                    tuple(notes),
                )
    keys = article_keys(encoder, articles)
    found: dict[bytes, FloatArray] = {}
    if cache is not None:
        try:
            if identity is not None:
                cache.remember(identity, encoder)
            found = cache.get(keys, encoder.dim)
        except CacheUnavailable as exc:
            notes.append(f"embedding cache unusable ({exc}); embedded without it")
            cache.close()
            cache, found = None, {}

    out, first_of = place_found(keys, found, encoder.dim)
    todo = list(first_of.values())
    hits = sum(1 for key in keys if key in found)
    if progress is not None and len(articles) > len(todo):
        progress(len(articles) - len(todo))  # found in the cache, or a copy of another's text
    log.info(
        "embedding cache %s: %d of %d articles found, %d to embed",
        cache.path if cache is not None else cache_dir,
        hits,
        len(articles),
        len(todo),
    )
    embed = engine if engine is not None else embed_locally(encoder, batch_size)
    slices = [todo[start : start + SLICE] for start in range(0, len(todo), SLICE)]
    own = getattr(encoder, "precision", None)
    try:
        for number, vectors, precision in embed(
            [rows_of(articles, rows) for rows in slices], progress
        ):
            rows = slices[number]
            out[rows] = vectors
            slice_keys = [keys[r] for r in rows]
            if precision != own and precision is not None:
                space = vector_space(encoder, precision)
                slice_keys = keys_in_space(space, rows_of(articles, rows))
                note = precision_note(precision, own)
                if note not in notes:
                    notes.append(note)
            if cache is not None:
                try:
                    cache.put(slice_keys, vectors)
                except CacheUnavailable as exc:
                    notes.append(f"embedding cache unusable ({exc}); the rest was not stored")
                    cache.close()
                    cache = None
    finally:
        if cache is not None:
            cache.close()
    copy_repeats(out, keys, first_of)
    return Embedded(out, tuple(notes), found=hits)


def precision_note(ran: str, own: object) -> str:
    """The warning for vectors an engine made in precision ``ran`` where this machine's model
    runs in ``own``."""
    return (
        f"the engine ran the model in {ran}, this machine would in {own}: its vectors are cached"
        f" as {ran} ones, which lookups of {own} ones miss"
    )


def place_found(
    keys: Sequence[bytes], found: dict[bytes, FloatArray], dim: int
) -> tuple[FloatArray, dict[bytes, int]]:
    """A row per key, the vector ``found`` for it or zeros; and, for each key not found, the
    first row that has it: the rows to embed (a text twice in ``keys`` is embedded once)."""
    out = np.zeros((len(keys), dim), dtype=np.float32)
    first_of: dict[bytes, int] = {}
    for row, key in enumerate(keys):
        if key in found:
            out[row] = found[key]
        else:
            first_of.setdefault(key, row)
    return out, first_of


def copy_repeats(out: FloatArray, keys: Sequence[bytes], first_of: dict[bytes, int]) -> None:
    """Once the rows of ``first_of`` are embedded: each later row of the same text takes the
    vector of its first."""
    for row, key in enumerate(keys):
        first = first_of.get(key)
        if first is not None and first != row:
            out[row] = out[first]


def cached_vectors(
    cache_dir: Path, identity: str, articles: Sequence[Article]
) -> FloatArray | None:
    """Every article's vector from the cache, when all are there; else None.

    ``identity`` names the model by its files (:func:`~.model_files.local_model_identity`);
    an earlier run that embedded with that model noted which keys its vectors have. So an
    unchanged corpus needs no model at all: neither torch nor the weights are loaded.
    """
    if not articles:
        return None
    try:
        with EmbeddingCache(cache_dir) as cache:
            noted = cache.recall(identity)
            if noted is None:
                return None
            space, dim = noted
            keys = keys_in_space(space, articles)
            found = cache.get(keys, dim)
    except CacheUnavailable as exc:
        log.info("embedding cache not read: %s", exc)
        return None
    if any(key not in found for key in keys):
        return None
    log.info("embedding cache: all %d articles found; the model is not loaded", len(articles))
    return np.stack([found[key] for key in keys])
