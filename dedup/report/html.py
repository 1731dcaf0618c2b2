"""The HTML report: one self-contained page an analyst opens in a browser, offline.

The page is ``dedup/data/report.html`` with the report's JSON document
(``dedup.report.document.to_dict``, plus each story's similarity matrix for its heatmap)
embedded in a ``<script type="application/json">`` block. The page's own script draws
everything from that data with DOM calls that treat every text as text, so an article holding
HTML or script shows it and never runs it. A Content-Security-Policy forbids every network
request and allows only the page's own script, pinned by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from dedup.models import SIMILARITY_MEMBERS, Report, Story
from dedup.report.document import SIM_PLACES, rounded, to_dict
from dedup.report.view import select

log = logging.getLogger(__name__)

# A heatmap of more articles is unreadable in a card; it shows the most central ones.
HEATMAP_MAX = SIMILARITY_MEMBERS
#: The most articles one page holds (about 20 MB of data; 10,000 open in half a second,
#: docs/benchmarks.md): a page of a million would not open. A bigger report's page shows its
#: largest stories up to this many articles, and says so; the JSON report holds them all.
PAGE_MAX_ARTICLES = 50_000

_DATA_MARK = "@@DATA@@"
_SCRIPT_MARK = "@@SCRIPT_SRC@@"
# JSON text made safe inside <script>: no tag can end or open, and the two line separators
# that some older parsers take for line ends are escaped too.
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@cache
def _template() -> str:
    """The page with its CSP pinned to the hash of its one executable script."""
    page = files("dedup").joinpath("data/report.html").read_text(encoding="utf-8")
    start = page.index("<script>") + len("<script>")
    code = page[start : page.index("</script>", start)]
    digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")
    return page.replace(_SCRIPT_MARK, f"'sha256-{digest}'", 1)


def script_json(doc: Any) -> str:
    """``doc`` as JSON that can sit inside a ``<script>`` element and not end it."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_SCRIPT_ESCAPES)


def _heatmap(story: Story, matrix: Sequence[Sequence[float]] | None) -> list[list[float | None]]:
    """The top-left corner (most central articles) of a story's matrix; [] when it has none."""
    n = story.size
    if matrix is None or n < 2:
        return []
    keep = min(n, HEATMAP_MAX)
    if len(matrix) < keep or any(len(row) < keep for row in matrix[:keep]):
        log.debug("story %s: similarity matrix is not %d x %d, no heatmap", story.id, keep, keep)
        return []
    return [[rounded(x, SIM_PLACES) for x in row[:keep]] for row in matrix[:keep]]


def page_data(
    report: Report, matrices: Mapping[str, Sequence[Sequence[float]]] | None = None
) -> dict[str, Any]:
    """What the page draws: the JSON report and ``heatmaps``, story id to matrix.

    A matrix in ``matrices`` wins over the story's own ``similarities``. A report of more than
    :data:`PAGE_MAX_ARTICLES` articles is cut to its first stories (:func:`page_view`).
    """
    page = page_view(report)
    doc = to_dict(page)
    if page is not report:
        doc["selection"]["note"] += (
            f" The page holds the largest stories, {PAGE_MAX_ARTICLES:,} articles at most;"
            " the JSON report (--json, or report.json of --out) holds every story."
        )
    heatmaps: dict[str, list[list[float | None]]] = {}
    for story in page.stories:
        given = matrices.get(story.id) if matrices is not None else None
        cells = _heatmap(story, given if given is not None else story.similarities)
        if cells:
            heatmaps[story.id] = cells
    doc["heatmaps"] = heatmaps
    return doc


def page_view(report: Report) -> Report:
    """``report``, or when its stories hold more than :data:`PAGE_MAX_ARTICLES` articles, the
    view of its first stories (the largest) that hold at most that many (one at least)."""
    articles = kept = 0
    for story in report.stories:
        if kept and articles + story.size > PAGE_MAX_ARTICLES:
            break
        articles += story.size
        kept += 1
    if kept == len(report.stories):
        return report
    rule = report.selection
    return select(report, min_size=rule.min_size if rule else 1, limit=kept)


def to_html(
    report: Report, *, matrices: Mapping[str, Sequence[Sequence[float]]] | None = None
) -> str:
    """``report.html``: the whole report as one page that needs no network."""
    return _template().replace(_DATA_MARK, script_json(page_data(report, matrices)), 1)
