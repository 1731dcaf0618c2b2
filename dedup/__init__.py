"""dedup: find the same news story told by different outlets in different languages.

The repository's samples (from its root), with the lexical backend, which needs no model:

>>> from dedup import Settings, run
>>> report = run(["samples/articles/"], Settings(backend="lexical"))
>>> [s.size for s in report.stories]
[2, 2, 1]
>>> report.run.inputs
('samples/articles/',)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

logging.getLogger(__name__).addHandler(logging.NullHandler())

from dedup.config import Settings  # noqa: E402
from dedup.errors import DedupError, InputError, ModelError, OutputError  # noqa: E402
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story  # noqa: E402
from dedup.version import __version__  # noqa: E402

if TYPE_CHECKING:
    from dedup.pipeline import cluster_articles, run
    from dedup.store import Store
    from dedup.stream import add_to_store


def __getattr__(name: str) -> object:
    """``run``, ``cluster_articles``, ``add_to_store`` and ``Store``, imported on first use: the
    pipeline imports numpy, scikit-learn and more, which ``dedup --help`` and ``dedup
    --version`` do not need."""
    if name in ("run", "cluster_articles"):
        from dedup import pipeline

        return getattr(pipeline, name)
    if name == "add_to_store":
        from dedup import stream

        return stream.add_to_store
    if name == "Store":
        from dedup import store

        return store.Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Article",
    "DedupError",
    "InputError",
    "Member",
    "ModelError",
    "OutputError",
    "Related",
    "Report",
    "RunInfo",
    "Settings",
    "Skipped",
    "Store",
    "Story",
    "__version__",
    "add_to_store",
    "cluster_articles",
    "run",
]
