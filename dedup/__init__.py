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

logging.getLogger(__name__).addHandler(logging.NullHandler())

from dedup.config import Settings  # noqa: E402
from dedup.errors import DedupError, InputError, ModelError, OutputError  # noqa: E402
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story  # noqa: E402
from dedup.pipeline import add_to_store, cluster_articles, run  # noqa: E402
from dedup.store import Store  # noqa: E402
from dedup.version import __version__  # noqa: E402

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
