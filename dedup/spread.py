"""``--engine ray``: every stage that sees an article alone, in one Ray Data map.

The driver cuts the articles as read into parts of :data:`~dedup.represent.cache.SLICE` and
makes each part one row of a Ray dataset; ``map_batches`` hands each row to a :class:`PartWorker`
actor, which

1. cleans each article, finds its event day and (for the lexical backends) makes its profile's
   hashed counts, with :func:`dedup.prepare.prepare_part`: the part functions of the local pool,
   so an article that breaks one of them is the same skip with the same reason;
2. (for the dense backends) makes the cache keys of the cleaned texts, asks the embedding cache
   for them through the :class:`CacheReader` actor, and embeds only what the cache lacks, loading
   the model the first time it has something to embed.

The cache is keyed by the cleaned text, which only the workers know, so it is consulted from
the workers: a driver that looked vectors up before the map would have to clean every article
itself, and one that looked them up after it would have them all embedded first. The
:class:`CacheReader` runs on the driver's node (where the cache file is; SQLite in write-ahead
mode lets it read while the driver writes) and takes no CPU from the workers. Each part comes
back as soon as it is done; the driver writes its new vectors to the cache in one transaction
(what a killed run can lose, as with the local engine), and at the end puts every article in
canonical order and weighs the lexical counts over the whole corpus. So the driver reads, then
links, groups and reports: it never cleans, profiles or embeds an article.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from dedup.config import Settings
from dedup.errors import EngineError, one_line
from dedup.models import Article, Skipped
from dedup.prepare import (
    Kept,
    Part,
    every_skip,
    in_canonical_order,
    lexical_in_order,
    prepare_part,
    skipped_note,
)
from dedup.progress import Stage, Stages
from dedup.represent.cache import (
    SLICE,
    CacheUnavailable,
    Embedded,
    EmbeddingCache,
    copy_repeats,
    place_found,
    precision_note,
)
from dedup.represent.encoder import Encoder, embed_articles
from dedup.represent.fingerprint import keys_in_space, vector_space
from dedup.represent.lexical import LexicalVectors, Profile
from dedup.represent.model_files import local_model_identity
from dedup.represent.ray_engine import actor_count, map_on_actors, ray_session

__all__ = ["CacheReader", "PartWorker", "Spread", "prepare_on_ray"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float32]


class Spread(NamedTuple):
    """What the map gives the driver, as :func:`dedup.prepare.clean_stage` and the represent
    stage's embedding would: the articles kept, in canonical order; their lexical vectors or
    their profiles (as asked; None for the dense backend); every skip so far; their vectors
    (None without a model)."""

    each: Kept
    lexical: LexicalVectors | None
    profiles: list[Profile] | None
    skipped: list[Skipped]
    embedded: Embedded | None


class CacheReader:
    """A Ray actor on the driver's node: the vectors the embedding cache holds for keys."""

    def __init__(self, directory: str, dim: int) -> None:
        self.dim = dim
        try:
            self.cache: EmbeddingCache | None = EmbeddingCache(Path(directory))
        except CacheUnavailable as exc:  # the driver opened it; say why here, embed anyway
            log.warning("embedding cache not read on the cluster: %s", exc)
            self.cache = None

    def get(self, keys: list[bytes]) -> dict[bytes, FloatArray]:
        if self.cache is None:
            return {}
        try:
            return self.cache.get(keys, self.dim)
        except CacheUnavailable as exc:  # the vectors are embedded instead: slower, not wrong
            log.warning("embedding cache not read on the cluster: %s", exc)
            return {}


class _Model(NamedTuple):
    """What a worker needs to embed: the model as the driver loaded it, and the key space
    and width of the driver's vectors (what the cache is asked for)."""

    name: str
    device: str
    fast: bool
    batch_size: int
    space: bytes
    dim: int
    precision: str | None  # the driver's: vectors made in another are cached under their own


class _Done(NamedTuple):
    """One part as a worker sends it back."""

    number: int
    part: Part
    keys: list[bytes]  # the cache key of each kept article, in the driver's key space
    vectors: FloatArray | None
    fresh: NDArray[np.bool_]  # per kept article: embedded here (else from the cache, or a copy)
    stored: list[bytes]  # the keys the fresh vectors are cached under
    found: int  # kept articles found in the cache
    precision: str | None


