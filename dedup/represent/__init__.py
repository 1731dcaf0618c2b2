"""The represent stage: each article as the vectors its backend compares (dense, lexical or
both), with the model that made them, that model's fitted numbers, and what went wrong on the
way (a model that could not load, a cache that could not be used)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dedup.columns import strings_of
from dedup.config import HUB_MODEL, Settings
from dedup.errors import ModelError
from dedup.models import Article
from dedup.progress import Stages, give_back_freed_memory
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.represent.cache import Embedded, SliceEmbedder, cached_vectors, embed_cached
from dedup.represent.calibration import Calibration, for_directory
from dedup.represent.days import event_days
from dedup.represent.encoder import Encoder
from dedup.represent.lexical import LexicalVectors, lexical_vectors
from dedup.represent.model_files import local_model_dir, local_model_identity
from dedup.represent.ray_engine import embed_on_ray, require_ray
from dedup.represent.scale import (
    article_lengths,
    centre_by_language,
    centred_share,
    language_codes,
)
from dedup.represent.similarity import Representations, sources_of
from dedup.represent.transformer import load_encoder

__all__ = ["Represented", "load_model", "represent"]


@dataclass(frozen=True)
class Represented:
    """What the represent stage gives the rest of the run."""

    reps: Representations
    model: str | None  # the dense model that ran; None for the lexical backend
    calibration: Calibration  # the thresholds and fusions fitted for that model
    warnings: tuple[str, ...]


def represent(
    articles: Sequence[Article],
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    stages: Stages | None = None,
    lexical: LexicalVectors | None = None,
    stated_days: Sequence[int | None] | None = None,
    embedded: Embedded | None = None,
    raw: bool = True,
) -> Represented:
    """Representations for the backend that can run, its model, its numbers, and warnings.

    ``lexical`` and ``stated_days``, when given, are the articles' lexical vectors and stated
    event days, already made (see :func:`dedup.pipeline.prepare`); ``embedded``, the vectors
    of ``encoder`` already made (by :mod:`dedup.spread`). ``stages`` times the
    stages this runs (``load_model``, ``embed``, ``lexical``) and tells its progress.
    ``raw``: keep the raw dense vectors beside the centred ones (what fitting, tuning and
    distilling read); without it, only where the backend's fusion weighs them, the centred
    ones made in their place (a run that groups: at 10^6 articles, 1 GB less)."""
    stages = stages if stages is not None else Stages()
    warnings: list[str] = []
    backend = settings.backend
    model: str | None = None
    dense = None
    identity = None
    directory = None
    if backend != "lexical" and settings.engine == "ray":
        require_ray()  # before any model loads: say what to install at once
    if backend != "lexical" and encoder is None and settings.cache is not None:
        # An unchanged corpus: its vectors without the model. Not shown unless they are there.
        with stages.stage("embed", len(articles), quiet_until_done=True) as step:
            identity = local_model_identity(
                settings.model, device=settings.device, fast=settings.fast
            )
            if identity is not None:
                dense = cached_vectors(settings.cache, identity, articles)
            if dense is not None:
                step.advance(len(articles))
                step.note = "all from the cache: the model is not loaded"
        if dense is not None:
            model = settings.model
            directory = local_model_dir(settings.model)
            backend = "hybrid" if backend == "auto" else backend
    loaded_here = False
    if backend != "lexical" and encoder is None and dense is None:
        encoder, fallback = load_model(settings, stages)
        loaded_here = encoder is not None
        warnings.extend(fallback)
        if encoder is None:
            backend = "lexical"
        elif encoder.name != settings.model:  # the fallback: not the identity looked up
            identity = None
    if backend == "auto":
        backend = "hybrid"
    if backend in ("dense", "hybrid") and dense is None:
        assert encoder is not None
        model = encoder.name
        directory = getattr(encoder, "directory", None)
        if embedded is None:
            with stages.stage("embed", len(articles)) as step:
                embedded = embed_cached(
                    encoder,
                    articles,
                    settings.cache,
                    batch_size=settings.batch_size,
                    progress=step.advance,
                    identity=identity,
                    engine=_engine(settings, encoder),
                )
                if embedded.found:
                    step.note = f"{embedded.found:,} from the cache"
        dense = embedded.vectors
        warnings.extend(embedded.warnings)
        if loaded_here:
            # Nothing after embedding needs the model it loaded: a static model's table,
            # tokenizer and store of words are half a gigabyte at 10^5 articles, otherwise
            # held (and not given back) while the vectors are centred and the corpus linked.
            encoder = embedded = None
            give_back_freed_memory()
    if backend in ("lexical", "hybrid") and lexical is None:
        with stages.stage("lexical", len(articles)) as step:
            lexical = lexical_vectors(articles, progress=step.advance)
    elif backend == "dense":
        lexical = None  # given, but not what the dense backend compares
    calibration = for_directory(directory)
    if model is not None:
        note = calibration.note(model)
        if note:
            warnings.append(note)
    langs = language_codes(strings_of(articles, "lang"))
    days, stated = event_days(articles, stated_days)
    lengths = article_lengths(articles)
    centred = None
    if dense is not None:
        fusion = (calibration.fusions or {}).get(backend)
        keep = raw or (fusion is not None and "dense" in sources_of(fusion.needs))
        centred = centre_by_language(
            dense, langs, calibration.mean, calibration.mean_short, lengths, overwrite=not keep
        )
        dense = dense if keep else None
    reps = Representations(
        backend=backend,
        langs=langs,
        days=days,
        dense=dense,
        dense_centred=centred,
        lexical=lexical,
        fusions=calibration.fusions,
        stated=stated,
        lengths=lengths,
        short_lift=calibration.short_lift,
        centred_share=centred_share(langs),
    )
    return Represented(reps, model, calibration, tuple(warnings))


def _engine(settings: Settings, encoder: Encoder) -> SliceEmbedder | None:
    """The engine that embeds what the cache lacks: None for the local one (in this process,
    with ``encoder``); for Ray, actors that load the model ``encoder`` is."""
    if settings.engine == "local":
        return None
    return embed_on_ray(
        encoder.name,
        device=settings.device,
        fast=settings.fast,
        batch_size=settings.batch_size,
        address=settings.ray_address,
    )


def load_model(settings: Settings, stages: Stages) -> tuple[Encoder | None, list[str]]:
    """The ``load_model`` stage: the configured model or, for the ``auto`` backend, its
    fallback (None: the lexical backend alone), and the warning a fallback makes."""
    with stages.stage("load_model") as step:
        encoder, fallback = _load_or_fall_back(settings, settings.backend)
        step.what = _loaded(encoder)
    return encoder, [] if fallback is None else [fallback]


def _loaded(encoder: Encoder | None) -> str:
    """The model loaded, in words, for the ``load model`` stage."""
    if encoder is None:
        return "none (the lexical backend alone)"
    device = getattr(encoder, "device", None)
    return f"{encoder.name} on {device}" if isinstance(device, str) else encoder.name


def _load_or_fall_back(settings: Settings, backend: str) -> tuple[Encoder | None, str | None]:
    """The configured model; for ``auto``, when it cannot load, the bundled multilingual model
    (or, when the bundled one is what failed, the same model's original weights from the hub),
    and when none can, None (the lexical backend alone), each fallback with a warning."""
    try:
        return load_encoder(settings.model, device=settings.device, fast=settings.fast), None
    except ModelError as exc:
        if backend != "auto":
            raise
        reason = str(exc)
    other = BUNDLED_MODEL if settings.model != BUNDLED_MODEL else HUB_MODEL
    try:
        encoder = load_encoder(other, device=settings.device, fast=settings.fast)
    except ModelError as exc:
        reason = f"{reason}; {exc}"
    else:
        kind = "the bundled" if other == BUNDLED_MODEL else "the hub's"
        return encoder, f"{reason}; ran {kind} {other} instead"
    return None, f"{reason}; ran the lexical backend alone (model-free)"