class PartWorker:
    """A Ray Data actor: each part it is given through the per-article stages (see the module
    notes). The model is loaded on the first part with something to embed, not before: a
    corpus the cache holds whole is never embedded."""

    def __init__(self, lexical: bool, vectors: bool, model: _Model | None, reader: Any) -> None:
        self.lexical = lexical
        self.vectors = vectors
        self.model = model
        self.reader = reader
        self.encoder: Encoder | None = None

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        done = [
            pickle.dumps(self._one(int(number), pickle.loads(payload)), protocol=5)
            for number, payload in zip(batch["number"], batch["part"], strict=True)
        ]
        return {"done": np.array(done, dtype=object)}

    def _one(self, number: int, given: list[tuple[int, Article]]) -> _Done:
        part = prepare_part(given, self.lexical, self.vectors)
        none = np.zeros(0, dtype=bool)
        if self.model is None:
            return _Done(number, part, [], None, none, [], 0, None)
        articles = part.kept.articles
        keys = keys_in_space(self.model.space, articles)
        found: dict[bytes, FloatArray] = {}
        if self.reader is not None and keys:
            import ray

            found = ray.get(self.reader.get.remote(keys))
        vectors, first_of = place_found(keys, found, self.model.dim)
        todo = list(first_of.values())
        fresh = np.zeros(len(keys), dtype=bool)
        fresh[todo] = True
        stored = [keys[r] for r in todo]
        precision = self.model.precision
        if todo:
            encoder = self._encoder()
            vectors[todo] = embed_articles(
                encoder, [articles[r] for r in todo], batch_size=self.model.batch_size
            )
            own = getattr(encoder, "precision", None)
            precision = own if isinstance(own, str) else None
            if precision != self.model.precision and precision is not None:
                stored = keys_in_space(vector_space(encoder), [articles[r] for r in todo])
        copy_repeats(vectors, keys, first_of)
        hits = sum(1 for key in keys if key in found)
        return _Done(number, part, keys, vectors, fresh, stored, hits, precision)

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            from dedup.represent.transformer import load_encoder

            assert self.model is not None
            self.encoder = load_encoder(
                self.model.name, device=self.model.device, fast=self.model.fast
            )
        return self.encoder


def prepare_on_ray(
    articles: list[Article],
    settings: Settings,
    skipped: Sequence[Skipped],
    stages: Stages,
    encoder: Encoder | None,
    *,
    vectors: bool = True,
) -> Spread:
    """Every article through the per-article stages on the Ray cluster of ``settings`` (see the
    module notes), embedded with ``encoder``'s model when it is given, in the stage ``map``;
    ``vectors``: the corpus' lexical vectors, else the articles' profiles (as
    :func:`~dedup.prepare.clean_stage`). Empties ``articles``: each is freed once it is on its
    way. InputError when no article is left, as locally."""
    places = list(enumerate(articles))
    total = len(places)
    articles.clear()
    parts = [places[k : k + SLICE] for k in range(0, total, SLICE)]
    del places
    if not parts:  # nothing to start Ray for
        every_skip([], skipped, [])
    lexical = settings.backend != "dense"  # every other backend compares the lexical vectors
    with ray_session(settings.ray_address), stages.stage("map", total) as step:
        cache, notes = _open_cache(settings, encoder)
        try:
            done = list(_map(parts, settings, (lexical, vectors), encoder, cache, notes, step))
        finally:
            if cache is not None:
                cache.close()
        spread = _assemble(done, skipped, encoder, notes)
        step.count = len(spread.each)
        kept_failed = len(spread.skipped) - len(skipped)
        found = spread.embedded.found if spread.embedded is not None else 0
        said = (skipped_note(kept_failed), f"{found:,} from the cache" if found else "")
        step.note = ", ".join(n for n in said if n)
    return spread


def _open_cache(
    settings: Settings, encoder: Encoder | None
) -> tuple[EmbeddingCache | None, list[str]]:
    """The embedding cache the driver writes (None without one, or when it cannot be used,
    then with the warning), the model noted in it as :func:`embed_cached` notes it."""
    if encoder is None or settings.cache is None:
        return None, []
    try:
        cache = EmbeddingCache(settings.cache)
        if encoder.name == settings.model:  # not a fallback: the identity is this model's
            identity = local_model_identity(
                settings.model, device=settings.device, fast=settings.fast
            )
            if identity is not None:
                cache.remember(identity, encoder)
    except CacheUnavailable as exc:
        return None, [f"embedding cache unusable ({exc}); embedded without it"]
    return cache, []


def _map(
    parts: list[list[tuple[int, Article]]],
    settings: Settings,
    lexical: tuple[bool, bool],
    encoder: Encoder | None,
    cache: EmbeddingCache | None,
    notes: list[str],
    step: Stage,
) -> Iterator[_Done]:
    """The parts through :class:`PartWorker` actors (``lexical``: profiles, and their counts),
    each as it is done, its new vectors committed to ``cache`` (dropped, with a warning in
    ``notes``, if a write fails)."""
    if not parts:
        return
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    model = None
    reader = None
    actors, gpus = actor_count(len(parts))
    if encoder is not None:
        precision = getattr(encoder, "precision", None)
        model = _Model(
            encoder.name,
            settings.device,
            settings.fast,
            settings.batch_size,
            vector_space(encoder),
            encoder.dim,
            precision if isinstance(precision, str) else None,
        )
        if cache is not None:
            here = ray.get_runtime_context().get_node_id()
            reader = (
                ray.remote(num_cpus=0)(CacheReader)
                .options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
                .remote(str(settings.cache), encoder.dim)
            )
    else:
        gpus = 0  # nothing to embed: a CPU each
    log.info("ray: %d parts on %d actor(s)", len(parts), actors)
    rows = [
        {"number": number, "part": pickle.dumps(part, protocol=5)}
        for number, part in enumerate(parts)
    ]
    sizes = [len(part) for part in parts]
    parts.clear()  # the rows hold them now
    kwargs = {"lexical": lexical[0], "vectors": lexical[1], "model": model, "reader": reader}
    dataset = map_on_actors(rows, PartWorker, kwargs, actors, gpus)
    del rows
    try:
        for row in dataset.iter_rows():
            done: _Done = pickle.loads(row["done"])
            if cache is not None and done.stored:
                try:
                    assert done.vectors is not None
                    cache.put(done.stored, done.vectors[done.fresh])
                except CacheUnavailable as exc:
                    notes.append(f"embedding cache unusable ({exc}); the rest was not stored")
                    cache.close()
                    cache = None
            step.advance(sizes[done.number])
            yield done
    except ray.exceptions.RayError as exc:
        raise EngineError(f"the Ray cluster failed: {one_line(exc)}") from exc


def _assemble(
    done: list[_Done], skipped: Sequence[Skipped], encoder: Encoder | None, notes: list[str]
) -> Spread:
    """The parts' results as one corpus in canonical order, as the local stages leave it."""
    done.sort(key=lambda d: d.number)
    parts = [d.part for d in done]
    for k, d in enumerate(done):  # the parts' counts are then freed as they are placed
        done[k] = d._replace(part=d.part._replace(lexical=None))
    each, ranked, failed = in_canonical_order(parts)
    all_skipped = every_skip(each, skipped, failed)
    profiles, vectors = lexical_in_order(parts, ranked)
    embedded = None
    if encoder is not None:
        embedded = Embedded(
            _dense(done, ranked, encoder.dim),
            tuple(notes + _precision_notes(done, encoder)),
            found=sum(d.found for d in done),
        )
    return Spread(each, vectors, profiles, all_skipped, embedded)


def _dense(done: list[_Done], ranked: list[int], dim: int) -> FloatArray:
    """Every kept article's vector in canonical order; a text twice takes the vector of its
    first copy, as the local engine gives it (parts embed their copies apart)."""
    if not ranked:
        return np.zeros((0, dim), dtype=np.float32)
    keys = [k for d in done for k in d.keys]
    out = np.concatenate([d.vectors for d in done if d.vectors is not None])[ranked]
    first: dict[bytes, int] = {}
    for row, k in enumerate(ranked):
        at = first.setdefault(keys[k], row)
        if at != row:
            out[row] = out[at]
    return out


def _precision_notes(done: list[_Done], encoder: Encoder) -> list[str]:
    own = getattr(encoder, "precision", None)
    ran = {d.precision for d in done if d.fresh.any() and d.precision not in (None, own)}
    return [precision_note(p, own) for p in sorted(str(p) for p in ran)]
